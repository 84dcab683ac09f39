"""The Search expression evaluator: operators, property types, nesting, sorting, paging, checks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.services.sagemaker.search import Compiler, RESOURCES, resolve_property, search

from .conftest import T0, add_job, arn, training_job


@pytest.fixture
def jobs(store):
    add_job(store, training_job("job-0", 0, hyperparameters={"mini_batch_size": "10", "lr": "0.5"},
                                metrics={"train:msd": 5.0, "test:msd": 6.0}), {"team": "a", "rank": "3"})
    add_job(store, training_job("job-1", 1, status="Failed", hyperparameters={"mini_batch_size": "20", "lr": "0.05"},
                                metrics={"train:msd": 3.0}, FailureReason="ClientError: bad data"), {"team": "a"})
    add_job(store, training_job("job-2", 2, hyperparameters={"mini_batch_size": "50", "lr": "1.5"},
                                metrics={"train:msd": 4.0},
                                channels=[("train", "s3://data/job-2/train/"), ("test", "s3://data/job-2/test/")]),
            {"team": "b", "rank": "1"})
    add_job(store, training_job("job-3", 3, status="InProgress",
                                hyperparameters={"mini_batch_size": "100", "lr": "2.7"}), {"team": "b"})
    add_job(store, training_job("job-4", 4, hyperparameters={"mini_batch_size": "auto"}, metrics={"train:msd": 1.0},
                                EnableNetworkIsolation=True))
    add_job(store, training_job("job-5", 5, hyperparameters={"mini_batch_size": "200.0"}, metrics={"train:msd": 5.0}),
            {"team": "a", "rank": "2"})
    return store


def found(store, *filters, resource="TrainingJob", **params) -> list[str]:
    request = {"Resource": resource, "SortBy": params.pop("SortBy", "TrainingJobName"),
               "SortOrder": params.pop("SortOrder", "Ascending"), "MaxResults": 100, **params}
    if filters:
        request["SearchExpression"] = {"Filters": [_filter(*item) for item in filters]}
    return [record["TrainingJob"]["TrainingJobName"] for record in search(store, request)["Results"]]


def _filter(name, operator=None, value=None) -> dict:
    return {key: item for key, item in (("Name", name), ("Operator", operator), ("Value", value)) if item is not None}


def rejected(store, **request) -> str:
    with pytest.raises(AwsError) as raised:
        search(store, {"Resource": "TrainingJob", **request})
    assert raised.value.code == "ValidationException"
    return raised.value.message


# --------------------------------------------------------------------------- operators and types


def test_tag_filters(jobs):
    assert found(jobs, ("Tags.team", "Equals", "a")) == ["job-0", "job-1", "job-5"]
    assert found(jobs, ("Tags.team", "NotEquals", "a")) == ["job-2", "job-3", "job-4"]  # untagged job-4 too
    assert found(jobs, ("Tags.team", "In", "b, c")) == ["job-2", "job-3"]
    assert found(jobs, ("Tags.team", "Contains", "b")) == ["job-2", "job-3"]
    assert found(jobs, ("Tags.rank", "Exists")) == ["job-0", "job-2", "job-5"]
    assert found(jobs, ("Tags.rank", "NotExists")) == ["job-1", "job-3", "job-4"]
    assert found(jobs, ("Tags.rank", "GreaterThan", "1")) == ["job-0", "job-5"]  # numeric value: numbers
    assert found(jobs, ("Tags.team", "Equals", "A")) == []  # exact, case-sensitive


def test_metric_filters_compare_numbers(jobs):
    assert found(jobs, ("Metrics.train:msd", "GreaterThan", "4")) == ["job-0", "job-5"]
    assert found(jobs, ("Metrics.train:msd", "GreaterThanOrEqualTo", "4")) == ["job-0", "job-2", "job-5"]
    assert found(jobs, ("Metrics.train:msd", "LessThan", "4.0")) == ["job-1", "job-4"]
    assert found(jobs, ("Metrics.train:msd", "LessThanOrEqualTo", "3e0")) == ["job-1", "job-4"]
    assert found(jobs, ("Metrics.train:msd", "Equals", "5")) == ["job-0", "job-5"]
    assert found(jobs, ("Metrics.train:msd", "NotEquals", "5")) == ["job-1", "job-2", "job-3", "job-4"]
    assert found(jobs, ("Metrics.test:msd", "Exists")) == ["job-0"]
    assert found(jobs, ("Metrics.train:msd", "NotExists")) == ["job-3"]
    assert found(jobs, ("Metrics.nothing", "GreaterThan", "0")) == []


def test_hyperparameters_follow_the_documented_numeric_rules(jobs):
    # a decimal Value compares decimals; an integer Value compares the values truncated to integers
    assert found(jobs, ("HyperParameters.lr", "LessThan", "0.5")) == ["job-1"]
    assert found(jobs, ("HyperParameters.lr", "LessThan", "1")) == ["job-0", "job-1"]  # 0.5 and 0.05 -> 0
    assert found(jobs, ("HyperParameters.lr", "GreaterThanOrEqualTo", "2")) == ["job-3"]
    assert found(jobs, ("HyperParameters.lr", "GreaterThanOrEqualTo", "1.5")) == ["job-2", "job-3"]
    assert found(jobs, ("HyperParameters.mini_batch_size", "GreaterThan", "50")) == ["job-3", "job-5"]  # not "auto"
    # Equals: the same text or the same number
    assert found(jobs, ("HyperParameters.mini_batch_size", "Equals", "200")) == ["job-5"]
    assert found(jobs, ("HyperParameters.mini_batch_size", "Equals", "auto")) == ["job-4"]
    assert found(jobs, ("HyperParameters.mini_batch_size", "In", "10,auto")) == ["job-0", "job-4"]
    assert found(jobs, ("HyperParameters.missing", "NotExists")) == [f"job-{i}" for i in range(6)]


def test_text_boolean_and_nested_structure_properties(jobs):
    assert found(jobs, ("TrainingJobStatus", "Equals", "Completed")) == ["job-0", "job-2", "job-4", "job-5"]
    assert found(jobs, ("TrainingJobStatus", "In", "Failed,InProgress")) == ["job-1", "job-3"]
    assert found(jobs, ("TrainingJobName", "Contains", "-4")) == ["job-4"]
    assert found(jobs, ("FailureReason", "Exists")) == ["job-1"]
    assert found(jobs, ("FailureReason",)) == ["job-1"]  # neither Operator nor Value: Exists
    assert found(jobs, ("TrainingJobStatus", None, "Failed")) == ["job-1"]  # Value only: Equals
    assert found(jobs, ("ModelArtifacts.S3ModelArtifacts", "Equals", "s3://out/job-2/output/model.tar.gz")) == ["job-2"]
    assert found(jobs, ("ResourceConfig.InstanceCount", "Equals", "1")) == [f"job-{i}" for i in range(6)]
    assert found(jobs, ("EnableNetworkIsolation", "Equals", "TRUE")) == ["job-4"]
    assert found(jobs, ("EnableNetworkIsolation", "NotEquals", "true")) == ["job-0", "job-1", "job-2", "job-3", "job-5"]
    assert found(jobs, ("ModelArtifacts", "NotExists")) == ["job-1", "job-3"]


def test_timestamps_accept_iso_8601_and_epoch_seconds(jobs):
    at_2 = T0 + timedelta(minutes=2)
    iso = at_2.strftime("%Y-%m-%dT%H:%M:%S")
    assert found(jobs, ("CreationTime", "GreaterThan", iso)) == ["job-3", "job-4", "job-5"]
    assert found(jobs, ("CreationTime", "GreaterThanOrEqualTo", "2026-01-01T12:02:00Z")) == [
        "job-2", "job-3", "job-4", "job-5"]
    assert found(jobs, ("CreationTime", "LessThan", str(int(at_2.timestamp())))) == ["job-0", "job-1"]
    assert found(jobs, ("CreationTime", "Equals", "2026-01-01T13:02:00+01:00")) == ["job-2"]
    assert found(jobs, ("TrainingEndTime", "LessThanOrEqualTo", "2026-01-01T12:00:30")) == ["job-0"]


def test_list_properties_match_any_element_and_nested_filters_one(jobs):
    uri = "InputDataConfig.DataSource.S3DataSource.S3Uri"
    assert found(jobs, ("InputDataConfig.ChannelName", "Equals", "test")) == ["job-2"]
    assert found(jobs, (uri, "Equals", "s3://data/job-2/test/")) == ["job-2"]
    assert found(jobs, ("InputDataConfig.ChannelName", "NotEquals", "test")) == [
        "job-0", "job-1", "job-3", "job-4", "job-5"]

    def nested(*filters) -> list[str]:
        return [r["TrainingJob"]["TrainingJobName"] for r in search(jobs, {
            "Resource": "TrainingJob", "SortBy": "TrainingJobName", "SortOrder": "Ascending",
            "SearchExpression": {"NestedFilters": [{"NestedPropertyName": "InputDataConfig",
                                                    "Filters": [_filter(*f) for f in filters]}]}})["Results"]]

    assert nested(("InputDataConfig.ChannelName", "Equals", "test"), (uri, "Contains", "/test/")) == ["job-2"]
    assert nested(("InputDataConfig.ChannelName", "Equals", "test"), (uri, "Contains", "/train/")) == []
    assert nested(("InputDataConfig.ChannelName", "Equals", "train"), (uri, "Contains", "job-1")) == ["job-1"]
    # nested filters over the tags list and over the metrics list
    assert [r["TrainingJob"]["TrainingJobName"] for r in search(jobs, {
        "Resource": "TrainingJob", "SortBy": "TrainingJobName", "SortOrder": "Ascending",
        "SearchExpression": {"NestedFilters": [
            {"NestedPropertyName": "Tags", "Filters": [_filter("Tags.Key", "Equals", "rank"),
                                                       _filter("Tags.Value", "Equals", "1")]},
            {"NestedPropertyName": "FinalMetricDataList", "Filters": [
                _filter("FinalMetricDataList.MetricName", "Equals", "train:msd"),
                _filter("FinalMetricDataList.Value", "LessThan", "4.5")]},
        ]}})["Results"]] == ["job-2"]


def test_subexpressions_combine_with_and_or(jobs):
    def run(expression) -> list[str]:
        return [r["TrainingJob"]["TrainingJobName"] for r in search(jobs, {
            "Resource": "TrainingJob", "SearchExpression": expression,
            "SortBy": "TrainingJobName", "SortOrder": "Ascending"})["Results"]]

    team_a, team_b = _filter("Tags.team", "Equals", "a"), _filter("Tags.team", "Equals", "b")
    low = _filter("Metrics.train:msd", "LessThan", "4.5")
    assert run({"Operator": "Or", "Filters": [team_b, low]}) == ["job-1", "job-2", "job-3", "job-4"]
    assert run({"Filters": [team_a], "SubExpressions": [{"Filters": [low]}]}) == ["job-1"]
    assert run({"Filters": [low], "SubExpressions": [{"Operator": "Or", "Filters": [team_a, team_b]}]}) == [
        "job-1", "job-2"]
    assert run({"Operator": "Or", "SubExpressions": [{"Filters": [team_a, low]}, {"Filters": [team_b]}]}) == [
        "job-1", "job-2", "job-3"]


# --------------------------------------------------------------------------- sorting and paging


def test_sorting_puts_records_without_the_property_last(jobs):
    assert found(jobs, SortBy="Metrics.train:msd", SortOrder="Ascending") == [
        "job-4", "job-1", "job-2", "job-0", "job-5", "job-3"]  # 5.0 tie by name; job-3 has none
    assert found(jobs, SortBy="Metrics.train:msd", SortOrder="Descending") == [
        "job-5", "job-0", "job-2", "job-1", "job-4", "job-3"]  # tie by name, descending too
    assert found(jobs, SortBy="Tags.rank", SortOrder="Ascending") == [
        "job-2", "job-5", "job-0", "job-1", "job-3", "job-4"]
    assert found(jobs, SortBy="HyperParameters.mini_batch_size", SortOrder="Ascending") == [
        "job-0", "job-1", "job-2", "job-3", "job-5", "job-4"]  # numbers, then text
    assert found(jobs, SortBy="TrainingJobStatus", SortOrder="Descending")[:1] == ["job-3"]  # InProgress
    assert found(jobs, SortBy="InputDataConfig.ChannelName", SortOrder="Descending")[0] == "job-5"  # all "train"
    assert found(jobs, SortBy="InputDataConfig.ChannelName", SortOrder="Ascending")[0] == "job-2"  # "test"


def test_default_sort_is_last_modified_descending(jobs):
    response = search(jobs, {"Resource": "TrainingJob"})
    assert [r["TrainingJob"]["TrainingJobName"] for r in response["Results"]] == [f"job-{i}" for i in range(5, -1, -1)]


def test_paging_is_exhaustive_and_tokens_belong_to_their_search(jobs):
    request = {"Resource": "TrainingJob", "SortBy": "Metrics.train:msd", "SortOrder": "Ascending", "MaxResults": 4}
    first = search(jobs, request)
    assert first["TotalHits"] == {"Value": 6, "Relation": "EqualTo"}
    second = search(jobs, {**request, "NextToken": first["NextToken"]})
    assert "NextToken" not in second
    names = [r["TrainingJob"]["TrainingJobName"] for r in first["Results"] + second["Results"]]
    assert names == ["job-4", "job-1", "job-2", "job-0", "job-5", "job-3"]
    assert "Invalid pagination token" in rejected(jobs, **{**request, "SortOrder": "Descending",
                                                           "NextToken": first["NextToken"]})
    assert "Invalid pagination token" in rejected(jobs, NextToken="garbage")
    assert len(search(jobs, {"Resource": "TrainingJob"})["Results"]) == 6  # default MaxResults 10


def test_records_carry_the_description_and_tags_but_no_internal_keys(jobs):
    (record,) = search(jobs, {"Resource": "TrainingJob", "SearchExpression": {
        "Filters": [_filter("TrainingJobName", "Equals", "job-0")]}})["Results"]
    job = record["TrainingJob"]
    assert job["Tags"] == [{"Key": "team", "Value": "a"}, {"Key": "rank", "Value": "3"}]
    assert job["FinalMetricDataList"][0]["MetricName"] == "train:msd"
    assert job["HyperParameters"] == {"mini_batch_size": "10", "lr": "0.5"}
    assert not [key for key in job if key.startswith("_")]


def test_index_shortcut_gives_the_same_answers_as_a_scan(jobs):
    """An Equals filter at the top level uses an index; below an Or it cannot, and both agree."""
    team = _filter("Tags.team", "Equals", "a")
    never = _filter("TrainingJobName", "Equals", "nothing")
    via_index = search(jobs, {"Resource": "TrainingJob", "SearchExpression": {"Filters": [team]}})
    via_scan = search(jobs, {"Resource": "TrainingJob",
                             "SearchExpression": {"Operator": "Or", "Filters": [team, never]}})
    assert via_index["Results"] == via_scan["Results"] and len(via_index["Results"]) == 3
    compiler = Compiler(RESOURCES["TrainingJob"])
    compiler.compile({"Operator": "Or", "Filters": [team, never]})
    assert compiler.hints == []
    # a numeric Value may match other spellings of the number, so it takes no index
    assert found(jobs, ("Tags.rank", "Equals", "3.0")) == ["job-0"]


# --------------------------------------------------------------------------- what is refused


@pytest.mark.parametrize(
    "expression, message",
    [
        ({"Filters": [_filter("Nope", "Equals", "x")]},
         '"Nope" is not a valid property name for resource type TrainingJob'),
        ({"Filters": [_filter("HyperParameter.k", "Equals", "x")]}, "is not a valid property name"),
        ({"Filters": [_filter("TrainingJobName.x", "Equals", "x")]}, "is not a valid property name"),
        ({"Filters": [_filter("Metrics", "Equals", "1")]}, "is not a valid property name"),
        ({"Filters": [_filter("Metrics.acc", "GreaterThan", "high")]},
         "must be an integer or a floating-point decimal"),
        ({"Filters": [_filter("Metrics.acc", "GreaterThan", "nan")]}, "must be an integer or a floating-point decimal"),
        ({"Filters": [_filter("ResourceConfig.InstanceCount", "LessThan", "one")]}, "must be an integer"),
        ({"Filters": [_filter("CreationTime", "LessThan", "soon")]}, "must be a timestamp"),
        ({"Filters": [_filter("EnableNetworkIsolation", "Equals", "yes")]}, "must be true or false"),
        ({"Filters": [_filter("EnableNetworkIsolation", "GreaterThan", "true")]}, "not supported for the Boolean"),
        ({"Filters": [_filter("TrainingJobName", "LessThan", "m")]}, "not supported for the text property"),
        ({"Filters": [_filter("HyperParameters.lr", "LessThan", "small")]}, "with the non-numeric value"),
        ({"Filters": [_filter("Metrics.acc", "Contains", "1")]}, "Operator Contains is only supported for text"),
        ({"Filters": [_filter("CreationTime", "In", "1,2")]}, "Operator In is only supported for text"),
        ({"Filters": [_filter("TrainingJobName", "Contains", "a")],
          "SubExpressions": [{"Filters": [_filter("RoleArn", "Contains", "b")]}]},
         "'CONTAINS' operator usage limit of 1 exceeded."),
        ({"Filters": [_filter("TrainingJobName", "NotEquals")]}, "needs a Value"),
        ({"Filters": [_filter("InputDataConfig", "Equals", "x")]}, "not a single-valued property"),
        ({}, "must contain at least one of"),
        ({"SubExpressions": [{}]}, "must contain at least one of"),
        ({"NestedFilters": [{"NestedPropertyName": "HyperParameters",
                             "Filters": [_filter("HyperParameters.k", "Equals", "1")]}]}, "is not a list property"),
        ({"NestedFilters": [{"NestedPropertyName": "InputDataConfig",
                             "Filters": [_filter("InputDataConfigX.ChannelName", "Equals", "a")]}]},
         'must name a property of "InputDataConfig" elements'),
        ({"NestedFilters": [{"NestedPropertyName": "InputDataConfig",
                             "Filters": [_filter("InputDataConfig.Nope", "Equals", "a")]}]}, "is not a valid property"),
    ],
)
def test_invalid_expressions(jobs, expression, message):
    assert message in rejected(jobs, SearchExpression=expression)


def test_at_most_fifty_elements_in_all():
    compiler = Compiler(RESOURCES["TrainingJob"])
    fifty = {"Filters": [_filter("TrainingJobName", "Equals", str(i)) for i in range(10)],
             "SubExpressions": [{"Filters": [_filter("TrainingJobName", "Equals", str(i)) for i in range(9)]}
                                for _ in range(4)]}
    compiler.compile(fifty)  # 10 + 4 + 4 * 9 = 50
    assert compiler.elements == 50
    deep = {"Filters": [_filter("TrainingJobName", "Equals", "x")]}
    for _ in range(50):
        deep = {"SubExpressions": [deep]}
    with pytest.raises(AwsError, match="at most 50"):
        Compiler(RESOURCES["TrainingJob"]).compile(deep)


def test_sort_and_resource_checks(jobs):
    assert "is not a valid property name" in rejected(jobs, SortBy="Metricz.acc")
    assert "Cannot sort by" in rejected(jobs, SortBy="HyperParameters")
    with pytest.raises(AwsError, match="not supported by sagemaker-emulator"):
        search(jobs, {"Resource": "Pipeline"})


def test_property_kinds_come_from_the_record_shape():
    spec = RESOURCES["TrainingJob"]
    kinds = {name: resolve_property(spec, name).kind for name in (
        "TrainingJobName", "CreationTime", "TrainingTimeInSeconds", "EnableManagedSpotTraining",
        "Metrics.x", "Tags.x", "HyperParameters.x.y", "InputDataConfig", "VpcConfig.Subnets",
        "SecondaryStatusTransitions.StartTime", "Environment.PATH")}
    assert kinds == {
        "TrainingJobName": "text", "CreationTime": "timestamp", "TrainingTimeInSeconds": "number",
        "EnableManagedSpotTraining": "Boolean", "Metrics.x": "number", "Tags.x": "text",
        "HyperParameters.x.y": "text", "InputDataConfig": "object", "VpcConfig.Subnets": "text",
        "SecondaryStatusTransitions.StartTime": "timestamp", "Environment.PATH": "text",
    }


# --------------------------------------------------------------------------- endpoints and models


@pytest.fixture
def hosting(store):
    for index, name in enumerate(("m-one", "m-two")):
        store.insert("Model", name, arn("model", name), {
            "ModelName": name, "ModelArn": arn("model", name), "CreationTime": T0 + timedelta(minutes=index),
            "PrimaryContainer": {"Image": "kmeans:1", "ModelDataUrl": f"s3://out/{name}/model.tar.gz"},
        })
    store.add_tags(arn("model", "m-two"), [{"Key": "stage", "Value": "prod"}])
    config = {"EndpointConfigName": "c", "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "M-Two"}]}
    store.insert("Endpoint", "ep", arn("endpoint", "ep"), {
        "EndpointName": "ep", "EndpointArn": arn("endpoint", "ep"), "EndpointConfigName": "c",
        "EndpointStatus": "InService", "CreationTime": T0, "LastModifiedTime": T0, "_Config": config,
    }, status="InService")
    store.add_tags(arn("endpoint", "ep"), [{"Key": "stage", "Value": "prod"}])
    return store


def test_endpoint_records(hosting):
    response = search(hosting, {"Resource": "Endpoint", "SearchExpression": {"Filters": [
        _filter("Tags.stage", "Equals", "prod"), _filter("EndpointStatus", "Equals", "InService")]}})
    (record,) = response["Results"]
    assert record["Endpoint"]["EndpointName"] == "ep"
    assert record["Endpoint"]["Tags"] == [{"Key": "stage", "Value": "prod"}]
    assert "_Config" not in record["Endpoint"]


def test_model_records_join_the_endpoints_serving_them(hosting):
    response = search(hosting, {"Resource": "Model", "SortBy": "Model.ModelName", "SortOrder": "Ascending"})
    records = [record["Model"] for record in response["Results"]]
    assert [record["Model"]["ModelName"] for record in records] == ["m-one", "m-two"]
    assert records[0]["Endpoints"] == []
    assert [endpoint["EndpointName"] for endpoint in records[1]["Endpoints"]] == ["ep"]
    assert records[1]["Model"]["Tags"] == [{"Key": "stage", "Value": "prod"}]
    served = search(hosting, {"Resource": "Model", "SearchExpression": {"Filters": [
        _filter("Endpoints.EndpointStatus", "Equals", "InService")]}})
    assert [r["Model"]["Model"]["ModelName"] for r in served["Results"]] == ["m-two"]
    by_tag = search(hosting, {"Resource": "Model", "SearchExpression": {"Filters": [
        _filter("Model.Tags.stage", "Equals", "prod")]}})
    assert [r["Model"]["Model"]["ModelName"] for r in by_tag["Results"]] == ["m-two"]
    # the default order for models is their creation time, newest first
    default = search(hosting, {"Resource": "Model"})
    assert [r["Model"]["Model"]["ModelName"] for r in default["Results"]] == ["m-two", "m-one"]
    # the join follows the endpoints: once it is gone, the model has none
    hosting.delete("Endpoint", "ep")
    again = search(hosting, {"Resource": "Model", "SearchExpression": {"Filters": [
        _filter("Model.ModelName", "Equals", "m-two")]}})
    assert again["Results"][0]["Model"]["Endpoints"] == []
    with pytest.raises(AwsError, match="not a valid property name for resource type Model"):
        search(hosting, {"Resource": "Model", "SortBy": "LastModifiedTime"})
