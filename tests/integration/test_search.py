"""Search, and the List* operations' filtering, through boto3 against a real server.

A module fixture trains five tiny k-means jobs (a few hundred 4-dimensional rows each, so each takes
well under a second) that share a tag unique to this run; every search here filters on that tag,
so jobs other tests create on the shared server never get in the way.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import KMEANS_IMAGE, ROLE
from tests.integration.flows import (
    channel,
    create_kmeans_job,
    deploy,
    make_bucket,
    unique,
    upload_recordio,
    wait_for_job,
)

BATCH_SIZES = (10, 20, 50, 100, 200)


def tag_filter(value: str) -> dict[str, str]:
    return {"Name": "Tags.suite", "Operator": "Equals", "Value": value}


def names_of(response: dict) -> list[str]:
    return [record["TrainingJob"]["TrainingJobName"] for record in response["Results"]]


def error_of(call, **kwargs) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]


@pytest.fixture(scope="module")
def suite(emulator):
    """Five completed k-means jobs tagged ``suite=<marker>``: one per mini_batch_size, each on its
    own data; the last one also reads a ``test`` channel and carries an extra tag."""
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    marker = unique("search")
    bucket = make_bucket(s3)
    rng = np.random.default_rng(7)
    jobs = []
    for index, batch in enumerate(BATCH_SIZES):
        rows = rng.normal(scale=1.0 + index, size=(300, 4)).astype("float32")
        train = upload_recordio(s3, bucket, f"{marker}/{index}/train/data.pbr", rows)
        channels = [channel(train)]
        if index == len(BATCH_SIZES) - 1:
            test = upload_recordio(s3, bucket, f"{marker}/{index}/test/data.pbr", rows[:50])
            channels.append(channel(test, name="test"))
        name = f"{marker}-{index}"
        create_kmeans_job(sagemaker, name, bucket, channels,
                          {"k": "3", "feature_dim": "4", "mini_batch_size": str(batch)})
        tags = [{"Key": "suite", "Value": marker}, {"Key": "rank", "Value": f"r{len(BATCH_SIZES) - index}"}]
        if index == len(BATCH_SIZES) - 1:
            tags.append({"Key": "extra", "Value": "yes"})
        sagemaker.add_tags(ResourceArn=sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobArn"],
                           Tags=tags)
        jobs.append(name)
    descriptions = {name: wait_for_job(sagemaker, name) for name in jobs}
    for description in descriptions.values():
        assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return {"marker": marker, "bucket": bucket, "jobs": jobs, "descriptions": descriptions}


def metric(description: dict, name: str = "train:msd") -> float:
    return next(m["Value"] for m in description["FinalMetricDataList"] if m["MetricName"] == name)


def search_jobs(sagemaker, marker: str, *filters, **kwargs) -> dict:
    return sagemaker.search(
        Resource="TrainingJob",
        SearchExpression={"Filters": [tag_filter(marker), *filters]},
        MaxResults=kwargs.pop("MaxResults", 100),
        **kwargs,
    )


def test_tag_filter_and_metric_sort(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    by_metric = sorted(suite["jobs"], key=lambda name: metric(suite["descriptions"][name]))
    ascending = search_jobs(sagemaker, suite["marker"], SortBy="Metrics.train:msd", SortOrder="Ascending")
    assert names_of(ascending) == by_metric
    assert ascending["TotalHits"] == {"Value": 5, "Relation": "EqualTo"}
    descending = search_jobs(sagemaker, suite["marker"], SortBy="Metrics.train:msd", SortOrder="Descending")
    assert names_of(descending) == list(reversed(by_metric))
    # the default order: LastModifiedTime, Descending
    default = search_jobs(sagemaker, suite["marker"])
    by_modified = sorted(suite["jobs"], key=lambda name: suite["descriptions"][name]["LastModifiedTime"], reverse=True)
    assert names_of(default) == by_modified


def test_records_are_full_descriptions_with_tags(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    name = suite["jobs"][0]
    record = search_jobs(sagemaker, suite["marker"], {"Name": "TrainingJobName", "Operator": "Equals", "Value": name})
    (job,) = [result["TrainingJob"] for result in record["Results"]]
    description = sagemaker.describe_training_job(TrainingJobName=name)
    description.pop("ResponseMetadata")
    for key, value in description.items():
        if key in job:
            assert job[key] == value, key
    for key in ("FinalMetricDataList", "ModelArtifacts", "HyperParameters", "InputDataConfig",
                "SecondaryStatusTransitions", "AlgorithmSpecification", "TrainingJobStatus"):
        assert key in job
    assert {"Key": "suite", "Value": suite["marker"]} in job["Tags"]
    assert {"Key": "rank", "Value": "r5"} in job["Tags"]


def test_sort_by_tag(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    response = search_jobs(sagemaker, suite["marker"], SortBy="Tags.rank", SortOrder="Ascending")
    assert names_of(response) == list(reversed(suite["jobs"]))  # r1 ... r5
    # jobs without the sort property come last, in either order
    response = search_jobs(sagemaker, suite["marker"], SortBy="Tags.extra", SortOrder="Descending")
    assert names_of(response)[0] == suite["jobs"][-1]
    assert len(names_of(response)) == 5


@pytest.mark.parametrize(
    "operator, value, expected",
    [
        ("Equals", "50", [2]),
        ("NotEquals", "50", [0, 1, 3, 4]),
        ("GreaterThan", "50", [3, 4]),
        ("GreaterThanOrEqualTo", "50", [2, 3, 4]),
        ("LessThan", "50", [0, 1]),
        ("LessThanOrEqualTo", "50", [0, 1, 2]),
        ("In", "10,200, 999", [0, 4]),
    ],
)
def test_hyperparameter_operators(emulator, suite, operator, value, expected):
    sagemaker = emulator.client("sagemaker")
    response = search_jobs(sagemaker, suite["marker"],
                           {"Name": "HyperParameters.mini_batch_size", "Operator": operator, "Value": value},
                           SortBy="TrainingJobName", SortOrder="Ascending")
    assert names_of(response) == [suite["jobs"][index] for index in expected]


def test_metric_comparisons(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    values = {name: metric(suite["descriptions"][name]) for name in suite["jobs"]}
    middle = sorted(values.values())[2]
    for operator, keep in [
        ("GreaterThan", lambda v: v > middle), ("GreaterThanOrEqualTo", lambda v: v >= middle),
        ("LessThan", lambda v: v < middle), ("LessThanOrEqualTo", lambda v: v <= middle),
        ("Equals", lambda v: v == middle), ("NotEquals", lambda v: v != middle),
    ]:
        response = search_jobs(sagemaker, suite["marker"],
                               {"Name": "Metrics.train:msd", "Operator": operator, "Value": repr(middle)},
                               SortBy="TrainingJobName", SortOrder="Ascending")
        assert names_of(response) == sorted(name for name, v in values.items() if keep(v)), operator


def test_text_exists_and_time_operators(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    jobs = suite["jobs"]

    def found(*filters):
        return sorted(names_of(search_jobs(sagemaker, suite["marker"], *filters)))

    assert found({"Name": "TrainingJobName", "Operator": "Contains", "Value": f"{suite['marker']}-3"}) == [jobs[3]]
    assert found({"Name": "TrainingJobName", "Operator": "In", "Value": f"{jobs[1]},{jobs[2]}"}) == jobs[1:3]
    assert found({"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "Completed"}) == jobs
    assert found({"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "completed"}) == []  # case-sensitive
    assert found({"Name": "Tags.extra", "Operator": "Exists"}) == [jobs[4]]
    assert found({"Name": "Tags.extra", "Operator": "NotExists"}) == jobs[:4]
    assert found({"Name": "Tags.extra"}) == [jobs[4]]  # no Operator, no Value: Exists
    assert found({"Name": "Tags.extra", "Value": "yes"}) == [jobs[4]]  # no Operator: Equals
    assert found({"Name": "FailureReason", "Operator": "NotExists"}) == jobs
    assert found({"Name": "AlgorithmSpecification.TrainingImage", "Operator": "Equals", "Value": KMEANS_IMAGE}) == jobs
    assert found({"Name": "EnableNetworkIsolation", "Operator": "Equals", "Value": "false"}) == jobs
    assert found({"Name": "RoleArn", "Operator": "Equals", "Value": ROLE}) == jobs

    created = sorted(suite["descriptions"][name]["CreationTime"] for name in jobs)
    between_1_2 = created[1] + (created[2] - created[1]) / 2
    iso = between_1_2.astimezone(timezone.utc).replace(tzinfo=None).isoformat()  # naive: UTC
    assert found({"Name": "CreationTime", "Operator": "GreaterThanOrEqualTo", "Value": iso}) == jobs[2:]
    between_2_3 = created[2] + (created[3] - created[2]) / 2
    assert found({"Name": "CreationTime", "Operator": "LessThan", "Value": str(between_2_3.timestamp())}) == jobs[:3]
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert found({"Name": "TrainingEndTime", "Operator": "LessThan", "Value": later}) == jobs
    assert found({"Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": later}) == []


def test_nested_filters_match_within_one_element(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    marker, jobs = suite["marker"], suite["jobs"]

    def nested(*filters):
        return sagemaker.search(Resource="TrainingJob", SearchExpression={
            "Filters": [tag_filter(marker)],
            "NestedFilters": [{"NestedPropertyName": "InputDataConfig", "Filters": list(filters)}],
        })

    test_channel = {"Name": "InputDataConfig.ChannelName", "Operator": "Equals", "Value": "test"}
    under_train = {"Name": "InputDataConfig.DataSource.S3DataSource.S3Uri", "Operator": "Contains", "Value": "/train/"}
    under_test = {"Name": "InputDataConfig.DataSource.S3DataSource.S3Uri", "Operator": "Contains", "Value": "/test/"}
    assert names_of(nested(test_channel, under_test)) == [jobs[4]]
    # both hold for the job, but never in the same channel
    assert names_of(nested(test_channel, under_train)) == []
    # as plain filters they are checked one by one, each on any channel
    plain = sagemaker.search(Resource="TrainingJob", SearchExpression={
        "Filters": [tag_filter(marker), test_channel, under_train]})
    assert names_of(plain) == [jobs[4]]
    # a plain filter through a list matches any element
    uri = f"s3://{suite['bucket']}/{marker}/2/train/data.pbr"
    exact = sagemaker.search(Resource="TrainingJob", SearchExpression={"Filters": [
        tag_filter(marker), {"Name": "InputDataConfig.DataSource.S3DataSource.S3Uri", "Operator": "Equals",
                             "Value": uri}]})
    assert names_of(exact) == [jobs[2]]


def test_subexpressions_and_or(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    marker, jobs = suite["marker"], suite["jobs"]

    def batch(operator, value):
        return {"Name": "HyperParameters.mini_batch_size", "Operator": operator, "Value": value}

    either = sagemaker.search(
        Resource="TrainingJob", SortBy="TrainingJobName", SortOrder="Ascending",
        SearchExpression={"Filters": [tag_filter(marker)], "SubExpressions": [
            {"Operator": "Or", "Filters": [batch("Equals", "10"), batch("GreaterThan", "100")]}]},
    )
    assert names_of(either) == [jobs[0], jobs[4]]
    nested = sagemaker.search(
        Resource="TrainingJob", SortBy="TrainingJobName", SortOrder="Ascending",
        SearchExpression={"Operator": "And", "Filters": [tag_filter(marker)], "SubExpressions": [
            {"Operator": "Or", "SubExpressions": [
                {"Filters": [batch("GreaterThanOrEqualTo", "20"), batch("LessThanOrEqualTo", "50")]},
                {"Filters": [{"Name": "Tags.extra", "Operator": "Exists"}]},
            ]}]},
    )
    assert names_of(nested) == [jobs[1], jobs[2], jobs[4]]
    # a top-level Or: tag OR name
    top_or = sagemaker.search(Resource="TrainingJob", SearchExpression={"Operator": "Or", "Filters": [
        {"Name": "TrainingJobName", "Operator": "Equals", "Value": jobs[0]},
        {"Name": "TrainingJobName", "Operator": "Equals", "Value": jobs[3]},
    ]}, SortBy="TrainingJobName", SortOrder="Ascending")
    assert names_of(top_or) == [jobs[0], jobs[3]]


def test_paginator_pages_through_every_result(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    arguments = {"Resource": "TrainingJob", "SearchExpression": {"Filters": [tag_filter(suite["marker"])]},
                 "SortBy": "Metrics.train:msd", "SortOrder": "Ascending"}
    pages = list(sagemaker.get_paginator("search").paginate(**arguments, PaginationConfig={"PageSize": 2}))
    assert [len(page["Results"]) for page in pages] == [2, 2, 1]
    assert "NextToken" in pages[0] and "NextToken" not in pages[-1]
    paged = [record["TrainingJob"]["TrainingJobName"] for page in pages for record in page["Results"]]
    assert paged == names_of(sagemaker.search(**arguments, MaxResults=100))
    # a token belongs to its search
    other = dict(arguments, SortOrder="Descending")
    error = error_of(sagemaker.search, **other, NextToken=pages[0]["NextToken"])
    assert error["Code"] == "ValidationException" and "pagination token" in error["Message"]


def test_tags_and_status_changes_show_at_once(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    marker, job = suite["marker"], suite["jobs"][1]
    job_arn = suite["descriptions"][job]["TrainingJobArn"]
    probe = {"Name": "Tags.probe", "Operator": "Equals", "Value": "on"}
    assert names_of(search_jobs(sagemaker, marker, probe)) == []
    sagemaker.add_tags(ResourceArn=job_arn, Tags=[{"Key": "probe", "Value": "on"}])
    assert names_of(search_jobs(sagemaker, marker, probe)) == [job]
    sagemaker.delete_tags(ResourceArn=job_arn, TagKeys=["probe"])
    assert names_of(search_jobs(sagemaker, marker, probe)) == []


def test_running_job_is_found_by_its_current_status(emulator, suite):
    sagemaker, s3 = emulator.client("sagemaker"), emulator.client("s3")
    rows = np.random.default_rng(3).normal(size=(200, 4)).astype("float32")
    uri = upload_recordio(s3, suite["bucket"], "running/data.pbr", rows)
    name = unique("search-running")
    create_kmeans_job(sagemaker, name, suite["bucket"], [channel(uri)],
                      {"k": "2", "feature_dim": "4", "mini_batch_size": "10", "epochs": "1000000"})
    by_name = {"Name": "TrainingJobName", "Operator": "Equals", "Value": name}

    def status() -> str | None:
        results = sagemaker.search(Resource="TrainingJob", SearchExpression={"Filters": [by_name]})["Results"]
        return results[0]["TrainingJob"]["TrainingJobStatus"] if results else None

    assert status() == "InProgress"
    sagemaker.stop_training_job(TrainingJobName=name)
    wait_for_job(sagemaker, name)
    deadline = time.monotonic() + 30
    while status() != "Stopped" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status() == "Stopped"


# --------------------------------------------------------------------------- invalid searches


def _bad_search(emulator, **kwargs) -> dict[str, str]:
    # client-side checks off, so that what botocore would refuse reaches the server
    sagemaker = emulator.client("sagemaker", parameter_validation=False)
    error = error_of(sagemaker.search, **{"Resource": "TrainingJob", **kwargs})
    assert error["Code"] == "ValidationException", error
    return error


def _expression(*filters) -> dict:
    return {"Filters": list(filters)}


def _filter(name, operator=None, value=None) -> dict:
    return {key: item for key, item in (("Name", name), ("Operator", operator), ("Value", value)) if item is not None}


def _nest(depth: int) -> dict:
    expression = _expression(_filter("TrainingJobName", "Equals", "x"))
    for _ in range(depth):
        expression = {"SubExpressions": [expression]}
    return expression


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"SearchExpression": _expression(_filter("TrainingJobName", "Like", "x"))},
         "failed to satisfy constraint: Member must satisfy enum value set"),
        ({"SearchExpression": _expression(_filter("NoSuchProperty", "Equals", "x"))},
         '"NoSuchProperty" is not a valid property name for resource type TrainingJob'),
        ({"SearchExpression": _expression(_filter("ResourceConfig.Nope", "Equals", "x"))},
         "is not a valid property name"),
        ({"SearchExpression": _expression(_filter("TrainingJobName.More", "Equals", "x"))},
         "is not a valid property name"),
        ({"SearchExpression": _expression(_filter("Metrics.train:msd", "GreaterThan", "high"))},
         "must be an integer or a floating-point decimal"),
        ({"SearchExpression": _expression(_filter("CreationTime", "GreaterThan", "yesterday"))},
         "must be a timestamp"),
        ({"SearchExpression": _expression(_filter("TrainingJobName", "GreaterThan", "a"))},
         "Operator GreaterThan is not supported for the text property"),
        ({"SearchExpression": _expression(_filter("Metrics.train:msd", "In", "1,2"))},
         "Operator In is only supported for text properties"),
        ({"SearchExpression": _expression(_filter("TrainingJobName", "Contains", "a"),
                                          _filter("RoleArn", "Contains", "b"))},
         "'CONTAINS' operator usage limit of 1 exceeded."),
        ({"SearchExpression": _expression(_filter("TrainingJobName", "Equals"))}, "needs a Value"),
        ({"SearchExpression": _expression(_filter("ResourceConfig", "Equals", "x"))}, "not a single-valued property"),
        ({"SearchExpression": {"Filters": []}}, "Member must have length greater than or equal to 1"),
        ({"SearchExpression": {}}, "must contain at least one of Filters, NestedFilters or SubExpressions"),
        ({"SearchExpression": _nest(60)}, "at most 50"),
        ({"SearchExpression": {"NestedFilters": [{
            "NestedPropertyName": "ResourceConfig",
            "Filters": [_filter("ResourceConfig.InstanceCount", "Equals", "1")]}]}},
         'NestedPropertyName "ResourceConfig" is not a list property'),
        ({"SearchExpression": {"NestedFilters": [{"NestedPropertyName": "InputDataConfig",
                                                  "Filters": [_filter("TrainingJobName", "Equals", "x")]}]}},
         'must name a property of "InputDataConfig" elements'),
        ({"SortBy": "NoSuchProperty"}, "is not a valid property name"),
        ({"SortBy": "InputDataConfig"}, "Cannot sort by"),
        ({"NextToken": "not-a-token"}, "Invalid pagination token"),
        ({"MaxResults": 101}, "Member must have value less than or equal to 100"),
        ({"Resource": "EndpointConfig"}, "Value 'EndpointConfig' at 'resource' failed to satisfy constraint"),
        ({"Resource": "Experiment"}, "Search on Experiment resources is not supported by sagemaker-emulator"),
    ],
)
def test_invalid_searches_are_validation_exceptions(emulator, kwargs, message):
    assert message in _bad_search(emulator, **kwargs)["Message"]


# --------------------------------------------------------------------------- models, endpoints, lineage


@pytest.fixture(scope="module")
def deployed(emulator, suite):
    sagemaker = emulator.client("sagemaker")
    producer = suite["jobs"][3]
    artifact = suite["descriptions"][producer]["ModelArtifacts"]["S3ModelArtifacts"]
    endpoint = deploy(sagemaker, artifact)
    for resource_arn in (sagemaker.describe_model(ModelName=endpoint)["ModelArn"],
                         sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"]):
        sagemaker.add_tags(ResourceArn=resource_arn, Tags=[{"Key": "suite", "Value": suite["marker"]}])
    yield {"endpoint": endpoint, "producer": producer}
    sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.delete_endpoint_config(EndpointConfigName=endpoint)
    sagemaker.delete_model(ModelName=endpoint)


def test_lineage_walk_from_endpoint_to_training_job(emulator, deployed):
    sagemaker = emulator.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=deployed["endpoint"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    artifact = model["PrimaryContainer"]["ModelDataUrl"]
    found = sagemaker.search(Resource="TrainingJob", SearchExpression={"Filters": [
        {"Name": "ModelArtifacts.S3ModelArtifacts", "Operator": "Equals", "Value": artifact}]})
    assert names_of(found) == [deployed["producer"]]
    assert found["Results"][0]["TrainingJob"]["ModelArtifacts"]["S3ModelArtifacts"] == artifact


def test_search_endpoints(emulator, suite, deployed):
    sagemaker = emulator.client("sagemaker")
    name = deployed["endpoint"]
    response = sagemaker.search(Resource="Endpoint", SearchExpression={"Filters": [
        tag_filter(suite["marker"]), {"Name": "EndpointStatus", "Operator": "Equals", "Value": "InService"}]})
    (record,) = response["Results"]
    assert record["Endpoint"]["EndpointName"] == name
    assert record["Endpoint"]["EndpointConfigName"] == name
    assert record["Endpoint"]["Tags"] == [{"Key": "suite", "Value": suite["marker"]}]
    assert record["Endpoint"]["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert "_Config" not in record["Endpoint"]
    by_variant = sagemaker.search(Resource="Endpoint", SearchExpression={"Filters": [
        {"Name": "ProductionVariants.VariantName", "Operator": "Equals", "Value": "AllTraffic"},
        {"Name": "EndpointName", "Operator": "Equals", "Value": name}]})
    assert len(by_variant["Results"]) == 1
    error = error_of(emulator.client("sagemaker").search, Resource="Endpoint",
                     SearchExpression={"Filters": [{"Name": "Metrics.x", "Operator": "Equals", "Value": "1"}]})
    assert "is not a valid property name for resource type Endpoint" in error["Message"]


def test_search_models_joins_their_endpoints(emulator, suite, deployed):
    sagemaker = emulator.client("sagemaker")
    name = deployed["endpoint"]
    response = sagemaker.search(Resource="Model", SearchExpression={"Filters": [
        {"Name": "Model.ModelName", "Operator": "Equals", "Value": name}]})
    (record,) = response["Results"]
    model = record["Model"]["Model"]
    assert model["ModelName"] == name
    assert model["PrimaryContainer"]["Image"] == KMEANS_IMAGE
    assert model["Tags"] == [{"Key": "suite", "Value": suite["marker"]}]
    assert [endpoint["EndpointName"] for endpoint in record["Model"]["Endpoints"]] == [name]
    assert record["Model"]["Endpoints"][0]["EndpointStatus"] == "InService"
    by_tag_and_endpoint = sagemaker.search(Resource="Model", SearchExpression={"Filters": [
        {"Name": "Model.Tags.suite", "Operator": "Equals", "Value": suite["marker"]},
        {"Name": "Endpoints.EndpointStatus", "Operator": "Equals", "Value": "InService"}]})
    assert [r["Model"]["Model"]["ModelName"] for r in by_tag_and_endpoint["Results"]] == [name]


# --------------------------------------------------------------------------- durability


def test_search_after_restart(fresh_emulator, tmp_path):
    data_dir = tmp_path / "durable"
    server = fresh_emulator(data_dir=data_dir)
    sagemaker = server.client("sagemaker")
    for index in range(3):
        sagemaker.create_model(ModelName=f"kept-{index}", ExecutionRoleArn=ROLE,
                               PrimaryContainer={"Image": KMEANS_IMAGE, "ModelDataUrl": f"s3://b/m{index}.tar.gz"},
                               Tags=[{"Key": "team", "Value": "a" if index < 2 else "b"}])
    query = {"Resource": "Model", "SearchExpression": {"Filters": [
        {"Name": "Model.Tags.team", "Operator": "Equals", "Value": "a"}]},
        "SortBy": "Model.ModelName", "SortOrder": "Ascending"}
    before = [r["Model"]["Model"]["ModelName"] for r in sagemaker.search(**query)["Results"]]
    assert before == ["kept-0", "kept-1"]
    sagemaker.delete_model(ModelName="kept-0")
    server.stop()
    again = fresh_emulator(data_dir=data_dir).client("sagemaker")
    assert [r["Model"]["Model"]["ModelName"] for r in again.search(**query)["Results"]] == ["kept-1"]


# --------------------------------------------------------------------------- List* semantics


def test_list_operations_defaults_and_time_bounds(emulator):
    sagemaker = emulator.client("sagemaker")
    marker = unique("listing")
    names = [f"{marker}-{index}" for index in range(3)]
    for name in names:
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                               PrimaryContainer={"Image": KMEANS_IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"})
        time.sleep(0.01)
    listed = sagemaker.list_models(NameContains=marker)["Models"]
    assert [model["ModelName"] for model in listed] == list(reversed(names))  # default: CreationTime, Descending
    created = [model["CreationTime"] for model in reversed(listed)]
    # ListModels documents CreationTimeAfter as "greater than or equal to"
    after = sagemaker.list_models(NameContains=marker, CreationTimeAfter=created[1])["Models"]
    assert [model["ModelName"] for model in after] == [names[2], names[1]]
    before = sagemaker.list_models(NameContains=marker, CreationTimeBefore=created[1])["Models"]
    assert [model["ModelName"] for model in before] == [names[0]]
    upper = sagemaker.list_models(NameContains=marker.upper(), SortBy="Name", SortOrder="Ascending")["Models"]
    assert [model["ModelName"] for model in upper] == names  # NameContains ignores case, as names do
    paged = [model["ModelName"] for page in sagemaker.get_paginator("list_models").paginate(
        NameContains=marker, PaginationConfig={"PageSize": 2}) for model in page["Models"]]
    assert paged == list(reversed(names))
    for name in names:
        sagemaker.delete_model(ModelName=name)


def test_list_training_jobs_status_filter_applies_after_max_results(emulator, suite):
    """ListTrainingJobs documents that with StatusEquals and MaxResults, MaxResults jobs are taken
    first (any status) and then filtered by status."""
    sagemaker = emulator.client("sagemaker")
    marker, jobs = suite["marker"], suite["jobs"]
    listed = sagemaker.list_training_jobs(NameContains=marker)["TrainingJobSummaries"]
    assert [job["TrainingJobName"] for job in listed] == jobs  # default: CreationTime, Ascending
    page = sagemaker.list_training_jobs(NameContains=marker, StatusEquals="Completed", MaxResults=2)
    assert [job["TrainingJobName"] for job in page["TrainingJobSummaries"]] == jobs[:2]
    assert sagemaker.list_training_jobs(NameContains=marker, StatusEquals="Failed", MaxResults=2) \
        ["TrainingJobSummaries"] == []
    assert "NextToken" in sagemaker.list_training_jobs(NameContains=marker, StatusEquals="Failed", MaxResults=2)
    everything = [job["TrainingJobName"] for page in sagemaker.get_paginator("list_training_jobs").paginate(
        NameContains=marker, StatusEquals="Completed", PaginationConfig={"PageSize": 2})
        for job in page["TrainingJobSummaries"]]
    assert everything == jobs
    newest = sagemaker.list_training_jobs(NameContains=marker, SortBy="CreationTime", SortOrder="Descending",
                                          CreationTimeAfter=suite["descriptions"][jobs[2]]["CreationTime"])
    assert [job["TrainingJobName"] for job in newest["TrainingJobSummaries"]] == [jobs[4], jobs[3]]  # strictly after
