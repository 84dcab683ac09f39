"""Failure kinds shared by every algorithm, and the texts SageMaker shows for them.

A training job fails with a ``FailureReason`` read from ``/opt/ml/output/failure``. Built-in
algorithms write one of two shapes there:

* ``ClientError: <message> (caused by <ExceptionType>)`` when the customer's input is at fault
  (hyperparameters, data, channels); e.g. ``... (caused by ValidationError)``.
* ``AlgorithmError: <message> (caused by <ExceptionType>)`` for anything unexpected.

Serving has its own small family: :class:`RequestError` carries the HTTP status (400, 406, 415)
that a bad request should get; it never becomes a 5xx.
"""

from __future__ import annotations


class AlgorithmFailure(Exception):
    """Base of the failures that know their own failure-file text."""

    kind = "AlgorithmError"

    def __init__(self, message: str, caused_by: str = "RuntimeError") -> None:
        super().__init__(message)
        self.message = message
        self.caused_by = caused_by

    @property
    def failure_text(self) -> str:
        return f"{self.kind}: {self.message} (caused by {self.caused_by})"


class ClientError(AlgorithmFailure):
    """The customer's input is wrong: hyperparameters, channels or data."""

    kind = "ClientError"

    def __init__(self, message: str, caused_by: str = "ValueError") -> None:
        super().__init__(message, caused_by)


class HyperparameterError(ClientError):
    """A hyperparameter failed validation; SageMaker says ``(caused by ValidationError)``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "ValidationError")


class DataError(ClientError):
    """Records that cannot be read or do not fit the model (wrong feature count, bad bytes).

    Raised by the format decoders; training reports it as a ClientError and serving as HTTP 400.
    """


def algorithm_failure_text(error: BaseException) -> str:
    """The failure-file text for an unexpected exception."""
    if isinstance(error, AlgorithmFailure):
        return error.failure_text
    message = str(error) or repr(error)
    return f"AlgorithmError: {message} (caused by {type(error).__name__})"


class RequestError(Exception):
    """An inference request the model cannot answer; ``status`` is the HTTP status to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class UnsupportedMediaType(RequestError):
    def __init__(self, message: str) -> None:
        super().__init__(415, message)


class NotAcceptable(RequestError):
    def __init__(self, message: str) -> None:
        super().__init__(406, message)


class BadRequest(RequestError):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)
