"""What rest-json and rest-xml share: members bound to the URI, the query string, headers and the
status code, and a payload member that may be a raw (streaming) body.

The bindings of each input and output shape are computed once; a request then costs a few dict
look-ups per bound member.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from sagemaker_emulator.aws.protocols import eventstream
from sagemaker_emulator.aws.protocols.base import (
    HttpRequest,
    HttpResponse,
    b64decode,
    b64encode,
    format_timestamp,
    header_text,
    scalar_from_text,
    split_header_list,
)
from sagemaker_emulator.aws.protocols.common import Protocol, apply_response_metadata


class Bindings:
    """Where each member of a shape lives in an HTTP message."""

    __slots__ = (
        "uri",
        "query",
        "query_map",
        "headers",
        "header_maps",
        "status_code",
        "payload",
        "payload_shape",
        "streaming",
        "event_stream",
        "body",
    )

    def __init__(self, shape) -> None:
        self.uri: list[tuple[str, str, Any]] = []
        self.query: list[tuple[str, str, Any]] = []
        self.query_map: tuple[str, Any] | None = None
        self.headers: list[tuple[str, str, str, Any]] = []  # (member, header, lower header, shape)
        self.header_maps: list[tuple[str, str, Any]] = []  # (member, lower prefix, shape)
        self.status_code: str | None = None
        self.payload: str | None = shape.serialization.get("payload")
        self.payload_shape = shape.members[self.payload] if self.payload else None
        self.streaming = self.payload_shape is not None and self.payload_shape.type_name in (
            "blob",
            "string",
        )
        self.event_stream = self.payload_shape is not None and bool(
            self.payload_shape.serialization.get("eventstream")
        )
        self.body: dict[str, Any] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri":
                self.uri.append((name, wire, member))
            elif location == "querystring":
                if member.type_name == "map":
                    self.query_map = (name, member)
                else:
                    self.query.append((name, wire, member))
            elif location == "header":
                self.headers.append((name, wire, wire.lower(), member))
            elif location == "headers":
                self.header_maps.append((name, wire.lower(), member))
            elif location == "statusCode":
                self.status_code = name
            elif name != self.payload:
                self.body[name] = member


_bindings: dict[int, tuple[Any, Bindings]] = {}


def bindings(shape) -> Bindings:
    entry = _bindings.get(id(shape))
    if entry is None or entry[0] is not shape:
        entry = _bindings[id(shape)] = (shape, Bindings(shape))
    return entry[1]


# --------------------------------------------------------------------------- header values


def header_from_text(shape, text: str, bad) -> Any:
    t = shape.type_name
    if t == "list":
        return [header_from_text(shape.member, item, bad) for item in split_header_list(text)]
    if t == "string" and shape.serialization.get("jsonvalue"):
        try:
            return json.loads(b64decode(text))
        except ValueError:
            raise bad(f"Invalid JSON value header: {text[:64]!r}") from None
    return scalar_from_text(shape, text.strip() if t != "string" else text, bad)


def header_to_text(shape, value: Any) -> str:
    t = shape.type_name
    if t == "string":
        if shape.serialization.get("jsonvalue"):
            return b64encode(json.dumps(value, separators=(",", ":")))
        return header_text(value if isinstance(value, str) else str(value))
    if t == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat", "rfc822"))
    if t == "boolean":
        return "true" if value else "false"
    if t == "list":
        items = []
        for item in value:
            text = header_to_text(shape.member, item)
            if shape.member.type_name == "string" and ("," in text or '"' in text):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
            items.append(text)
        return ",".join(items)
    if t == "blob":
        return b64encode(value)
    return header_text(str(value))


# --------------------------------------------------------------------------- the codec


class RestProtocol(Protocol):
    """The REST half of rest-json and rest-xml; subclasses read and write the body."""

    def parse(self, op, request: HttpRequest, labels: dict[str, str]) -> dict[str, Any]:
        shape = op.input_shape
        if shape is None:
            return {}
        b = bindings(shape)
        bad = self.bad_request
        params: dict[str, Any] = {}
        for name, label, member in b.uri:
            raw = labels.get(label)
            if raw is not None:
                params[name] = scalar_from_text(member, unquote(raw), bad)
        if b.query or b.query_map:
            query = request.query
            if query:
                self._parse_query(b, query, params)
        headers = request.headers
        for name, _, lower, member in b.headers:
            text = headers.get(lower)
            if text is not None:
                params[name] = header_from_text(member, text, bad)
        for name, prefix, member in b.header_maps:
            found = {
                key[len(prefix) :]: value for key, value in headers.items() if key.startswith(prefix)
            }
            if found:
                params[name] = found
        if b.payload is not None:
            if b.streaming:
                body = request.body
                if body:  # an absent payload and an empty one look the same on the wire
                    params[b.payload] = (
                        body if b.payload_shape.type_name == "blob" else body.decode("utf-8", "replace")
                    )
            elif request.body:
                params[b.payload] = self.read_payload(b.payload_shape, b.payload, request.body)
        elif b.body and request.body:
            params.update(self.read_body(shape, request.body))
        return params

    def _parse_query(self, b: Bindings, query: dict[str, list[str]], params: dict[str, Any]) -> None:
        bad = self.bad_request
        bound = set()
        for name, key, member in b.query:
            values = query.get(key)
            if values is None:
                continue
            bound.add(key)
            if member.type_name == "list":
                params[name] = [scalar_from_text(member.member, v, bad) for v in values]
            else:
                params[name] = scalar_from_text(member, values[0], bad)
        if b.query_map is not None:
            name, member = b.query_map
            as_list = member.value.type_name == "list"
            rest = {
                key: (values if as_list else values[0])
                for key, values in query.items()
                if key not in bound
            }
            if rest:
                params[name] = rest

    def serialize(self, op, result, request_id, request) -> HttpResponse:
        response = HttpResponse(int(op.http.get("responseCode", 200)), self.request_id_headers(request_id))
        shape = op.output_shape
        if shape is not None and result:
            b = bindings(shape)
            headers = response.headers
            for name, header, _, member in b.headers:
                value = result.get(name)
                if value is not None:
                    headers[header] = header_to_text(member, value)
            for name, prefix, member in b.header_maps:
                for key, value in (result.get(name) or {}).items():
                    if value is not None:
                        headers[prefix + str(key)] = header_text(str(value))
            if b.status_code and result.get(b.status_code) is not None:
                response.status = int(result[b.status_code])
            if b.payload is not None:
                value = result.get(b.payload)
                if b.streaming:
                    response.body = b"" if value is None else value
                elif b.event_stream:
                    response.headers.setdefault("Content-Type", eventstream.CONTENT_TYPE)
                    response.body = eventstream.encode_stream(b.payload_shape, value or ())
                elif value is not None:
                    response.body = self.write_payload(b.payload_shape, b.payload, value, response)
            elif b.body:
                members = {k: v for k, v in result.items() if k in b.body and v is not None}
                response.body = self.write_body(op, shape, members, response)
            apply_response_metadata(result, response)
        elif shape is not None and shape.serialization.get("payload") is None:
            b = bindings(shape)
            if b.body:
                response.body = self.write_body(op, shape, {}, response)
        if request.method == "HEAD":
            response.body = b""
        return response

    # -- body hooks -----------------------------------------------------------------------------

    def read_body(self, shape, body: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def read_payload(self, member, name: str, body: bytes) -> Any:
        raise NotImplementedError

    def write_body(self, op, shape, members: dict[str, Any], response: HttpResponse) -> bytes:
        raise NotImplementedError

    def write_payload(self, member, name: str, value: Any, response: HttpResponse) -> bytes:
        raise NotImplementedError

