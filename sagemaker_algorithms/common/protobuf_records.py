"""``aialgs.data.Record`` messages (RecordIO-protobuf payloads), decoded and encoded with NumPy.

Schema (proto2, package ``aialgs.data``)::

    Float32Tensor {1: repeated float values; 2: repeated uint64 keys; 3: repeated uint64 shape}
    Float64Tensor {1: repeated double values; 2: keys; 3: shape}
    Int32Tensor   {1: repeated int32 values; 2: keys; 3: shape}
    Value         {oneof: 2 Float32Tensor, 3 Float64Tensor, 7 Int32Tensor, 9 Bytes}
    Record        {1: map<string, Value> features; 2: map<string, Value> label;
                   3: uid; 4: metadata; 5: configuration}

Decoding (:func:`decode_records`) never loops over records in Python:

* **Uniform path.** When every record has one length (dense rows written by the SDK's
  ``write_numpy_to_dense_tensor``, or by us), the first record is parsed to find where its value
  bytes lie; every other byte of the payload (tags, lengths, map keys) must then be identical in all
  records, which one strided comparison checks. The features are then a strided view over the whole
  buffer, copied once into a contiguous float32 array. One-byte varint values (small integer
  labels) qualify too.
* **Columnar path.** Anything else (sparse rows, varying lengths, non-packed encodings, unknown
  fields, float64/int32 mixtures) goes through :func:`protobuf_wire.scan_messages`, which walks all
  records in lockstep one field position at a time; values, keys and shapes are then gathered with
  ragged array indexing, and sparse rows are scattered into the dense output.

Output: :class:`RecordBatch` with float32 features ``(n, d)`` (sparse rows densified with ``d`` from
``feature_dim`` or the records' ``shape``) and labels ``(n,)``/``(n, m)`` or ``None``.

Encoding writes float32/float64 records through a byte template filled column-wise; int32 and
sparse tensors use a simple per-record encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from . import protobuf_wire as wire
from .errors import DataError
from .recordio import MAGIC, RecordSpans, frame_many, padded_length, split_records

VALUES_KEY = "values"

# Value.oneof field number <-> tensor element type
_FLOAT32, _FLOAT64, _INT32, _BYTES = 2, 3, 7, 9
_TENSOR_DTYPES = {_FLOAT32: np.dtype("<f4"), _FLOAT64: np.dtype("<f8"), _INT32: np.dtype("<i4")}
_VALUE_WIRES = {_FLOAT32: (wire.WIRE_LEN, wire.WIRE_FIXED32), _FLOAT64: (wire.WIRE_LEN, wire.WIRE_FIXED64),
                _INT32: (wire.WIRE_LEN, wire.WIRE_VARINT)}


@dataclass(frozen=True)
class RecordBatch:
    """Decoded records: dense float32 features and optional labels."""

    features: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])


@dataclass
class Tensor:
    """One tensor of a Record map: dense when ``keys`` is None, else sparse with ``shape``."""

    values: np.ndarray
    keys: np.ndarray | None = None
    shape: tuple[int, ...] | None = None

    def dense(self, dim: int | None = None) -> np.ndarray:
        if self.keys is None:
            return np.asarray(self.values)
        if dim is not None:
            size = dim
        elif self.shape:
            size = int(np.prod(self.shape))
        else:
            size = int(np.max(self.keys)) + 1 if len(self.keys) else 0
        out = np.zeros(size, dtype=np.asarray(self.values).dtype)
        out[np.asarray(self.keys, dtype=np.int64)] = self.values
        return out


# ============================================================================================
# Decoding


def decode_records(data, feature_dim: int | None = None, *, with_labels: bool = True,
                   feature_key: str = VALUES_KEY, label_key: str = VALUES_KEY) -> RecordBatch:
    """Decode RecordIO-protobuf bytes (or an mmap / uint8 array) into dense arrays.

    ``feature_dim`` fixes the width (and is required to match dense rows); without it the width
    comes from the first dense row or the sparse ``shape``. Raises :class:`DataError` for bytes that
    are not RecordIO-protobuf or rows that do not fit.
    """
    spans = data if isinstance(data, RecordSpans) else split_records(data)
    return decode_spans(spans, feature_dim, with_labels=with_labels, feature_key=feature_key,
                        label_key=label_key)


def decode_spans(spans: RecordSpans, feature_dim: int | None = None, *, with_labels: bool = True,
                 feature_key: str = VALUES_KEY, label_key: str = VALUES_KEY) -> RecordBatch:
    count = len(spans)
    if count == 0:
        return RecordBatch(np.zeros((0, feature_dim or 0), np.float32), None)
    if spans.stride is not None:
        batch = _decode_uniform(spans, feature_dim, with_labels, feature_key, label_key)
        if batch is not None:
            return batch
    return _decode_columnar(spans, feature_dim, with_labels, feature_key, label_key)


# --------------------------------------------------------------------------------------------
# Uniform path


@dataclass
class _Region:
    offset: int  # relative to the payload start
    nbytes: int
    kind: str  # "<f4", "<f8" or "varint1"

    @property
    def count(self) -> int:
        return self.nbytes if self.kind == "varint1" else self.nbytes // np.dtype(self.kind).itemsize


@dataclass
class _TensorLayout:
    regions: list[_Region] = field(default_factory=list)
    sparse: bool = False
    eligible: bool = True

    @property
    def count(self) -> int:
        return sum(region.count for region in self.regions)


def _layout_of_record(payload: bytes) -> tuple[dict[str, _TensorLayout], dict[str, _TensorLayout]] | None:
    """Where the value bytes of each tensor of one record lie; None if a map value is not a tensor."""
    maps: tuple[dict[str, _TensorLayout], dict[str, _TensorLayout]] = ({}, {})
    for number, kind, offset, length, _ in wire.parse_fields(payload):
        if number not in (1, 2):
            continue
        if kind != wire.WIRE_LEN:
            return None
        key, value_span = _parse_entry(payload, offset, offset + length)
        tensor = _parse_value(payload, *value_span) if value_span else None
        if tensor is None:
            return None
        maps[number - 1][key] = _tensor_layout(payload, *tensor)
    return maps


def _parse_entry(payload: bytes, start: int, end: int) -> tuple[str, tuple[int, int] | None]:
    key = ""
    value = None
    for number, kind, offset, length, _ in wire.parse_fields(payload, start, end):
        if number == 1 and kind == wire.WIRE_LEN:
            key = payload[offset:offset + length].decode("utf-8", errors="replace")
        elif number == 2 and kind == wire.WIRE_LEN:
            value = (offset, offset + length)
    return key, value


def _parse_value(payload: bytes, start: int, end: int) -> tuple[int, int, int] | None:
    found = None
    for number, kind, offset, length, _ in wire.parse_fields(payload, start, end):
        if number in _TENSOR_DTYPES and kind == wire.WIRE_LEN:
            found = (number, offset, offset + length)
        elif number == _BYTES:
            found = None
    return found


def _tensor_layout(payload: bytes, dtype_field: int, start: int, end: int) -> _TensorLayout:
    layout = _TensorLayout()
    for number, kind, offset, length, _ in wire.parse_fields(payload, start, end):
        if number in (2, 3):
            layout.sparse = layout.sparse or number == 2
            continue
        if number != 1:
            continue
        if kind not in _VALUE_WIRES[dtype_field]:
            layout.eligible = False
        elif dtype_field == _INT32:
            if any(byte >= 0x80 for byte in payload[offset:offset + length]):
                layout.eligible = False
            else:
                layout.regions.append(_Region(offset, length, "varint1"))
        else:
            dtype = _TENSOR_DTYPES[dtype_field]
            if length % dtype.itemsize:
                raise DataError("Malformed protobuf: packed values are not a whole number of elements")
            layout.regions.append(_Region(offset, length, dtype.str))
    return layout


def _decode_uniform(spans: RecordSpans, feature_dim: int | None, with_labels: bool,
                    feature_key: str, label_key: str) -> RecordBatch | None:
    buf = spans.buffer
    count = len(spans)
    stride = int(spans.stride)
    base = int(spans.starts[0])
    length = int(spans.lengths[0])
    payload = buf[base:base + length].tobytes()
    try:
        layout = _layout_of_record(payload)
    except DataError:
        return None
    if layout is None:
        return None
    features_map, labels_map = layout
    feature = features_map.get(feature_key)
    if feature is None or feature.sparse or not feature.eligible:
        return None
    label = labels_map.get(label_key) if with_labels else None
    if label is not None and (label.sparse or not label.eligible):
        return None

    value_bytes = np.zeros(length, dtype=bool)
    for tensor in (*features_map.values(), *labels_map.values()):
        if tensor.eligible:
            for region in tensor.regions:
                value_bytes[region.offset:region.offset + region.nbytes] = True
    rows = np.lib.stride_tricks.as_strided(buf[base:], shape=(count, length), strides=(stride, 1),
                                           writeable=False)
    structural = np.flatnonzero(~value_bytes)
    if structural.size and not _columns_equal_first_row(rows, structural):
        return None
    for tensor in (*features_map.values(), *labels_map.values()):
        for region in tensor.regions:
            if region.kind == "varint1":
                if (rows[:, region.offset:region.offset + region.nbytes] >= 0x80).any():
                    return None

    width = feature.count
    if feature_dim is not None and width != feature_dim:
        raise _width_error(width, feature_dim)
    features = _extract(buf, base, stride, count, feature.regions)
    labels = None
    if label is not None:
        labels = _extract(buf, base, stride, count, label.regions)
        labels = _shape_labels(labels)
    return RecordBatch(features, labels)


def _columns_equal_first_row(rows: np.ndarray, columns: np.ndarray) -> bool:
    reference = rows[0, columns]
    step = max(1, (1 << 22) // max(1, columns.size))
    for begin in range(0, rows.shape[0], step):
        if not (rows[begin:begin + step, columns] == reference).all():
            return False
    return True


def _extract(buf: np.ndarray, base: int, stride: int, count: int, regions: list[_Region]) -> np.ndarray:
    parts = []
    for region in regions:
        if region.kind == "varint1":
            view = np.ndarray((count, region.nbytes), dtype=np.uint8, buffer=buf,
                              offset=base + region.offset, strides=(stride, 1))
        else:
            dtype = np.dtype(region.kind)
            view = np.ndarray((count, region.count), dtype=dtype, buffer=buf,
                              offset=base + region.offset, strides=(stride, dtype.itemsize))
        parts.append(view)
    if not parts:
        return np.zeros((count, 0), np.float32)
    if len(parts) == 1:
        return parts[0].astype(np.float32, order="C")  # the one copy out of the buffer
    return np.concatenate([part.astype(np.float32) for part in parts], axis=1)


def _shape_labels(labels: np.ndarray) -> np.ndarray:
    return labels[:, 0].copy() if labels.shape[1] == 1 else labels


def _width_error(width: int, feature_dim: int) -> DataError:
    return DataError(
        f"Records have {width} feature values but feature_dim is {feature_dim} "
        f"(cannot copy sequence with size {width} to array axis with dimension {feature_dim})"
    )


# --------------------------------------------------------------------------------------------
# Columnar path


@dataclass
class _Tensors:
    """The tensors chosen for one map key: one per record that has it, in record order."""

    record: np.ndarray  # record index of each tensor
    values: np.ndarray  # all values, float32, grouped by tensor
    value_counts: np.ndarray
    keys: np.ndarray  # uint64, grouped by tensor
    key_counts: np.ndarray
    shapes: np.ndarray
    shape_counts: np.ndarray

    @property
    def value_starts(self) -> np.ndarray:
        return np.cumsum(self.value_counts) - self.value_counts


def _decode_columnar(spans: RecordSpans, feature_dim: int | None, with_labels: bool,
                     feature_key: str, label_key: str) -> RecordBatch:
    buf = spans.buffer
    count = len(spans)
    fields = wire.scan_messages(buf, spans.starts, spans.starts + spans.lengths)
    features = _map_tensors(buf, fields, 1, feature_key)
    dense = _densify(features, count, feature_dim)
    labels = None
    if with_labels:
        label_tensors = _map_tensors(buf, fields, 2, label_key)
        if label_tensors.record.size:
            labels = _label_matrix(label_tensors, count)
    return RecordBatch(dense, labels)


def _map_tensors(buf: np.ndarray, records: wire.FieldTable, map_field: int, key: str) -> _Tensors:
    entries = records.select(records.field == map_field)
    if (entries.wire != wire.WIRE_LEN).any():
        raise DataError("Malformed Record: a map field is not length-delimited")
    entry_fields = wire.scan_messages(buf, entries.offset, entries.offset + entries.length)
    n_entries = len(entries)
    key_bytes = key.encode("utf-8")

    key_offset = np.zeros(n_entries, np.int64)
    key_length = np.zeros(n_entries, np.int64)
    keys = entry_fields.select((entry_fields.field == 1) & (entry_fields.wire == wire.WIRE_LEN))
    key_offset[keys.message] = keys.offset
    key_length[keys.message] = keys.length
    matches = key_length == len(key_bytes)
    if key_bytes and matches.any():
        candidates = np.flatnonzero(matches)
        window = buf[key_offset[candidates][:, None] + np.arange(len(key_bytes))]
        equal = (window == np.frombuffer(key_bytes, np.uint8)).all(axis=1)
        matches[candidates[~equal]] = False

    value_start = np.zeros(n_entries, np.int64)
    value_end = np.zeros(n_entries, np.int64)
    values = entry_fields.select((entry_fields.field == 2) & (entry_fields.wire == wire.WIRE_LEN))
    value_start[values.message] = values.offset
    value_end[values.message] = values.offset + values.length

    chosen = np.flatnonzero(matches)
    record_of_entry = entries.message[chosen]
    # a map keeps the last entry for a key: keep the last matching entry of each record
    if record_of_entry.size > 1 and (np.diff(record_of_entry) == 0).any():
        last = np.flatnonzero(np.append(np.diff(record_of_entry) != 0, True))
        chosen, record_of_entry = chosen[last], record_of_entry[last]

    value_fields = wire.scan_messages(buf, value_start[chosen], value_end[chosen])
    if (value_fields.field == _BYTES).any():
        raise DataError(f"Records hold Bytes values under '{key}'; only numeric tensors are supported")
    tensor_fields = value_fields.select(np.isin(value_fields.field, list(_TENSOR_DTYPES))
                                        & (value_fields.wire == wire.WIRE_LEN))
    n_chosen = chosen.size
    dtype_code = np.zeros(n_chosen, np.int64)
    tensor_start = np.zeros(n_chosen, np.int64)
    tensor_end = np.zeros(n_chosen, np.int64)
    dtype_code[tensor_fields.message] = tensor_fields.field
    tensor_start[tensor_fields.message] = tensor_fields.offset
    tensor_end[tensor_fields.message] = tensor_fields.offset + tensor_fields.length
    present = dtype_code > 0
    record_of_tensor = record_of_entry[present]
    dtype_code, tensor_start, tensor_end = dtype_code[present], tensor_start[present], tensor_end[present]

    inner = wire.scan_messages(buf, tensor_start, tensor_end)
    n_tensors = record_of_tensor.size
    values, value_counts = _tensor_values(buf, inner, dtype_code, n_tensors)
    key_values, key_counts = _varint_field(buf, inner, 2, n_tensors)
    shape_values, shape_counts = _varint_field(buf, inner, 3, n_tensors)
    return _Tensors(record_of_tensor, values, value_counts, key_values, key_counts, shape_values, shape_counts)


def _tensor_values(buf: np.ndarray, inner: wire.FieldTable, dtype_code: np.ndarray, n_tensors: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    rows = inner.select(inner.field == 1)
    code_of_row = dtype_code[rows.message]
    counts = np.zeros(n_tensors, np.int64)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []  # (tensor indices, their values in order)
    for code in np.unique(code_of_row).tolist():
        group = rows.select(code_of_row == code)
        if not np.isin(group.wire, _VALUE_WIRES[code]).all():
            raise DataError("Malformed Record: tensor values use the wrong wire type")
        if code == _INT32:
            raw, per_row = wire.decode_varint_segments(buf, group.offset, group.length)
            decoded = raw.view(np.int64).astype(np.int32).astype(np.float32)
        else:
            dtype = _TENSOR_DTYPES[code]
            decoded = wire.gather_fixed(buf, group.offset, group.length, dtype).astype(np.float32, copy=False)
            per_row = group.length // dtype.itemsize
        group_counts = np.bincount(group.message, weights=per_row, minlength=n_tensors).astype(np.int64)
        counts += group_counts
        pieces.append((np.flatnonzero(group_counts), decoded))
    if len(pieces) == 1:
        return pieces[0][1], counts
    values = np.empty(int(counts.sum()), np.float32)
    starts = np.cumsum(counts) - counts
    for tensors, decoded in pieces:
        values[wire.ragged_indices(starts[tensors], counts[tensors])] = decoded
    return values, counts


def _varint_field(buf: np.ndarray, inner: wire.FieldTable, number: int, n_tensors: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    rows = inner.select(inner.field == number)
    if len(rows) == 0:
        return np.zeros(0, np.uint64), np.zeros(n_tensors, np.int64)
    if not np.isin(rows.wire, (wire.WIRE_LEN, wire.WIRE_VARINT)).all():
        raise DataError("Malformed Record: tensor keys/shape use the wrong wire type")
    values, per_row = wire.decode_varint_segments(buf, rows.offset, rows.length)
    counts = np.bincount(rows.message, weights=per_row, minlength=n_tensors).astype(np.int64)
    return values, counts


def _densify(tensors: _Tensors, count: int, feature_dim: int | None) -> np.ndarray:
    if tensors.record.size != count:
        have = np.zeros(count, bool)
        have[tensors.record] = True
        missing = int(np.flatnonzero(~have)[0])
        raise DataError(f"Record {missing} has no '{VALUES_KEY}' features")
    sparse = (tensors.key_counts > 0) | ((tensors.value_counts == 0) & (tensors.shape_counts > 0))
    dim = feature_dim
    if dim is None:
        if (~sparse).any():
            dim = int(tensors.value_counts[~sparse][0])
        else:
            dim = _sparse_dims(tensors, sparse)[0] if sparse.any() else 0
    out_of_place = (~sparse) & (tensors.value_counts != dim)
    if out_of_place.any():
        raise _width_error(int(tensors.value_counts[out_of_place][0]), dim)
    if not sparse.any() and np.array_equal(tensors.record, np.arange(count)):
        return tensors.values.reshape(count, dim)
    out = np.zeros((count, dim), np.float32)
    starts = tensors.value_starts
    dense = np.flatnonzero(~sparse)
    if dense.size:
        flat = tensors.values[wire.ragged_indices(starts[dense], tensors.value_counts[dense])]
        out[tensors.record[dense]] = flat.reshape(dense.size, dim)
    chosen = np.flatnonzero(sparse)
    if chosen.size:
        if not np.array_equal(tensors.key_counts[chosen], tensors.value_counts[chosen]):
            raise DataError("Sparse record has a different number of keys and values")
        wrong = [size for size in _sparse_dims(tensors, sparse) if size != dim]
        if wrong:
            raise DataError(f"Sparse record has shape {wrong[0]} but feature_dim is {dim}")
        key_starts = np.cumsum(tensors.key_counts) - tensors.key_counts
        keys = tensors.keys[wire.ragged_indices(key_starts[chosen], tensors.key_counts[chosen])]
        if keys.size and int(keys.max()) >= dim:
            raise DataError(f"Sparse record has key {int(keys.max())}, outside feature_dim {dim}")
        values = tensors.values[wire.ragged_indices(starts[chosen], tensors.value_counts[chosen])]
        rows = np.repeat(tensors.record[chosen], tensors.value_counts[chosen])
        out[rows, keys.astype(np.int64)] = values
    return out


def _sparse_dims(tensors: _Tensors, sparse: np.ndarray) -> list[int]:
    """The flattened size (product of ``shape``) of each sparse tensor that declares a shape."""
    shape_starts = np.cumsum(tensors.shape_counts) - tensors.shape_counts
    chosen = np.flatnonzero(sparse & (tensors.shape_counts > 0))
    if chosen.size == 0:
        return []
    dims = tensors.shapes[wire.ragged_indices(shape_starts[chosen], tensors.shape_counts[chosen])]
    owners = np.repeat(np.arange(chosen.size), tensors.shape_counts[chosen])
    products = np.ones(chosen.size, dtype=np.float64)
    np.multiply.at(products, owners, dims.astype(np.float64))
    return [int(value) for value in products]


def _label_matrix(tensors: _Tensors, count: int) -> np.ndarray:
    if tensors.record.size != count:
        raise DataError("Some records have a label and some do not")
    if (tensors.key_counts > 0).any():
        raise DataError("Sparse labels are not supported")
    widths = np.unique(tensors.value_counts)
    if widths.size != 1:
        raise DataError("Records have labels of different sizes")
    labels = tensors.values.reshape(count, int(widths[0]))
    order = np.argsort(tensors.record, kind="stable")
    labels = labels[order] if not np.array_equal(order, np.arange(count)) else labels
    return _shape_labels(labels)


# ============================================================================================
# Reference (scalar) decoding of single records: used by tests and for debugging


def parse_record(payload: bytes) -> dict[str, dict[str, Tensor]]:
    """Decode one Record payload into ``{"features": {key: Tensor}, "label": {key: Tensor}}``."""
    payload = bytes(payload)
    result: dict[str, dict[str, Tensor]] = {"features": {}, "label": {}}
    for number, kind, offset, length, _ in wire.parse_fields(payload):
        if number not in (1, 2) or kind != wire.WIRE_LEN:
            continue
        key, value_span = _parse_entry(payload, offset, offset + length)
        tensor = _parse_value(payload, *value_span) if value_span else None
        if tensor is not None:
            result["features" if number == 1 else "label"][key] = _tensor_from_bytes(payload, *tensor)
    return result


def _tensor_from_bytes(payload: bytes, code: int, start: int, end: int) -> Tensor:
    dtype = _TENSOR_DTYPES[code]
    values: list = []
    keys: list[int] = []
    shape: list[int] = []
    for number, kind, offset, length, varint in wire.parse_fields(payload, start, end):
        chunk = payload[offset:offset + length]
        if number == 1:
            if code == _INT32:
                decoded = [varint] if kind == wire.WIRE_VARINT else _varints(chunk)
                values.extend(int(np.uint64(v).view(np.int64)) for v in decoded)
            else:
                values.extend(np.frombuffer(chunk, dtype=dtype).tolist())
        elif number in (2, 3):
            target = keys if number == 2 else shape
            target.extend([varint] if kind == wire.WIRE_VARINT else _varints(chunk))
    array = np.asarray(values, dtype=dtype.newbyteorder("="))
    return Tensor(array, np.asarray(keys, np.uint64) if keys else None, tuple(shape) if shape else None)


def _varints(chunk: bytes) -> list[int]:
    out = []
    position = 0
    while position < len(chunk):
        value, position = wire._scalar_varint(chunk, position)
        out.append(value)
    return out


# ============================================================================================
# Encoding


def _value_field_for(dtype: np.dtype) -> int:
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return _FLOAT32
    if dtype == np.float64:
        return _FLOAT64
    if dtype.kind in "iub":
        return _INT32
    raise ValueError(f"Unsupported dtype {dtype} for a Record tensor")


def _tensor_message(tensor: Tensor) -> tuple[int, bytes]:
    values = np.asarray(tensor.values).reshape(-1)
    code = _value_field_for(values.dtype)
    if code == _INT32:
        body = wire.packed_varints(1, values.astype(np.int64).tolist())
    else:
        body = wire.packed_fixed(1, values, _TENSOR_DTYPES[code])
    if tensor.keys is not None:
        body += wire.packed_varints(2, np.asarray(tensor.keys, np.uint64).tolist())
    if tensor.shape is not None:
        body += wire.packed_varints(3, list(tensor.shape))
    return code, body


def _map_entry(map_field: int, key: str, tensor: Tensor | np.ndarray) -> bytes:
    if not isinstance(tensor, Tensor):
        tensor = Tensor(np.asarray(tensor))
    code, body = _tensor_message(tensor)
    value = wire.length_delimited(code, body)
    entry = wire.length_delimited(1, key.encode("utf-8")) + wire.length_delimited(2, value)
    return wire.length_delimited(map_field, entry)


def encode_record(features: Mapping[str, Tensor | np.ndarray] | None = None,
                  label: Mapping[str, Tensor | np.ndarray] | None = None) -> bytes:
    """One Record payload (not framed)."""
    parts = [_map_entry(1, key, tensor) for key, tensor in (features or {}).items()]
    parts += [_map_entry(2, key, tensor) for key, tensor in (label or {}).items()]
    return b"".join(parts)


def encode_records(records: Sequence[Mapping[str, Mapping[str, Tensor | np.ndarray]]]) -> bytes:
    """Frame a sequence of ``{"features": {...}, "label": {...}}`` dicts (per-record encoder)."""
    return frame_many(encode_record(r.get("features"), r.get("label")) for r in records)


def encode_dense_records(features: np.ndarray, labels: np.ndarray | None = None, *,
                         feature_key: str = VALUES_KEY, label_key: str = VALUES_KEY) -> bytes:
    """One record per row, like the SDK's ``write_numpy_to_dense_tensor`` (dtype kept as given)."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError("features must be a 2-D array")
    columns = [(1, feature_key, features)]
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape[0] != features.shape[0]:
            raise ValueError("labels must have one entry per row")
        columns.append((2, label_key, labels.reshape(labels.shape[0], -1)))
    return _encode_columns(columns)


