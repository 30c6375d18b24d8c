"""Exceptions raised by :mod:`kinesis`, named as in ``boto.kinesis.exceptions``.

The tree::

    KinesisError                          every error this package raises itself
    ├── BotoServerError                   the service answered with an error
    │   ├── ProvisionedThroughputExceededException   (the seven boto 2 classes)
    │   ├── LimitExceededException
    │   ├── ExpiredIteratorException
    │   ├── ResourceInUseException
    │   ├── ResourceNotFoundException
    │   ├── InvalidArgumentException
    │   ├── SubscriptionRequiredException
    │   └── JSONResponseError             any other error type, ``error_code`` says which
    │       ├── AccessDeniedException, ExpiredNextTokenException, ValidationException
    │       └── KMS*Exception             (the newer actions' errors)
    ├── ConnectionError                   no answer: refused, reset, DNS... (also builtins.ConnectionError)
    │   └── TimeoutError                  connect or read timeout (also builtins.TimeoutError)
    ├── ResponseError                     an answer that could not be understood (truncated, not JSON)
    ├── NoCredentialsError                no credentials in any of the places looked at
    └── ProducerError                     a kinesis.Producer could not take or write records
        ├── BufferFullError               put(block=False) with the buffer full (also queue.Full)
        ├── ProducerClosedError           put after close() (also ValueError)
        ├── RecordExpiredError            record_ttl passed before the record was written
        └── PartialFailureError           some records of a put_many() failed; .results has each outcome

Mistakes in arguments are plain ``TypeError`` / ``ValueError`` raised before anything is sent.
"""

from __future__ import annotations

import builtins
import queue
from typing import Any, Optional

__all__ = [
    "AccessDeniedException",
    "BotoServerError",
    "BufferFullError",
    "ConnectionError",
    "ExpiredIteratorException",
    "ExpiredNextTokenException",
    "InvalidArgumentException",
    "JSONResponseError",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "KMSOptInRequired",
    "KMSThrottlingException",
    "KinesisError",
    "LimitExceededException",
    "NoCredentialsError",
    "PartialFailureError",
    "ProducerClosedError",
    "ProducerError",
    "ProvisionedThroughputExceededException",
    "RecordExpiredError",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "ResponseError",
    "SubscriptionRequiredException",
    "TimeoutError",
    "ValidationException",
]


class KinesisError(Exception):
    """Base class of every exception raised by the kinesis package itself."""


class BotoServerError(KinesisError):
    """The service answered with an error.

    Attributes, as in boto 2: ``status`` (HTTP status), ``reason`` (HTTP reason phrase),
    ``body`` (the parsed JSON error, or the raw text when it was not JSON), ``message``,
    ``error_code`` (the error type, always filled here) and ``request_id``.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        body: Any = None,
        *args: Any,
        request_id: Optional[str] = None,
        error_code: Optional[str] = None,
    ) -> None:
        super().__init__(status, reason, body, *args)
        self.status = status
        self.reason = reason
        self.body = body
        self.request_id = request_id
        self.message: Optional[str] = None
        self.error_code = error_code
        if isinstance(body, dict):
            message = body.get("message", body.get("Message"))
            self.message = message if isinstance(message, str) else None
            if self.error_code is None:
                self.error_code = _error_type(body)
        elif isinstance(body, str) and body:
            self.message = body

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.status} {self.reason}\n{self.body}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.status}, {self.reason!r}, error_code={self.error_code!r}, message={self.message!r})"


class JSONResponseError(BotoServerError):
    """An error type that has no class of its own; ``error_code`` names it."""


class ProvisionedThroughputExceededException(BotoServerError):
    """The shard's read or write allowance was exceeded (retried before this is raised)."""


class LimitExceededException(BotoServerError):
    """An account or control-plane limit was exceeded (retried before this is raised)."""


class ExpiredIteratorException(BotoServerError):
    """The shard iterator is older than five minutes: get a new one after the last sequence number read."""


class ResourceInUseException(BotoServerError):
    """The stream is not ACTIVE (creating, updating, deleting) or the resource already exists."""


class ResourceNotFoundException(BotoServerError):
    """The stream, shard or consumer does not exist."""


class InvalidArgumentException(BotoServerError):
    """The service rejected an argument."""


