"""``serve``: keep a local Kinesis server running, for ``--local`` commands in other shells."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from kinesis.cli._connection import LOCAL_ENDPOINT_VARIABLE
from kinesis.cli._errors import CliError


def add_parser(commands: Any) -> None:
    cmd = commands.add_parser(
        "serve",
        help="run a local Kinesis server (moto) until Ctrl-C",
        description="Run moto's Kinesis server on 127.0.0.1 until Ctrl-C, for trying things out without AWS. "
        f"Set {LOCAL_ENDPOINT_VARIABLE} as printed, and `kinesis --local ...` in any shell uses it. "
        "Streams live in memory only. Needs moto: pip install 'kinesis[local]'.",
    )
    cmd.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    cmd.set_defaults(run=None, serve=run_serve)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_serve(args: argparse.Namespace) -> int:
    from kinesis.testing import LocalKinesisServer

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    server = LocalKinesisServer(port=args.port)
    try:
        server.start()
    except RuntimeError as err:
        raise CliError(str(err).splitlines()[0]) from None
    try:
        print(f"local Kinesis server at {server.endpoint_url}; Ctrl-C stops it", file=sys.stderr)
        print(f"export {LOCAL_ENDPOINT_VARIABLE}={server.endpoint_url}", flush=True)
        while server.running:
            time.sleep(0.5)
        raise CliError("the local Kinesis server exited")
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
