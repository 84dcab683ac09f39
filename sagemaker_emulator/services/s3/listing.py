"""Listing pages: prefixes, delimiters, markers and continuation tokens, as S3 pages them.

Keys sort by their UTF-8 bytes, which is the order of their code points, which is how both Python
and SQLite compare text. A page walks the store's sorted keys from the marker, rolling keys up
into common prefixes at the delimiter; once a common prefix is emitted the walk jumps past every
key that shares it (a new range scan), so a bucket with a million keys under ``logs/`` lists
``logs/`` in one step.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Iterator, Union
from urllib.parse import quote

from sagemaker_emulator.services.s3 import errors

MAX_PAGE = 1000
_MAX_CODE_POINT = 0x10FFFF


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix`` (None: none)."""
    characters = list(prefix)
    while characters:
        code = ord(characters[-1]) + 1
        if code == 0xD800:  # skip the surrogates, which cannot appear in UTF-8
            code = 0xE000
        if code <= _MAX_CODE_POINT:
            characters[-1] = chr(code)
            return "".join(characters)
        characters.pop()
    return None


@dataclass
class Page:
    entries: list[Any] = field(default_factory=list)  # ObjectInfo for keys, str for common prefixes
    is_truncated: bool = False

    @property
    def objects(self) -> list[Any]:
        return [e for e in self.entries if not isinstance(e, str)]

    @property
    def common_prefixes(self) -> list[str]:
        return [e for e in self.entries if isinstance(e, str)]

    @property
    def last(self) -> str | None:
        """The last key or common prefix of the page (the next marker)."""
        if not self.entries:
            return None
        entry = self.entries[-1]
        return entry if isinstance(entry, str) else entry.key


Entry = Union[str, Any]


def walk(store: Any, bucket: str, prefix: str, delimiter: str | None, marker: str | None) -> Iterator[Entry]:
    """Keys (ObjectInfo) and common prefixes (str) after ``marker``, in order.

    A common prefix that sorts at or before the marker has already been listed, so it is skipped.
    """
    after: str | None = marker or None
    at: str | None = None
    while True:
        restart: str | None = None
        # With a delimiter the scan may stop at the first key (a common prefix): start small.
        first_batch = 16 if delimiter else None
        for info in store.iter_objects(bucket, prefix, after=after, at=at, first_batch=first_batch):
            if delimiter:
                index = info.key.find(delimiter, len(prefix))
                if index >= 0:
                    common = info.key[: index + len(delimiter)]
                    if marker is None or common > marker:
                        yield common
                    restart = prefix_successor(common)
                    break
            yield info
        else:
            return
        if restart is None:
            return
        after, at = None, restart


def list_page(
    store: Any, bucket: str, prefix: str, delimiter: str | None, marker: str | None, max_keys: int
) -> Page:
    """At most ``max_keys`` entries (keys and common prefixes count alike) after ``marker``."""
    page = Page()
    limit = min(max_keys, MAX_PAGE)
    if limit <= 0:
        return page
    entries = walk(store, bucket, prefix or "", delimiter or None, marker)
    for entry in entries:
        if len(page.entries) >= limit:
            page.is_truncated = True
            break
        page.entries.append(entry)
    return page


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(b"v1:" + marker.encode("utf-8", "surrogatepass")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        if not raw.startswith(b"v1:"):
            raise ValueError(token)
        return raw[3:].decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise errors.invalid_argument(
            "The continuation token provided is incorrect", "continuation-token", token
        ) from None


def parse_max_keys(value: Any, name: str = "max-keys") -> int:
    if value is None:
        return MAX_PAGE
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise errors.invalid_argument("Provided max-keys not an integer or within integer range",
                                      name, value) from None
    if number < 0:
        raise errors.invalid_argument(
            "Argument maxKeys must be an integer between 0 and 2147483647", name, value
        )
    return number


def url_encode(value: str) -> str:
    """S3's ``encoding-type=url``: percent-encode everything but unreserved characters and ``/``."""
    return quote(value, safe="/~")
