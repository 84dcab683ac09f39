"""MXNet's NDArray list file (``mx.nd.save`` / ``mx.nd.load``), without MXNet.

Built-in algorithms store models in it (k-means' ``model_algo-1`` holds one float32 ``(k, d)``
array). Layout, all little-endian::

    u64 0x112 (list magic) | u64 0 (reserved) | u64 N | N arrays | u64 M | M names (u64 len + bytes)

Each array starts with a u32 magic:

* ``0xF993FAC9`` (V2): i32 storage type (0 dense), shape, context, dtype flag, data
* ``0xF993FACA`` (V3, numpy-shape semantics): as V2 but ndim -1 means "no shape" and ndim 0 is a
  scalar with one element
* ``0xF993FAC8`` (V1): shape, context, dtype flag, data (no storage type)
* anything else (legacy): the u32 *is* ndim, followed by ndim u32 dims, then context, dtype, data

Shape = i32/u32 ndim + ndim i64 dims (legacy: u32 dims); ndim 0 in V1/V2/legacy means an empty
array and nothing else follows. Context = i32 dev_type (1 CPU, 2 GPU) + i32 dev_id. Dtype flags: 0
float32, 1 float64, 2 float16, 3 uint8, 4 int32, 5 int8, 6 int64, 7 bool. Data is C order.

We write V2, dense, on cpu(0), with no names unless given (as ``mx.nd.save(f, [array])`` does).
"""

from __future__ import annotations

import os
import struct
from typing import Mapping, Sequence

import numpy as np

from .errors import DataError

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA

DTYPES = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
    4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"),
}


def dtype_flag(dtype) -> int:
    """The NDArray dtype flag of a NumPy dtype (either byte order)."""
    dtype = np.dtype(dtype)
    if dtype.byteorder == ">":
        dtype = dtype.newbyteorder("<")
    for flag, candidate in DTYPES.items():
        if dtype == candidate:
            return flag
    raise ValueError(f"dtype {dtype} cannot be stored in an NDArray file")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise DataError(f"Truncated NDArray file: needed {size} byte(s) at offset {self.offset}")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))


def loads(data: bytes) -> tuple[list[np.ndarray], list[str]]:
    """Parse NDArray-list bytes into (arrays, names); names is empty for a saved list."""
    reader = _Reader(bytes(data))
    magic, _reserved = reader.unpack("<QQ")
    if magic != LIST_MAGIC:
        raise DataError(f"Not an MXNet NDArray file (magic 0x{magic:x}, expected 0x{LIST_MAGIC:x})")
    (count,) = reader.unpack("<Q")
    if count > len(data):
        raise DataError(f"Corrupt NDArray file: claims {count} arrays")
    arrays = [_read_array(reader) for _ in range(count)]
    names: list[str] = []
    if reader.offset < len(reader.data):
        (name_count,) = reader.unpack("<Q")
        for _ in range(name_count):
            (length,) = reader.unpack("<Q")
            names.append(reader.take(length).decode("utf-8"))
    if names and len(names) != len(arrays):
        raise DataError(f"Corrupt NDArray file: {len(arrays)} arrays but {len(names)} names")
    return arrays, names


def _read_array(reader: _Reader) -> np.ndarray:
    (magic,) = reader.unpack("<I")
    if magic in (V2_MAGIC, V3_MAGIC):
        (storage,) = reader.unpack("<i")
        if storage != 0:
            raise DataError(f"Sparse NDArrays (storage type {storage}) are not supported")
        shape = _read_shape(reader, numpy_semantics=magic == V3_MAGIC)
    elif magic == V1_MAGIC:
        shape = _read_shape(reader, numpy_semantics=False)
    else:  # legacy: the word we read is ndim, dims are u32
        ndim = magic
        if ndim > 32:
            raise DataError(f"Corrupt NDArray file: unknown array magic 0x{magic:08x}")
        shape = reader.unpack(f"<{ndim}I") if ndim else ()
        shape = None if ndim == 0 else tuple(shape)
    if shape is None:
        return np.zeros((0,), np.float32)
    dev_type, _dev_id = reader.unpack("<ii")
    if dev_type not in (1, 2, 3, 5, 6):
        raise DataError(f"Corrupt NDArray file: unknown device type {dev_type}")
    (flag,) = reader.unpack("<i")
    if flag not in DTYPES:
        raise DataError(f"Unsupported NDArray dtype flag {flag}")
    dtype = DTYPES[flag]
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    raw = reader.take(size * dtype.itemsize)
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _read_shape(reader: _Reader, numpy_semantics: bool) -> tuple[int, ...] | None:
    (ndim,) = reader.unpack("<i")
    if numpy_semantics:
        if ndim < 0:
            return None
        dims = reader.unpack(f"<{ndim}q") if ndim else ()
        if any(d < 0 for d in dims):
            return None
        return tuple(dims)
    if ndim <= 0:
        return None
    dims = reader.unpack(f"<{ndim}q")
    if any(d < 0 for d in dims):
        raise DataError("Corrupt NDArray file: negative dimension")
    return tuple(dims)


def load(path: str | os.PathLike) -> tuple[list[np.ndarray], list[str]]:
    with open(path, "rb") as stream:
        return loads(stream.read())


def dumps(arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> bytes:
    """Serialise arrays (a list, or a dict to also store names) as a V2 NDArray-list file."""
    if isinstance(arrays, Mapping):
        names = list(arrays)
        values = [np.asarray(arrays[name]) for name in names]
    else:
        names = []
        values = [np.asarray(array) for array in arrays]
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(values))]
    for array in values:
        parts.append(_array_bytes(array))
    parts.append(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(encoded)) + encoded)
    return b"".join(parts)


def _array_bytes(array: np.ndarray) -> bytes:
    flag = dtype_flag(array.dtype)
    if array.ndim == 0:
        array = array.reshape(1)  # V2's ndim 0 means "empty", so a scalar is stored as shape (1,)
    header = struct.pack("<Ii", V2_MAGIC, 0) + struct.pack("<i", array.ndim)
    header += struct.pack(f"<{array.ndim}q", *array.shape)
    header += struct.pack("<iii", 1, 0, flag)
    return header + np.ascontiguousarray(array, dtype=DTYPES[flag]).tobytes()


def save(path: str | os.PathLike, arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> None:
    data = dumps(arrays)
    temporary = f"{os.fspath(path)}.tmp"
    with open(temporary, "wb") as stream:
        stream.write(data)
    os.replace(temporary, path)
