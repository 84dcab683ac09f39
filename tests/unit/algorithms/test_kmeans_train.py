"""k-means ``train`` end to end: subprocesses on a workspace laid out by ``contract.write_training_config``."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sagemaker_algorithms import kmeans
from sagemaker_algorithms.common import contract, ndarray
from sagemaker_algorithms.common.logs import (PROGRESS_METRIC_REGEX, QUALITY_METRIC_REGEX,
                                              THROUGHPUT_METRIC_REGEX)
from sagemaker_algorithms.common.protobuf_records import encode_dense_records
from sagemaker_algorithms.kmeans.estimator import sum_squared_distances

from .helpers import make_job, run_entrypoint, run_hosts

LOG_LINE = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d (INFO|WARNING|ERROR) \d+\] ")


def to_csv(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    table = features if labels is None else np.column_stack([labels, features])
    return "\n".join(",".join(repr(float(v)) for v in row) for row in table).encode()


def test_train_recordio_with_test_channel(tmp_path, digits):
    X, y = digits
    paths = make_job(
        tmp_path, {"k": "10", "feature_dim": "64", "force_dense": "True", "mini_batch_size": "500",
                   "eval_metrics": '["msd", "ssd"]', "_tuning_objective_metric": "test:msd"},
        {"train": {"part-0.pbr": encode_dense_records(X[:900], y[:900]),
                   "nested/part-1.pbr": encode_dense_records(X[900:1500]),
                   ".hidden": b"not data", "empty.pbr": b""},
         "test": {"test.pbr": encode_dense_records(X[1500:])}})
    result = run_entrypoint("train", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert contract.read_failure(paths) is None
    arrays, names = ndarray.load(paths.model_dir / "model_algo-1")
    assert len(arrays) == 1 and names == []
    assert arrays[0].shape == (10, 64) and arrays[0].dtype == np.float32
    lines = result.stdout.splitlines()
    assert all(LOG_LINE.match(line) for line in lines if line.strip()), result.stdout
    text = result.stdout
    assert "Loaded 1500 records with 64 features from channel 'train'" in text
    assert "shrinking 100 centers into 10" in text
    train_msd = float(re.search(QUALITY_METRIC_REGEX.format(channel="train", name="msd"), text).group(1))
    test_msd = float(re.search(QUALITY_METRIC_REGEX.format(channel="test", name="msd"), text).group(1))
    test_ssd = float(re.search(QUALITY_METRIC_REGEX.format(channel="test", name="ssd"), text).group(1))
    assert re.search(r"#quality_metric: host=algo-1, train msd <loss>=\S+$", text, re.M)
    assert "#test_score (algo-1) : ('msd', " in text and "#test_score (algo-1) : ('ssd', " in text
    assert test_ssd == pytest.approx(test_msd * (len(X) - 1500))
    assert 0 < train_msd < 10 and 0 < test_msd < 10
    assert re.search(PROGRESS_METRIC_REGEX, text).group(1) == "100.0"
    assert float(re.search(THROUGHPUT_METRIC_REGEX, text).group(1)) > 0
    assert "Test data is not provided." not in text


def test_train_failure_file_for_missing_hyperparameters(tmp_path, digits):
    X, _ = digits
    paths = make_job(tmp_path, {"force_dense": "True"}, {"train": {"a.pbr": encode_dense_records(X)}})
    result = run_entrypoint("train", tmp_path)
    assert result.returncode != 0
    assert contract.read_failure(paths) == ("ClientError: No value(s) were specified for 'k', 'feature_dim' which "
                                            "are required hyperparameter(s) (caused by ValidationError)")
    assert "Customer Error: No value(s) were specified" in result.stdout
    assert not (paths.model_dir / "model_algo-1").exists()


def test_train_failure_file_for_bad_data(tmp_path):
    paths = make_job(tmp_path, {"k": "2", "feature_dim": "3"}, {"train": {"garbage.bin": b"\x00\x01garbage" * 10}})
    result = run_entrypoint("train", tmp_path)
    assert result.returncode != 0
    failure = contract.read_failure(paths)
    assert failure.startswith("ClientError: Unable to read data channel 'train' (file 'garbage.bin', content type "
                              "'application/x-recordio-protobuf'): Not RecordIO data")
    assert failure.endswith("(caused by ValueError)")


def test_unknown_algorithm_fails_cleanly(tmp_path):
    paths = make_job(tmp_path, {}, {})
    result = run_entrypoint("train", tmp_path, algorithm="no-such-algorithm")
    assert result.returncode == 2
    assert "Unknown algorithm 'no-such-algorithm'" in contract.read_failure(paths)
    assert run_entrypoint("dance", tmp_path).returncode == 2


# --------------------------------------------------------------------------------------------
# in-process runs of the same harness (faster) for the remaining cases


def train_in_process(tmp_path, hyperparameters, channels, content_types=None):
    paths = make_job(tmp_path, hyperparameters, channels, content_types)
    code = kmeans.train(paths)
    return code, paths


def test_csv_channels_with_and_without_label_column(tmp_path, digits):
    X, y = digits
    code, paths = train_in_process(
        tmp_path / "a", {"k": "4", "feature_dim": "64"}, {"train": {"d.csv": to_csv(X[:600], y[:600])}},
        {"train": "text/csv"})
    assert code == 0 and ndarray.load(paths.model_dir / "model_algo-1")[0][0].shape == (4, 64)
    code, paths = train_in_process(
        tmp_path / "b", {"k": "4", "feature_dim": "64"},
        {"train": {"d.csv": to_csv(X[:600])}, "test": {"t.csv": to_csv(X[600:700])}},
        {"train": "text/csv; label_size=0", "test": "TEXT/CSV;label_size=0"})
    assert code == 0


def test_csv_without_label_size_needs_a_label_column(tmp_path, digits):
    X, _ = digits
    code, paths = train_in_process(tmp_path, {"k": "4", "feature_dim": "64"}, {"train": {"d.csv": to_csv(X[:100])}},
                                   {"train": "text/csv"})
    assert code == 2
    failure = contract.read_failure(paths)
    assert "different fields than the expected size 65" in failure and "text/csv;label_size=0" in failure


@pytest.mark.parametrize("hyperparameters, expected", [
    ({"k": "4", "feature_dim": "64", "foo": "1"},
     "ClientError: Additional hyperparameters are not allowed ('foo' was unexpected) (caused by ValidationError)"),
    ({"k": "4", "feature_dim": "64", "init_method": "best"},
     "ClientError: The value 'best' is not valid for the 'init_method' hyperparameter which accepts one of the "
     "following: 'random', 'kmeans++' (caused by ValidationError)"),
    ({"k": "four", "feature_dim": "64"},
     "ClientError: The value 'four' is not valid for the 'k' hyperparameter which expects one of the following: a "
     "string which matches the pattern '^([1-9][0-9]*)$'; or an integer greater than 1 (caused by ValidationError)"),
])
def test_hyperparameter_failures(tmp_path, digits, hyperparameters, expected):
    X, _ = digits
    code, paths = train_in_process(tmp_path, hyperparameters, {"train": {"a.pbr": encode_dense_records(X[:50])}})
    assert code == 2 and contract.read_failure(paths) == expected


def test_feature_dim_mismatch(tmp_path, digits):
    X, _ = digits
    code, paths = train_in_process(tmp_path, {"k": "4", "feature_dim": "63"},
                                   {"train": {"a.pbr": encode_dense_records(X[:50])}})
    assert code == 2
    assert "cannot copy sequence with size 64 to array axis with dimension 63" in contract.read_failure(paths)


@pytest.mark.parametrize("channels, message", [
    ({"validation": {"a.pbr": b""}}, "Channel 'train' is required but was not provided"),
    ({"train": {}}, "No data was found in channel 'train'"),
    ({"train": {"a.pbr": b""}}, "No records were found in channel 'train'"),
])
def test_channel_problems(tmp_path, channels, message):
    code, paths = train_in_process(tmp_path, {"k": "2", "feature_dim": "3"}, channels)
    assert code == 2 and message in contract.read_failure(paths)


def test_unsupported_channel_content_type(tmp_path, digits):
    X, _ = digits
    code, paths = train_in_process(tmp_path, {"k": "2", "feature_dim": "64"},
                                   {"train": {"a.json": b"{}"}}, {"train": "application/json"})
    assert code == 2
    assert "Content type 'application/json' of channel 'train' is not supported" in contract.read_failure(paths)


def test_more_clusters_than_records(tmp_path, digits):
    X, _ = digits
    code, paths = train_in_process(tmp_path, {"k": "20", "feature_dim": "64"},
                                   {"train": {"a.pbr": encode_dense_records(X[:10])}})
    assert code == 2 and "k (20) is larger than the number of training records (10)" in contract.read_failure(paths)


def test_two_hosts_train_on_their_shards_and_match_one_host(tmp_path, digits):
    pytest.importorskip("torch")
    X, _ = digits
    train, test = X[:1500], X[1500:]
    hyperparameters = {"k": "5", "feature_dim": "64", "mini_batch_size": "200", "eval_metrics": '["msd","ssd"]'}
    shards = [{f"part_{i}.pbr": encode_dense_records(train[i::4])} for i in range(4)]
    hosts = ["algo-1", "algo-2"]
    workspaces = {}
    for index, host in enumerate(hosts):  # ShardedByS3Key: every other object; test is replicated
        files = {**shards[index], **shards[index + 2]}
        make_job(tmp_path / host, hyperparameters, {"train": files, "test": {"t.pbr": encode_dense_records(test)}},
                 hosts=hosts, current_host=host)
        workspaces[host] = tmp_path / host
    results = run_hosts(workspaces, "kmeans")
    for host, result in results.items():
        assert result.returncode == 0, f"{host}:\n{result.stdout}"
    assert "Combined the micro-clusters of 2 hosts (1500 records)" in results["algo-1"].stdout
    assert "Sent 50 micro-clusters to algo-1" in results["algo-2"].stdout
    assert "processed a total of 750 examples" in results["algo-2"].stdout
    assert (tmp_path / "algo-1/model/model_algo-1").is_file()
    assert not any((tmp_path / "algo-2/model").iterdir())
    two_hosts = ndarray.load(tmp_path / "algo-1/model/model_algo-1")[0][0]

    single = make_job(tmp_path / "single", hyperparameters, {"train": {"all.pbr": encode_dense_records(train)},
                                                            "test": {"t.pbr": encode_dense_records(test)}})
    assert kmeans.train(single) == 0
    one_host = ndarray.load(single.model_dir / "model_algo-1")[0][0]
    msd = [sum_squared_distances(train, centers) / len(train) for centers in (one_host, two_hosts)]
    assert msd[1] == pytest.approx(msd[0], rel=0.03)
    # every host logs the job's test figures: the test rows are split between them, the sums added up
    expected = sum_squared_distances(test, two_hosts)
    for result in results.values():
        reported = float(re.search(r"test ssd <loss>=([0-9.e+-]+)", result.stdout).group(1))
        assert reported == pytest.approx(expected, rel=1e-4)