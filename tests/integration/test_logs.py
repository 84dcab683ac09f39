"""The CloudWatch Logs reads that the SageMaker SDK's log tailing makes (sdk-calls.md §5)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.flows import train_kmeans


def test_training_logs_follow_the_tailing_contract(emulator, mnist_subset):
    sagemaker, s3, logs = emulator.client("sagemaker"), emulator.client("s3"), emulator.client("logs")
    job, _ = train_kmeans(sagemaker, s3, mnist_subset[0][:300], k=3)
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job + "/", orderBy="LogStreamName", limit=1)
    assert "nextToken" not in streams
    stream = streams["logStreams"][0]["logStreamName"]
    assert stream.startswith(f"{job}/algo-1-")

    events, token, pages = [], None, 0
    while True:
        kwargs = {"logGroupName": group, "logStreamName": stream, "startTime": 0, "startFromHead": True, "limit": 5}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        pages += 1
        assert "nextForwardToken" in page
        if not page["events"]:
            assert page["nextForwardToken"] == token  # caught up: the same token comes back
            break
        events.extend(page["events"])
        token = page["nextForwardToken"]
    assert pages > 2
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps)
    messages = [event["message"] for event in events]
    assert any("#quality_metric: host=algo-1, train msd <loss>=" in message for message in messages)

    # startTime is inclusive: asking from the last timestamp returns at least the last event again.
    again = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=timestamps[-1], startFromHead=True)
    assert again["events"] and again["events"][-1]["message"] == messages[-1]

    filtered = logs.filter_log_events(logGroupName=group, logStreamNamePrefix=job, filterPattern="quality_metric")
    assert filtered["events"] and all("quality_metric" in event["message"] for event in filtered["events"])


def test_missing_group_and_stream(emulator):
    logs = emulator.client("logs")
    with pytest.raises(ClientError) as error:
        logs.describe_log_streams(logGroupName="/no/such/group")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    logs.create_log_group(logGroupName="/my/group")
    with pytest.raises(ClientError) as error:
        logs.get_log_events(logGroupName="/my/group", logStreamName="missing")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    logs.create_log_stream(logGroupName="/my/group", logStreamName="s")
    logs.put_log_events(logGroupName="/my/group", logStreamName="s",
                        logEvents=[{"timestamp": 1000, "message": "a"}, {"timestamp": 2000, "message": "b"}])
    tail = logs.get_log_events(logGroupName="/my/group", logStreamName="s", limit=1)
    assert [event["message"] for event in tail["events"]] == ["b"]
