"""Protocol-buffer wire format, vectorised over many messages at once (no protobuf package).

The decoders here work on a uint8 buffer and arrays of message spans. :func:`scan_messages` walks
*all* messages in lockstep: each step reads one field (tag, then a varint, fixed-width value or a
length-delimited span) of every message that still has bytes left, so the Python loop runs once per
field position, never once per message. Everything above it (map entries, oneofs, packed repeated
values) is expressed as array operations on the resulting field table.

Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit (3/4, groups, are
rejected). For every field the table keeps the byte span of its payload (for a varint: the varint's
own bytes), so packed and non-packed repeated encodings can be decoded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError

WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_LEN = 2
WIRE_FIXED32 = 5

_SHIFTS = np.arange(10, dtype=np.uint64) * np.uint64(7)
_TEN = np.arange(10, dtype=np.int64)


def read_varints(buf: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode one varint at each position; returns (values as uint64, byte counts)."""
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    last = buf.size - 1
    first = buf[np.minimum(positions, last)]
    if not (first & 0x80).any():  # the common case: one-byte tags and small lengths
        return first.astype(np.uint64), np.ones(positions.size, np.int64)
    index = positions[:, None] + _TEN
    np.minimum(index, last, out=index)
    window = buf[index]
    terminal = window < 0x80
    if not terminal.any(axis=1).all():
        raise DataError("Malformed protobuf: a varint is longer than 10 bytes")
    counts = terminal.argmax(axis=1) + 1
    parts = (window & 0x7F).astype(np.uint64) << _SHIFTS
    parts[_TEN[None, :] >= counts[:, None]] = 0
    return np.bitwise_or.reduce(parts, axis=1), counts.astype(np.int64)


@dataclass(frozen=True)
class FieldTable:
    """Every field of a set of messages, ordered by message and then by position in the message.

    ``message`` indexes the spans given to :func:`scan_messages`; ``offset``/``length`` are the
    byte span of the field's payload in the buffer (for varints, the varint itself) and ``value``
    is the decoded varint (0 for other wire types).
    """

    message: np.ndarray
    field: np.ndarray
    wire: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    value: np.ndarray

    def select(self, mask: np.ndarray) -> "FieldTable":
        return FieldTable(self.message[mask], self.field[mask], self.wire[mask], self.offset[mask],
                          self.length[mask], self.value[mask])

    def __len__(self) -> int:
        return int(self.message.size)


