"""Linear learner ``train`` end to end: workspaces laid out by ``contract.write_training_config``, the
SDK's RecordIO-protobuf (float64 features, int32 labels) and CSV, the log lines the service's metric
definitions read, the artifact, and the failure file."""

from __future__ import annotations

import io
import os
import re
import zipfile

import numpy as np
import pytest

from sagemaker_algorithms import linear_learner
from sagemaker_algorithms.common import contract
from sagemaker_algorithms.common.protobuf_records import encode_dense_records
from sagemaker_algorithms.linear_learner.artifact import read_model
from sagemaker_emulator.services.sagemaker.builtin_algorithms import algorithm_for_image
from sagemaker_emulator.services.sagemaker.training import MetricCollector

from .helpers import make_job, run_entrypoint

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
LOG_LINE = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d (INFO|WARNING|ERROR) \d+\] ")


def sdk_recordio(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """RecordIO-protobuf as the SageMaker SDK writes numpy data (float64 -> Float64Tensor, int -> Int32Tensor)."""
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, features, labels)
    return buffer.getvalue()


def to_csv(features: np.ndarray, labels: np.ndarray) -> bytes:
    table = np.column_stack([labels, features])
    return "\n".join(",".join(repr(float(v)) for v in row) for row in table).encode()


def final_metrics(stdout: str) -> dict[str, float]:
    """What the emulator puts in FinalMetricDataList for this output (same regexes, same collector)."""
    collector = MetricCollector(algorithm_for_image(IMAGE).metric_definition_list())
    for line in stdout.splitlines():
        collector.observe(line)
    return {entry["MetricName"]: entry["Value"] for entry in collector.final_metrics()}


def logged(stdout: str, channel: str, name: str) -> float:
    return float(re.search(rf"#quality_metric: host=algo-1, {channel} {re.escape(name)} <(?:loss|score)>=(\S+)$",
                           stdout, re.M).group(1))


def test_binary_job_with_every_channel(tmp_path, digits):
    X, y = digits
    labels = (y == 0).astype(np.int64)
    paths = make_job(
        tmp_path, {"predictor_type": "binary_classifier", "feature_dim": "64", "mini_batch_size": "100",
                   "epochs": "4", "num_models": "4", "_tuning_objective_metric": "validation:binary_f_beta"},
        {"train": {"part-0.pbr": sdk_recordio(X[:700].astype(np.float64), labels[:700]),
                   "nested/part-1.pbr": sdk_recordio(X[700:1100].astype(np.float64), labels[700:1100])},
         "validation": {"v.pbr": sdk_recordio(X[1100:1400].astype(np.float64), labels[1100:1400])},
         "test": {"t.csv": to_csv(X[1400:], labels[1400:])}},
        {"test": "text/csv"})
    result = run_entrypoint("train", tmp_path, algorithm="linear-learner")
    assert result.returncode == 0, result.stdout + result.stderr
    assert contract.read_failure(paths) is None
    out = result.stdout
    assert all(LOG_LINE.match(line) for line in out.splitlines()), out
    assert "Loaded 1100 records with 64 features from channel 'train'" in out
    # a fresh process: single-threaded BLAS, the estimator's own worker threads (one per core, at most 4)
    threads = int(re.search(r"\((\d+) thread\(s\)\)", out).group(1))
    assert threads == max(1, min(4, len(os.sched_getaffinity(0))))
    assert "Test data is not provided." not in out
    assert re.search(r"#quality_metric: host=algo-1, epoch=3, train binary_classification_cross_entropy_objective "
                     r"<loss>=\S+$", out, re.M)
    assert re.search(r"#early_stopping_criteria_metric: host=algo-1, epoch=0, criteria=\S+, value=\S+$", out, re.M)
    assert "#validation_score (algo-1) : ('binary_f_1.000', " in out and "#test_score (algo-1) : ('recall', " in out
    assert "Best model found for hyperparameters: {\"optimizer\": \"adam\"" in out

    metrics = final_metrics(out)
    expected = {"train:objective_loss", "train:objective_loss:final", "validation:objective_loss",
                "validation:objective_loss:final", "test:objective_loss", "train:progress", "train:throughput"}
    for channel in ("train", "validation", "test"):
        expected |= {f"{channel}:{name}" for name in ("binary_classification_accuracy", "binary_f_beta", "precision",
                                                      "recall", "roc_auc_score")}
    assert set(metrics) == expected
    assert metrics["train:progress"] == 100.0
    assert metrics["test:binary_classification_accuracy"] == logged(out, "test", "binary_classification_accuracy")
    assert metrics["test:binary_classification_accuracy"] > 0.95
    assert metrics["validation:binary_f_beta"] == logged(out, "validation", "binary_f_1.000")
    assert metrics["test:objective_loss"] == logged(out, "test", "binary_classification_cross_entropy_objective")
    assert metrics["train:objective_loss"] == float(re.findall(
        r"epoch=3, train binary_classification_cross_entropy_objective <loss>=(\S+)", out)[-1])

    data = (paths.model_dir / "model_algo-1").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["additional-params.json", "manifest.json", "mx-mod-0000.params",
                                              "mx-mod-symbol.json"]
    model = read_model(data)
    assert model.predictor_type == "binary_classifier" and model.feature_dim == 64
    assert np.mean(model.predict(X[1400:])["predicted_label"] == labels[1400:]) == pytest.approx(
        metrics["test:binary_classification_accuracy"])


