"""The command line: `env` prints what boto3 needs; `serve` stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3


def test_env_points_boto3_at_the_emulator(emulator):
    output = subprocess.run(
        [sys.executable, "-m", "sagemaker_emulator", "env", "--endpoint-url", emulator.url],
        check=True, capture_output=True, text=True,
    ).stdout
    lines = output.strip().splitlines()
    assert all(line.startswith("export ") for line in lines)
    shell = subprocess.run(
        ["bash", "-c", f'eval "$({sys.executable} -m sagemaker_emulator env --endpoint-url {emulator.url})"; env'],
        check=True, capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
    ).stdout
    environment = dict(line.split("=", 1) for line in shell.splitlines() if "=" in line)
    assert environment["AWS_ENDPOINT_URL"] == emulator.url
    session = boto3.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    )
    old = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = environment["AWS_ENDPOINT_URL"]
    try:
        identity = session.client("sts").get_caller_identity()
    finally:
        if old is None:
            os.environ.pop("AWS_ENDPOINT_URL")
        else:
            os.environ["AWS_ENDPOINT_URL"] = old
    assert identity["Account"] == "123456789012"
    assert ":assumed-role/" in identity["Arn"]


def test_serve_shuts_down_cleanly_on_sigterm(fresh_emulator):
    server = fresh_emulator()
    assert server.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    assert server.stop() == 0
    assert "Traceback" not in server.log_text()


def test_sts_and_iam_for_get_execution_role(emulator):
    iam = emulator.client("iam")
    assert iam.get_role(RoleName="SageMakerRole")["Role"]["Arn"] == "arn:aws:iam::123456789012:role/SageMakerRole"
    iam.create_role(RoleName="MyRole", Path="/service-role/", AssumeRolePolicyDocument="{}")
    assert iam.get_role(RoleName="MyRole")["Role"]["Arn"] == "arn:aws:iam::123456789012:role/service-role/MyRole"
    iam.attach_role_policy(RoleName="MyRole", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
