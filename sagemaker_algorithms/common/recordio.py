"""DMLC RecordIO framing (the outer layer of ``application/x-recordio-protobuf`` and MXNet ``.rec``).

Each record is::

    u32 magic 0xCED7230A | u32 (cflag << 29 | length) | payload | zero padding to a 4-byte boundary

``cflag`` 0 is a whole record; 1/2/3 are the first/middle/last parts of a payload that a DMLC writer
split at every 4-byte-aligned occurrence of the magic inside it (the reader puts the magic back
between parts). The SageMaker SDK writes plain records (cflag 0) and its reader ignores cflag, so
our writers emit cflag 0 unless asked to split.

Splitting a buffer into records is vectorised: records of one length (the common case: one dense
row per record) are checked with a single strided comparison; otherwise every aligned magic word is
a candidate header and the chain of lengths is verified in one pass. Only a buffer whose payloads
contain the magic at aligned offsets, or that has multipart records, takes a sequential walk.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

import numpy as np

from .errors import DataError

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
LENGTH_MASK = (1 << 29) - 1
MAX_LENGTH = LENGTH_MASK
_HEADER = struct.Struct("<II")
_PADDING = (b"", b"\0", b"\0\0", b"\0\0\0")


def padded_length(length: int) -> int:
    """Bytes a payload of ``length`` occupies after padding (excluding the 8-byte header)."""
    return (length + 3) & ~3


def as_uint8(data) -> np.ndarray:
    """A read-only uint8 view of bytes, bytearray, memoryview, mmap or an ndarray (no copy)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            data = data.view(np.uint8)
        return data.reshape(-1)
    return np.frombuffer(data, dtype=np.uint8)


@dataclass(frozen=True)
class RecordSpans:
    """Where each record's payload lies: ``buffer[starts[i]:starts[i] + lengths[i]]``.

    ``stride`` is set when the records are evenly spaced with one payload length, so that a
    caller can take strided views across all of them.
    """

    buffer: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    stride: int | None = None

    def __len__(self) -> int:
        return int(self.starts.size)

    def payload(self, index: int) -> bytes:
        start = int(self.starts[index])
        return self.buffer[start:start + int(self.lengths[index])].tobytes()

    def payloads(self) -> Iterator[bytes]:
        for index in range(len(self)):
            yield self.payload(index)


def _empty(buffer: np.ndarray) -> RecordSpans:
    return RecordSpans(buffer, np.zeros(0, np.int64), np.zeros(0, np.int64), None)


def split_records(data) -> RecordSpans:
    """Find every record in ``data``; multipart records are re-assembled into one payload."""
    buf = as_uint8(data)
    size = int(buf.size)
    if size == 0:
        return _empty(buf)
    if size < 8:
        raise DataError(f"Truncated RecordIO record: {size} byte(s) where an 8-byte header was expected")
    magic, word = _HEADER.unpack(buf[:8].tobytes())
    if magic != MAGIC:
        raise DataError(
            f"Not RecordIO data: expected magic 0x{MAGIC:08x} at offset 0 but found 0x{magic:08x}"
        )
    uniform = _split_uniform(buf, word)
    if uniform is not None:
        return uniform
    spans, cflags = _split_by_candidates(buf)
    if spans is None:
        spans, cflags = _split_sequential(buf)
    if cflags.any():
        return _join_multipart(spans, cflags)
    return spans


def _split_uniform(buf: np.ndarray, first_word: int) -> RecordSpans | None:
    """All records share the first record's header (same length, cflag 0) and fill the buffer."""
    if first_word >> 29:
        return None
    length = first_word & LENGTH_MASK
    stride = 8 + padded_length(length)
    size = int(buf.size)
    if size % stride:
        return None
    count = size // stride
    headers = np.lib.stride_tricks.as_strided(buf, shape=(count, 8), strides=(stride, 1), writeable=False)
    if not (headers == buf[:8]).all():
        return None
    starts = np.arange(count, dtype=np.int64) * stride + 8
    return RecordSpans(buf, starts, np.full(count, length, dtype=np.int64), stride)


def _split_by_candidates(buf: np.ndarray) -> tuple[RecordSpans | None, np.ndarray]:
    """Every aligned magic word is a candidate header; accept them if their lengths chain exactly.

    If each candidate's record ends exactly where the next candidate starts, no candidate lies
    inside a payload (by induction from offset 0), so the candidates are the records.
    """
    size = int(buf.size)
    words = buf[: size - size % 4].view("<u4")
    candidates = np.flatnonzero(words == MAGIC)
    if candidates.size == 0 or candidates[-1] + 1 >= words.size:
        return None, np.zeros(0, np.uint32)
    length_words = words[candidates + 1]
    lengths = (length_words & LENGTH_MASK).astype(np.int64)
    cflags = length_words >> 29
    next_word = candidates + 2 + (lengths + 3) // 4
    if not np.array_equal(next_word[:-1], candidates[1:]):
        return None, cflags
    end = int(candidates[-1]) * 4 + 8 + int(lengths[-1])
    if end > size or size - end > 3 or buf[end:].any():
        return None, cflags
    starts = candidates.astype(np.int64) * 4 + 8
    return RecordSpans(buf, starts, lengths, None), cflags


