"""k-NN ``train`` end to end: the real entry point on a container workspace, logs, metrics, failures."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sagemaker_algorithms import knn
from sagemaker_algorithms.common import contract
from sagemaker_algorithms.common.logs import PROGRESS_METRIC_REGEX, THROUGHPUT_METRIC_REGEX
from sagemaker_algorithms.common.protobuf_records import encode_dense_records
from sagemaker_algorithms.knn.estimator import KNearestNeighbors
from sagemaker_algorithms.knn.model import loads_model

from .helpers import make_job, run_entrypoint, run_hosts

LOG_LINE = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d (INFO|WARNING|ERROR) \d+\] ")
# the MetricDefinitions the emulator attaches to knn jobs
TEST_ACCURACY = re.compile(r"#quality_metric: host=\S+, test accuracy <score>=(\S+)")
TEST_MSE = re.compile(r"#quality_metric: host=\S+, test mse <loss>=(\S+)")
BASE = {"k": "5", "sample_size": "1000", "predictor_type": "classifier", "feature_dim": "64"}


def to_csv(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    table = features if labels is None else np.column_stack([labels, features])
    return "\n".join(",".join(repr(float(v)) for v in row) for row in table).encode()


def test_train_recordio_shards_and_csv_test_channel(tmp_path, digits):
    X, y = digits
    paths = make_job(
        tmp_path, {**BASE, "_tuning_objective_metric": "test:accuracy"},
        {"train": {"matrix_0.pbr": encode_dense_records(X[:700], y[:700]),
                   "nested/matrix_1.pbr": encode_dense_records(X[700:1400].astype(np.float64), y[700:1400]),
                   ".hidden": b"not data", "empty.pbr": b""},
         "test": {"test.csv": to_csv(X[1400:], y[1400:])},
         "validation": {"ignored.csv": b"1,2"}},
        {"test": "text/csv;label_size=1"})
    result = run_entrypoint("train", tmp_path, algorithm="knn")
    assert result.returncode == 0, result.stdout + result.stderr
    assert contract.read_failure(paths) is None
    text = result.stdout
    assert all(LOG_LINE.match(line) for line in text.splitlines() if line.strip()), text
    assert "Reading default configuration from" in text and "Final configuration: {" in text
    assert "Using per-worker sample size = 1000" in text
    assert "Got reservoir sample from algo-1: data=(1000, 64), labels=(1000,), NaNs=0" in text
    assert "Training index..." in text and "Adding data to index..." in text and "Searching index..." in text
    assert "Ignoring channel 'validation'" in text
    assert re.search(PROGRESS_METRIC_REGEX, text).group(1) == "100.0"
    assert float(re.search(THROUGHPUT_METRIC_REGEX, text).group(1)) > 0
    accuracy = float(TEST_ACCURACY.search(text).group(1))
    assert "#test_score (algo-1) : ('accuracy', " in text
    assert TEST_MSE.search(text) is None and "Test data is not provided." not in text

    model = loads_model((paths.model_dir / "model_algo-1").read_bytes())
    assert model.samples_.shape == (1000, 64) and model.rows_seen_ == 1400 and model.k == 5
    # the job's metric is the model's accuracy on the test rows
    assert accuracy == pytest.approx(float(np.mean(model.predict(X[1400:]) == y[1400:])))
    assert accuracy > 0.9


def test_whole_set_sample_equals_an_in_memory_fit(tmp_path, digits):
    X, y = digits
    paths = make_job(tmp_path, {**BASE, "sample_size": "1500"}, {"train": {"d.csv": to_csv(X[:1500], y[:1500])}},
                     {"train": "text/csv"})
    assert knn.train(paths) == 0
    model = loads_model((paths.model_dir / "model_algo-1").read_bytes())
    assert np.array_equal(model.samples_, X[:1500]) and np.array_equal(model.labels_, y[:1500])
    reference = KNearestNeighbors(5, sample_size=1500).fit(X[:1500], y[:1500])
    assert np.array_equal(model.predict(X[1500:]), reference.predict(X[1500:]))


def test_sdk_record_set_shards(tmp_path, digits):
    """RecordIO-protobuf written by the SDK's own writer (float64 rows and labels), no ContentType."""
    import io

    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    X, y = digits
    shards = {}
    for index, (start, stop) in enumerate([(0, 600), (600, 1200)]):
        buffer = io.BytesIO()
        write_numpy_to_dense_tensor(buffer, X[start:stop].astype(np.float64), y[start:stop].astype(np.float64))
        shards[f"matrix_{index}.pbr"] = buffer.getvalue()
    paths = make_job(tmp_path, {**BASE, "sample_size": "1200"}, {"train": shards})
    assert knn.train(paths) == 0
    model = loads_model((paths.model_dir / "model_algo-1").read_bytes())
    assert np.array_equal(model.samples_, X[:1200]) and np.array_equal(model.labels_, y[:1200])


