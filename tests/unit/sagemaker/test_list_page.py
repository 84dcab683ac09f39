"""list_page: the List* operations' filters, defaults, sorting and paging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.services.sagemaker.common import list_page

from .conftest import T0

JOBS = [
    {"TrainingJobName": f"Job-{index}", "TrainingJobStatus": status, "CreationTime": T0 + timedelta(minutes=index),
     "LastModifiedTime": T0 + timedelta(minutes=10 - index)}
    for index, status in enumerate(["Completed", "Failed", "Completed", "InProgress", "Completed"])
]
MODELS = [{"ModelName": f"model-{index}", "CreationTime": T0 + timedelta(minutes=index)} for index in range(4)]


def jobs(**params) -> tuple[list[str], str | None]:
    summaries, token = list_page(
        JOBS, params, name_key="TrainingJobName", status_key="TrainingJobStatus",
        sort_keys={"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"},
        summarize=lambda document: document, default_order="Ascending",
    )
    return [summary["TrainingJobName"] for summary in summaries], token


def models(**params) -> list[str]:
    summaries, _ = list_page(MODELS, params, name_key="ModelName", status_key=None,
                             sort_keys={"Name": "ModelName", "CreationTime": "CreationTime"},
                             summarize=lambda document: document)
    return [summary["ModelName"] for summary in summaries]


def test_defaults_per_operation():
    assert jobs()[0] == [f"Job-{i}" for i in range(5)]  # ListTrainingJobs: CreationTime, Ascending
    assert models() == ["model-3", "model-2", "model-1", "model-0"]  # ListModels: CreationTime, Descending
    summaries, _ = list_page(MODELS * 5, {}, name_key="ModelName", status_key=None,
                             sort_keys={"CreationTime": "CreationTime"}, summarize=dict)
    assert len(summaries) == 10  # MaxResults defaults to 10


def test_creation_time_after_is_inclusive_only_where_documented():
    at_2 = T0 + timedelta(minutes=2)
    assert jobs(CreationTimeAfter=at_2)[0] == ["Job-3", "Job-4"]  # "created after"
    assert models(CreationTimeAfter=at_2) == ["model-3", "model-2"]  # "greater than or equal to"
    assert jobs(CreationTimeBefore=at_2)[0] == ["Job-0", "Job-1"]
    assert models(CreationTimeBefore=at_2) == ["model-1", "model-0"]
    assert jobs(LastModifiedTimeAfter=T0 + timedelta(minutes=8))[0] == ["Job-0", "Job-1"]
    assert jobs(LastModifiedTimeBefore=T0 + timedelta(minutes=8))[0] == ["Job-3", "Job-4"]


def test_name_contains_ignores_case_and_sorting_by_name_and_status():
    assert jobs(NameContains="job-1")[0] == ["Job-1"]
    assert jobs(SortBy="Name", SortOrder="Descending")[0] == [f"Job-{i}" for i in range(4, -1, -1)]
    assert jobs(SortBy="Status", SortOrder="Ascending")[0] == ["Job-0", "Job-2", "Job-4", "Job-1", "Job-3"]


def test_status_equals_filters_the_page_when_max_results_is_given():
    assert jobs(StatusEquals="Completed")[0] == ["Job-0", "Job-2", "Job-4"]
    names, token = jobs(StatusEquals="Completed", MaxResults=2)
    assert names == ["Job-0"] and token  # Job-0, Job-1 taken first, then filtered
    names, token = jobs(StatusEquals="Completed", MaxResults=2, NextToken=token)
    assert names == ["Job-2"] and token
    assert jobs(StatusEquals="Completed", MaxResults=2, NextToken=token) == (["Job-4"], None)


def test_documents_without_the_sort_value_come_last():
    documents = [{"EndpointName": "b", "CreationTime": T0}, {"EndpointName": "a"},
                 {"EndpointName": "c", "CreationTime": T0 + timedelta(1)}]
    for order, expected in (("Ascending", ["b", "c", "a"]), ("Descending", ["c", "b", "a"])):
        summaries, _ = list_page(documents, {"SortOrder": order}, name_key="EndpointName", status_key=None,
                                 sort_keys={"CreationTime": "CreationTime"}, summarize=dict)
        assert [summary["EndpointName"] for summary in summaries] == expected


def test_paging_and_bad_tokens():
    first, token = jobs(MaxResults=3)
    second, last = jobs(MaxResults=3, NextToken=token)
    assert first + second == [f"Job-{i}" for i in range(5)] and last is None
    with pytest.raises(AwsError, match="Invalid pagination token"):
        jobs(NextToken="nonsense")
