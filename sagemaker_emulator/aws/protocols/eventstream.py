"""Event-stream response payloads (``application/vnd.amazon.eventstream``), as
``InvokeEndpointWithResponseStream`` returns them.

A handler returns the stream member as an iterable (or async iterable) of events, each a one-key
dict naming the event member: ``{"PayloadPart": {"Bytes": b"..."}}``. Raising an ``AwsError`` whose
code is an exception member of the stream (``ModelStreamError``) ends the stream with that
exception event; any other failure ends it with an ``InternalStreamFailure`` (or a generic error
message when the stream models none).

Each message: total length, headers length, prelude CRC32, string headers (``:message-type``,
``:event-type`` or ``:exception-type``, ``:content-type``), payload, message CRC32.
"""

from __future__ import annotations

import inspect
import logging
import struct
import zlib
from typing import Any, AsyncIterator, Iterable, Iterator

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols import json_body
from sagemaker_emulator.aws.protocols.base import as_bytes

CONTENT_TYPE = "application/vnd.amazon.eventstream"
log = logging.getLogger("sagemaker_emulator.aws")


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One binary event-stream message with string-valued headers."""
    encoded = []
    for name, value in headers:
        n = name.encode("utf-8")
        v = value.encode("utf-8")
        encoded.append(struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v)
    header_bytes = b"".join(encoded)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    head = prelude + struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF) + header_bytes + payload
    return head + struct.pack(">I", zlib.crc32(head) & 0xFFFFFFFF)


def encode_event(stream_shape, event: dict[str, Any]) -> bytes:
    """An event ``{"Member": {...}}`` of ``stream_shape`` as a message."""
    (name, value), = event.items()
    shape = stream_shape.members[name]
    headers = [(":message-type", "event"), (":event-type", name)]
    payload = b""
    body_members = {}
    for member_name, member in shape.members.items():
        item = (value or {}).get(member_name)
        if item is None:
            continue
        if member.serialization.get("eventpayload"):
            if member.type_name in ("blob", "string"):
                payload = as_bytes(item)
                headers.append((":content-type", "application/octet-stream"))
            else:
                payload = json_body.dumps(json_body.write(member, item))
                headers.append((":content-type", "application/json"))
        elif member.serialization.get("eventheader"):
            headers.append((member_name, str(item)))
        else:
            body_members[member_name] = item
    if body_members:
        payload = json_body.dumps(json_body.write(shape, body_members))
        headers.append((":content-type", "application/json"))
    return message(headers, payload)


def encode_error(stream_shape, error: AwsError) -> bytes:
    shape = stream_shape.members.get(error.code)
    if shape is not None and shape.metadata.get("exception"):
        document = {"Message": error.message, **error.fields}
        document = {k: v for k, v in document.items() if k in shape.members}
        return message(
            [(":message-type", "exception"), (":exception-type", error.code),
             (":content-type", "application/json")],
            json_body.dumps(json_body.write(shape, document)),
        )
    return message(
        [(":message-type", "error"), (":error-code", error.code), (":error-message", error.message)],
        b"",
    )


def _failure(stream_shape) -> AwsError:
    code = "InternalStreamFailure" if "InternalStreamFailure" in stream_shape.members else "InternalFailure"
    return AwsError(code, "The stream processing failed because of an unknown error.", 500)


def encode_stream(stream_shape, events: Any) -> Iterator[bytes] | AsyncIterator[bytes]:
    """The messages of a handler's events, as an iterator of the same kind (sync or async)."""
    if inspect.isasyncgen(events) or hasattr(events, "__aiter__"):
        return _encode_async(stream_shape, events)
    return _encode_sync(stream_shape, events)


def _encode_sync(stream_shape, events: Iterable) -> Iterator[bytes]:
    try:
        for event in events:
            yield encode_event(stream_shape, event)
    except AwsError as error:
        yield encode_error(stream_shape, error)
    except Exception:
        log.exception("event stream failed")
        yield encode_error(stream_shape, _failure(stream_shape))


async def _encode_async(stream_shape, events) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            yield encode_event(stream_shape, event)
    except AwsError as error:
        yield encode_error(stream_shape, error)
    except Exception:
        log.exception("event stream failed")
        yield encode_error(stream_shape, _failure(stream_shape))
