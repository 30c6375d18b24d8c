"""``KinesisConnection``: the boto 2 ``boto.kinesis.layer1.KinesisConnection``, blocking."""

from __future__ import annotations

from typing import Any

from kinesis._connect import ConnectionMixin
from kinesis._kinesis import Connection as _Connection

__all__ = ["KinesisConnection"]


class KinesisConnection(ConnectionMixin, _Connection):
    """A connection to Kinesis Data Streams. Methods block with the GIL released.

    Safe to share between threads. Create it with :func:`kinesis.connect_to_region`, or directly
    with boto 2's keyword arguments.
    """

    _asynchronous = False
    APIVersion = "2013-12-02"
    DefaultRegionName = "us-east-1"
    ServiceName = "Kinesis"
    TargetPrefix = "Kinesis_20131202"
    ResponseError: Any = None  # set below, as boto 2 exposed it

    def __enter__(self) -> KinesisConnection:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _attach_response_error() -> None:
    from kinesis.exceptions import JSONResponseError

    KinesisConnection.ResponseError = JSONResponseError


_attach_response_error()
