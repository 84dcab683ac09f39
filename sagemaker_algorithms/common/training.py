"""The ``train`` harness every built-in algorithm runs under.

:func:`run_training` sets up SageMaker-style logging, reads the contract files, validates the
hyperparameters against the algorithm's schema (logging the three configuration lines), resolves
the channels, calls the algorithm, and turns failures into the failure file and an exit code:

* :class:`~.errors.ClientError` (bad hyperparameters, missing channel, unreadable data) →
  ``ClientError: ... (caused by ...)``, exit code 2;
* anything else → ``AlgorithmError: ... (caused by <type>)``, exit code 1;
* SIGTERM (StopTrainingJob) → exit code 143, no failure file.

Channel files are every regular file under ``input/data/<channel>/``, recursively, sorted by path,
skipping hidden files and directories. A channel's content type comes from ``inputdataconfig.json``;
absent means RecordIO-protobuf (the SDK's ``RecordSet`` sets none).

Multi-host: ``resourceconfig.json`` may list several hosts. The emulator runs one worker that sees
every shard, so each algorithm trains on everything it finds; :attr:`TrainingEnvironment.hosts`
is kept for a later combine step.
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from . import contract
from .content_types import CSV, RECORDIO_PROTOBUF, MediaType, label_size, parse_media_type
from .csv_format import parse_csv
from .errors import ClientError, DataError, algorithm_failure_text
from .hyperparameters import HyperparameterSchema
from .logs import configure_logging
from .protobuf_records import RecordBatch, decode_records

logger = logging.getLogger(__name__)

EXIT_CLIENT_ERROR = 2
EXIT_ALGORITHM_ERROR = 1
EXIT_STOPPED = 143


@dataclass(frozen=True)
class Channel:
    name: str
    directory: Path
    content_type: MediaType
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        return channel_files(self.directory)


@dataclass
class TrainingEnvironment:
    """Everything an algorithm's ``train`` needs, read once from the contract files."""

    paths: contract.ContainerPaths
    hyperparameters: dict[str, Any]  # typed values from the schema
    raw_hyperparameters: dict[str, Any]  # the final (merged) string configuration
    channels: dict[str, Channel]
    current_host: str = "algo-1"
    hosts: list[str] = field(default_factory=lambda: ["algo-1"])

    @property
    def model_dir(self) -> Path:
        return self.paths.model_dir

    @property
    def is_primary_host(self) -> bool:
        return not self.hosts or self.current_host == sorted(self.hosts)[0]

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(name)

    def require_channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            raise ClientError(f"Channel '{name}' is required but was not provided "
                              f"(channels found: {sorted(self.channels) or 'none'})")
        return channel


@dataclass(frozen=True)
class TrainingAlgorithm:
    """What :func:`run_training` needs of a built-in: its name, hyperparameter schema, where its
    defaults come from (for the log line) and its ``train(env)``."""

    name: str
    schema: HyperparameterSchema
    defaults_source: str
    train: Callable[[TrainingEnvironment], None]


class _Stopped(BaseException):
    pass


def run_training(algorithm: TrainingAlgorithm, paths: contract.ContainerPaths | None = None) -> int:
    """Run ``algorithm.train`` under the contract; returns the process exit code."""
    configure_logging()
    paths = paths or contract.paths_from_environment()
    previous = _install_sigterm()
    try:
        env = prepare_environment(algorithm, paths)
        algorithm.train(env)
    except _Stopped:
        logger.warning("Received SIGTERM; training stopped")
        return EXIT_STOPPED
    except ClientError as error:
        logger.error("Customer Error: %s (caused by %s)", error.message, error.caused_by)
        contract.write_failure(paths, error.failure_text)
        return EXIT_CLIENT_ERROR
    except Exception as error:  # noqa: BLE001 - every other failure is the algorithm's
        logger.exception("Algorithm Error: %s", error)
        contract.write_failure(paths, algorithm_failure_text(error))
        return EXIT_ALGORITHM_ERROR
    finally:
        _restore_sigterm(previous)
    return 0


def _install_sigterm():
    def stop(signum, frame):  # noqa: ARG001
        raise _Stopped()

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (tests)
        return None


def _restore_sigterm(previous) -> None:
    if previous is not None:
        try:
            signal.signal(signal.SIGTERM, previous)
        except ValueError:
            pass


def prepare_environment(algorithm: TrainingAlgorithm, paths: contract.ContainerPaths) -> TrainingEnvironment:
    try:
        provided = contract.read_hyperparameters(paths)
        data_config = contract.read_input_data_config(paths)
        resources = contract.read_resource_config(paths)
    except ValueError as error:  # malformed JSON written by the platform
        raise RuntimeError(f"Could not read the configuration files: {error}") from error
    if not isinstance(provided, dict):
        raise ClientError("hyperparameters.json must hold a JSON object", "ValidationError")
    final, typed = algorithm.schema.load(
        provided, defaults_source=algorithm.defaults_source,
        provided_source=str(paths.hyperparameters_file), logger=logging.getLogger(algorithm.name))
    channels = discover_channels(paths, data_config)
    hosts = list(resources.get("hosts") or [resources.get("current_host", "algo-1")])
    return TrainingEnvironment(paths, typed, final, channels,
                               current_host=str(resources.get("current_host", "algo-1")), hosts=hosts)


