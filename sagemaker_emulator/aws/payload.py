"""Response payloads that are streamed from disk rather than held in memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileBody:
    """``length`` bytes of the file at ``path`` starting at ``start``; the gateway streams it."""

    path: Path
    start: int
    length: int
