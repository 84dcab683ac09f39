"""Start a real emulator server as a child process on a free loopback port, as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EmulatorProcess:
    process: subprocess.Popen
    url: str
    data_dir: Path
    log_path: Path

    def client(self, service: str, **config: object):
        return make_client(service, self.url, **config)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_emulator(data_dir: Path, *extra_args: str, port: int | None = None, timeout: float = 30) -> EmulatorProcess:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-server-{port}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # The tests run on the process backend unless they pass --backend or the environment names one
    # (SAGEMAKER_EMULATOR_BACKEND=docker runs them in containers); the CLI's default is auto.
    env.setdefault("SAGEMAKER_EMULATOR_BACKEND", "process")
    command = [sys.executable, "-m", "sagemaker_emulator", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", str(data_dir), *extra_args]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/_emulator/health", timeout=1).status_code == 200:
                return EmulatorProcess(process, url, data_dir, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"emulator did not become healthy:\n{log_path.read_text()}")


def make_client(service: str, endpoint_url: str, **config: object):
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )
