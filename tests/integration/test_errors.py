"""Bad input gets the AWS-shaped error, and loses nothing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.flows import deploy, make_bucket, train_kmeans, unique


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return {**raised.value.response["Error"], "Status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
            "Response": raised.value.response}


def test_request_validation_from_the_service_model(emulator):
    sagemaker = emulator.client("sagemaker")
    error = error_of(
        sagemaker.create_training_job,
        TrainingJobName="not_a_valid_name!",
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        AlgorithmSpecification={"TrainingImage": "kmeans:1", "TrainingInputMode": "File"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    assert error["Code"] == "ValidationException" and error["Status"] == 400
    assert "trainingJobName" in error["Message"] and "regular expression" in error["Message"]


def test_missing_resources_are_worded_as_aws_words_them(emulator):
    sagemaker = emulator.client("sagemaker")
    assert error_of(sagemaker.describe_training_job, TrainingJobName="nope")["Message"] == "Requested resource not found."
    arn = "arn:aws:sagemaker:us-east-1:123456789012"
    assert error_of(sagemaker.describe_model, ModelName="Nope")["Message"] == f'Could not find model "{arn}:model/nope".'
    assert error_of(sagemaker.describe_endpoint_config, EndpointConfigName="nope")["Message"] == (
        f'Could not find endpoint configuration "{arn}:endpoint-config/nope".'
    )
    error = error_of(sagemaker.describe_endpoint, EndpointName="nope")
    assert (error["Code"], error["Message"]) == ("ValidationException", f'Could not find endpoint "{arn}:endpoint/nope".')
    assert error_of(sagemaker.delete_endpoint, EndpointName="nope")["Code"] == "ValidationException"
    assert error_of(sagemaker.stop_training_job, TrainingJobName="nope")["Code"] == "ValidationException"
    error = error_of(
        sagemaker.create_endpoint_config, EndpointConfigName=unique("config"),
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "missing-model", "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
    )
    assert error["Message"] == f'Could not find model "{arn}:model/missing-model".'
    assert error_of(sagemaker.create_endpoint, EndpointName=unique("e"), EndpointConfigName="missing")["Code"] == (
        "ValidationException"
    )


def test_duplicate_names(emulator, mnist_subset):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    job, description = train_kmeans(sagemaker, s3, mnist_subset[0][:200], k=3)
    request = {
        "TrainingJobName": job,
        "AlgorithmSpecification": description["AlgorithmSpecification"],
        "RoleArn": description["RoleArn"],
        "InputDataConfig": description["InputDataConfig"],
        "OutputDataConfig": description["OutputDataConfig"],
        "ResourceConfig": description["ResourceConfig"],
        "StoppingCondition": description["StoppingCondition"],
        "HyperParameters": description["HyperParameters"],
    }
    request["AlgorithmSpecification"].pop("MetricDefinitions", None)
    error = error_of(sagemaker.create_training_job, **request)
    assert error["Code"] == "ResourceInUse"
    # Models, endpoint configurations and endpoints answer a duplicate with AWS's ValidationException,
    # which the SageMaker SDK recognises by its text.
    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])
    error = error_of(
        sagemaker.create_model, ModelName=endpoint, ExecutionRoleArn=description["RoleArn"],
        PrimaryContainer={"Image": "kmeans:1"},
    )
    assert error["Code"] == "ValidationException" and error["Message"].startswith("Cannot create already existing model")
    error = error_of(sagemaker.create_endpoint, EndpointName=endpoint, EndpointConfigName=endpoint)
    assert error["Message"].startswith("Cannot create already existing endpoint")
    # Nothing was lost: the original job and endpoint are intact.
    assert sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Completed"
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_invoke_errors(emulator, mnist_subset):
    sagemaker, s3, runtime = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("sagemaker-runtime")
    error = error_of(runtime.invoke_endpoint, EndpointName="no-such-endpoint", ContentType="text/csv", Body=b"1,2")
    assert (error["Code"], error["Status"]) == ("ValidationError", 400)
    assert error["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."

    _, description = train_kmeans(sagemaker, s3, mnist_subset[0][:300], k=3)
    endpoint = deploy(sagemaker, description["ModelArtifacts"]["S3ModelArtifacts"])
    for body, content_type in (
        (b"1,2,3", "text/csv"),  # wrong feature count
        (b"\x00\xff garbage \x10", "application/x-recordio-protobuf"),
        (b"{not json", "application/json"),
    ):
        error = error_of(runtime.invoke_endpoint, EndpointName=endpoint, ContentType=content_type, Body=body)
        assert (error["Code"], error["Status"]) == ("ModelError", 424), error
        assert error["Response"]["OriginalStatusCode"] == 400
        assert error["Message"].startswith("Received client error (400) from AllTraffic with message")
    # The endpoint still serves after bad requests.
    row = ",".join("0" for _ in range(784))
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=row)
    assert len(json.loads(answer["Body"].read())["predictions"]) == 1
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_endpoint_with_missing_model_data_fails(emulator):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    bucket = make_bucket(s3)
    endpoint = deploy(sagemaker, f"s3://{bucket}/missing/model.tar.gz", wait=False)
    with pytest.raises(Exception):
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    description = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert description["EndpointStatus"] == "Failed"
    assert description["FailureReason"].startswith("Failed to download model data")


def test_unimplemented_operation_is_named(emulator):
    sagemaker = emulator.client("sagemaker")
    error = error_of(sagemaker.list_notebook_instances)
    assert error["Status"] == 501
    assert "ListNotebookInstances" in error["Message"]
