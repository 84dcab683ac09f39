"""DMLC RecordIO framing: padding, uniform and irregular buffers, multipart records, errors."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from sagemaker_algorithms.common import recordio
from sagemaker_algorithms.common.errors import DataError
from sagemaker_algorithms.common.recordio import MAGIC, MAGIC_BYTES


def header(length: int, cflag: int = 0) -> bytes:
    return struct.pack("<II", MAGIC, (cflag << 29) | length)


@pytest.mark.parametrize("length", range(0, 9))
def test_frame_pads_to_four_bytes(length):
    payload = bytes(range(1, length + 1))
    framed = recordio.frame(payload)
    assert framed[:8] == header(length)
    assert framed[8:8 + length] == payload
    assert len(framed) % 4 == 0
    assert framed[8 + length:] == b"\0" * ((-length) % 4)
    assert list(recordio.iter_payloads(framed)) == [payload]


def test_uniform_records_are_found_with_a_stride():
    payloads = [bytes([i] * 5) for i in range(10)]
    spans = recordio.split_records(recordio.frame_many(payloads))
    assert spans.stride == 16 and len(spans) == 10
    assert list(spans.payloads()) == payloads


def test_irregular_records():
    payloads = [b"", b"a", b"bb" * 7, b"ccc", b"x" * 100]
    spans = recordio.split_records(recordio.frame_many(payloads))
    assert spans.stride is None
    assert list(spans.payloads()) == payloads


def test_frame_uniform_matches_frame_many():
    matrix = np.arange(30, dtype=np.uint8).reshape(5, 6)
    assert recordio.frame_uniform(matrix) == recordio.frame_many(bytes(row) for row in matrix)


def test_payload_containing_the_magic_is_read_sequentially():
    sneaky = b"abcd" + MAGIC_BYTES + struct.pack("<I", 4) + b"zzzz"  # looks like a header at an aligned offset
    payloads = [sneaky, b"tail", sneaky + b"!"]
    data = recordio.frame_many(payloads)
    assert list(recordio.iter_payloads(data)) == payloads


def test_multipart_records_are_reassembled():
    # a DMLC writer splits a payload at each aligned magic and drops it; the reader puts it back
    data = header(4, 1) + b"AAAA" + header(4, 2) + b"BBBB" + header(3, 3) + b"CCC\0" + header(2) + b"ok\0\0"
    assert list(recordio.iter_payloads(data)) == [b"AAAA" + MAGIC_BYTES + b"BBBB" + MAGIC_BYTES + b"CCC", b"ok"]


def test_split_on_magic_round_trip():
    payload = b"1234" + MAGIC_BYTES + b"5678" + MAGIC_BYTES + b"9"
    framed = recordio.frame(payload, split_on_magic=True)
    flags = [struct.unpack_from("<I", framed, offset)[0] >> 29 for offset in (4, 16, 28)]
    assert flags == [1, 2, 3]
    assert list(recordio.iter_payloads(framed)) == [payload]
    unaligned = b"12" + MAGIC_BYTES + b"34"  # not at a 4-byte boundary: no split
    assert recordio.frame(unaligned, split_on_magic=True) == recordio.frame(unaligned)


def test_sdk_reader_reads_our_framing():
    from sagemaker.amazon.common import read_recordio

    payloads = [b"", b"x", b"yy", b"zzz", b"wwww", b"v" * 33]
    assert list(read_recordio(io.BytesIO(recordio.frame_many(payloads)))) == payloads


def test_sdk_writer_framing_is_ours():
    from sagemaker.amazon.common import _write_recordio

    stream = io.BytesIO()
    for payload in (b"abc", b"defgh"):
        _write_recordio(stream, payload)
    assert stream.getvalue() == recordio.frame_many([b"abc", b"defgh"])


def test_empty_buffer_has_no_records():
    assert len(recordio.split_records(b"")) == 0


@pytest.mark.parametrize("data, message", [
    (b"\x01\x02\x03\x04\x05\x06\x07\x08", "Not RecordIO data"),
    (b"\x0a\x23\xd7", "Truncated"),
    (header(100) + b"short", "Truncated RecordIO record"),
    (header(2) + b"ab\0\0" + b"garbage!", "Invalid RecordIO magic"),
    (header(4, 2) + b"abcd", "never began"),
])
def test_malformed_framing_raises_data_error(data, message):
    with pytest.raises(DataError, match=message):
        recordio.split_records(data)
