"""The ``kinesis`` command (also ``python -m kinesis``): list, describe, create, delete, put, tail, serve.

Run ``kinesis --help`` or ``kinesis COMMAND --help``. Expected failures (a missing stream, no
credentials, an unreachable endpoint, bad arguments) print one line and exit with status 1 (2 for
mistakes on the command line); nothing prints a traceback except a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Optional

from kinesis.cli import _put, _serve, _streams, _tail
from kinesis.cli._connection import add_connection_options, open_connection
from kinesis.cli._errors import CliError
from kinesis.exceptions import BotoServerError, KinesisError

__all__ = ["build_parser", "main"]

EXIT_INTERRUPTED = 130  # as shells report a command ended by SIGINT


def build_parser() -> argparse.ArgumentParser:
    from kinesis import __version__

    parser = argparse.ArgumentParser(
        prog="kinesis",
        description="Amazon Kinesis Data Streams from the command line. "
        "Connection options go before or after the command: kinesis --local list, kinesis list --region eu-west-1.",
    )
    add_connection_options(parser)
    # The same options after the command. Without defaults there: argparse would let a subcommand's
    # default replace a value given before the command.
    connection = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    add_connection_options(connection)
    parser.add_argument("--version", action="version", version=f"kinesis {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _streams.add_parsers(commands, connection)
    _put.add_parser(commands, connection)
    _tail.add_parser(commands, connection)
    _serve.add_parser(commands)
    return parser


def _error_line(err: BaseException) -> str:
    if isinstance(err, BotoServerError):
        return f"{err.error_code or type(err).__name__}: {err.message or err.reason}"
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "serve", None) is not None:
        return int(args.serve(args))
    with open_connection(args) as conn:
        return int(args.run(conn, args))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except CliError as err:
        print(f"kinesis: error: {err}", file=sys.stderr)
        return err.exit_code
    except KinesisError as err:
        print(f"kinesis: error: {_error_line(err)}", file=sys.stderr)
        return 1
    except ValueError as err:  # the module's own argument checks, which name what was wrong
        print(f"kinesis: error: {_error_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`kinesis tail s | head`): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
