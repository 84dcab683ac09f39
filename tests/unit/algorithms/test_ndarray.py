"""MXNet NDArray list files: our V2 writer, and reading V1/V2/V3/legacy files built by hand."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sagemaker_algorithms.common import ndarray
from sagemaker_algorithms.common.errors import DataError


def list_header(count: int) -> bytes:
    return struct.pack("<QQQ", 0x112, 0, count)


def no_names() -> bytes:
    return struct.pack("<Q", 0)


def test_round_trip_list_and_names(tmp_path):
    centers = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "model_algo-1"
    ndarray.save(path, [centers])
    arrays, names = ndarray.load(path)
    assert names == [] and len(arrays) == 1
    assert arrays[0].dtype == np.float32 and np.array_equal(arrays[0], centers)
    named = {"arg:w": np.ones((2, 2)), "aux:b": np.arange(3, dtype=np.int32), "x": np.array([1, 0], np.uint8)}
    arrays, names = ndarray.loads(ndarray.dumps(named))
    assert names == list(named)
    for array, original in zip(arrays, named.values()):
        assert array.dtype == original.dtype and np.array_equal(array, original)


def test_written_layout_is_mxnet_v2_dense_cpu_float32():
    data = ndarray.dumps([np.array([[1.0, 2.0]], np.float32)])
    expected = (list_header(1) + struct.pack("<Ii", 0xF993FAC9, 0) + struct.pack("<i2q", 2, 1, 2)
                + struct.pack("<iii", 1, 0, 0) + np.array([1.0, 2.0], "<f4").tobytes() + no_names())
    assert data == expected


def test_reads_v1_file():
    body = struct.pack("<I", 0xF993FAC8) + struct.pack("<i2q", 2, 2, 2) + struct.pack("<iii", 1, 0, 1)
    body += np.array([1, 2, 3, 4], "<f8").tobytes()
    arrays, _ = ndarray.loads(list_header(1) + body + no_names())
    assert arrays[0].dtype == np.float64 and arrays[0].tolist() == [[1, 2], [3, 4]]


def test_reads_legacy_file():
    # legacy arrays start directly with ndim and have u32 dimensions
    body = struct.pack("<I2I", 2, 2, 3) + struct.pack("<iii", 1, 0, 0) + np.arange(6, dtype="<f4").tobytes()
    arrays, _ = ndarray.loads(list_header(1) + body + no_names())
    assert arrays[0].shape == (2, 3) and arrays[0].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_reads_v3_scalar_and_unknown_shape():
    scalar = struct.pack("<Iii", 0xF993FACA, 0, 0) + struct.pack("<iii", 1, 0, 0) + np.float32(7).tobytes()
    unknown = struct.pack("<Iii", 0xF993FACA, 0, -1)
    arrays, _ = ndarray.loads(list_header(2) + scalar + unknown + no_names())
    assert arrays[0].shape == () and float(arrays[0]) == 7.0
    assert arrays[1].size == 0


def test_reads_file_without_name_section_and_gpu_context():
    body = struct.pack("<Ii", 0xF993FAC9, 0) + struct.pack("<iq", 1, 2) + struct.pack("<iii", 2, 0, 0)
    body += np.array([5, 6], "<f4").tobytes()
    arrays, names = ndarray.loads(list_header(1) + body)
    assert arrays[0].tolist() == [5.0, 6.0] and names == []


@pytest.mark.parametrize("data, message", [
    (b"\x00" * 24, "Not an MXNet NDArray file"),
    (list_header(1) + struct.pack("<Ii", 0xF993FAC9, 0), "Truncated"),
    (list_header(1) + struct.pack("<Ii", 0xF993FAC9, 2), "Sparse"),
    (list_header(1) + struct.pack("<Iiiq", 0xF993FAC9, 0, 1, 1) + struct.pack("<iii", 1, 0, 42), "dtype flag"),
    (list_header(1) + struct.pack("<Iiiq", 0xF993FAC9, 0, 1, 1) + struct.pack("<iii", 9, 0, 0), "device type"),
])
def test_malformed_files(data, message):
    with pytest.raises(DataError, match=message):
        ndarray.loads(data)