def test_multiclass_job_csv_metrics(tmp_path, digits):
    X, y = digits
    paths = make_job(
        tmp_path, {"predictor_type": "multiclass_classifier", "num_classes": "10", "mini_batch_size": "100",
                   "epochs": "3", "accuracy_top_k": "2"},
        {"train": {"d.csv": to_csv(X[:1200], y[:1200])}, "validation": {"v.csv": to_csv(X[1200:1500], y[1200:1500])},
         "test": {"t.pbr": encode_dense_records(X[1500:], y[1500:].astype(np.int32))}},
        {"train": "text/csv", "validation": "text/csv; label_size=1"})
    assert linear_learner.train(paths) == 0
    model = read_model((paths.model_dir / "model_algo-1").read_bytes())
    assert model.predictor_type == "multiclass_classifier" and model.coef.shape == (10, 64)


def test_multiclass_metric_names(tmp_path, digits, capsys):
    X, y = digits
    paths = make_job(tmp_path, {"predictor_type": "multiclass_classifier", "num_classes": "10",
                                "mini_batch_size": "200", "epochs": "2"},
                     {"train": {"a.pbr": encode_dense_records(X[:1000], y[:1000].astype(np.float32))},
                      "test": {"t.pbr": encode_dense_records(X[1000:], y[1000:].astype(np.float32))}})
    assert linear_learner.train(paths) == 0
    out = capsys.readouterr().out
    metrics = final_metrics(out)
    for name in ("multiclass_accuracy", "multiclass_top_k_accuracy", "dcg", "macro_recall", "macro_precision",
                 "macro_f_beta"):
        assert f"test:{name}" in metrics
    assert metrics["test:multiclass_top_k_accuracy"] == logged(out, "test", "multiclass_top_k_accuracy_3")
    assert metrics["test:multiclass_accuracy"] > 0.8
    assert "test:objective_loss" in metrics and "train:objective_loss:final" in metrics
    assert "#quality_metric: host=algo-1, test multiclass_log_loss <score>=" in out
    assert "validation:objective_loss" not in metrics and "Test data is not provided." not in out


def test_regressor_metrics_and_no_test_channel(tmp_path, capsys):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(800, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 7.0
    paths = make_job(tmp_path, {"predictor_type": "regressor", "mini_batch_size": "50", "epochs": "5",
                                "loss": "huber_loss", "num_models": "3"},
                     {"train": {"a.pbr": sdk_recordio(X, y)}, "validation": {"b.pbr": sdk_recordio(X[:100], y[:100])}})
    assert linear_learner.train(paths) == 0
    out = capsys.readouterr().out
    metrics = final_metrics(out)
    assert {"train:mse", "train:absolute_loss", "train:rmse", "validation:mse", "validation:rmse",
            "validation:absolute_loss", "validation:objective_loss:final"} <= set(metrics)
    assert metrics["validation:rmse"] == pytest.approx(np.sqrt(metrics["validation:mse"]))
    assert metrics["validation:rmse"] < 0.5 * np.std(y)
    assert "#quality_metric: host=algo-1, validation huber_loss_objective <loss>=" in out
    assert "Test data is not provided." in out
    assert "'stdev_label': " in out


def test_early_stopping_on_the_training_objective_without_a_validation_channel(tmp_path, capsys):
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(2000, 5)), rng.normal(size=2000)  # nothing to learn: the objective flattens
    paths = make_job(tmp_path, {"predictor_type": "regressor", "mini_batch_size": "100", "epochs": "30",
                                "num_models": "4"}, {"train": {"a.pbr": sdk_recordio(X, y)}})
    assert linear_learner.train(paths) == 0
    out = capsys.readouterr().out
    epochs = int(re.search(r"Early stop condition met. Stopping training after (\d+) epoch\(s\)", out).group(1))
    assert 4 <= epochs < 30
    objectives = re.findall(r"epoch=(\d+), train mse_objective <loss>=(\S+)$", out, re.M)
    criteria = re.findall(r"#early_stopping_criteria_metric: host=algo-1, epoch=(\d+), "
                          r"criteria=mse_objective, value=(\S+)$", out, re.M)
    assert len(objectives) == epochs and [(e, float(v)) for e, v in criteria] == [(e, float(v)) for e, v in objectives]
    assert f"Epoch {epochs - 1}: Loss has not improved for 3 epoch(s)" in out
    assert final_metrics(out)["train:progress"] == pytest.approx(100.0 * epochs / 30)
    assert (paths.model_dir / "model_algo-1").exists()