def test_regressor_with_test_mse(tmp_path, digits, capsys):
    X, y = digits
    target = y.astype(np.float32) / 2
    paths = make_job(tmp_path, {**BASE, "predictor_type": "regressor", "k": "3"},
                     {"train": {"a.pbr": encode_dense_records(X[:1200], target[:1200])},
                      "test": {"b.pbr": encode_dense_records(X[1200:], target[1200:])}})
    assert knn.train(paths) == 0
    text = capsys.readouterr().out
    mse = float(TEST_MSE.search(text).group(1))
    assert "#test_score (algo-1) : ('mse', " in text and TEST_ACCURACY.search(text) is None
    model = loads_model((paths.model_dir / "model_algo-1").read_bytes())
    assert mse == pytest.approx(float(np.mean((model.predict(X[1200:]) - target[1200:]) ** 2)), rel=1e-6)


@pytest.mark.parametrize("reduction", ["sign", "fjlt"])
def test_dimension_reduction_and_index_types(tmp_path, digits, capsys, reduction):
    X, y = digits
    hyperparameters = {**BASE, "dimension_reduction_type": reduction, "dimension_reduction_target": "24",
                       "index_type": "faiss.IVFPQ", "faiss_index_pq_m": "8"}
    paths = make_job(tmp_path, hyperparameters, {"train": {"a.pbr": encode_dense_records(X[:1500], y[:1500])},
                                                 "test": {"b.pbr": encode_dense_records(X[1500:], y[1500:])}})
    assert knn.train(paths) == 0
    text = capsys.readouterr().out
    assert "'faiss_index_ivf_nlists' was set to 'auto', evaluated to 31." in text
    assert "served by an exact search" in text
    assert f"Reducing the dimension from 64 to 24 with '{reduction}'" in text
    assert float(TEST_ACCURACY.search(text).group(1)) > 0.85
    model = loads_model((paths.model_dir / "model_algo-1").read_bytes())
    assert model.samples_.shape == (1000, 24) and model.reducer_.kind == reduction


def test_no_test_channel(tmp_path, digits, capsys):
    X, y = digits
    paths = make_job(tmp_path, BASE, {"train": {"a.pbr": encode_dense_records(X[:100], y[:100])}})
    assert knn.train(paths) == 0
    text = capsys.readouterr().out
    assert "Test data is not provided." in text
    assert "fewer than sample_size 1000; all of them are used" in text


def test_deterministic(tmp_path, digits):
    X, y = digits
    models = []
    for name in ("a", "b"):
        paths = make_job(tmp_path / name, {**BASE, "sample_size": "300"},
                         {"train": {"a.pbr": encode_dense_records(X, y)}})
        assert knn.train(paths) == 0
        models.append((paths.model_dir / "model_algo-1").read_bytes())
    assert models[0] == models[1]


# --------------------------------------------------------------------------------------------
# failures


