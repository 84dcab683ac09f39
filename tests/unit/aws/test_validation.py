"""Server-side validation, worded the way AWS words it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sagemaker_emulator.aws import specs
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.aws.validation import compile_pattern, validate
from tests.unit.aws.harness import make_client, serve_in_process

VALID_JOB = {
    "TrainingJobName": "job-1",
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def errors_of(service: str, operation: str, params: dict) -> AwsError | None:
    try:
        validate(service, specs.operation_model(service, operation), params)
    except AwsError as error:
        return error
    return None


def test_valid_params_pass():
    assert errors_of("sagemaker", "CreateTrainingJob", VALID_JOB) is None


def test_missing_required_member():
    params = dict(VALID_JOB)
    del params["TrainingJobName"]
    error = errors_of("sagemaker", "CreateTrainingJob", params)
    assert error.code == "ValidationException" and error.status == 400
    assert error.message == (
        "1 validation error detected: Value null at 'trainingJobName' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_several_errors_with_nested_paths():
    params = dict(VALID_JOB, ResourceConfig={"InstanceType": "ml.nope", "InstanceCount": 1, "VolumeSizeInGB": 10},
                  StoppingCondition={"MaxRuntimeInSeconds": 0})
    error = errors_of("sagemaker", "CreateTrainingJob", params)
    assert error.message.startswith("2 validation errors detected: ")
    problems = error.message[len("2 validation errors detected: "):].split("; ")
    assert problems[0].startswith(
        "Value 'ml.nope' at 'resourceConfig.instanceType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [")
    assert "ml.m5.large" in problems[0]
    assert problems[1] == (
        "Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")


def test_pattern_and_length():
    error = errors_of("sagemaker", "CreateTrainingJob", dict(VALID_JOB, TrainingJobName="bad_name"))
    assert error.message == (
        "1 validation error detected: Value 'bad_name' at 'trainingJobName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
    error = errors_of("sagemaker", "CreateTrainingJob", dict(VALID_JOB, TrainingJobName="a" * 64))
    assert "Member must have length less than or equal to 63" in error.message


def test_list_items_and_map_values():
    params = dict(VALID_JOB, VpcConfig={"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1", "bad subnet!"]},
                  HyperParameters={"k": "x" * 2501})
    error = errors_of("sagemaker", "CreateTrainingJob", params)
    assert "at 'vpcConfig.subnets.2.member' failed to satisfy constraint: Member must satisfy regular " \
           "expression pattern: [-0-9a-zA-Z]+" in error.message
    assert "at 'hyperParameters' failed to satisfy constraint: Map value must satisfy constraint: " \
           "[Member must have length less than or equal to 2500" in error.message
    error = errors_of("sagemaker", "CreateTrainingJob", dict(VALID_JOB, Tags=[{"Key": "k"}]))
    assert "Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null" in error.message


def test_error_codes_per_service():
    assert errors_of("logs", "GetLogEvents", {"logGroupName": "g"}).code == "InvalidParameterException"
    assert errors_of("logs", "GetLogEvents", {"logGroupName": "g"}).message == (
        "1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: "
        "Member must not be null")
    assert errors_of("iam", "GetRole", {"RoleName": "bad role"}).code == "ValidationError"
    assert errors_of("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::1:role/x", "RoleSessionName": "s",
                                           "DurationSeconds": 1}).code == "ValidationError"
    error = errors_of("sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "ep_1", "Body": b""})
    assert error.code == "ValidationError"
    assert "at 'endpointName'" in error.message
    assert errors_of("s3", "PutObject", {"Bucket": "x", "Key": ""}) is None  # S3 is left to its handlers
    assert errors_of("s3", "DeleteObjects", {"Bucket": "x"}).code == "MalformedXML"


def test_java_patterns_translate():
    assert compile_pattern(r"\A\S[\p{Print}]*\z").fullmatch("a b") is not None
    assert compile_pattern(r"\A\S[\p{Print}]*\z").fullmatch(" a") is None
    assert compile_pattern(r"\p{ASCII}*").fullmatch("é") is None
    assert compile_pattern(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$").fullmatch("Équipe ML 1") is not None
    assert compile_pattern(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*").fullmatch("ok\U0001F600")


@pytest.mark.parametrize("service", specs.SERVICES)
def test_every_model_pattern_compiles(service):
    model = specs.service_model(service)
    broken = [
        model.shape_for(name).metadata["pattern"]
        for name in model.shape_names
        if "pattern" in model.shape_for(name).metadata
        and compile_pattern(model.shape_for(name).metadata["pattern"]) is None
    ]
    assert broken == []


def test_validation_error_reaches_the_client(registry):
    client = serve_in_process(make_client("sagemaker", parameter_validation=False))
    with pytest.raises(ClientError) as info:
        client.describe_training_job(TrainingJobName="no_underscores")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'trainingJobName'" in info.value.response["Error"]["Message"]