def encode_label_records(outputs: Mapping[str, np.ndarray]) -> bytes:
    """Inference responses: one record per row whose ``label`` map holds float32 tensors.

    ``outputs`` maps names (``closest_cluster``, ``distance_to_cluster`` ...) to ``(n,)`` or
    ``(n, m)`` arrays; features are left empty.
    """
    columns = []
    for name, array in outputs.items():
        array = np.asarray(array, dtype=np.float32)
        columns.append((2, name, array.reshape(array.shape[0], -1)))
    return _encode_columns(columns)


def _encode_columns(columns: list[tuple[int, str, np.ndarray]]) -> bytes:
    if not columns:
        return b""
    count = columns[0][2].shape[0]
    if all(column.dtype in (np.float32, np.float64) for _, _, column in columns):
        return _encode_fixed_width(columns, count)
    records = []
    for row in range(count):
        payload = b"".join(_map_entry(number, key, column[row]) for number, key, column in columns)
        records.append(payload)
    return frame_many(records)


def _encode_fixed_width(columns: list[tuple[int, str, np.ndarray]], count: int) -> bytes:
    """Build one record's bytes with empty value slots, copy it to every row, fill the slots."""
    template = bytearray()
    slots: list[tuple[int, np.ndarray]] = []
    for number, key, column in columns:
        dtype = np.dtype(column.dtype).newbyteorder("<")
        nbytes = column.shape[1] * dtype.itemsize
        values_field = (wire.field_key(1, wire.WIRE_LEN) + wire.encode_varint(nbytes)) if nbytes else b""
        tensor_length = len(values_field) + nbytes
        code = _value_field_for(column.dtype)
        value_head = wire.field_key(code, wire.WIRE_LEN) + wire.encode_varint(tensor_length)
        value_length = len(value_head) + tensor_length
        key_part = wire.length_delimited(1, key.encode("utf-8"))
        value_key = wire.field_key(2, wire.WIRE_LEN) + wire.encode_varint(value_length)
        entry_length = len(key_part) + len(value_key) + value_length
        head = (wire.field_key(number, wire.WIRE_LEN) + wire.encode_varint(entry_length) + key_part
                + value_key + value_head + values_field)
        template += head
        slots.append((len(template), np.ascontiguousarray(column, dtype=dtype)))
        template += bytes(nbytes)
    length = len(template)
    stride = 8 + padded_length(length)
    out = np.zeros((count, stride), np.uint8)
    out[:, :4] = np.frombuffer(MAGIC.to_bytes(4, "little"), np.uint8)
    out[:, 4:8] = np.frombuffer(length.to_bytes(4, "little"), np.uint8)
    out[:, 8:8 + length] = np.frombuffer(bytes(template), np.uint8)
    for offset, column in slots:
        if column.shape[1]:
            out[:, 8 + offset:8 + offset + column.shape[1] * column.itemsize] = column.view(np.uint8)
    return out.tobytes()
