"""The global options every subcommand shares, and the connection (or local server) they describe."""

from __future__ import annotations

import argparse
import configparser
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from kinesis.cli._errors import CliError, UsageError
from kinesis.layer1 import KinesisConnection

# `kinesis serve` prints this variable; `--local` in another shell uses the server it names.
LOCAL_ENDPOINT_VARIABLE = "KINESIS_LOCAL_ENDPOINT"
# A local server checks no signatures; these placeholders stand in for credentials it would ignore.
LOCAL_CREDENTIALS = {"aws_access_key_id": "000000000000", "aws_secret_access_key": "local-secret-access-key"}
LOCAL_REGION = "us-east-1"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (the same settings connect_to_region() takes)")
    group.add_argument("--region", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's region)")
    group.add_argument(
        "--endpoint-url", help="send requests here instead of the region's endpoint (also: $AWS_ENDPOINT_URL_KINESIS)"
    )
    group.add_argument("--profile", help="credentials profile from ~/.aws or the boto config (also: $AWS_PROFILE)")
    group.add_argument(
        "--ca-bundle", metavar="PATH", help="trust the certificate authorities in this PEM file for https endpoints"
    )
    group.add_argument("--connect-timeout", type=float, metavar="SECONDS", help="default 10")
    group.add_argument("--read-timeout", type=float, metavar="SECONDS", help="default 60")
    group.add_argument("--retries", type=int, metavar="N", help="retries of throttled or failed calls (default 5)")
    group.add_argument(
        "--local",
        action="store_true",
        help="use a local Kinesis server with placeholder credentials: --endpoint-url if given, "
        f"else ${LOCAL_ENDPOINT_VARIABLE} (set by `kinesis serve`), else one started for this command only "
        "(needs moto: pip install 'kinesis[local]')",
    )


def _profile_region(profile: Optional[str]) -> Optional[str]:
    """The ``region`` that ~/.aws/config (or $AWS_CONFIG_FILE) sets for the profile, as the AWS CLI reads it."""
    name = profile or os.environ.get("AWS_PROFILE") or "default"
    path = Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    for section in (f"profile {name}", name) if name != "default" else ("default", "profile default"):
        if config.has_option(section, "region"):
            return config.get(section, "region").strip() or None
    return None


def resolve_region(args: argparse.Namespace) -> str:
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    region = region or _profile_region(args.profile)
    if region:
        return str(region)
    if args.local or args.endpoint_url:
        return LOCAL_REGION  # emulators accept any region; spare the user a flag that means nothing there
    raise UsageError("no region: give --region, set AWS_DEFAULT_REGION, or set one in ~/.aws/config")


def connection_arguments(args: argparse.Namespace, endpoint_url: Optional[str]) -> dict[str, Any]:
    """The keyword arguments for ``connect_to_region``: only what the user set, so the module's defaults apply."""
    kwargs: dict[str, Any] = {}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if args.profile:
        kwargs["profile_name"] = args.profile
    if args.ca_bundle:
        kwargs["validate_certs"] = args.ca_bundle
    if args.connect_timeout is not None:
        kwargs["connect_timeout"] = args.connect_timeout
    if args.read_timeout is not None:
        kwargs["read_timeout"] = args.read_timeout
    if args.retries is not None:
        kwargs["num_retries"] = args.retries
    if args.local and not args.profile:
        kwargs.update(LOCAL_CREDENTIALS)
    return kwargs


@contextlib.contextmanager
def local_endpoint(args: argparse.Namespace) -> Iterator[Optional[str]]:
    """The endpoint to use: ``--endpoint-url``; with ``--local`` also ``$KINESIS_LOCAL_ENDPOINT`` or a fresh server."""
    if args.endpoint_url or not args.local:
        yield args.endpoint_url
        return
    existing = os.environ.get(LOCAL_ENDPOINT_VARIABLE)
    if existing:
        yield existing
        return
    from kinesis.testing import LocalKinesisServer

    print(
        "kinesis: starting a local Kinesis server for this command only; its streams vanish when it exits"
        f" (run `kinesis serve` in another shell to keep one, and set {LOCAL_ENDPOINT_VARIABLE})",
        file=sys.stderr,
    )
    try:
        server = LocalKinesisServer().start()
    except RuntimeError as err:
        raise CliError(str(err).splitlines()[0]) from None
    try:
        yield server.endpoint_url
    finally:
        server.stop()


@contextlib.contextmanager
def open_connection(args: argparse.Namespace) -> Iterator[KinesisConnection]:
    """The blocking connection the global options describe, closed afterwards."""
    import kinesis

    with local_endpoint(args) as endpoint_url:
        region = resolve_region(args)
        conn = kinesis.connect_to_region(region, **connection_arguments(args, endpoint_url))
        with conn:
            yield conn
