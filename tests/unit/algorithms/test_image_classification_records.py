"""Image RecordIO (.rec/.idx), image lists (.lst) and image decoding: no torch needed.

The data helpers here (``tiny_images``, ``two_class_rec``...) are shared by the other image
classification tests.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

pytest.importorskip("PIL")

from sagemaker_algorithms.common.errors import DataError  # noqa: E402
from sagemaker_algorithms.common.recordio import MAGIC_BYTES, frame, split_records  # noqa: E402
from sagemaker_algorithms.image_classification.images import (Geometry, decode_for_inference,  # noqa: E402
                                                              decode_for_training, encode_image)
from sagemaker_algorithms.image_classification.records import (format_lst, pack_header, parse_lst,  # noqa: E402
                                                               read_record_file, unpack_header, write_record_file)


# --------------------------------------------------------------------------------------------
# Shared data helpers


def tiny_images(labels, size: int = 20, seed: int = 0, channels: int = 3) -> list[np.ndarray]:
    """Trivially separable images: class c is a noisy image of brightness 40 + 170 * c / max."""
    rng = np.random.default_rng(seed)
    top = max(int(np.max(labels)), 1)
    images = []
    for label in labels:
        level = 40 + 170 * float(label) / top
        pixels = rng.normal(level, 12, (size, size, channels))
        images.append(np.clip(pixels, 0, 255).astype(np.uint8))
    return images


def rec_bytes(labels, images, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    write_record_file(buffer, [(label, encode_image(image, fmt)) for label, image in zip(labels, images)])
    return buffer.getvalue()


def two_class_rec(count: int, size: int = 20, seed: int = 0) -> bytes:
    labels = [i % 2 for i in range(count)]
    return rec_bytes(labels, tiny_images(labels, size, seed))


# --------------------------------------------------------------------------------------------
# IRHeader and .rec


def test_header_layout_single_label():
    header = pack_header(3.0, record_id=7)
    assert len(header) == 24
    assert struct.unpack("<IfQQ", header) == (0, 3.0, 7, 0)
    labels, size, record_id = unpack_header(header + b"JPEG")
    assert labels.tolist() == [3.0] and size == 24 and record_id == 7


def test_header_layout_label_vector():
    header = pack_header([1, 0, 1], record_id=2)
    assert len(header) == 24 + 12
    assert struct.unpack_from("<IfQQ", header) == (3, 0.0, 2, 0)
    assert np.frombuffer(header[24:], "<f4").tolist() == [1.0, 0.0, 1.0]
    labels, size, _ = unpack_header(header + b"x")
    assert labels.tolist() == [1.0, 0.0, 1.0] and size == 36


def test_header_errors():
    with pytest.raises(DataError, match="too short"):
        unpack_header(b"\x00" * 10)
    with pytest.raises(DataError, match="announces 5 labels"):
        unpack_header(struct.pack("<IfQQ", 5, 0, 0, 0) + b"\x00" * 8)


def test_write_and_read_rec_with_index(tmp_path):
    labels = [0, 1, 2, 1]
    images = tiny_images(labels, size=12)
    encoded = [encode_image(image, "PNG") for image in images]
    index = io.StringIO()
    with open(tmp_path / "data.rec", "wb") as stream:
        assert write_record_file(stream, zip(labels, encoded), index_stream=index) == 4
    read_labels, source = read_record_file(tmp_path / "data.rec")
    assert [v.tolist() for v in read_labels] == [[0.0], [1.0], [2.0], [1.0]]
    assert [source.get(i) for i in range(4)] == encoded
    data = (tmp_path / "data.rec").read_bytes()
    offsets = [int(line.split("\t")[1]) for line in index.getvalue().splitlines()]
    assert [line.split("\t")[0] for line in index.getvalue().splitlines()] == ["0", "1", "2", "3"]
    assert all(data[offset:offset + 4] == MAGIC_BYTES for offset in offsets)
    assert offsets[0] == 0 and len(split_records(data)) == 4


def test_multi_label_records(tmp_path):
    (tmp_path / "m.rec").write_bytes(rec_bytes([[1, 0, 1], [0, 1, 0]], tiny_images([0, 1], 8)))
    labels, source = read_record_file(tmp_path / "m.rec")
    assert [v.tolist() for v in labels] == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    assert source.get(0)[:2] == b"\xff\xd8"  # the JPEG starts right after the label vector


def test_multipart_records_are_joined(tmp_path):
    """An image whose bytes contain the RecordIO magic at an aligned offset (DMLC splits it)."""
    image = encode_image(tiny_images([0], 8)[0], "PNG")
    payload_tail = b"\x00" * ((-(24 + len(image))) % 4) + MAGIC_BYTES + b"tail"
    blob = image + payload_tail  # decoders stop at the image's end; the tail just rides along
    (tmp_path / "split.rec").write_bytes(_raw_rec([(5, blob)]))
    data = (tmp_path / "split.rec").read_bytes()
    assert len(data) > len(blob) + 24 and (struct.unpack_from("<I", data, 4)[0] >> 29) == 1  # first part
    labels, source = read_record_file(tmp_path / "split.rec")
    assert labels[0].tolist() == [5.0] and source.get(0) == blob
    assert decode_for_training(source.get(0), Geometry(3, 8, 8), None, None).shape == (8, 8, 3)


def _raw_rec(items) -> bytes:
    buffer = io.BytesIO()
    write_record_file(buffer, items)
    return buffer.getvalue()


def test_pickled_source_reopens_the_file(tmp_path):
    import pickle

    (tmp_path / "p.rec").write_bytes(two_class_rec(3, size=8))
    _, source = read_record_file(tmp_path / "p.rec")
    first = source.get(1)
    clone = pickle.loads(pickle.dumps(source))
    assert clone.get(1) == first


def test_corrupt_and_empty_rec(tmp_path):
    (tmp_path / "bad.rec").write_bytes(b"this is not recordio at all")
    with pytest.raises(DataError, match="Not RecordIO data"):
        read_record_file(tmp_path / "bad.rec")
    (tmp_path / "short.rec").write_bytes(frame(b"\x00" * 10))
    with pytest.raises(DataError, match="record 0: a record of 10 bytes is too short"):
        read_record_file(tmp_path / "short.rec")
    (tmp_path / "empty.rec").write_bytes(b"")
    labels, source = read_record_file(tmp_path / "empty.rec")
    assert labels == [] and len(source) == 0


# --------------------------------------------------------------------------------------------
# .lst


def test_lst_round_trip_and_multi_label():
    text = format_lst([(0, 1, "cats/a.jpg"), (1, [1, 0, 1], "dogs/b b.png")])
    assert text == "0\t1.000000\tcats/a.jpg\n1\t1.000000\t0.000000\t1.000000\tdogs/b b.png\n"
    entries = parse_lst(text + "\n")
    assert [(e.index, e.labels.tolist(), e.path) for e in entries] == [
        (0, [1.0], "cats/a.jpg"), (1, [1.0, 0.0, 1.0], "dogs/b b.png")]
    assert parse_lst("5\t1\tyour_image_directory/train_img_dog1.jpg")[0].labels.tolist() == [1.0]


@pytest.mark.parametrize("text, message", [
    ("0 1 a.jpg", "line 1 has 1 tab-separated column"),
    ("0\ta.jpg", "line 1 has 2 tab-separated column"),
    ("x\t1\ta.jpg", "line 1 does not start with a numeric index"),
    ("0\t1\ta.jpg\n1\tcat\tb.jpg", "line 2 does not start"),
])
def test_lst_errors(text, message):
    with pytest.raises(DataError, match=message):
        parse_lst(text)


# --------------------------------------------------------------------------------------------
# Decoding, cropping, augmentation


def gradient_image(width: int, height: int) -> np.ndarray:
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    return np.concatenate([np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)),
                           np.full((height, width, 1), 128.0)], axis=2).astype(np.uint8)


def test_center_crop_without_augmentation():
    image = gradient_image(40, 30)
    out = decode_for_training(encode_image(image, "PNG"), Geometry(3, 20, 24), None, None)
    assert out.shape == (20, 24, 3) and out.dtype == np.uint8
    assert np.array_equal(out, image[5:25, 8:32])


def test_random_crop_and_flip_are_seeded():
    data = encode_image(gradient_image(40, 30), "PNG")
    geometry = Geometry(3, 16, 16)
    first = decode_for_training(data, geometry, "crop", np.random.default_rng(3))
    again = decode_for_training(data, geometry, "crop", np.random.default_rng(3))
    assert np.array_equal(first, again)
    crops = {decode_for_training(data, geometry, "crop", np.random.default_rng(seed)).tobytes() for seed in range(8)}
    assert len(crops) > 1
    for augmentation in ("crop_color", "crop_color_transform"):
        out = decode_for_training(data, geometry, augmentation, np.random.default_rng(1))
        assert out.shape == (16, 16, 3) and out.dtype == np.uint8


def test_resize_shorter_side_then_crop():
    data = encode_image(gradient_image(100, 50), "JPEG")
    out = decode_for_training(data, Geometry(3, 32, 32, resize=40), None, None)
    assert out.shape == (32, 32, 3)


def test_image_smaller_than_shape_fails():
    data = encode_image(gradient_image(28, 28), "JPEG")
    with pytest.raises(DataError, match="input image size smaller than input shape: the image is 28x28 .* image_shape "
                                        "is 3,32,32"):
        decode_for_training(data, Geometry(3, 32, 32), None, None)


def test_grayscale_and_rgba_inputs():
    gray = encode_image(gradient_image(20, 20)[:, :, 0], "PNG")
    assert decode_for_training(gray, Geometry(3, 16, 16), None, None).shape == (16, 16, 3)
    assert decode_for_training(gray, Geometry(1, 16, 16), None, None).shape == (16, 16, 1)
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.dstack([gradient_image(20, 20), np.full((20, 20), 200, np.uint8)])).save(buffer, "PNG")
    assert decode_for_inference(buffer.getvalue(), Geometry(3, 8, 12)).shape == (8, 12, 3)


def test_inference_resize_ignores_aspect_ratio():
    out = decode_for_inference(encode_image(gradient_image(90, 30), "JPEG"), Geometry(3, 32, 32))
    assert out.shape == (32, 32, 3)


def test_not_an_image():
    with pytest.raises(DataError, match="not an image"):
        decode_for_inference(b"hello, world", Geometry(3, 8, 8))
