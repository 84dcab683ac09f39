"""RecordIO-protobuf decode throughput: ``sagemaker_algorithms`` vs the SageMaker SDK's reader.

Data: the first 50,000 MNIST training images (784 float32 features in [0, 1]) encoded with the SDK's
own ``write_numpy_to_dense_tensor`` (one Record per row, ~158 MB). Three variants:

* ``features``: features only (what ``KMeans.record_set`` uploads);
* ``features+labels``: plus int64 digit labels (the SDK writes an Int32Tensor label);
* ``irregular``: labels ``i % 1000``, whose varints vary in length, so records differ in size and our
  decoder takes its general (columnar) path instead of the strided one.

"Ours" is :func:`sagemaker_algorithms.common.protobuf_records.decode_records` (bytes → float32
``(n, 784)`` array [+ labels]). "SDK" is ``sagemaker.amazon.common.read_records`` (bytes →
``Record`` objects) followed by copying each message's values into preallocated arrays; its
parse-only time (protobuf's C parser, no arrays) is shown too. Each is repeated and the median reported.

Run: ``.venv/bin/python benchmarks/recordio_decode.py [--repeats 5] [--rows 50000]``
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sagemaker_algorithms.common.protobuf_records import decode_records  # noqa: E402

DEFAULT_MNIST = Path("/work/shared/data/mnist")


def load_mnist(directory: Path, rows: int) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(directory / "train-images.idx3-ubyte.gz") as stream:
        raw = stream.read()
    count, height, width = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(count, height * width)
    with gzip.open(directory / "train-labels.idx1-ubyte.gz") as stream:
        labels = np.frombuffer(stream.read(), np.uint8, offset=8)
    return (images[:rows].astype(np.float32) / 255.0), labels[:rows].astype(np.int64)


def sdk_encode(features: np.ndarray, labels: np.ndarray | None) -> bytes:
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, features, labels)
    return buffer.getvalue()


def sdk_parse(data: bytes):
    from sagemaker.amazon.common import read_records

    return read_records(io.BytesIO(data))


def _tensor_values(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind).values


def sdk_decode(data: bytes, with_labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse with the SDK, then fill preallocated arrays row by row (the fastest variant we found;
    ``np.array([...values for r in records])`` is about twice as slow)."""
    records = sdk_parse(data)
    width = len(_tensor_values(records[0].features["values"])) if records else 0
    features = np.empty((len(records), width), dtype=np.float32)
    labels = np.empty(len(records), dtype=np.float32) if with_labels else None
    for index, record in enumerate(records):
        features[index] = _tensor_values(record.features["values"])
        if labels is not None:
            labels[index] = _tensor_values(record.label["values"])[0]
    return features, labels


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sdk-repeats", type=int, default=3, help="repeats for the (slow) SDK reader")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--mnist-dir", type=Path, default=DEFAULT_MNIST)
    args = parser.parse_args()

    features, digits = load_mnist(args.mnist_dir, args.rows)
    cases = [("features", None), ("features+labels", digits), ("irregular", np.arange(args.rows) % 1000)]
    rows_out = []
    for name, labels in cases:
        data = sdk_encode(features, labels)
        with_labels = labels is not None
        ours_batch = decode_records(data, features.shape[1], with_labels=with_labels)
        sdk_features, sdk_labels = sdk_decode(data, with_labels)
        assert np.array_equal(ours_batch.features, features) and np.array_equal(sdk_features, features)
        if with_labels:
            assert np.array_equal(ours_batch.labels, labels.astype(np.float32))
            assert np.array_equal(sdk_labels, labels.astype(np.float32))
        def ours_run(data=data, with_labels=with_labels):
            return decode_records(data, features.shape[1], with_labels=with_labels)

        ours = median_time(ours_run, args.repeats)
        parse_only = median_time(lambda data=data: sdk_parse(data), args.sdk_repeats)
        sdk = median_time(lambda data=data, with_labels=with_labels: sdk_decode(data, with_labels), args.sdk_repeats)
        rows_out.append((name, len(data), ours, parse_only, sdk))

    megabytes = lambda size, seconds: size / seconds / 1e6  # noqa: E731
    print(f"RecordIO-protobuf decode, {args.rows} MNIST rows x {features.shape[1]} float32 "
          f"(median of {args.repeats} ours / {args.sdk_repeats} SDK runs)")
    header = (f"{'case':<16} {'MB':>7} | {'ours s':>7} {'ours MB/s':>10} {'ours rec/s':>12} | "
              f"{'SDK parse s':>11} {'SDK+arrays s':>12} {'SDK MB/s':>9} {'SDK rec/s':>10} | {'speedup':>8}")
    print(header)
    print("-" * len(header))
    for name, size, ours, parse_only, sdk in rows_out:
        print(f"{name:<16} {size / 1e6:7.1f} | {ours:7.3f} {megabytes(size, ours):10.0f} {args.rows / ours:12.0f} | "
              f"{parse_only:11.3f} {sdk:12.3f} {megabytes(size, sdk):9.1f} {args.rows / sdk:10.0f} | "
              f"{sdk / ours:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
