"""Linear learner training jobs vs scikit-learn's LogisticRegression on MNIST, in one run.

    .venv/bin/python -m benchmarks.linear_learner [--repeats 3] [--tasks binary multiclass]
                                                  [--validation] [--test-channel] [--seeds N]
                                                  [--folds N] [--hyperparameters NAME=VALUE ...]

Tasks: ``binary`` (digit 0 against the rest) and ``multiclass`` (10 digits). Each job trains on the
50,000 MNIST training rows (one RecordIO-protobuf ``train`` channel, float32 features and labels, as
the SDK's ``record_set`` writes float32 arrays) with the hyperparameters the SageMaker SDK's
``LinearLearner`` sends (``predictor_type``, ``feature_dim``, ``mini_batch_size=1000``, plus
``num_classes`` for multiclass) and defaults for everything else. The job's time runs from
CreateTrainingJob to the first DescribeTrainingJob that reads Completed (polled every 50 ms):
staging the channel, starting the process, decoding, training 15 epochs of the stacked models,
choosing a model and threshold, writing and uploading ``model.tar.gz``. scikit-learn:
``LogisticRegression()`` (lbfgs; multinomial for 10 classes) ``.fit`` on the same in-memory rows.
Both models are scored on the 10,000 t10k rows (the job's model loaded from its artifact).
``--test-channel`` also gives the jobs the t10k rows as their ``test`` channel (the job then logs
the test metrics itself; its time includes scoring them). ``--validation`` adds jobs with a
``validation`` channel (the 10,000 MNIST rows 50,000-59,999), which the linear learner uses for
early stopping and model selection. ``--seeds N`` also fits the estimator in-process with N random
seeds (the job always uses seed 0) to show how much the test accuracy moves with the seed alone.
``--folds N`` compares the estimator (in-process, seed 0) with scikit-learn on N held-out folds of
the 60,000 MNIST training rows (each fold's 60,000 / N rows held out, the rest trained on); the
t10k rows are not used, so defaults can be judged without looking at the test set.

``--hyperparameters`` adds hyperparameters to every job (and to the ``--seeds`` fits), e.g.
``num_models=16``; the default is SageMaker's defaults.

Targets: test accuracy >= scikit-learn's, job time / fit time <= 1.0 (medians).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from benchmarks.support import ROLE, emulator, median, model_file, wait_for_training_job
from sagemaker_algorithms.common.protobuf_records import encode_dense_records
from sagemaker_algorithms.linear_learner.artifact import read_model
from sagemaker_algorithms.linear_learner.estimator import LinearLearner
from sagemaker_algorithms.linear_learner.hyperparameters import SCHEMA
from sagemaker_emulator.datasets import load_mnist

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
BUCKET = "bench-linear-learner"
TASKS = {
    "binary": {"predictor_type": "binary_classifier"},
    "multiclass": {"predictor_type": "multiclass_classifier", "num_classes": "10"},
}


def task_labels(task: str, digits: np.ndarray) -> np.ndarray:
    return (digits == 0).astype(np.float32) if task == "binary" else digits.astype(np.float32)


def upload(s3, key: str, features: np.ndarray, labels: np.ndarray) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=encode_dense_records(features, labels))
    return f"s3://{BUCKET}/{key.rsplit('/', 1)[0]}/"


def run_job(sagemaker, s3, name: str, task: str, channels: dict[str, str], extra: dict[str, str]
            ) -> tuple[float, object, dict]:
    started = time.perf_counter()
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[{"ChannelName": channel, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for channel, uri in channels.items()],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.c5.xlarge", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={**TASKS[task], "feature_dim": "784", "mini_batch_size": "1000", **extra},
    )
    description = wait_for_training_job(sagemaker, name)
    elapsed = time.perf_counter() - started
    model = read_model(model_file(s3, description))
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    return elapsed, model, metrics


def fit_sklearn(features: np.ndarray, labels: np.ndarray) -> tuple[float, LogisticRegression]:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression().fit(features, labels)
    return time.perf_counter() - started, model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["binary", "multiclass"])
    parser.add_argument("--validation", action="store_true", help="also run jobs with a validation channel")
    parser.add_argument("--test-channel", action="store_true", help="give the jobs the t10k rows as 'test' channel")
    parser.add_argument("--seeds", type=int, default=0, help="also fit the estimator in-process with this many seeds")
    parser.add_argument("--folds", type=int, default=0,
                        help="also compare on this many held-out folds of the 60,000 training rows")
    parser.add_argument("--hyperparameters", nargs="*", default=[], metavar="NAME=VALUE",
                        help="extra hyperparameters for every job")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.hyperparameters)
    if extra:
        print(f"extra hyperparameters: {extra}")
    (train_x, train_digits), (valid_x, valid_digits), (test_x, test_digits) = load_mnist()

    rows = []  # (task, variant, run, job s, sklearn s, job accuracy, sklearn accuracy, job's own test metric)
    server = emulator()
    try:
        s3, sagemaker = server.client("s3"), server.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        for task in args.tasks:
            train_y, valid_y, test_y = (task_labels(task, d) for d in (train_digits, valid_digits, test_digits))
            channels = {"train": upload(s3, f"{task}/train/mnist.pbr", train_x, train_y)}
            if args.test_channel:
                channels["test"] = upload(s3, f"{task}/test/mnist.pbr", test_x, test_y)
            variants = {"+".join(channels): channels}
            if args.validation:
                validation = upload(s3, f"{task}/validation/mnist.pbr", valid_x, valid_y)
                with_validation = {**channels, "validation": validation}
                variants["+".join(sorted(with_validation, key=["train", "validation", "test"].index))] = with_validation
            metric = "test:binary_classification_accuracy" if task == "binary" else "test:multiclass_accuracy"
            for repeat in range(args.repeats):
                sklearn_seconds, reference = fit_sklearn(train_x, train_y)
                sklearn_accuracy = float(np.mean(reference.predict(test_x) == test_y))
                for variant, variant_channels in variants.items():
                    name = f"bench-ll-{task}-{variant.replace('+', '-')}-{repeat}"
                    seconds, model, metrics = run_job(sagemaker, s3, name, task, variant_channels, extra)
                    accuracy = float(np.mean(model.predict(test_x)["predicted_label"] == test_y))
                    rows.append((task, variant, repeat + 1, seconds, sklearn_seconds, accuracy, sklearn_accuracy,
                                 metrics.get(metric, float("nan"))))
                    print(f"{task:>10} {variant:>22} run {repeat + 1}: job {seconds:6.2f} s, acc {accuracy:.4f} | "
                          f"scikit-learn {sklearn_seconds:6.2f} s, acc {sklearn_accuracy:.4f}", flush=True)
    finally:
        server.stop()

    print()
    print(f"{'task':>10} {'channels':>22} {'run':>4} {'job s':>7} {'sklearn s':>10} {'ratio':>6} "
          f"{'job acc':>8} {'sklearn acc':>12} {'job test metric':>16}")
    for task, variant, run, seconds, sk_seconds, accuracy, sk_accuracy, logged in rows:
        print(f"{task:>10} {variant:>22} {run:>4} {seconds:7.2f} {sk_seconds:10.2f} {seconds / sk_seconds:6.2f} "
              f"{accuracy:8.4f} {sk_accuracy:12.4f} {logged:16.4f}")
    print()
    for task in args.tasks:
        for variant in dict.fromkeys(v for t, v, *_ in rows if t == task):
            chosen = [r for r in rows if r[0] == task and r[1] == variant]
            ratio = median([r[3] / r[4] for r in chosen])
            accuracy, sk_accuracy = median([r[5] for r in chosen]), median([r[6] for r in chosen])
            print(f"{task} ({variant}): median job {median([r[3] for r in chosen]):.2f} s vs scikit-learn "
                  f"{median([r[4] for r in chosen]):.2f} s, ratio {ratio:.2f} (target <= 1.0); test accuracy "
                  f"{accuracy:.4f} vs {sk_accuracy:.4f} ({accuracy - sk_accuracy:+.4f}, target >= 0)")


    if args.seeds:
        print()
        for task in args.tasks:
            train_y, test_y = task_labels(task, train_digits), task_labels(task, test_digits)
            typed = SCHEMA.validate({**TASKS[task], **extra})
            accuracies = []
            for seed in range(args.seeds):
                learner = LinearLearner.from_hyperparameters(typed, random_state=seed).fit(train_x, train_y)
                accuracies.append(float(np.mean(learner.predict(test_x) == test_y)))
            print(f"{task}: estimator test accuracy over seeds 0..{args.seeds - 1}: "
                  f"{', '.join(f'{a:.4f}' for a in accuracies)} (mean {np.mean(accuracies):.5f})")

    if args.folds:
        print()
        for task in args.tasks:
            cross_validate(task, args.folds, extra, np.concatenate([train_x, valid_x]),
                           np.concatenate([train_digits, valid_digits]))


def cross_validate(task: str, folds: int, extra: dict[str, str], features: np.ndarray, digits: np.ndarray) -> None:
    """The estimator (seed 0) and scikit-learn on held-out folds of the 60,000 training rows."""
    labels = task_labels(task, digits)
    typed = SCHEMA.validate({**TASKS[task], "feature_dim": "784", "mini_batch_size": "1000", **extra})
    ours, theirs = [], []
    for fold in range(folds):
        held = np.zeros(len(labels), bool)
        held[fold * len(labels) // folds:(fold + 1) * len(labels) // folds] = True
        learner = LinearLearner.from_hyperparameters(typed, random_state=0).fit(features[~held], labels[~held])
        ours.append(float(np.mean(learner.predict(features[held]) == labels[held])))
        theirs.append(float(np.mean(fit_sklearn(features[~held], labels[~held])[1].predict(features[held])
                                    == labels[held])))
        print(f"{task} fold {fold + 1}/{folds}: estimator {ours[-1]:.4f}, scikit-learn {theirs[-1]:.4f}", flush=True)
    wins = sum(a > b for a, b in zip(ours, theirs))
    print(f"{task}: held-out accuracy over {folds} folds, estimator mean {np.mean(ours):.5f} vs scikit-learn "
          f"{np.mean(theirs):.5f}; estimator ahead in {wins}, behind in "
          f"{sum(a < b for a, b in zip(ours, theirs))} of {folds}")


if __name__ == "__main__":
    main()
