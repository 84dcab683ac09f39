"""Record decoding/encoding: byte-exact examples, SDK interoperability, both decoder paths, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest

from sagemaker_algorithms.common import protobuf_records as pr
from sagemaker_algorithms.common import protobuf_wire as wire
from sagemaker_algorithms.common import recordio
from sagemaker_algorithms.common.errors import DataError
from sagemaker_algorithms.common.protobuf_records import Tensor


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace("|", " "))


VALUES = "76 61 6c 75 65 73"  # "values"


def sdk_dense(features, labels=None) -> bytes:
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    stream = io.BytesIO()
    write_numpy_to_dense_tensor(stream, features, labels)
    return stream.getvalue()


def sdk_sparse(matrix, labels=None) -> bytes:
    from sagemaker.amazon.common import write_spmatrix_to_sparse_tensor

    stream = io.BytesIO()
    write_spmatrix_to_sparse_tensor(stream, matrix, labels)
    return stream.getvalue()


def sdk_records(data: bytes):
    from sagemaker.amazon.common import read_records

    return read_records(io.BytesIO(data))


# --------------------------------------------------------------------------------------------
# byte-exact examples (reference §1.4)


def test_example_dense_float32_features():
    expected = hexbytes(f"0a 23 d7 ce | 18 00 00 00 | 0a 16 0a 06 {VALUES} 12 0c 12 0a 0a 08 00 00 80 3f 00 00 00 40")
    assert pr.encode_dense_records(np.array([[1.0, 2.0]], np.float32)) == expected
    assert np.array_equal(pr.decode_records(expected).features, [[1.0, 2.0]])


def test_example_with_float32_label():
    data = pr.encode_dense_records(np.array([[1.0, 2.0]], np.float32), np.array([1.0], np.float32))
    assert data[4:8] == bytes.fromhex("2c000000")
    assert data.endswith(hexbytes(f"12 12 0a 06 {VALUES} 12 08 12 06 0a 04 00 00 80 3f"))
    batch = pr.decode_records(data)
    assert batch.labels.tolist() == [1.0]


def test_example_float64_features_use_value_field_3():
    data = pr.encode_dense_records(np.array([[1.5, 2, 3]], np.float64))
    assert hexbytes(f"0a 06 {VALUES} 12 1c 1a 1a 0a 18") in data
    assert data == sdk_dense(np.array([[1.5, 2, 3]]))
    assert pr.decode_records(data).features.tolist() == [[1.5, 2.0, 3.0]]


def test_example_int32_features_and_label():
    data = pr.encode_dense_records(np.array([[1, 2]]), np.array([3]))
    assert data[4:8] == (35).to_bytes(4, "little") and len(data) == 8 + 36 and data[-1] == 0
    assert hexbytes("3a 04 0a 02 01 02") in data and hexbytes("3a 03 0a 01 03") in data
    assert data == sdk_dense(np.array([[1, 2]]), np.array([3]))
    batch = pr.decode_records(data)
    assert batch.features.tolist() == [[1.0, 2.0]] and batch.labels.tolist() == [3.0]


def test_example_sparse_tensor():
    payload = pr.encode_record({"values": Tensor(np.array([2.5], np.float32), keys=np.array([1]), shape=(4,))})
    assert hexbytes("0a 04 00 00 20 40 | 12 01 01 | 1a 01 04") in payload
    assert len(payload) == 26
    framed = recordio.frame(payload)
    assert framed.endswith(b"\0\0") and len(framed) == 8 + 28
    assert pr.decode_records(framed, 4).features.tolist() == [[0.0, 2.5, 0.0, 0.0]]


def test_example_kmeans_response_record():
    data = pr.encode_label_records({"closest_cluster": np.array([2.0]), "distance_to_cluster": np.array([0.5])})
    payload = hexbytes("12 1b 0a 0f") + b"closest_cluster" + hexbytes("12 08 12 06 0a 04 00 00 00 40 12 1f 0a 13") \
        + b"distance_to_cluster" + hexbytes("12 08 12 06 0a 04 00 00 00 3f")
    assert data == recordio.frame(payload)


# --------------------------------------------------------------------------------------------
# round trips with the SDK's writer and reader


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("with_labels", [False, True])
def test_sdk_dense_round_trip(digits, dtype, with_labels):
    X, y = digits
    features = (X * 16).astype(dtype) if dtype == np.int64 else X.astype(dtype)
    labels = y.astype(dtype) if with_labels else None
    data = sdk_dense(features, labels)
    assert pr.encode_dense_records(features, labels) == data
    batch = pr.decode_records(data, 64)
    assert batch.features.dtype == np.float32
    assert np.array_equal(batch.features, features.astype(np.float32))
    if with_labels:
        assert np.array_equal(batch.labels, y.astype(np.float32))
    else:
        assert batch.labels is None


def test_sdk_reads_our_records(digits):
    X, y = digits
    records = sdk_records(pr.encode_dense_records(X[:20], y[:20].astype(np.float32)))
    assert len(records) == 20
    assert np.allclose(records[3].features["values"].float32_tensor.values, X[3])
    assert records[3].label["values"].float32_tensor.values[0] == y[3]


def test_sdk_sparse_round_trip(digits):
    import scipy.sparse

    X, y = digits
    matrix = scipy.sparse.csr_matrix(X[:300])
    data = sdk_sparse(matrix, y[:300].astype(np.float32))
    batch = pr.decode_records(data, 64)
    assert np.array_equal(batch.features, X[:300])
    assert np.array_equal(batch.labels, y[:300])
    assert pr.decode_records(data).features.shape == (300, 64)  # width from the records' shape


def test_label_records_read_by_sdk_deserializer():
    from sagemaker.deserializers import RecordDeserializer

    data = pr.encode_label_records({"closest_cluster": np.array([1.0, 0.0, 2.0]),
                                    "distance_to_cluster": np.array([0.25, 1.5, 3.0])})
    records = RecordDeserializer().deserialize(io.BytesIO(data), "application/x-recordio-protobuf")
    assert [r.label["closest_cluster"].float32_tensor.values[0] for r in records] == [1.0, 0.0, 2.0]
    assert [r.label["distance_to_cluster"].float32_tensor.values[0] for r in records] == [0.25, 1.5, 3.0]


def test_record_serializer_payload_decodes():
    from sagemaker.serializers import RecordSerializer

    body = RecordSerializer().serialize(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).read()
    assert pr.decode_records(body, 3).features.tolist() == [[1, 2, 3], [4, 5, 6]]


# --------------------------------------------------------------------------------------------
# the two decoder paths agree, and the general one handles irregular encodings


def test_uniform_and_columnar_paths_agree(digits):
    X, y = digits
    data = pr.encode_dense_records(X, y.astype(np.float32))
    spans = recordio.split_records(data)
    assert spans.stride is not None
    fast = pr._decode_uniform(spans, 64, True, "values", "values")
    slow = pr._decode_columnar(spans, 64, True, "values", "values")
    assert fast is not None
    assert np.array_equal(fast.features, slow.features) and np.array_equal(fast.labels, slow.labels)


def test_varying_label_widths_take_the_general_path():
    X = np.random.default_rng(0).random((400, 9)).astype(np.float32)
    labels = np.arange(400)  # varints of 1 and 2 bytes: records differ in length
    data = sdk_dense(X, labels)
    assert recordio.split_records(data).stride is None
    batch = pr.decode_records(data, 9)
    assert np.array_equal(batch.features, X) and np.array_equal(batch.labels, labels)


def _non_packed_record(values, label, extra_fields=b"") -> bytes:
    tensor = b"".join(wire.field_key(1, wire.WIRE_FIXED32) + np.float32(v).tobytes() for v in values)
    value = wire.length_delimited(2, tensor)
    entry = wire.length_delimited(1, b"values") + wire.length_delimited(2, value)
    label_tensor = wire.field_key(1, wire.WIRE_VARINT) + wire.encode_varint(label)
    label_entry = wire.length_delimited(1, b"values") + wire.length_delimited(2, wire.length_delimited(7, label_tensor))
    return (extra_fields + wire.length_delimited(1, entry) + wire.length_delimited(3, b"uid-1")
            + wire.length_delimited(2, label_entry))


def test_non_packed_values_and_unknown_fields():
    unknown = wire.field_key(99, wire.WIRE_VARINT) + wire.encode_varint(12345) + wire.length_delimited(100, b"??")
    rows = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    data = recordio.frame_many([_non_packed_record(rows[0], 7, unknown), _non_packed_record(rows[1], 300)])
    batch = pr.decode_records(data, 3)
    assert batch.features.tolist() == rows and batch.labels.tolist() == [7.0, 300.0]
    assert pr.parse_record(_non_packed_record(rows[0], 7))["features"]["values"].values.tolist() == rows[0]


def test_negative_int32_values():
    data = pr.encode_records([{"features": {"values": np.array([-1, 5, -70000], np.int32)}}])
    assert pr.decode_records(data).features.tolist() == [[-1.0, 5.0, -70000.0]]


def test_mixed_dense_sparse_and_dtypes():
    records = [
        {"features": {"values": np.array([1.0, 2.0, 3.0], np.float32)}},
        {"features": {"values": Tensor(np.array([9.0]), keys=np.array([2]), shape=(3,))}},  # float64 sparse
        {"features": {"values": np.array([4, 5, 6], np.int32)}},
        {"features": {"values": Tensor(np.zeros(0, np.float32), keys=np.zeros(0, np.uint64), shape=(3,))}},
    ]
    batch = pr.decode_records(pr.encode_records(records), 3)
    assert batch.features.tolist() == [[1, 2, 3], [0, 0, 9], [4, 5, 6], [0, 0, 0]]


def test_other_feature_keys_are_ignored():
    records = [{"features": {"extra": np.array([7.0], np.float32), "values": np.array([1.0, 2.0], np.float32)}}]
    assert pr.decode_records(pr.encode_records(records)).features.tolist() == [[1.0, 2.0]]


# --------------------------------------------------------------------------------------------
# errors


def test_feature_count_mismatch_is_reported(digits):
    X, _ = digits
    data = sdk_dense(X[:10])
    with pytest.raises(DataError, match="cannot copy sequence with size 64 to array axis with dimension 65"):
        pr.decode_records(data, 65)
    irregular = sdk_dense(X[:200], np.arange(200))
    with pytest.raises(DataError, match="size 64 to array axis with dimension 63"):
        pr.decode_records(irregular, 63)


def test_sparse_key_outside_feature_dim():
    data = pr.encode_records([{"features": {"values": Tensor(np.array([1.0], np.float32), keys=np.array([10]))}}])
    with pytest.raises(DataError, match="outside feature_dim"):
        pr.decode_records(data, 5)


def test_record_without_features():
    data = pr.encode_records([{"features": {"values": np.array([1.0], np.float32)}},
                              {"label": {"values": np.array([1.0])}}])
    with pytest.raises(DataError, match="Record 1 has no 'values' features"):
        pr.decode_records(data, 1)


@pytest.mark.parametrize("payload", [b"\xff\xff\xff", b"\x0a\x50abc", b"\x0b", bytes(range(256))])
def test_garbage_payloads_raise_data_error(payload):
    with pytest.raises(DataError):
        pr.decode_records(recordio.frame(payload), 4)


def test_non_recordio_bytes_raise_data_error():
    with pytest.raises(DataError, match="Not RecordIO"):
        pr.decode_records(b"1,2,3\n4,5,6\n")


# --------------------------------------------------------------------------------------------
# wire primitives


def test_vectorised_varints_match_scalar_encoding():
    values = [0, 1, 127, 128, 300, 2**31 - 1, 2**32, 2**63 - 1, 2**64 - 1]
    stream = np.frombuffer(b"".join(wire.encode_varint(v) for v in values), np.uint8)
    assert wire.decode_varint_stream(stream).tolist() == values
    buf = np.frombuffer(b"".join(wire.encode_varint(v) for v in values) + b"\0" * 10, np.uint8)
    positions = np.cumsum([0] + [len(wire.encode_varint(v)) for v in values[:-1]])
    decoded, counts = wire.read_varints(buf, positions)
    assert decoded.tolist() == values and counts.tolist() == [len(wire.encode_varint(v)) for v in values]