def test_missing_hyperparameters_failure_file(tmp_path, digits):
    X, y = digits
    paths = make_job(tmp_path, {"feature_dim": "64"}, {"train": {"a.pbr": encode_dense_records(X, y)}})
    result = run_entrypoint("train", tmp_path, algorithm="knn")
    assert result.returncode == 2
    assert contract.read_failure(paths) == (
        "ClientError: No value(s) were specified for 'k', 'sample_size', 'predictor_type' which are required "
        "hyperparameter(s) (caused by ValidationError)")
    assert not (paths.model_dir / "model_algo-1").exists()


def train_in_process(tmp_path, hyperparameters, channels, content_types=None):
    paths = make_job(tmp_path, hyperparameters, channels, content_types)
    return knn.train(paths), paths


@pytest.mark.parametrize("hyperparameters, expected", [
    ({**BASE, "predictor_type": "ranker"},
     "ClientError: The value 'ranker' is not valid for the 'predictor_type' hyperparameter which accepts one of the "
     "following: 'classifier', 'regressor' (caused by ValidationError)"),
    ({**BASE, "dimension_reduction_type": "sign"},
     "ClientError: 'dimension_reduction_target' is a dependency of 'dimension_reduction_type' "
     "(caused by ValidationError)"),
    ({**BASE, "index_type": "faiss.IVFPQ", "index_metric": "COSINE"},
     "ClientError: The value 'COSINE' is not valid for the 'index_metric' hyperparameter which accepts only 'L2' "
     "when 'index_type' is 'faiss.IVFPQ' (caused by ValidationError)"),
    ({**BASE, "neighbours": "5"},
     "ClientError: Additional hyperparameters are not allowed ('neighbours' was unexpected) "
     "(caused by ValidationError)"),
])
def test_hyperparameter_failures(tmp_path, digits, hyperparameters, expected):
    X, y = digits
    code, paths = train_in_process(tmp_path, hyperparameters, {"train": {"a.pbr": encode_dense_records(X, y)}})
    assert code == 2 and contract.read_failure(paths) == expected


def test_test_channel_with_a_different_feature_count(tmp_path, digits):
    X, y = digits
    code, paths = train_in_process(
        tmp_path, BASE, {"train": {"a.csv": to_csv(X[:500], y[:500])}, "test": {"b.csv": to_csv(X[500:600, :60],
                                                                                                y[500:600])}},
        {"train": "text/csv", "test": "text/csv"})
    assert code == 2
    failure = contract.read_failure(paths)
    assert failure.startswith("ClientError: Unable to read data channel 'test' (file 'b.csv', content type "
                              "'text/csv'): Rows 1-100 have different fields than the expected size 65")
    assert failure.endswith("(caused by ValueError)")
    code, paths = train_in_process(
        tmp_path / "pb", BASE, {"train": {"a.pbr": encode_dense_records(X[:500], y[:500])},
                                "test": {"b.pbr": encode_dense_records(X[500:600, :60], y[500:600])}})
    assert code == 2
    assert "cannot copy sequence with size 60 to array axis with dimension 64" in contract.read_failure(paths)


def test_train_channel_feature_dim_mismatch(tmp_path, digits):
    X, y = digits
    code, paths = train_in_process(tmp_path, {**BASE, "feature_dim": "63"},
                                   {"train": {"a.pbr": encode_dense_records(X, y)}})
    assert code == 2
    assert "cannot copy sequence with size 64 to array axis with dimension 63" in contract.read_failure(paths)


