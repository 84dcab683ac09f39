"""The SageMaker Python SDK's notebooks, run unchanged in a separate Python process whose only link
to the emulator is the environment printed by `sagemaker-emulator env`. A network guard in that
process refuses (and reports) any connection or name lookup that would leave the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagemaker_emulator.cli import SDK_SHIM_DIR, client_environment

NOTEBOOKS = Path(__file__).parent / "notebooks"


def run_notebook(emulator, script: str, workdir: Path, timeout: float = 400, **extra_env: str):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SAGEMAKER_"))}
    environment.update(client_environment(emulator.url, "us-east-1"))
    report = workdir / "network-guard.txt"
    environment.update(
        PYTHONPATH=os.pathsep.join([str(SDK_SHIM_DIR), str(NOTEBOOKS)]),
        NETWORK_GUARD_REPORT=str(report),
        SAGEMAKER_SUPPRESS_V2_WARNING="1",
        PYTHONUNBUFFERED="1",
        **extra_env,
    )
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, runpy, network_guard; runpy.run_path(sys.argv[1], run_name='__main__')",
         str(NOTEBOOKS / script)],
        cwd=workdir, env=environment, capture_output=True, text=True, timeout=timeout,
    )
    output = completed.stdout + completed.stderr
    refused = report.read_text().splitlines() if report.exists() else []
    return completed.returncode, output, refused


def test_kmeans_high_level_notebook(emulator, tmp_path):
    code, output, refused = run_notebook(emulator, "kmeans_mnist_sdk.py", tmp_path, NOTEBOOK_ROWS="4000")
    assert code == 0, output[-6000:]
    assert refused == [], f"requests tried to leave the machine: {refused}"
    assert "role: arn:aws:iam::123456789012:role/SageMakerRole" in output
    assert "bucket: sagemaker-us-east-1-123456789012" in output
    assert "train rows: 50000" in output
    # The SDK tails both instances' log streams and prints the status messages and billing lines.
    assert "algo-1" in output and "algo-2" in output
    assert "#quality_metric: host=algo-1, train msd <loss>=" in output
    assert "Training - Training image download completed. Training in progress." in output
    assert "Completed - Training job completed" in output
    assert "Training seconds:" in output and "Billable seconds:" in output
    assert "predictions: 100" in output
    assert "attached: 10 s3://sagemaker-us-east-1-123456789012/kmeans_example/output/" in output
    assert "NOTEBOOK DONE" in output


def test_failed_fit_raises_unexpected_status_with_our_reason(emulator, tmp_path):
    code, output, refused = run_notebook(emulator, "failing_fit_sdk.py", tmp_path)
    assert code == 0, output[-6000:]
    assert refused == []
    assert "UnexpectedStatusException" in output
    assert ("ClientError: No value(s) were specified for 'k', 'feature_dim' which are required "
            "hyperparameter(s) (caused by ValidationError)") in output


def test_knn_generic_estimator_notebook(emulator, tmp_path):
    code, output, refused = run_notebook(emulator, "knn_generic_estimator_sdk.py", tmp_path, NOTEBOOK_ROWS="3000")
    assert code == 0, output[-6000:]
    assert refused == [], f"requests tried to leave the machine: {refused}"
    assert "#quality_metric: host=algo-1, test accuracy <score>=" in output
    accuracy = float(output.split("'test:accuracy': ")[1].split("}")[0].split(",")[0])
    assert accuracy > 0.8
    assert "predictions: 100" in output
    assert float(output.split("accuracy: ")[-1].split()[0]) > 0.8
    assert "attached: classifier s3://sagemaker-us-east-1-123456789012/knn-mnist/output/" in output
    assert "NOTEBOOK DONE" in output


def test_linear_learner_experiments_leaderboard_and_lineage(emulator, tmp_path):
    code, output, refused = run_notebook(emulator, "linear_learner_search_sdk.py", tmp_path, NOTEBOOK_ROWS="3000")
    assert code == 0, output[-6000:]
    assert refused == [], f"requests tried to leave the machine: {refused}"
    board = [line.split() for line in output.splitlines() if line.startswith("leaderboard:")]
    assert len(board) == 3
    losses = [float(row[3]) for row in board]
    assert losses == sorted(losses)
    assert sorted(row[2] for row in board) == ["100", "2000", "500"]
    assert float(output.split("winner accuracy: ")[1].split()[0]) > 0.9
    lineage = next(line for line in output.splitlines() if line.startswith("lineage:"))
    assert lineage == f"lineage: ['{board[0][1]}'] best: {board[0][1]}"
    assert "NOTEBOOK DONE" in output
