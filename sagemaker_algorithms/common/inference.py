"""One ``POST /invocations``, without HTTP: decode the request, predict, encode the response.

Request ``Content-Type`` (parameters allowed): ``text/csv`` (``label_size``, default 0, leading
columns dropped), ``application/json``, ``application/jsonlines``, ``application/x-recordio-protobuf``.
Response by ``Accept``: missing, ``*/*`` or ``application/*`` → ``application/json``; otherwise the
first supported type of the (comma-separated, ``q``-ordered) list; parameters such as
``verbose=true`` reach the model.

Statuses: 200; 400 for a payload the model cannot read (garbage, wrong feature count, empty body);
415 for an unsupported or missing Content-Type; 406 for an unsupported Accept. Errors are plain text.
"""

from __future__ import annotations

from typing import Mapping, Protocol

import numpy as np

from .content_types import (ANY, CSV, JSON, JSONLINES, RECORDIO_PROTOBUF, MediaType, label_size, parse_accept,
                            parse_media_type)
from .csv_format import format_csv, parse_csv
from .errors import BadRequest, DataError, NotAcceptable, RequestError, UnsupportedMediaType
from .json_format import format_json, format_jsonlines, parse_json_request, parse_jsonlines_request
from .protobuf_records import decode_records, encode_label_records

REQUEST_TYPES = (CSV, JSON, JSONLINES, RECORDIO_PROTOBUF)
DEFAULT_RESPONSE_TYPES = (JSON, JSONLINES, RECORDIO_PROTOBUF)
PAYLOAD_ERROR = "unable to evaluate payload provided"
TEXT_PLAIN = "text/plain; charset=utf-8"


class ServableModel(Protocol):
    """What the serving harness needs from an algorithm's model."""

    feature_dim: int
    response_types: tuple[str, ...]

    def predict(self, features: np.ndarray, accept: MediaType) -> Mapping[str, np.ndarray]:
        """Named outputs, each ``(n,)`` or ``(n, m)``, one row per input row."""
        ...


def decode_request(body: bytes, content_type: str | None, feature_dim: int) -> np.ndarray:
    media = parse_media_type(content_type)
    if media is None:
        raise UnsupportedMediaType(
            "The request has no Content-Type; use one of " + ", ".join(REQUEST_TYPES))
    if media.essence not in REQUEST_TYPES:
        raise UnsupportedMediaType(
            f"Content type '{media.essence}' is not supported; use one of " + ", ".join(REQUEST_TYPES))
    if not body:
        raise BadRequest(f"{PAYLOAD_ERROR}: the request body is empty")
    try:
        if media.essence == CSV:
            features, _ = parse_csv(body, label_size=label_size(media, 0))
        elif media.essence == JSON:
            features = parse_json_request(body, feature_dim)
        elif media.essence == JSONLINES:
            features = parse_jsonlines_request(body, feature_dim)
        else:
            features = decode_records(body, feature_dim, with_labels=False).features
    except (DataError, ValueError) as error:
        raise BadRequest(f"{PAYLOAD_ERROR}: {error}") from None
    if features.shape[0] == 0:
        raise BadRequest(f"{PAYLOAD_ERROR}: the request holds no records")
    if features.shape[1] != feature_dim:
        raise BadRequest(f"{PAYLOAD_ERROR}: records have {features.shape[1]} features "
                         f"but the model expects {feature_dim}")
    return features


def choose_response_type(accept: str | None, supported: tuple[str, ...]) -> MediaType:
    ranked = parse_accept(accept)
    default = JSON if JSON in supported else supported[0]
    if not ranked:
        return MediaType(default)
    for media in ranked:
        if media.essence in (ANY, "application/*"):
            return MediaType(default, media.params)
        if media.essence in supported:
            return media
    raise NotAcceptable(f"Accept type '{accept}' is not supported; use one of " + ", ".join(supported))


def encode_response(outputs: Mapping[str, np.ndarray], media: MediaType) -> bytes:
    if media.essence == JSON:
        return format_json(outputs)
    if media.essence == JSONLINES:
        return format_jsonlines(outputs)
    if media.essence == RECORDIO_PROTOBUF:
        return encode_label_records(outputs)
    if media.essence == CSV:
        return format_csv(list(outputs.values()))
    raise NotAcceptable(f"Accept type '{media.essence}' is not supported")


def invoke(model: ServableModel, body: bytes, content_type: str | None, accept: str | None
           ) -> tuple[int, str, bytes]:
    """Answer one invocation: (HTTP status, response Content-Type, body)."""
    try:
        features = decode_request(body, content_type, model.feature_dim)
        media = choose_response_type(accept, model.response_types)
        try:
            outputs = model.predict(features, media)
        except DataError as error:
            raise BadRequest(f"{PAYLOAD_ERROR}: {error}") from None
        return 200, media.essence, encode_response(outputs, media)
    except RequestError as error:
        return error.status, TEXT_PLAIN, error.message.encode("utf-8")
