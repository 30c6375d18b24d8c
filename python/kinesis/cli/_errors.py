"""Errors the command line reports as one line, without a traceback."""

from __future__ import annotations


class CliError(Exception):
    """An expected failure: printed as ``kinesis: error: <message>``, exit status ``exit_code``."""

    exit_code = 1


class UsageError(CliError):
    """The command line itself is wrong (as argparse's own errors, exit status 2)."""

    exit_code = 2