@pytest.mark.parametrize("channels, content_types, message", [
    ({"train": {"a.pbr": "NO_LABELS"}}, None, "The records of channel 'train' have no label"),
    ({"train": {"a.csv": "CSV_NO_LABEL"}}, {"train": "text/csv;label_size=0"},
     "The records of channel 'train' have no label"),
    ({"train": {"a.csv": "CSV_TWO_LABELS"}}, {"train": "text/csv;label_size=2"},
     "have 2 label values; k-NN needs exactly one label per record"),
    ({"test": {"a.pbr": "NO_LABELS"}}, None, "Channel 'train' is required but was not provided"),
    ({"train": {"a.pbr": "FEW"}}, None, "k (5) is larger than the number of sampled training records (3)"),
    ({"train": {"a.pbr": "NAN"}}, None, "The training data contains 1 NaN or infinite value(s)"),
    ({"train": {"a.pbr": b""}}, None, "No records were found in channel 'train'"),
])
def test_data_failures(tmp_path, digits, channels, content_types, message):
    X, y = digits
    with_nan = X[:50].copy()
    with_nan[3, 7] = np.nan
    payloads = {
        "NO_LABELS": encode_dense_records(X[:50]),
        "CSV_NO_LABEL": to_csv(X[:50]),
        "CSV_TWO_LABELS": to_csv(X[:50, 2:], np.column_stack([y[:50], y[:50]])),
        "FEW": encode_dense_records(X[:3], y[:3]),
        "NAN": encode_dense_records(with_nan, y[:50]),
    }
    resolved = {channel: {name: payloads.get(data, data) if isinstance(data, str) else data
                          for name, data in files.items()} for channel, files in channels.items()}
    hyperparameters = {**BASE, "feature_dim": "62"} if "CSV_TWO_LABELS" in str(channels) else BASE
    code, paths = train_in_process(tmp_path, hyperparameters, resolved, content_types)
    assert code == 2
    assert message in contract.read_failure(paths)


def test_two_hosts_merge_their_samples(tmp_path, digits):
    pytest.importorskip("torch")
    X, y = digits
    train, train_y, test, test_y = X[:1200], y[:1200], X[1200:], y[1200:]
    hosts = ["algo-1", "algo-2"]
    shards = {"algo-1": slice(0, 700), "algo-2": slice(700, 1200)}
    for host in hosts:  # ShardedByS3Key for train; test replicated on both
        make_job(tmp_path / host, {**BASE, "sample_size": "2000"},
                 {"train": {"part.pbr": encode_dense_records(train[shards[host]], train_y[shards[host]])},
                  "test": {"t.pbr": encode_dense_records(test, test_y)}}, hosts=hosts, current_host=host)
    results = run_hosts({host: tmp_path / host for host in hosts}, "knn")
    for host, result in results.items():
        assert result.returncode == 0, f"{host}:\n{result.stdout}"
    assert "Merged the reservoir samples of 2 hosts (1200 records seen)" in results["algo-1"].stdout
    assert "Sent a reservoir sample of 500 records to algo-1" in results["algo-2"].stdout
    assert not any((tmp_path / "algo-2/model").iterdir())
    model = loads_model((tmp_path / "algo-1/model/model_algo-1").read_bytes())
    assert np.array_equal(model.samples_, train) and np.array_equal(model.labels_, train_y)
    expected = float(np.mean(model.predict(test) == test_y))
    for result in results.values():  # the job's accuracy on all test rows, logged by both hosts
        assert float(TEST_ACCURACY.search(result.stdout).group(1)) == pytest.approx(expected, abs=1e-6)


def test_a_failing_host_ends_the_others(tmp_path, digits):
    pytest.importorskip("torch")
    X, y = digits
    hosts = ["algo-1", "algo-2"]
    make_job(tmp_path / "algo-1", BASE, {"train": {"a.pbr": encode_dense_records(X[:500], y[:500])}},
             hosts=hosts, current_host="algo-1")
    make_job(tmp_path / "algo-2", BASE, {"train": {"a.pbr": b"not a record"}}, hosts=hosts, current_host="algo-2")
    results = run_hosts({host: tmp_path / host for host in hosts}, "knn", timeout=120)
    assert results["algo-2"].returncode == 2
    assert "Unable to read data channel 'train'" in contract.read_failure(contract.ContainerPaths(tmp_path / "algo-2"))
    assert results["algo-1"].returncode != 0  # its peer went away in the middle of the gather