def test_failure_file_for_missing_predictor_type(tmp_path, digits):
    X, y = digits
    paths = make_job(tmp_path, {"feature_dim": "64"}, {"train": {"a.pbr": encode_dense_records(X, y)}})
    result = run_entrypoint("train", tmp_path, algorithm="linear-learner")
    assert result.returncode == 2
    assert contract.read_failure(paths) == ("ClientError: No value(s) were specified for 'predictor_type' which are "
                                            "required hyperparameter(s) (caused by ValidationError)")
    assert not (paths.model_dir / "model_algo-1").exists()


def train_in_process(tmp_path, hyperparameters, channels, content_types=None):
    paths = make_job(tmp_path, hyperparameters, channels, content_types)
    return linear_learner.train(paths), paths


@pytest.mark.parametrize("hyperparameters, expected", [
    ({"predictor_type": "multiclass_classifier"},
     "ClientError: The value '1' is not valid for the 'num_classes' hyperparameter which expects an integer between 3 "
     "and 1000000 when 'predictor_type' is 'multiclass_classifier' (caused by ValidationError)"),
    ({"predictor_type": "regressor", "loss": "logistic"},
     "ClientError: The value 'logistic' is not valid for the 'loss' hyperparameter when 'predictor_type' is "
     "'regressor', which accepts one of the following: 'auto', 'squared_loss', 'absolute_loss', "
     "'eps_insensitive_squared_loss', 'eps_insensitive_absolute_loss', 'quantile_loss', 'huber_loss' "
     "(caused by ValidationError)"),
    ({"predictor_type": "binary_classifier", "epochs": "many"},
     "ClientError: The value 'many' is not valid for the 'epochs' hyperparameter which expects one of the following: "
     "a string which matches the pattern '^([1-9][0-9]*)$'; or an integer greater than 1 (caused by ValidationError)"),
])
def test_hyperparameter_failures(tmp_path, digits, hyperparameters, expected):
    X, y = digits
    channels = {"train": {"a.pbr": encode_dense_records(X[:50], y[:50])}}
    code, paths = train_in_process(tmp_path, hyperparameters, channels)
    assert code == 2 and contract.read_failure(paths) == expected


@pytest.mark.parametrize("hyperparameters, channels, content_types, message", [
    ({"predictor_type": "binary_classifier"}, {"train": {"a.pbr": encode_dense_records(np.ones((5, 3)))}}, None,
     "ClientError: The records of channel 'train' have no labels"),
    ({"predictor_type": "binary_classifier"},
     {"train": {"a.pbr": encode_dense_records(np.ones((5, 3)), np.arange(5.0))}}, None,
     "ClientError: Channel 'train' has label 2; a binary classifier needs labels 0 or 1 (caused by ValueError)"),
    ({"predictor_type": "multiclass_classifier", "num_classes": "3"},
     {"train": {"a.csv": b"0,1,2\n5,1,2\n"}}, {"train": "text/csv"},
     "ClientError: Channel 'train' has label 5; with num_classes=3 the labels must be integers from 0 to 2"),
    ({"predictor_type": "regressor", "feature_dim": "4"},
     {"train": {"a.pbr": encode_dense_records(np.ones((5, 3)), np.ones(5))}}, None,
     "cannot copy sequence with size 3 to array axis with dimension 4"),
    ({"predictor_type": "regressor"},
     {"train": {"a.pbr": encode_dense_records(np.ones((5, 3)), np.ones(5))},
      "validation": {"b.pbr": encode_dense_records(np.ones((5, 4)), np.ones(5))}}, None,
     "cannot copy sequence with size 4 to array axis with dimension 3"),
    ({"predictor_type": "regressor"}, {"train": {"a.csv": b"1,nan,2\n"}}, {"train": "text/csv"},
     "Channel 'train' has features that are NaN or infinite"),
    ({"predictor_type": "regressor"},
     {"train": {"a.csv": b"1,1,2\n2,3,4\n"}, "validation": {"b.csv": b"1,inf,2\n"}},
     {"train": "text/csv", "validation": "text/csv"}, "Channel 'validation' has features that are NaN or infinite"),
    ({"predictor_type": "regressor"},
     {"train": {"a.csv": b"1,1,2\n2,3,4\n"}, "test": {"b.csv": b"1,nan,2\n"}},
     {"train": "text/csv", "test": "text/csv"}, "Channel 'test' has features that are NaN or infinite"),
    ({"predictor_type": "regressor"}, {"validation": {"a.csv": b"1,2\n"}}, {"validation": "text/csv"},
     "Channel 'train' is required but was not provided"),
    ({"predictor_type": "regressor"}, {"train": {"a.json": b"{}"}}, {"train": "application/json"},
     "Content type 'application/json' of channel 'train' is not supported"),
])
def test_data_failures(tmp_path, hyperparameters, channels, content_types, message):
    code, paths = train_in_process(tmp_path, hyperparameters, channels, content_types)
    assert code == 2 and message in contract.read_failure(paths)


