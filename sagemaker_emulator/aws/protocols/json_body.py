"""JSON documents <-> Python values, guided by a botocore shape (json 1.1 and rest-json bodies).

Reading gives what a boto3 caller passes: member names, timestamps as aware ``datetime`` (the wire
carries epoch seconds), blobs as ``bytes`` (the wire carries base64). Members the shape does not
know are dropped. Writing is the reverse, with timestamps as epoch-second numbers.
"""

from __future__ import annotations

import json
from typing import Any

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.protocols.base import as_bytes, b64decode, b64encode, format_timestamp
from sagemaker_emulator.aws.protocols.base import parse_timestamp
from sagemaker_emulator.aws.protocols.shapes import is_document, json_members, json_output_members


def serialization_error(message: str) -> AwsError:
    return AwsError("SerializationException", message, 400)


def loads(body: bytes) -> Any:
    if not body:
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise serialization_error(f"The request body is not valid JSON: {exc}") from None


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _type_error(shape, value: Any) -> AwsError:
    return serialization_error(
        f"Expected a {shape.type_name} for {shape.name}, got {type(value).__name__}: "
        f"{str(value)[:64]!r}"
    )


# --------------------------------------------------------------------------- reading


def read(shape, value: Any) -> Any:
    """A JSON value as the Python value of ``shape``."""
    t = shape.type_name
    if t == "structure":
        if is_document(shape):
            return value
        if not isinstance(value, dict):
            raise _type_error(shape, value)
        table = json_members(shape)
        out = {}
        for key, item in value.items():
            entry = table.get(key)
            if entry is not None and item is not None:
                out[entry[0]] = read(entry[1], item)
        return out
    if t == "string":
        if not isinstance(value, str):
            raise _type_error(shape, value)
        return value
    if t == "list":
        if not isinstance(value, list):
            raise _type_error(shape, value)
        member = shape.member
        return [None if item is None else read(member, item) for item in value]
    if t == "map":
        if not isinstance(value, dict):
            raise _type_error(shape, value)
        vshape = shape.value
        return {k: (None if v is None else read(vshape, v)) for k, v in value.items()}
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise _type_error(shape, value)
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise _type_error(shape, value)
        return value
    if t in ("float", "double"):
        if isinstance(value, bool):
            raise _type_error(shape, value)
        if isinstance(value, (int, float)):
            return value
        if value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
        raise _type_error(shape, value)
    if t == "timestamp":
        try:
            return parse_timestamp(value)
        except (ValueError, TypeError, OverflowError):
            raise _type_error(shape, value) from None
    if t == "blob":
        if not isinstance(value, str):
            raise _type_error(shape, value)
        try:
            return b64decode(value)
        except ValueError:
            raise _type_error(shape, value) from None
    return value


# --------------------------------------------------------------------------- writing


def write(shape, value: Any) -> Any:
    """The Python value of ``shape`` as a JSON-ready value; ``None`` members are left out."""
    t = shape.type_name
    if t == "structure":
        if is_document(shape):
            return value
        table = json_output_members(shape)
        out = {}
        for name, item in value.items():
            if item is None:
                continue
            entry = table.get(name)
            if entry is None:
                continue
            wire, member, plain = entry
            if type(item) is plain:
                out[wire] = item
            else:
                out[wire] = write(member, item)
        return out
    if t == "list":
        member = shape.member
        return [write(member, item) for item in value]
    if t == "map":
        vshape = shape.value
        return {str(k): write(vshape, v) for k, v in value.items() if v is not None}
    if t == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if t == "blob":
        return b64encode(as_bytes(value))
    if t in ("float", "double"):
        value = float(value)
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if t in ("integer", "long") and not isinstance(value, int):
        return int(value)
    return value
