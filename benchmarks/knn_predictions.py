"""k-NN predictions through a real endpoint vs scikit-learn's brute force, on MNIST, in one run.

    .venv/bin/python -m benchmarks.knn_predictions [--repeats 3] [--k 10]

Training: a k-NN job on the first 20,000 MNIST training digits (CSV, label first) with
``sample_size=20000``, so the sample is the whole set and the model is comparable row for row with
``KNeighborsClassifier(algorithm="brute", n_neighbors=k)`` fitted on the same rows; the 10,000
validation digits are the ``test`` channel (the job's ``test:accuracy`` is checked against
scikit-learn's accuracy).

Inference, repeated ``--repeats`` times and interleaved: the 10,000 validation digits go to the
endpoint as 20 sequential ``invoke_endpoint`` calls of 500 CSV rows (boto3, ``Accept:
application/json``); the timed span covers all 20 calls (request bodies are built beforehand, byte
for byte what the SageMaker SDK's ``CSVSerializer`` writes for float32 rows, and they parse back to
exactly the float32 queries). scikit-learn: ``predict`` on the same float32 queries, timed alone.

Targets: predictions identical on every repeat; endpoint throughput >= 1.0x scikit-learn's.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from benchmarks.support import ROLE, emulator, median
from sagemaker_algorithms.common.csv_format import parse_csv
from sagemaker_emulator.datasets import load_mnist

KNN_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:1"
BUCKET = "bench-knn"
TRAIN_ROWS = 20_000
BATCH = 500


def csv_body(rows: np.ndarray) -> bytes:
    """float32 rows as CSVSerializer writes them (``str`` of each value), via a table of unique values."""
    rows = np.asarray(rows, dtype=np.float32)
    values, inverse = np.unique(rows, return_inverse=True)
    texts = np.array([str(value) for value in values], dtype=object)[inverse.reshape(rows.shape)]
    return "\n".join(",".join(line) for line in texts.tolist()).encode()


def check_bodies(bodies: list[bytes], queries: np.ndarray) -> None:
    from sagemaker.serializers import CSVSerializer

    assert bodies[0].decode() == CSVSerializer().serialize(queries[:BATCH])
    parsed = np.concatenate([parse_csv(body)[0] for body in bodies])
    assert np.array_equal(parsed, queries), "the CSV bodies do not parse back to the exact queries"


def train_and_deploy(server, train_x, train_y, valid_x, valid_y, k: int) -> tuple[str, dict, float]:
    s3, sagemaker = server.client("s3"), server.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train/mnist.csv", Body=csv_body(np.column_stack([train_y, train_x])))
    s3.put_object(Bucket=BUCKET, Key="test/mnist.csv", Body=csv_body(np.column_stack([valid_y, valid_x])))
    channels = [{"ChannelName": name, "ContentType": "text/csv;label_size=1",
                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{name}/",
                                                 "S3DataDistributionType": "FullyReplicated"}}}
                for name in ("train", "test")]
    started = time.perf_counter()
    sagemaker.create_training_job(
        TrainingJobName="bench-knn",
        AlgorithmSpecification={"TrainingImage": KNN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE, InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.c5.2xlarge", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"k": str(k), "sample_size": str(TRAIN_ROWS), "predictor_type": "classifier",
                         "feature_dim": "784"},
    )
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="bench-knn", WaiterConfig={"Delay": 1, "MaxAttempts": 600})
    job_seconds = time.perf_counter() - started
    description = sagemaker.describe_training_job(TrainingJobName="bench-knn")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    sagemaker.create_model(ModelName="bench-knn", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": KNN_IMAGE, "ModelDataUrl": description["ModelArtifacts"]["S3ModelArtifacts"]})
    sagemaker.create_endpoint_config(EndpointConfigName="bench-knn", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "bench-knn", "InitialInstanceCount": 1,
        "InstanceType": "ml.c5.2xlarge"}])
    sagemaker.create_endpoint(EndpointName="bench-knn", EndpointConfigName="bench-knn")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="bench-knn",
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    return "bench-knn", metrics, job_seconds


def predict_endpoint(runtime, endpoint: str, bodies: list[bytes]) -> tuple[float, np.ndarray]:
    predictions = []
    started = time.perf_counter()
    for body in bodies:
        answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Accept="application/json",
                                         Body=body)
        predictions.extend(p["predicted_label"] for p in json.loads(answer["Body"].read())["predictions"])
    return time.perf_counter() - started, np.asarray(predictions)


def predict_sklearn(reference: KNeighborsClassifier, queries: np.ndarray) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    predictions = reference.predict(queries)
    return time.perf_counter() - started, predictions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    (train_x, train_y), (valid_x, valid_y), _ = load_mnist()
    train_x, train_y = train_x[:TRAIN_ROWS], train_y[:TRAIN_ROWS]
    bodies = [csv_body(valid_x[start:start + BATCH]) for start in range(0, len(valid_x), BATCH)]
    check_bodies(bodies, valid_x)
    reference = KNeighborsClassifier(n_neighbors=args.k, algorithm="brute").fit(train_x, train_y)

    server = emulator()
    try:
        endpoint, metrics, job_seconds = train_and_deploy(server, train_x, train_y, valid_x, valid_y, args.k)
        runtime = server.client("sagemaker-runtime")
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=bodies[0])  # warm-up
        rows = []
        for repeat in range(args.repeats):
            if repeat % 2 == 0:
                endpoint_seconds, ours = predict_endpoint(runtime, endpoint, bodies)
                sklearn_seconds, theirs = predict_sklearn(reference, valid_x)
            else:
                sklearn_seconds, theirs = predict_sklearn(reference, valid_x)
                endpoint_seconds, ours = predict_endpoint(runtime, endpoint, bodies)
            mismatches = int(np.count_nonzero(ours != theirs))
            rows.append((endpoint_seconds, sklearn_seconds, mismatches))
    finally:
        server.stop()

    count = len(valid_x)
    sklearn_accuracy = float(np.mean(theirs == valid_y))
    print(f"k-NN on MNIST: {TRAIN_ROWS} training rows (sample_size={TRAIN_ROWS}), k={args.k}, {count} queries in "
          f"{len(bodies)} CSV requests of {BATCH} rows")
    print(f"training job {job_seconds:.2f} s; job test:accuracy {metrics.get('test:accuracy', float('nan')):.4f}, "
          f"scikit-learn accuracy {sklearn_accuracy:.4f}")
    print(f"{'run':>4} {'endpoint s':>11} {'sklearn s':>10} {'endpoint q/s':>13} {'sklearn q/s':>12} "
          f"{'ratio':>6} {'mismatches':>11}")
    for index, (ours_s, theirs_s, mismatches) in enumerate(rows, 1):
        print(f"{index:>4} {ours_s:11.2f} {theirs_s:10.2f} {count / ours_s:13.0f} {count / theirs_s:12.0f} "
              f"{theirs_s / ours_s:6.2f} {mismatches:>11}")
    ratio = median([theirs_s / ours_s for ours_s, theirs_s, _ in rows])
    print(f"median endpoint {median([r[0] for r in rows]):.2f} s, scikit-learn {median([r[1] for r in rows]):.2f} s")
    print(f"median throughput ratio endpoint / scikit-learn: {ratio:.2f} (target >= 1.0)")
    identical = all(mismatches == 0 for _, _, mismatches in rows)
    print(f"predictions identical to scikit-learn on every run: {identical}")


if __name__ == "__main__":
    main()
