"""Image classification through real boto3 against a real server: MNIST digits as RGB JPEGs.

Trains ResNet-18 on 800 32x32 JPEG digits in a ``.rec`` (two epochs), deploys it behind an endpoint
config with an ``AcceleratorType``, classifies held-out JPEGs; then the ``.lst`` + images channels, multi-label
records, and the failures a notebook meets (missing ``num_classes``, an ``image_shape`` larger than
the images, a corrupt ``.rec``, a payload that is not an image).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from botocore.exceptions import ClientError  # noqa: E402
from PIL import Image  # noqa: E402

from sagemaker_algorithms.image_classification.records import encode_record_file, format_lst  # noqa: E402
from tests.integration.conftest import ROLE  # noqa: E402
from tests.integration.flows import channel, make_bucket, unique, wait_for_job, wait_until_failed  # noqa: E402

IC_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
RECORDIO = "application/x-recordio"
SIZE = 32


def digit_jpeg(pixels: np.ndarray, size: int = SIZE, fmt: str = "JPEG") -> bytes:
    """One MNIST digit (784 values in [0, 1]) as an RGB JPEG of ``size`` x ``size``."""
    gray = Image.fromarray((pixels.reshape(28, 28) * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    buffer = io.BytesIO()
    gray.convert("RGB").save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def digits_rec(features: np.ndarray, labels) -> bytes:
    return encode_record_file((label, digit_jpeg(row)) for row, label in zip(features, labels))


def create_ic_job(sagemaker, job: str, bucket: str, channels: list[dict[str, Any]], hyperparameters: dict[str, str],
                  instance_type: str = "ml.p3.2xlarge") -> None:
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": IC_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters=hyperparameters,
    )


def deploy_ic(sagemaker, artifact: str) -> str:
    name = unique("ic-endpoint")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": IC_IMAGE, "ModelDataUrl": artifact})
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large", "AcceleratorType": "ml.eia2.medium"}],
    )
    config = sagemaker.describe_endpoint_config(EndpointConfigName=name)
    assert config["ProductionVariants"][0]["AcceleratorType"] == "ml.eia2.medium"
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return name


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return {**raised.value.response["Error"], "Status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
            "Response": raised.value.response}


def small_job(**extra: str) -> dict[str, str]:
    return {"num_classes": "10", "num_training_samples": "300", "num_layers": "20", "image_shape": f"3,{SIZE},{SIZE}",
            "epochs": "1", "mini_batch_size": "32", **extra}


def test_mnist_jpeg_rec_train_deploy_predict(emulator, mnist_subset):
    s3, sagemaker, runtime = emulator.client("s3"), emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    logs = emulator.client("logs")
    features, labels = mnist_subset
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="ic/train/train.rec", Body=digits_rec(features[:800], labels[:800]))
    s3.put_object(Bucket=bucket, Key="ic/validation/validation.rec",
                  Body=digits_rec(features[800:1100], labels[800:1100]))
    job = unique("ic-mnist")
    create_ic_job(sagemaker, job, bucket, [
        channel(f"s3://{bucket}/ic/train/", "train", ContentType=RECORDIO),
        channel(f"s3://{bucket}/ic/validation/", "validation", ContentType=RECORDIO),
    ], {"num_classes": "10", "num_training_samples": "800", "num_layers": "18", "image_shape": f"3,{SIZE},{SIZE}",
        "epochs": "2", "mini_batch_size": "32", "learning_rate": "0.05", "top_k": "2", "precision_dtype": "float32"})
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")

    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics["validation:accuracy"] > 0.5 and 0 < metrics["train:accuracy"] <= 1
    definitions = {d["Name"] for d in description["AlgorithmSpecification"].get("MetricDefinitions", [])}
    assert {"train:accuracy", "validation:accuracy"} <= definitions

    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    body = s3.get_object(Bucket=bucket, Key=artifact.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        names = sorted(archive.getnames())
        shapes = json.loads(archive.extractfile("model-shapes.json").read())
    params = [name for name in names if name.endswith(".params")]
    assert names == sorted(["image-classification-symbol.json", "model-shapes.json", *params]) and len(params) == 1
    assert re.fullmatch(r"image-classification-000[12]\.params", params[0])
    assert shapes == [{"name": "data", "shape": [32, 3, SIZE, SIZE]}]

    stream = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job + "/")
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                 logStreamName=stream["logStreams"][0]["logStreamName"], startFromHead=True)
    text = "\n".join(event["message"] for event in events["events"])
    for line in ("---- Parameters ----", "Epoch[0] Train-accuracy=", "Epoch[0] Train-top_k_accuracy_2=",
                 "Epoch[0] Time cost=", "Epoch[1] Validation-accuracy=", "Storing the best model with validation "
                 "accuracy: ", 'Saved checkpoint to "'):
        assert line in text, line

    endpoint = deploy_ic(sagemaker, artifact)
    test_x, test_y = features[1500:1600], labels[1500:1600]
    correct = 0
    for row, label in zip(test_x, test_y):
        answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/x-image",
                                         Accept="application/json", Body=digit_jpeg(row))
        probabilities = json.loads(answer["Body"].read())
        assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 1e-4
        correct += int(np.argmax(probabilities) == label)
    assert correct / len(test_y) > 0.5  # chance is 0.1

    for content_type, payload in (("image/jpeg", digit_jpeg(test_x[0])),
                                  ("image/png", digit_jpeg(test_x[0], fmt="PNG")),
                                  ("application/octet-stream", digit_jpeg(test_x[0]))):
        answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType=content_type, Body=payload)
        assert len(json.loads(answer["Body"].read())) == 10
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/jpeg", Accept="application/jsonlines",
                                     Body=digit_jpeg(test_x[0]))
    assert len(json.loads(answer["Body"].read())["prediction"]) == 10

    error = error_of(runtime.invoke_endpoint, EndpointName=endpoint, ContentType="application/x-image",
                     Body=b"this is not an image")
    assert (error["Code"], error["Status"]) == ("ModelError", 424), error
    assert error["Response"]["OriginalStatusCode"] == 400
    assert "unable to evaluate payload provided" in error["Message"]
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_lst_and_image_channels(emulator, mnist_subset):
    s3, sagemaker = emulator.client("s3"), emulator.client("sagemaker")
    features, labels = mnist_subset
    bucket = make_bucket(s3)
    for split, start, count in (("train", 0, 200), ("validation", 200, 60)):
        entries = []
        for index in range(start, start + count):
            relative = f"digit-{labels[index]}/{index:05d}.jpg"
            s3.put_object(Bucket=bucket, Key=f"{split}/{relative}", Body=digit_jpeg(features[index], size=40))
            entries.append((index, float(labels[index]), relative))
        s3.put_object(Bucket=bucket, Key=f"{split}_lst/{split}.lst", Body=format_lst(entries).encode())
    job = unique("ic-lst")
    create_ic_job(sagemaker, job, bucket, [
        channel(f"s3://{bucket}/{name}/", name, ContentType="application/x-image")
        for name in ("train", "validation", "train_lst", "validation_lst")
    ], small_job(num_training_samples="200", resize="36", augmentation_type="crop_color"))
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert {m["MetricName"] for m in description["FinalMetricDataList"]} >= {"train:accuracy", "validation:accuracy"}


def test_multi_label(emulator, mnist_subset):
    s3, sagemaker, runtime = emulator.client("s3"), emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    features, labels = mnist_subset
    # three labels per digit: even, at least five, has a closed loop (0, 6, 8, 9)
    hot = np.stack([labels % 2 == 0, labels >= 5, np.isin(labels, (0, 6, 8, 9))], axis=1).astype(np.float32)
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="train/train.rec", Body=digits_rec(features[:300], hot[:300]))
    s3.put_object(Bucket=bucket, Key="validation/validation.rec", Body=digits_rec(features[300:400], hot[300:400]))
    job = unique("ic-multi")
    create_ic_job(sagemaker, job, bucket, [
        channel(f"s3://{bucket}/train/", "train", ContentType=RECORDIO),
        channel(f"s3://{bucket}/validation/", "validation", ContentType=RECORDIO),
    ], small_job(num_classes="3", multi_label="1", use_weighted_loss="1", epochs="2"))
    description = wait_for_job(sagemaker, job)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics["validation:accuracy"] > 0.5
    endpoint = deploy_ic(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/jpeg", Body=digit_jpeg(features[500]))
    probabilities = json.loads(answer["Body"].read())
    assert len(probabilities) == 3 and all(0 <= p <= 1 for p in probabilities)
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_bad_inputs_fail_with_sagemaker_texts(emulator, mnist_subset):
    s3, sagemaker = emulator.client("s3"), emulator.client("sagemaker")
    features, labels = mnist_subset
    bucket = make_bucket(s3)
    s3.put_object(Bucket=bucket, Key="good/train.rec", Body=digits_rec(features[:64], labels[:64]))
    s3.put_object(Bucket=bucket, Key="good-validation/validation.rec", Body=digits_rec(features[64:96], labels[64:96]))
    s3.put_object(Bucket=bucket, Key="corrupt/train.rec", Body=b"\x00\x01 this is no RecordIO \x02" * 40)
    good = [channel(f"s3://{bucket}/good/", "train", ContentType=RECORDIO),
            channel(f"s3://{bucket}/good-validation/", "validation", ContentType=RECORDIO)]
    corrupt = [channel(f"s3://{bucket}/corrupt/", "train", ContentType=RECORDIO), good[1]]
    cases = {
        "missing": (good, {key: value for key, value in small_job().items() if key != "num_classes"}),
        "too-large": (good, small_job(image_shape="3,64,64")),
        "corrupt": (corrupt, small_job()),
    }
    jobs = {}
    for case, (channels, hyperparameters) in cases.items():  # created together, so they run side by side
        jobs[case] = unique(f"ic-{case}")
        create_ic_job(sagemaker, jobs[case], bucket, channels, hyperparameters)
    reasons = {}
    for case, job in jobs.items():
        description = wait_until_failed(sagemaker, job)
        assert description["TrainingJobStatus"] == "Failed", case
        reasons[case] = description["FailureReason"]
    assert reasons["missing"] == ("ClientError: No value(s) were specified for 'num_classes' which are required "
                                  "hyperparameter(s) (caused by ValidationError)")
    assert re.fullmatch(r"ClientError: Unable to read data channel 'train': record \d+ of 'train\.rec': input image "
                        r"size smaller than input shape: the image is 32x32 \(width x height\) but image_shape is "
                        r"3,64,64; use larger images, a smaller image_shape, or resize \(caused by ValueError\)",
                        reasons["too-large"]), reasons["too-large"]
    assert reasons["corrupt"].startswith(
        "ClientError: Unable to read data channel 'train' (file 'train.rec', content type 'application/x-recordio'): "
        "Not RecordIO data: expected magic 0xced7230a at offset 0"), reasons["corrupt"]
