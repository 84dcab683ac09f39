"""MIME types as the built-ins see them: channel ``ContentType``, request ``Content-Type``, ``Accept``.

Types compare case-insensitively and may carry parameters with any whitespace
(``text/csv; label_size=1``, ``application/json;verbose=true``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
ANY = "*/*"

# Spellings we treat as the same type.
_ALIASES = {
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-ndjson": JSONLINES,
    "text/x-csv": CSV,
}


@dataclass(frozen=True)
class MediaType:
    """A parsed media type: lower-case ``essence`` (``type/subtype``) and its parameters."""

    essence: str
    params: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name.lower(), default)

    def __str__(self) -> str:
        return "; ".join([self.essence, *(f"{k}={v}" for k, v in self.params.items())])


def parse_media_type(value: str | None) -> MediaType | None:
    """Parse ``type/subtype; key=value ...``; None for a missing or empty value."""
    if value is None:
        return None
    parts = value.split(";")
    essence = parts[0].strip().lower()
    if not essence:
        return None
    essence = _ALIASES.get(essence, essence)
    params: dict[str, str] = {}
    for part in parts[1:]:
        if "=" not in part:
            continue
        key, _, raw = part.partition("=")
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1]
        params[key.strip().lower()] = raw
    return MediaType(essence, params)


def parse_accept(value: str | None) -> list[MediaType]:
    """The media types of an ``Accept`` header, most preferred first (by ``q``, then order)."""
    if value is None or not value.strip():
        return []
    ranked = []
    for position, item in enumerate(value.split(",")):
        media = parse_media_type(item)
        if media is None:
            continue
        try:
            quality = float(media.params.get("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            ranked.append((-quality, position, media))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [media for _, _, media in ranked]


def label_size(media: MediaType | None, default: int) -> int:
    """The ``label_size`` parameter of a CSV content type (a non-negative integer)."""
    if media is None:
        return default
    raw = media.param("label_size")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        size = -1
    if size < 0:
        raise ValueError(f"label_size must be a non-negative integer, got {raw!r}")
    return size


def is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"
