"""The four wire protocols, one module each, behind one interface (:class:`common.Protocol`).

``codec(service)`` gives the (cached) codec of an emulated service::

    json       awsjson.JsonProtocol       sagemaker, logs
    rest-json  restjson.RestJsonProtocol  sagemaker-runtime
    rest-xml   restxml.RestXmlProtocol    s3
    query      query.QueryProtocol        sts, iam
"""

from __future__ import annotations

from functools import lru_cache

from sagemaker_emulator.aws import specs
from sagemaker_emulator.aws.protocols.awsjson import JsonProtocol
from sagemaker_emulator.aws.protocols.base import HttpRequest, HttpResponse
from sagemaker_emulator.aws.protocols.common import Protocol
from sagemaker_emulator.aws.protocols.query import QueryProtocol
from sagemaker_emulator.aws.protocols.restjson import RestJsonProtocol
from sagemaker_emulator.aws.protocols.restxml import RestXmlProtocol

PROTOCOLS: dict[str, type[Protocol]] = {
    "json": JsonProtocol,
    "rest-json": RestJsonProtocol,
    "rest-xml": RestXmlProtocol,
    "query": QueryProtocol,
}


@lru_cache(maxsize=None)
def codec(service: str) -> Protocol:
    model = specs.service_model(service)
    return PROTOCOLS[model.protocol](service, model)


def codec_for_protocol(protocol: str) -> Protocol:
    """A codec for a protocol when no emulated service matched (to answer with an error)."""
    for service in specs.SERVICES:
        if specs.protocol(service) == protocol:
            return codec(service)
    return codec("sagemaker")


__all__ = ["HttpRequest", "HttpResponse", "Protocol", "PROTOCOLS", "codec", "codec_for_protocol"]
