"""MXNet's image RecordIO (``.rec``, ``.idx``) and image lists (``.lst``), without MXNet or torch.

A ``.rec`` file is DMLC RecordIO (:mod:`..common.recordio`); each payload is::

    IRHeader (24 bytes, little-endian "IfQQ"): u32 flag | f32 label | u64 id | u64 id2
    flag float32 labels when flag > 0 (a label vector: multi-label, and then ``label`` is 0)
    the encoded image (JPEG or PNG)

An ``.idx`` file lists ``key<TAB>byte offset`` per record. A ``.lst`` file has one image per line:
``index<TAB>label[<TAB>label...]<TAB>relative/path.jpg`` (im2rec writes labels as ``%f``).

Reading keeps images where they are: :class:`RecordImages` remembers the payload offsets inside the
file and maps it lazily in each process that reads (so it pickles cheaply to data-loader workers).
"""

from __future__ import annotations

import io
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

import numpy as np

from ..common.errors import DataError
from ..common.recordio import frame, split_records

IR_HEADER = struct.Struct("<IfQQ")
IR_HEADER_SIZE = IR_HEADER.size  # 24


# --------------------------------------------------------------------------------------------
# IRHeader


def pack_header(label: float | Sequence[float], record_id: int = 0, id2: int = 0) -> bytes:
    """An IRHeader (plus the label vector when ``label`` is a sequence), as MXNet's ``recordio.pack``."""
    if np.ndim(label) == 0:
        return IR_HEADER.pack(0, float(label), record_id, id2)
    labels = np.asarray(label, dtype="<f4").reshape(-1)
    return IR_HEADER.pack(labels.size, 0.0, record_id, id2) + labels.tobytes()


def unpack_header(payload: bytes) -> tuple[np.ndarray, int, int]:
    """(labels as a float32 vector, header length including the label vector, record id)."""
    if len(payload) < IR_HEADER_SIZE:
        raise DataError(f"a record of {len(payload)} bytes is too short for the {IR_HEADER_SIZE}-byte image "
                        "record header (IRHeader)")
    flag, label, record_id, _ = IR_HEADER.unpack_from(payload)
    if flag == 0:
        return np.array([label], np.float32), IR_HEADER_SIZE, record_id
    end = IR_HEADER_SIZE + 4 * flag
    if end > len(payload):
        raise DataError(f"the image record header announces {flag} labels but the record holds only "
                        f"{len(payload)} bytes")
    return np.frombuffer(payload, "<f4", flag, IR_HEADER_SIZE).astype(np.float32), end, record_id


def pack_image_record(image: bytes, label: float | Sequence[float], record_id: int = 0) -> bytes:
    """One ``.rec`` payload: header, labels and the encoded image bytes."""
    return pack_header(label, record_id) + bytes(image)


# --------------------------------------------------------------------------------------------
# Writing .rec / .idx / .lst


def write_record_file(stream: BinaryIO, items: Iterable[tuple[float | Sequence[float], bytes]],
                      index_stream: io.TextIOBase | None = None) -> int:
    """Write ``(label, encoded image)`` pairs as a ``.rec`` (ids 0, 1, ...); optionally the ``.idx``.

    Payloads that contain the RecordIO magic at an aligned offset are split into DMLC multipart
    records, as MXNet's writer does. Returns the number of records.
    """
    count = 0
    offset = 0
    for count, (label, image) in enumerate(items, 1):
        data = frame(pack_image_record(image, label, count - 1), split_on_magic=True)
        if index_stream is not None:
            index_stream.write(f"{count - 1}\t{offset}\n")
        stream.write(data)
        offset += len(data)
    return count


def encode_record_file(items: Iterable[tuple[float | Sequence[float], bytes]]) -> bytes:
    buffer = io.BytesIO()
    write_record_file(buffer, items)
    return buffer.getvalue()


def format_lst(entries: Iterable[tuple[int, float | Sequence[float], str]]) -> str:
    """``.lst`` text for ``(index, label or labels, relative path)`` entries, labels as ``%f``."""
    lines = []
    for index, label, path in entries:
        labels = [label] if np.ndim(label) == 0 else list(label)
        lines.append("\t".join([str(int(index)), *(f"{float(v):f}" for v in labels), path]))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class ListEntry:
    index: int
    labels: np.ndarray  # float32 vector
    path: str  # relative to the image channel's root


def parse_lst(text: str) -> list[ListEntry]:
    """The entries of a ``.lst`` file; ``DataError`` names the first bad line."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        columns = line.rstrip("\r\n").split("\t")
        if len(columns) < 3:
            raise DataError(f"line {number} has {len(columns)} tab-separated column(s); expected at least 3 "
                            "(index, label, relative path)")
        try:
            index = int(float(columns[0]))
            labels = np.array([float(value) for value in columns[1:-1]], np.float32)
        except ValueError:
            raise DataError(f"line {number} does not start with a numeric index and label(s): "
                            f"{line[:200]!r}") from None
        path = columns[-1].strip()
        if not path:
            raise DataError(f"line {number} has an empty image path")
        entries.append(ListEntry(index, labels, path))
    return entries


@dataclass
class RecordImages:
    """The encoded images of one ``.rec`` file, by payload offset; read through a lazy mmap."""

    path: str
    starts: np.ndarray  # offset of each image's bytes in the file (or in ``joined``)
    lengths: np.ndarray
    joined: np.ndarray | None = None  # multipart records re-assembled in memory
    _mapped: mmap.mmap | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.starts.size)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_mapped"] = None
        return state

    def get(self, index: int) -> bytes:
        start, length = int(self.starts[index]), int(self.lengths[index])
        if self.joined is not None:
            return self.joined[start:start + length].tobytes()
        if self._mapped is None:
            with open(self.path, "rb") as stream:
                self._mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        return self._mapped[start:start + length]


def read_record_file(path: str | os.PathLike) -> tuple[list[np.ndarray], RecordImages]:
    """Every record's labels and where its image lies; ``DataError`` for bad framing or headers."""
    path = os.fspath(path)
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size == 0:
            return [], RecordImages(path, np.zeros(0, np.int64), np.zeros(0, np.int64))
        mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        buffer = np.frombuffer(mapped, dtype=np.uint8)
        spans = split_records(buffer)
        joined = None if spans.buffer is buffer else spans.buffer.copy()
        source = spans.buffer
        labels: list[np.ndarray] = []
        starts = np.empty(len(spans), np.int64)
        lengths = np.empty(len(spans), np.int64)
        for index in range(len(spans)):
            start, length = int(spans.starts[index]), int(spans.lengths[index])
            head = source[start:start + min(length, IR_HEADER_SIZE)].tobytes()
            flag = IR_HEADER.unpack_from(head)[0] if len(head) == IR_HEADER_SIZE else 0
            header = source[start:start + min(length, IR_HEADER_SIZE + 4 * flag)].tobytes()
            try:
                record_labels, header_size, _ = unpack_header(header)
            except DataError as error:
                raise DataError(f"record {index}: {error}") from None
            labels.append(record_labels)
            starts[index] = start + header_size
            lengths[index] = length - header_size
        del buffer, source, spans
    finally:
        try:
            mapped.close()
        except BufferError:  # an exception still references the buffer; GC closes it
            pass
    return labels, RecordImages(path, starts, lengths, joined)


@dataclass
class FileImages:
    """Images stored as files (the ``.lst`` input), read on demand."""

    paths: list[str]
    names: list[str] | None = None  # how to call each image in messages (its listed relative path)

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, index: int) -> bytes:
        return Path(self.paths[index]).read_bytes()