def _split_sequential(buf: np.ndarray) -> tuple[RecordSpans, np.ndarray]:
    """Walk the records one by one (payloads that contain the magic); exact error offsets."""
    raw = np.ascontiguousarray(buf)
    size = int(raw.size)
    starts: list[int] = []
    lengths: list[int] = []
    flags: list[int] = []
    offset = 0
    while offset < size:
        if size - offset < 8:
            if size - offset <= 3 and not raw[offset:].any():
                break  # the last record's padding
            raise DataError(f"Truncated RecordIO header at offset {offset}")
        magic, word = _HEADER.unpack_from(raw, offset)
        if magic != MAGIC:
            raise DataError(
                f"Invalid RecordIO magic 0x{magic:08x} at offset {offset} (expected 0x{MAGIC:08x})"
            )
        length = word & LENGTH_MASK
        if offset + 8 + length > size:
            raise DataError(
                f"Truncated RecordIO record at offset {offset}: header says {length} bytes, "
                f"{size - offset - 8} remain"
            )
        starts.append(offset + 8)
        lengths.append(length)
        flags.append(word >> 29)
        offset += 8 + padded_length(length)
    spans = RecordSpans(buf, np.asarray(starts, np.int64), np.asarray(lengths, np.int64), None)
    return spans, np.asarray(flags, np.uint32)


def _join_multipart(spans: RecordSpans, cflags: np.ndarray) -> RecordSpans:
    """Re-assemble DMLC multipart records (cflag 1 first, 2 middle, 3 last) into whole payloads."""
    pieces: list[bytes] = []
    starts: list[int] = []
    lengths: list[int] = []
    position = 0
    current: list[bytes] | None = None
    for index, flag in enumerate(cflags.tolist()):
        part = spans.payload(index)
        if flag == 0:
            if current is not None:
                raise DataError(f"RecordIO record {index} interrupts an unfinished multipart record")
            whole = part
        elif flag == 1:
            if current is not None:
                raise DataError(f"RecordIO record {index} starts a multipart record inside another")
            current = [part]
            continue
        elif flag in (2, 3):
            if current is None:
                raise DataError(f"RecordIO record {index} continues a multipart record that never began")
            current.append(part)
            if flag == 2:
                continue
            whole = MAGIC_BYTES.join(current)
            current = None
        else:
            raise DataError(f"RecordIO record {index} has an invalid continuation flag {flag}")
        pieces.append(whole)
        starts.append(position)
        lengths.append(len(whole))
        position += len(whole)
    if current is not None:
        raise DataError("RecordIO data ends inside a multipart record")
    joined = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    return RecordSpans(joined, np.asarray(starts, np.int64), np.asarray(lengths, np.int64), None)


def iter_payloads(data) -> Iterator[bytes]:
    """Each record's payload as bytes."""
    return split_records(data).payloads()


# --------------------------------------------------------------------------------------------
# Writing


def frame(payload: bytes, *, split_on_magic: bool = False) -> bytes:
    """One payload as RecordIO bytes (cflag 0), or DMLC multipart parts when ``split_on_magic``."""
    payload = bytes(payload)
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"RecordIO payload of {len(payload)} bytes exceeds the 2^29-1 limit")
    if split_on_magic:
        parts = _split_on_magic(payload)
        if len(parts) > 1:
            out = []
            for index, part in enumerate(parts):
                flag = 1 if index == 0 else (3 if index == len(parts) - 1 else 2)
                out.append(_frame_one(part, flag))
            return b"".join(out)
    return _frame_one(payload, 0)


def _frame_one(payload: bytes, cflag: int) -> bytes:
    length = len(payload)
    return b"".join((_HEADER.pack(MAGIC, (cflag << 29) | length), payload,
                     _PADDING[padded_length(length) - length]))


def _split_on_magic(payload: bytes) -> list[bytes]:
    parts = []
    begin = 0
    search = 0
    while True:
        found = payload.find(MAGIC_BYTES, search)
        if found < 0:
            break
        if found % 4:
            search = found + 1
            continue
        parts.append(payload[begin:found])
        begin = search = found + 4
    parts.append(payload[begin:])
    return parts


def frame_many(payloads: Iterable[bytes]) -> bytes:
    return b"".join(_frame_one(bytes(p), 0) for p in payloads)


def frame_uniform(payloads: np.ndarray) -> bytes:
    """Frame ``n`` payloads of one length given as an ``(n, length)`` uint8 array, vectorised."""
    payloads = np.asarray(payloads, dtype=np.uint8)
    count, length = payloads.shape
    stride = 8 + padded_length(length)
    out = np.zeros((count, stride), dtype=np.uint8)
    out[:, :8] = np.frombuffer(_HEADER.pack(MAGIC, length), dtype=np.uint8)
    out[:, 8:8 + length] = payloads
    return out.tobytes()


def write_record(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_frame_one(bytes(payload), 0))
