"""What every protocol codec shares: the HTTP request and response as the codecs see them, and the
scalar conversions (timestamps, blobs, header values) the wire formats have in common."""

from __future__ import annotations

import base64
import binascii
import calendar
import email.utils
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qsl

from sagemaker_emulator.aws.errors import AwsError


class HttpRequest:
    """One HTTP request, independent of the server that received it.

    ``path`` is the raw (still percent-encoded) path without the query string; ``headers`` maps
    lower-cased names to values (repeated headers joined with ``,``).
    """

    __slots__ = ("method", "path", "query_string", "headers", "body", "_query", "_form")

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        self.method = method.upper()
        self.path = path or "/"
        self.query_string = query_string
        self.headers = headers if headers is not None else {}
        self.body = body
        self._query: dict[str, list[str]] | None = None
        self._form: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        """The query string, decoded: name -> values (``?uploads`` gives ``{"uploads": [""]}``)."""
        if self._query is None:
            query: dict[str, list[str]] = {}
            if self.query_string:
                for key, value in parse_qsl(self.query_string, keep_blank_values=True):
                    query.setdefault(key, []).append(value)
            self._query = query
        return self._query

    def form(self) -> dict[str, str]:
        """Query-protocol parameters: the query string and an urlencoded body, first value wins."""
        if self._form is None:
            form: dict[str, str] = {}
            for key, values in self.query.items():
                form[key] = values[0]
            if self.body and is_form_encoded(self.headers):
                try:
                    text = self.body.decode("utf-8")
                except UnicodeDecodeError:
                    text = self.body.decode("latin-1")
                for key, value in parse_qsl(text, keep_blank_values=True):
                    form.setdefault(key, value)
            self._form = form
        return self._form


def is_form_encoded(headers: dict[str, str]) -> bool:
    return headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


@dataclass
class HttpResponse:
    """A serialized response. ``body`` is ``bytes``, a :class:`~..payload.FileBody`, or an
    iterable / async iterable of ``bytes`` chunks (streamed as is)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = b""


# --------------------------------------------------------------------------- timestamps

def parse_timestamp(value: Any) -> datetime:
    """A wire timestamp (epoch seconds, ISO 8601 or RFC 822) as an aware UTC ``datetime``."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except ValueError:
        pass
    if text[:4].isdigit():
        dt = datetime.fromisoformat(text.replace("z", "Z"))
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    dt = email.utils.parsedate_to_datetime(text)  # raises ValueError/TypeError when not RFC 822
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def as_datetime(value: Any) -> datetime:
    """A handler's timestamp (``datetime``, epoch number or string) as an aware ``datetime``;
    naive datetimes are taken to be UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return parse_timestamp(value)


def epoch_seconds(value: Any) -> int | float:
    if isinstance(value, datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    else:
        seconds = parse_timestamp(value).timestamp()
    whole = int(seconds)
    return whole if whole == seconds else seconds


def iso8601(value: Any, always_fraction: bool = False) -> str:
    """``2024-05-01T12:00:00Z``, with ``.mmm`` (or ``.uuuuuu``) when there is a fraction or when
    ``always_fraction`` (S3 writes milliseconds always)."""
    dt = as_datetime(value).astimezone(timezone.utc)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    micro = dt.microsecond
    if micro == 0 and not always_fraction:
        return base + "Z"
    if micro % 1000 == 0:
        return f"{base}.{micro // 1000:03d}Z"
    return f"{base}.{micro:06d}Z"


def rfc822(value: Any) -> str:
    """``Wed, 21 Oct 2015 07:28:00 GMT``, the HTTP date format."""
    dt = as_datetime(value)
    return email.utils.formatdate(calendar.timegm(dt.utctimetuple()), usegmt=True)


def format_timestamp(value: Any, fmt: str, always_fraction: bool = False) -> Any:
    if fmt == "unixTimestamp":
        return epoch_seconds(value)
    if fmt == "rfc822":
        return rfc822(value)
    return iso8601(value, always_fraction)


# --------------------------------------------------------------------------- blobs and text


def b64encode(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(bytes(value)).decode("ascii")


def b64decode(value: str | bytes) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        # tolerate missing padding and url-safe alphabets rather than reject
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        text = text.strip().replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4))


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def header_text(value: str) -> str:
    """A header value safe to put on the wire: one line, Latin-1; other text is RFC 2047 encoded
    the way S3 returns non-ASCII metadata."""
    if "\r" in value or "\n" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header list, honouring double-quoted items (botocore quotes items
    that contain commas or quotes)."""
    items: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\" and i + 1 < len(value):
                buf.append(value[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ",":
            items.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    last = "".join(buf).strip()
    if last or items:
        items.append(last)
    return items


# --------------------------------------------------------------------------- scalars from text

BadInput = Callable[[str], AwsError]


def scalar_from_text(shape, text: str, bad: BadInput, timestamp_default: str = "iso8601") -> Any:
    """A scalar member from its text form (header, query string, uri label or XML text)."""
    t = shape.type_name
    try:
        if t == "string":
            return text
        if t in ("integer", "long"):
            return int(text)
        if t == "boolean":
            low = text.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(text)
            return low == "true"
        if t in ("float", "double"):
            return float(text)
        if t == "timestamp":
            return parse_timestamp(text)
        if t == "blob":
            return b64decode(text)
    except (ValueError, TypeError, OverflowError):
        raise bad(f"Invalid value for a {t} member: {text[:64]!r}") from None
    return text


def scalar_to_text(shape, value: Any, timestamp_format: str, always_fraction: bool = False) -> str:
    """A scalar member as text (headers, XML, query)."""
    t = shape.type_name
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        fmt = shape.serialization.get("timestampFormat", timestamp_format)
        return str(format_timestamp(value, fmt, always_fraction))
    if t == "blob":
        return b64encode(value)
    if t in ("float", "double"):
        return repr(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
