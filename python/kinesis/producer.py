"""``kinesis.Producer``: put records one by one or in bulk; they are batched, aggregated and sent for you.

::

    import kinesis

    conn = kinesis.connect_to_region("us-east-1")
    with kinesis.Producer(conn, "events") as producer:
        future = producer.put(b"payload", "partition-key")
        producer.put_many([(b"a", "k1"), (b"b", "k2")])
    print(future.result())  # {'ShardId': ..., 'SequenceNumber': ..., 'SubSequenceNumber': 0}

The work (shard-aware KPL aggregation, PutRecords batching, per-shard pacing, retries of failed
entries only, time-to-live) runs in Rust on the module's I/O threads; see ``src/producer.rs``.
The asyncio twin is :class:`kinesis.aio.Producer`.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any, TypedDict

from kinesis._kinesis import Producer as _Producer
from kinesis._kinesis import PutResults, _flush_producers_at_exit

__all__ = ["Producer", "PutResult", "PutResults"]

# put_many's results: a read-only sequence of result dicts, made on first access (src/put_results.rs).
Sequence.register(PutResults)


class _PutResultKeys(TypedDict):
    ShardId: str
    SequenceNumber: str


class PutResult(_PutResultKeys, total=False):
    """What a record's future resolves to: where it was written. ``SubSequenceNumber`` is there when
    the record was sent inside an aggregate (its index in it), as the KCL and ``aws-kinesis-agg`` report it."""

    SubSequenceNumber: int


class Producer(_Producer):
    """Writes records to one stream in the background; ``put`` returns a ``concurrent.futures.Future``.

    Use it as a context manager, or call :meth:`close` (which flushes) when done. Safe to share
    between threads. See the type stub (``producer.pyi``) or the README for every option.
    """

    _asynchronous = False

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _settle(items: list[tuple[Any, bool, Any]]) -> None:
    """Resolve a batch of asyncio futures: ``(future, ok, value)``; the Rust core schedules it on their
    loop's thread with ``call_soon_threadsafe`` (it resolves ``concurrent.futures`` futures itself)."""
    # Imported here, not at the top: `import kinesis` stays free of asyncio's ~40 ms import and of
    # concurrent.futures (which imports logging); only asyncio futures come here, so both are loaded.
    import asyncio
    import concurrent.futures

    invalid_state = (concurrent.futures.InvalidStateError, asyncio.InvalidStateError)
    for future, ok, value in items:
        try:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        except invalid_state:
            pass  # cancelled by its owner; the record was still written (or failed) all the same


def _flush_at_exit() -> None:
    """Registered with ``atexit`` by ``kinesis/__init__.py`` to run before the I/O threads stop:
    send what producers still hold (each for at most its ``exit_timeout``), and say so if some
    records could not be sent, rather than dropping them silently."""
    unsent = _flush_producers_at_exit()
    if unsent:
        message = (
            f"kinesis.Producer: {unsent} record(s) were still unsent when the interpreter exited "
            "(exit_timeout reached); they are lost. Call producer.flush() or close() before exiting."
        )
        try:
            warnings.warn(message, RuntimeWarning, stacklevel=1)
        except RuntimeWarning:  # warnings configured as errors: still say it
            print(f"RuntimeWarning: {message}", file=sys.stderr)