def discover_channels(paths: contract.ContainerPaths, data_config: dict[str, Any]) -> dict[str, Channel]:
    """Channels named in inputdataconfig.json (or, without it, the directories present)."""
    names = list(data_config) if data_config else sorted(
        p.name for p in paths.data_dir.glob("*") if p.is_dir() and not p.name.startswith("."))
    channels = {}
    for name in names:
        config = dict(data_config.get(name) or {})
        media = parse_media_type(config.get("ContentType")) or MediaType(RECORDIO_PROTOBUF)
        channels[name] = Channel(name, paths.channel_dir(name), media, config)
    return channels


def channel_files(directory: Path) -> list[Path]:
    """Regular files under ``directory`` (recursively), sorted, without hidden files or folders."""
    if not directory.is_dir():
        return []
    found = []
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(root) / name
            if not name.startswith(".") and path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(directory).as_posix())


# --------------------------------------------------------------------------------------------
# Loading channel data into arrays


def load_channel(channel: Channel, feature_dim: int | None, *, with_labels: bool = False,
                 csv_label_size: int = 1, supported: Iterable[str] = (RECORDIO_PROTOBUF, CSV)) -> RecordBatch:
    """Read every file of a channel into one :class:`RecordBatch` (dense float32 features).

    ``csv_label_size`` is the default number of leading label columns of a ``text/csv`` channel
    without a ``label_size`` parameter (SageMaker's training default is 1).
    """
    batches = list(iter_channel_batches(channel, feature_dim, with_labels=with_labels,
                                        csv_label_size=csv_label_size, supported=supported))
    if len(batches) == 1:
        return batches[0]
    widths = {b.features.shape[1] for b in batches}
    if len(widths) > 1:
        raise ClientError(f"Files of channel '{channel.name}' have different numbers of features: {sorted(widths)}")
    features = np.concatenate([b.features for b in batches])
    labels = None
    if with_labels and all(b.labels is not None for b in batches):
        labels = np.concatenate([b.labels for b in batches])
    return RecordBatch(features, labels)


def iter_channel_batches(channel: Channel, feature_dim: int | None, *, with_labels: bool = False,
                         csv_label_size: int = 1, supported: Iterable[str] = (RECORDIO_PROTOBUF, CSV)
                         ) -> Iterator[RecordBatch]:
    """Yield one :class:`RecordBatch` per non-empty file of a channel, in :func:`channel_files` order.

    For algorithms that stream a channel (k-NN's reservoir sampling) instead of holding it whole;
    the checks and failure texts are :func:`load_channel`'s, and a channel without any record
    raises once every file has been read.
    """
    essence = channel.content_type.essence
    if essence not in tuple(supported):
        accepted = ", ".join(f"'{t}'" for t in supported)
        raise ClientError(f"Content type '{channel.content_type}' of channel '{channel.name}' is not "
                          f"supported; use one of {accepted}")
    files = channel.files
    if not files:
        raise ClientError(f"No data was found in channel '{channel.name}' (the channel directory has no files)")
    found = False
    for path in files:
        try:
            if essence == CSV:
                batch = _load_csv(path, channel, feature_dim, csv_label_size)
            else:
                batch = _load_recordio(path, feature_dim, with_labels)
        except DataError as error:
            relative = path.relative_to(channel.directory).as_posix()
            raise ClientError(f"Unable to read data channel '{channel.name}' (file '{relative}', content type "
                              f"'{essence}'): {error}") from error
        if len(batch):
            found = True
            yield batch
    if not found:
        raise ClientError(f"No records were found in channel '{channel.name}' ({len(files)} empty file(s))")


def _load_recordio(path: Path, feature_dim: int | None, with_labels: bool) -> RecordBatch:
    with open(path, "rb") as stream:
        if os.fstat(stream.fileno()).st_size == 0:
            return RecordBatch(np.zeros((0, feature_dim or 0), np.float32), None)
        mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        # the decoded arrays are copies, so the mapping can go as soon as decoding returns
        return decode_records(np.frombuffer(mapped, dtype=np.uint8), feature_dim, with_labels=with_labels)
    finally:
        try:
            mapped.close()
        except BufferError:  # a propagating exception still references the buffer; GC closes it
            pass


def _load_csv(path: Path, channel: Channel, feature_dim: int | None, default_label_size: int) -> RecordBatch:
    try:
        size = label_size(channel.content_type, default_label_size)
    except ValueError as error:
        raise ClientError(f"Invalid content type '{channel.content_type}' for channel '{channel.name}': "
                          f"{error}") from None
    try:
        features, labels = parse_csv(path.read_bytes(), label_size=size, feature_dim=feature_dim)
    except DataError as error:
        if size and feature_dim is not None and "expected size" in str(error):
            raise DataError(f"{error}. The first {size} column(s) of a CSV channel are the label; for CSV "
                            f"without a label use content type 'text/csv;label_size=0'") from None
        raise
    return RecordBatch(features, labels)


class Stopwatch:
    """Elapsed wall time in seconds since creation (for throughput lines)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._start = clock()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._start
