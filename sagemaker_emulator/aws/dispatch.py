"""The dispatch table: one handler per (service, operation), registered by decorator.

A handler is a plain function ``handler(ctx, params) -> result``. ``params`` is the operation's
input exactly as botocore's client would have received it as keyword arguments (the input shape as
a dict: timestamps as ``datetime``, blobs as ``bytes``). ``result`` is the output shape as a dict,
exactly what botocore's parser would hand back to the client (streaming blob members may be
``bytes`` or a :class:`~sagemaker_emulator.aws.payload.FileBody`). Handlers raise
:class:`~sagemaker_emulator.aws.errors.AwsError`. Synchronous handlers run in a worker thread;
``async def`` handlers run on the event loop and must not block.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Union

Result = dict[str, Any]
Handler = Callable[["RequestContext", dict[str, Any]], Union[Result, Awaitable[Result]]]

_HANDLERS: dict[tuple[str, str], Handler] = {}

# Modules whose import registers handlers; imported once, lazily, by lookup().
HANDLER_MODULES = (
    "sagemaker_emulator.services.s3.operations",
    "sagemaker_emulator.services.sagemaker.training_jobs",
    "sagemaker_emulator.services.sagemaker.models",
    "sagemaker_emulator.services.sagemaker.endpoint_configs",
    "sagemaker_emulator.services.sagemaker.endpoints",
    "sagemaker_emulator.services.sagemaker.tags",
    "sagemaker_emulator.services.sagemaker.search",
    "sagemaker_emulator.services.runtime",
    "sagemaker_emulator.services.logs",
    "sagemaker_emulator.services.sts",
    "sagemaker_emulator.services.iam",
)
_loaded = False


@dataclass
class RequestContext:
    """What every handler knows about the request besides its parameters."""

    service: str  # botocore service name: sagemaker, sagemaker-runtime, s3, sts, iam, logs
    operation: str  # the AWS operation name, e.g. CreateTrainingJob
    region: str
    account_id: str
    request_id: str
    emulator: Any = None  # the running Emulator (state, storage, runners); see sagemaker_emulator.app
    headers: dict[str, str] = field(default_factory=dict)  # raw request headers, lower-cased names


def operation(service: str, name: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the implementation of ``service``'s operation ``name``."""

    def register(handler: Handler) -> Handler:
        key = (service, name)
        if key in _HANDLERS and _HANDLERS[key] is not handler:
            raise RuntimeError(f"two handlers for {service}.{name}")
        _HANDLERS[key] = handler
        return handler

    return register


def lookup(service: str, name: str) -> Handler | None:
    load_handlers()
    return _HANDLERS.get((service, name))


def load_handlers() -> None:
    global _loaded
    if _loaded:
        return
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    _loaded = True


def implemented_operations() -> list[tuple[str, str]]:
    load_handlers()
    return sorted(_HANDLERS)
