"""The emulator's settings: command-line flags with environment-variable defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "SAGEMAKER_EMULATOR_"


def default_data_dir() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "DATA_DIR", Path.home() / ".sagemaker-emulator"))


@dataclass
class Settings:
    host: str = "127.0.0.1"  # loopback only unless asked otherwise
    port: int = 4566
    data_dir: Path = field(default_factory=default_data_dir)
    account_id: str = "123456789012"
    region: str = "us-east-1"
    # How jobs and endpoints run: docker, process (embedded), or auto: docker when an engine answers
    # and the built-in algorithms' image is built, else process (execution/backends.py).
    backend: str = "auto"
    # How long DescribeTrainingJob / DescribeEndpoint may hold an answer for a slow poller (boto3's
    # waiters sleep 120 s and 30 s between polls, the SageMaker SDK 5-30 s) while the resource is about
    # to settle, so that a job finishing seconds later does not cost a whole interval. 0 turns it off.
    # See services/sagemaker/holding.py.
    describe_hold_seconds: float = 20.0

    def __post_init__(self) -> None:
        # Absolute, because job and endpoint processes run with their workspace as working directory.
        self.data_dir = Path(self.data_dir).expanduser().resolve()

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_environment(cls, **overrides: object) -> "Settings":
        values: dict[str, object] = {}
        for name, caster in (
            ("host", str),
            ("port", int),
            ("data_dir", Path),
            ("account_id", str),
            ("region", str),
            ("backend", str),
            ("describe_hold_seconds", float),
        ):
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = caster(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
