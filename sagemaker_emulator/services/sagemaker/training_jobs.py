"""Training-job operations: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs, StopTrainingJob."""

from __future__ import annotations

from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import AwsError, validation_exception
from sagemaker_emulator.services.sagemaker import channels
from sagemaker_emulator.services.sagemaker.builtin_algorithms import algorithm_for_image
from sagemaker_emulator.services.sagemaker.common import arn, list_page, list_result, pick
from sagemaker_emulator.services.sagemaker.holding import describe_when_settled
from sagemaker_emulator.services.sagemaker.store import public, utcnow
from sagemaker_emulator.services.sagemaker.training import KIND, record_transition

# Request members that DescribeTrainingJob echoes back unchanged.
ECHOED_MEMBERS = (
    "HyperParameters",
    "RoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ExperimentConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
)


def _services(ctx: RequestContext):
    return ctx.emulator.resources, ctx.emulator.training


def not_found() -> AwsError:
    return validation_exception("Requested resource not found.")


@operation("sagemaker", "CreateTrainingJob")
def create_training_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store, training = _services(ctx)
    name = params["TrainingJobName"]
    job_arn = arn(ctx, "training-job", name)
    document = _new_document(ctx, params, job_arn)
    if not store.insert(KIND, name, job_arn, document, status="InProgress"):
        raise AwsError(
            "ResourceInUse",
            "Training job names must be unique within an AWS account and region, and a training job with "
            f"this name already exists ({job_arn})",
        )
    if params.get("Tags"):
        store.add_tags(job_arn, params["Tags"])
    training.submit(name)
    return {"TrainingJobArn": job_arn}


def _new_document(ctx: RequestContext, params: dict[str, Any], job_arn: str) -> dict[str, Any]:
    specification = params.get("AlgorithmSpecification")
    if not specification:
        raise validation_exception("AlgorithmSpecification is required to create a training job.")
    if not specification.get("TrainingImage"):
        raise validation_exception(
            "AlgorithmSpecification.TrainingImage is required: sagemaker-emulator does not support "
            "AlgorithmName (algorithm resources and AWS Marketplace algorithms)."
        )
    resources = params.get("ResourceConfig")
    if not resources or not resources.get("InstanceCount") or not resources.get("InstanceType"):
        raise validation_exception(
            "ResourceConfig with InstanceType and InstanceCount is required to create a training job."
        )
    channel_list = params.get("InputDataConfig") or []
    names = [channel["ChannelName"] for channel in channel_list]
    if len(set(names)) != len(names):
        raise validation_exception("Channel names must be unique within InputDataConfig.")
    output = dict(params["OutputDataConfig"])
    try:
        channels.parse_s3_uri(output.get("S3OutputPath", ""))
    except ValueError:
        raise validation_exception(
            f"Invalid S3 output path: {output.get('S3OutputPath')!r}; expected s3://bucket/prefix."
        ) from None

    algorithm = algorithm_for_image(specification["TrainingImage"])
    specification = {
        "TrainingInputMode": "File",
        "EnableSageMakerMetricsTimeSeries": False,
        **specification,
    }
    if algorithm is not None:
        specification["MetricDefinitions"] = algorithm.metric_definition_list()

    now = utcnow()
    document: dict[str, Any] = {
        "TrainingJobName": params["TrainingJobName"],
        "TrainingJobArn": job_arn,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "AlgorithmSpecification": specification,
        "InputDataConfig": [_normalized_channel(channel) for channel in channel_list],
        "OutputDataConfig": {"KmsKeyId": "", "CompressionType": "GZIP", **output},
        "ResourceConfig": {"VolumeSizeInGB": 30, **resources},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400, **(params.get("StoppingCondition") or {})},
        "CreationTime": now,
        "LastModifiedTime": now,
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
        "HyperParameters": {},
    }
    document.update(pick(params, *ECHOED_MEMBERS))
    if params.get("ProfilerConfig") and not params["ProfilerConfig"].get("DisableProfiler"):
        document["ProfilingStatus"] = "Disabled"  # accepted, but no profiler runs here
    record_transition(document, "Starting", "Starting the training job")
    return document


def _normalized_channel(channel: dict[str, Any]) -> dict[str, Any]:
    normalized = {"CompressionType": "None", "RecordWrapperType": "None", **channel}
    source = normalized.get("DataSource", {}).get("S3DataSource")
    if source is not None:
        normalized["DataSource"] = {
            **normalized["DataSource"],
            "S3DataSource": {"S3DataDistributionType": "FullyReplicated", **source},
        }
    return normalized


@operation("sagemaker", "DescribeTrainingJob")
async def describe_training_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store, _ = _services(ctx)
    name = params["TrainingJobName"]
    document = await describe_when_settled(
        ctx,
        lambda: store.get(KIND, name),
        lambda doc: doc["TrainingJobStatus"] in ("InProgress", "Stopping"),
    )
    if document is None:
        raise not_found()
    return public(document)


@operation("sagemaker", "ListTrainingJobs")
def list_training_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store, _ = _services(ctx)
    warm_pool = params.get("WarmPoolStatusEquals")
    summaries, next_token = list_page(
        store.documents(KIND),
        params,
        name_key="TrainingJobName",
        status_key="TrainingJobStatus",
        sort_keys={"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"},
        summarize=lambda doc: pick(
            doc, "TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime",
            "LastModifiedTime", "TrainingJobStatus", "SecondaryStatus",
        ),
        default_order="Ascending",
        extra_filter=(lambda doc: False) if warm_pool else None,  # no warm pools here
    )
    return list_result("TrainingJobSummaries", summaries, next_token)


@operation("sagemaker", "StopTrainingJob")
def stop_training_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store, training = _services(ctx)
    name = params["TrainingJobName"]
    rejected: list[str] = []

    def change(document: dict[str, Any]) -> None:
        if document["TrainingJobStatus"] != "InProgress":
            rejected.append(document["TrainingJobStatus"])
            return
        document["TrainingJobStatus"] = "Stopping"
        record_transition(document, "Stopping", "Stopping the training job")

    if store.update(KIND, name, change, status_key="TrainingJobStatus") is None:
        raise not_found()
    if rejected:
        raise validation_exception(
            f"The request was rejected because the training job is in status {rejected[0]}."
        )
    training.request_stop(name)
    return {}