def scan_messages(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> FieldTable:
    """Split every message ``buf[starts[i]:ends[i]]`` into its fields."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    ids = np.flatnonzero(starts < ends)
    cursor = starts[ids]
    limit = ends[ids]
    pieces: list[tuple[np.ndarray, ...]] = []
    step = 0
    while ids.size:
        tags, tag_bytes = read_varints(buf, cursor)
        cursor = cursor + tag_bytes
        field = (tags >> np.uint64(3)).astype(np.int64)
        wire = (tags & np.uint64(7)).astype(np.int64)
        offset = cursor
        length = np.zeros(ids.size, np.int64)
        value = np.zeros(ids.size, np.uint64)

        is_varint = wire == WIRE_VARINT
        if is_varint.any():
            values, counts = read_varints(buf, cursor[is_varint])
            value[is_varint] = values
            length[is_varint] = counts
        length[wire == WIRE_FIXED64] = 8
        length[wire == WIRE_FIXED32] = 4
        is_len = wire == WIRE_LEN
        if is_len.any():
            sizes, counts = read_varints(buf, cursor[is_len])
            if (sizes > np.uint64(1 << 62)).any():
                raise DataError("Malformed protobuf: a length-delimited field is impossibly long")
            offset = offset.copy()
            offset[is_len] += counts
            length[is_len] = sizes.astype(np.int64)
        bad_wire = ~(is_varint | is_len | (wire == WIRE_FIXED64) | (wire == WIRE_FIXED32))
        if bad_wire.any():
            raise DataError(f"Malformed protobuf: unsupported wire type {int(wire[bad_wire][0])}")
        if (field == 0).any():
            raise DataError("Malformed protobuf: field number 0")
        cursor = offset + length
        if (cursor > limit).any():
            raise DataError("Malformed protobuf: a field runs past the end of its message")
        pieces.append((ids, field, wire, offset, length, value, np.full(ids.size, step, np.int64)))
        more = cursor < limit
        ids, cursor, limit = ids[more], cursor[more], limit[more]
        step += 1
    if not pieces:
        empty = np.zeros(0, np.int64)
        return FieldTable(empty, empty, empty, empty, empty, np.zeros(0, np.uint64))
    columns = [np.concatenate(column) for column in zip(*pieces)]
    if step > 1:
        order = np.lexsort((columns[6], columns[0]))
        columns = [column[order] for column in columns]
    return FieldTable(*columns[:6])


def ragged_indices(offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(o, o + n) for o, n in zip(offsets, lengths)])`` without a loop."""
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    keep = lengths > 0
    offsets, lengths = offsets[keep], lengths[keep]
    before = np.cumsum(lengths) - lengths
    return np.repeat(offsets - before, lengths) + np.arange(total, dtype=np.int64)


def gather_bytes(buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of byte spans."""
    return buf[ragged_indices(offsets, lengths)]


_GATHER_CHUNK = 1 << 22  # elements per fancy-index step, so index arrays stay small


def gather_fixed(buf: np.ndarray, offsets: np.ndarray, nbytes: np.ndarray, dtype) -> np.ndarray:
    """Concatenate spans of little-endian fixed-width values (each span a multiple of the width).

    Works at element granularity through one unaligned view per byte phase, in bounded chunks.
    """
    dtype = np.dtype(dtype).newbyteorder("<")
    width = dtype.itemsize
    offsets = np.asarray(offsets, dtype=np.int64)
    nbytes = np.asarray(nbytes, dtype=np.int64)
    if (nbytes % width).any():
        raise DataError(f"Malformed protobuf: packed values are not a multiple of {width} bytes")
    counts = nbytes // width
    out = np.empty(int(counts.sum()), dtype=dtype)
    if out.size == 0:
        return out
    phases = offsets % width
    if (counts == counts[0]).all():  # equal-length spans (dense rows): broadcast row indices
        return _gather_equal(buf, offsets, phases, int(counts[0]), dtype, out)
    out_starts = np.cumsum(counts) - counts
    for phase in np.unique(phases).tolist():
        view = np.ndarray(((buf.size - phase) // width,), dtype=dtype, buffer=buf, offset=phase)
        members = np.flatnonzero(phases == phase)
        # chunk the members so that each fancy index stays bounded
        running = np.cumsum(counts[members])
        begin = 0
        while begin < members.size:
            base = running[begin - 1] if begin else 0
            end = int(np.searchsorted(running, base + _GATHER_CHUNK, side="right"))
            end = max(end, begin + 1)
            chunk = members[begin:end]
            source = ragged_indices(offsets[chunk] // width, counts[chunk])
            target = ragged_indices(out_starts[chunk], counts[chunk])
            out[target] = view[source]
            begin = end
    return out


def _gather_equal(buf: np.ndarray, offsets: np.ndarray, phases: np.ndarray, count: int, dtype: np.dtype,
                  out: np.ndarray) -> np.ndarray:
    width = dtype.itemsize
    rows = out.reshape(-1, count)
    columns = np.arange(count, dtype=np.int64)
    step = max(1, _GATHER_CHUNK // count)
    for phase in np.unique(phases).tolist():
        view = np.ndarray(((buf.size - phase) // width,), dtype=dtype, buffer=buf, offset=phase)
        members = np.flatnonzero(phases == phase)
        for begin in range(0, members.size, step):
            chosen = members[begin:begin + step]
            rows[chosen] = view[(offsets[chosen] // width)[:, None] + columns]
    return out


def decode_varint_stream(stream: np.ndarray) -> np.ndarray:
    """Decode a concatenation of complete varints into uint64 values."""
    stream = np.asarray(stream, dtype=np.uint8)
    if stream.size == 0:
        return np.zeros(0, np.uint64)
    terminal = stream < 0x80
    if not terminal[-1]:
        raise DataError("Malformed protobuf: packed varints end in the middle of a value")
    ends = np.flatnonzero(terminal)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    group = np.cumsum(terminal) - terminal
    position = np.arange(stream.size, dtype=np.int64) - starts[group]
    if position.max() > 9:
        raise DataError("Malformed protobuf: a varint is longer than 10 bytes")
    parts = (stream & 0x7F).astype(np.uint64) << (position.astype(np.uint64) * np.uint64(7))
    return np.bitwise_or.reduceat(parts, starts)


def decode_varint_segments(buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Decode varints packed in byte spans; returns (all values, number of values per span)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    stream = gather_bytes(buf, offsets, lengths)
    values = decode_varint_stream(stream)
    terminal = (stream < 0x80).astype(np.int64)
    boundaries = np.cumsum(lengths)
    if stream.size:
        nonempty = lengths > 0
        if not terminal[boundaries[nonempty] - 1].all():
            raise DataError("Malformed protobuf: a packed varint field ends in the middle of a value")
    cumulative = np.concatenate(([0], np.cumsum(terminal)))
    counts = cumulative[boundaries] - cumulative[boundaries - lengths]
    return values, counts


# --------------------------------------------------------------------------------------------
# Encoding (scalar helpers; the record encoders build templates from these)


def encode_varint(value: int) -> bytes:
    value = int(value)
    if value < 0:
        value += 1 << 64  # int32/int64 negatives are 10-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_key(field: int, wire: int) -> bytes:
    return encode_varint((field << 3) | wire)


def length_delimited(field: int, payload: bytes) -> bytes:
    return field_key(field, WIRE_LEN) + encode_varint(len(payload)) + payload


def packed_fixed(field: int, values: np.ndarray, dtype) -> bytes:
    data = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    return length_delimited(field, data) if data else b""


def packed_varints(field: int, values) -> bytes:
    data = b"".join(encode_varint(int(v)) for v in values)
    return length_delimited(field, data) if data else b""


def parse_fields(data: bytes, start: int = 0, end: int | None = None):
    """Scalar field iterator for one message: yields (field, wire, offset, length, value).

    Used for layout discovery on a single record and by the reference decoder in tests.
    """
    end = len(data) if end is None else end
    position = start
    while position < end:
        tag, position = _scalar_varint(data, position)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise DataError("Malformed protobuf: field number 0")
        if wire == WIRE_VARINT:
            value, after = _scalar_varint(data, position)
            yield field, wire, position, after - position, value
            position = after
        elif wire == WIRE_LEN:
            size, position = _scalar_varint(data, position)
            if position + size > end:
                raise DataError("Malformed protobuf: a field runs past the end of its message")
            yield field, wire, position, size, 0
            position += size
        elif wire in (WIRE_FIXED32, WIRE_FIXED64):
            size = 4 if wire == WIRE_FIXED32 else 8
            if position + size > end:
                raise DataError("Malformed protobuf: a field runs past the end of its message")
            yield field, wire, position, size, 0
            position += size
        else:
            raise DataError(f"Malformed protobuf: unsupported wire type {wire}")


def _scalar_varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise DataError("Malformed protobuf: truncated or overlong varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7