class SubscriptionRequiredException(BotoServerError):
    """The account is not subscribed to Kinesis."""


class AccessDeniedException(JSONResponseError):
    """The credentials are not allowed to do this."""


class ExpiredNextTokenException(JSONResponseError):
    """A pagination token is older than 300 seconds: start the listing again."""


class ValidationException(JSONResponseError):
    """The request does not satisfy the API's constraints."""


class KMSAccessDeniedException(JSONResponseError):
    """KMS denied access to the stream's key."""


class KMSDisabledException(JSONResponseError):
    """The stream's KMS key is disabled."""


class KMSInvalidStateException(JSONResponseError):
    """The stream's KMS key is not in a usable state."""


class KMSNotFoundException(JSONResponseError):
    """The stream's KMS key was not found."""


class KMSOptInRequired(JSONResponseError):
    """The account is not opted in to KMS."""


class KMSThrottlingException(JSONResponseError):
    """KMS throttled the request."""


class ConnectionError(KinesisError, builtins.ConnectionError):  # noqa: A001 - boto-style name on purpose
    """No usable answer from the endpoint after all retries (refused, reset, DNS failure)."""


class TimeoutError(ConnectionError, builtins.TimeoutError):  # noqa: A001 - boto-style name on purpose
    """The connect or read timeout expired on the last attempt."""


class ResponseError(KinesisError):
    """The endpoint answered, but the answer could not be understood (truncated or not JSON)."""

    def __init__(self, message: str, status: Optional[int] = None, body: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class NoCredentialsError(KinesisError):
    """No AWS credentials were found; the message lists every place looked at."""


class ProducerError(KinesisError):
    """A :class:`kinesis.Producer` could not take a record, or could not write it."""


class BufferFullError(ProducerError, queue.Full):
    """``put(..., block=False)`` found the producer's buffer full (``max_buffered_bytes``)."""


class ProducerClosedError(ProducerError, ValueError):
    """The producer was closed: it takes no more records."""


class RecordExpiredError(ProducerError):
    """The record's ``record_ttl`` passed before the service accepted it.

    ``attempts`` is how many times it was sent; ``last_error`` is the error the last attempt got
    (also the ``__cause__``), or None if it was never sent (the shard was paced or backing off).
    """

    def __init__(self, message: str, attempts: int = 0, last_error: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error
        self.__cause__ = last_error


class PartialFailureError(ProducerError):
    """Some records of a ``put_many()`` failed.

    ``results`` has one item per record, in order: its result dict, or the exception it failed with.
    """

    def __init__(self, message: str, results: list[Any]) -> None:
        super().__init__(message)
        self.results = results

    @property
    def errors(self) -> list[BaseException]:
        """The exceptions among ``results``."""
        return [r for r in self.results if isinstance(r, BaseException)]


_BY_ERROR_TYPE = {
    cls.__name__: cls
    for cls in (
        ProvisionedThroughputExceededException,
        LimitExceededException,
        ExpiredIteratorException,
        ResourceInUseException,
        ResourceNotFoundException,
        InvalidArgumentException,
        SubscriptionRequiredException,
        AccessDeniedException,
        ExpiredNextTokenException,
        ValidationException,
        KMSAccessDeniedException,
        KMSDisabledException,
        KMSInvalidStateException,
        KMSNotFoundException,
        KMSOptInRequired,
        KMSThrottlingException,
    )
}


def _error_type(body: dict[str, Any]) -> Optional[str]:
    """The bare error type of a JSON error body: ``__type`` may carry a ``namespace#`` prefix."""
    raw = body.get("__type") or body.get("code") or body.get("Code")
    if not isinstance(raw, str) or not raw:
        return None
    return raw.rsplit("#", 1)[-1].split(":", 1)[0]


def _server_error(
    status: int, reason: str, body: Any, request_id: Optional[str], error_type: Optional[str]
) -> BotoServerError:
    """Build the exception for an error response; called from the Rust core."""
    if error_type is None and isinstance(body, dict):
        error_type = _error_type(body)
    cls = _BY_ERROR_TYPE.get(error_type or "", JSONResponseError)
    return cls(status, reason, body, request_id=request_id, error_code=error_type or f"HTTP{status}")
