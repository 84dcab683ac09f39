"""Immutable blob files on disk, named by random ids.

A blob is written once, to a temporary file in ``<root>/tmp``, flushed, fsynced and renamed to
``<root>/blobs/<id[:2]>/<id>``; it is never modified afterwards. Callers record blob ids in their
own metadata (SQLite) *after* :meth:`BlobStore.write` returns, so a crash can leave at worst an
unreferenced blob, which :meth:`BlobStore.sweep` removes at the next start. No user-supplied
string ever becomes part of a path: ids are generated here and validated on every use.

Because blobs are immutable, several names may share one file's data through hard links
(:meth:`BlobStore.link`), and readers holding a path (or a hard link taken into a job's workspace)
keep valid data however the owning object is overwritten later.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

CHUNK_SIZE = 1 << 20
BLOB_MODE = 0o644  # read-only by intent; world-readable so jobs in containers can read linked inputs
_ID = re.compile(r"^[0-9a-f]{32}$")

ChunkObserver = Callable[[bytes], None]


@dataclass(frozen=True)
class Blob:
    id: str
    size: int
    path: Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # -- naming -------------------------------------------------------------------------------

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def path(self, blob_id: str) -> Path:
        """The file holding ``blob_id``; the id is checked so that it can never escape the root."""
        if not _ID.match(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.blob_dir / blob_id[:2] / blob_id

    # -- writing ------------------------------------------------------------------------------

    def write(self, chunks: Iterable[bytes], observe: ChunkObserver | None = None) -> Blob:
        """Write ``chunks`` as a new blob; ``observe`` sees every chunk (for digests)."""
        fd, temporary = tempfile.mkstemp(dir=self.tmp_dir, prefix="w-")
        size = 0
        try:
            os.fchmod(fd, BLOB_MODE)  # mkstemp's 0600 would hide linked inputs from container users
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    if not chunk:
                        continue
                    if observe is not None:
                        observe(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            return self._install(Path(temporary), size)
        except BaseException:
            _unlink_quietly(Path(temporary))
            raise

    def write_bytes(self, data: bytes, observe: ChunkObserver | None = None) -> Blob:
        return self.write([bytes(data)], observe)

    def write_stream(self, source: BinaryIO, observe: ChunkObserver | None = None) -> Blob:
        return self.write(read_chunks(source), observe)

    def adopt(self, source: Path, observe: ChunkObserver | None = None) -> Blob:
        """Move the file ``source`` in as a new blob (copying when it lives on another filesystem).

        ``observe`` still sees the whole content, read once before the move.
        """
        source = Path(source)
        with open(source, "rb") as handle:
            size = 0
            if observe is not None:
                for chunk in read_chunks(handle):
                    observe(chunk)
                    size += len(chunk)
            else:
                size = os.fstat(handle.fileno()).st_size
            os.fsync(handle.fileno())
        try:
            os.chmod(source, BLOB_MODE)
        except OSError:
            pass
        blob_id = self.new_id()
        target = self.path(blob_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)
        except OSError:
            with open(source, "rb") as handle:
                blob = self.write_stream(handle)
            _unlink_quietly(source)
            return blob
        _fsync_directory(target.parent)
        return Blob(blob_id, size, target)

    def link(self, blob_id: str) -> Blob:
        """A new blob with the same content as ``blob_id`` (a hard link, or a copy if linking fails)."""
        source = self.path(blob_id)
        new_id = self.new_id()
        target = self.path(new_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except FileNotFoundError:
            raise
        except OSError:
            with open(source, "rb") as handle:
                return self.write_stream(handle)
        _fsync_directory(target.parent)
        return Blob(new_id, target.stat().st_size, target)

    def concatenate(self, blob_ids: Iterable[str], observe: ChunkObserver | None = None) -> Blob:
        """A new blob holding the given blobs one after the other."""

        def chunks() -> Iterator[bytes]:
            for blob_id in blob_ids:
                with open(self.path(blob_id), "rb") as handle:
                    yield from read_chunks(handle)

        return self.write(chunks(), observe)

    def _install(self, temporary: Path, size: int) -> Blob:
        blob_id = self.new_id()
        target = self.path(blob_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        _fsync_directory(target.parent)
        return Blob(blob_id, size, target)

    # -- reading and removal ------------------------------------------------------------------

    def open(self, blob_id: str) -> BinaryIO:
        return open(self.path(blob_id), "rb")

    def link_to(self, blob_id: str, destination: Path) -> None:
        """Hard-link the blob to ``destination`` outside the store (copy when linking fails)."""
        source = self.path(blob_id)
        destination = Path(destination)
        try:
            os.link(source, destination)
        except FileNotFoundError:
            if not source.exists():
                raise
            shutil.copyfile(source, destination)
        except OSError:
            shutil.copyfile(source, destination)

    def delete(self, blob_id: str) -> None:
        _unlink_quietly(self.path(blob_id))

    def sweep(self, is_referenced: Callable[[str], bool]) -> int:
        """Remove temporary files and every blob ``is_referenced`` disowns; returns how many.

        Only call this when no writer is running (at start-up): a blob just written but not yet
        recorded by its owner would look unreferenced.
        """
        removed = 0
        for entry in self.tmp_dir.iterdir():
            _unlink_quietly(entry)
            removed += 1
        for fan_out in self.blob_dir.iterdir():
            if not fan_out.is_dir():
                continue
            for entry in fan_out.iterdir():
                if not _ID.match(entry.name) or not is_referenced(entry.name):
                    _unlink_quietly(entry)
                    removed += 1
        return removed


def read_chunks(source: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while chunk := source.read(chunk_size):
        yield chunk


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path, ignore_errors=True)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