def test_one_class_channel_leaves_out_undefined_metrics(tmp_path, digits, capsys):
    X, y = digits
    labels = (y == 0).astype(np.float32)
    code, _ = train_in_process(tmp_path, {"predictor_type": "binary_classifier", "epochs": "2", "num_models": "2"},
                               {"train": {"a.pbr": encode_dense_records(X, labels)},
                                "test": {"t.pbr": encode_dense_records(X[labels == 0][:50], labels[labels == 0][:50])}})
    out = capsys.readouterr().out
    assert code == 0 and "test roc_auc_score" not in out and "test binary_classification_accuracy <score>=" in out


def test_two_hosts_average_their_models_and_match_one_host(tmp_path, digits):
    pytest.importorskip("torch")
    from .helpers import run_hosts

    X, digit = digits
    y = (digit == 3).astype(np.float32)
    train, train_y, test, test_y = X[:1400], y[:1400], X[1400:], y[1400:]
    # model averaging once per epoch needs some steps per epoch on each host: 14 here
    hyperparameters = {"predictor_type": "binary_classifier", "feature_dim": "64", "mini_batch_size": "50",
                       "epochs": "15", "num_models": "4"}
    hosts = ["algo-1", "algo-2"]
    halves = {"algo-1": slice(0, 700), "algo-2": slice(700, 1400)}
    for host in hosts:  # each host its half of train (as ShardedByS3Key gives it); test replicated
        make_job(tmp_path / host, hyperparameters,
                 {"train": {"part.pbr": encode_dense_records(train[halves[host]], train_y[halves[host]])},
                  "test": {"t.pbr": encode_dense_records(test, test_y)}}, hosts=hosts, current_host=host)
    results = run_hosts({host: tmp_path / host for host in hosts}, "linear-learner")
    for host, result in results.items():
        assert result.returncode == 0, f"{host}:\n{result.stdout}"
        assert "The 2 hosts average their models after every epoch" in result.stdout
    assert not any((tmp_path / "algo-2/model").iterdir())
    model = read_model((tmp_path / "algo-1/model/model_algo-1").read_bytes())

    def metric_lines(text: str) -> list[str]:
        return [line.split("] ", 1)[1].replace("host=algo-2", "host=algo-1") for line in text.splitlines()
                if "#quality_metric" in line]

    lines = [metric_lines(result.stdout) for result in results.values()]
    assert lines[0] == lines[1] and any("test binary_classification_accuracy" in line for line in lines[0])

    single = make_job(tmp_path / "single", hyperparameters,
                      {"train": {"all.pbr": encode_dense_records(train, train_y)}})
    assert linear_learner.train(single) == 0
    one_host = read_model((single.model_dir / "model_algo-1").read_bytes())
    accuracy = {name: float(np.mean(m.outputs(m.decision_function(test))["predicted_label"] == test_y))
                for name, m in (("two", model), ("one", one_host))}
    assert accuracy["two"] >= 0.95 and abs(accuracy["two"] - accuracy["one"]) <= 0.02, accuracy
    reported = float(re.search(r"test binary_classification_accuracy <score>=(\S+)", results["algo-2"].stdout).group(1))
    assert reported == pytest.approx(accuracy["two"], abs=1e-6)
