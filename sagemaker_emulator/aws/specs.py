"""botocore's service models: the specification every codec reads, loaded once per process.

The six services the emulator speaks, by their botocore names. Each model is loaded from the
botocore data that ships with the installed botocore (including its ``sdk-extras``), so the
emulator always speaks exactly the dialect of the client library next to it.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

SERVICES: tuple[str, ...] = ("sagemaker", "sagemaker-runtime", "logs", "s3", "sts", "iam")

_lock = threading.Lock()
_loader = None


def _get_loader():
    global _loader
    with _lock:
        if _loader is None:
            _loader = create_loader()
        return _loader


@lru_cache(maxsize=None)
def service_model(service: str) -> ServiceModel:
    """The botocore ``ServiceModel`` of ``service`` (one of :data:`SERVICES`), cached."""
    if service not in SERVICES:
        raise KeyError(f"service {service!r} is not emulated")
    data = _get_loader().load_service_model(service, "service-2")
    return ServiceModel(data, service_name=service)


@lru_cache(maxsize=None)
def operations(service: str) -> dict[str, OperationModel]:
    """Operation name -> ``OperationModel`` for ``service`` (the models botocore caches are reused)."""
    model = service_model(service)
    return {name: model.operation_model(name) for name in model.operation_names}


def operation_model(service: str, name: str) -> OperationModel | None:
    return operations(service).get(name)


def protocol(service: str) -> str:
    """``json``, ``rest-json``, ``rest-xml`` or ``query``."""
    return service_model(service).protocol


@lru_cache(maxsize=None)
def target_prefixes() -> dict[str, str]:
    """``X-Amz-Target`` prefix -> service, for the json services (``SageMaker`` -> ``sagemaker``)."""
    out = {}
    for service in SERVICES:
        prefix = service_model(service).metadata.get("targetPrefix")
        if prefix:
            out[prefix] = service
    return out


@lru_cache(maxsize=None)
def query_versions() -> dict[str, str]:
    """Query-protocol ``Version`` -> service (``2011-06-15`` -> ``sts``, ``2010-05-08`` -> ``iam``)."""
    return {
        service_model(s).api_version: s for s in SERVICES if service_model(s).protocol == "query"
    }


# Signing names botocore's endpoint rules give some operations instead of the service's own.
SIGNING_ALIASES = {"s3express": "s3", "s3-object-lambda": "s3"}


@lru_cache(maxsize=None)
def signing_names() -> dict[str, tuple[str, ...]]:
    """SigV4 signing name -> services signed with it (``sagemaker`` covers the control plane and
    the runtime)."""
    out: dict[str, list[str]] = {}
    for service in SERVICES:
        out.setdefault(service_model(service).signing_name, []).append(service)
    for alias, name in SIGNING_ALIASES.items():
        out.setdefault(alias, out[name])
    return {name: tuple(services) for name, services in out.items()}


def load_all() -> None:
    """Load every model and index now (a server calls this at start-up, off the request path)."""
    for service in SERVICES:
        operations(service)
    target_prefixes()
    query_versions()
    signing_names()
