"""Running training jobs: the lifecycle behind CreateTrainingJob, from staging the channels to
uploading the model, with SageMaker's status transitions, logs and metrics.

Each job runs in its own thread: Starting → Downloading → Training → Uploading → Completed, or
Failed (FailureReason from the algorithm's failure file), or Stopped (StopTrainingJob, or
MaxRuntimeExceeded). Container output becomes CloudWatch events in ``/aws/sagemaker/TrainingJobs``,
one stream per host named ``<job>/algo-<i>-<epoch>``; metric lines become FinalMetricDataList.
"""

from __future__ import annotations

import logging
import re
import shutil
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from sagemaker_algorithms.common import contract
from sagemaker_emulator.execution.backends import BackendError, TrainingLaunch
from sagemaker_emulator.execution.process_backend import kill_stray_process
from sagemaker_emulator.services.logs import now_ms
from sagemaker_emulator.services.sagemaker import channels
from sagemaker_emulator.services.sagemaker.builtin_algorithms import algorithm_for_image
from sagemaker_emulator.services.sagemaker.store import utcnow

log = logging.getLogger(__name__)

KIND = "TrainingJob"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
STOP_GRACE_SECONDS = 10.0  # SageMaker gives 120 s between SIGTERM and SIGKILL; a local run needs less
POLL_SECONDS = 0.2


@dataclass
class RunningJob:
    name: str
    stop_requested: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class JobFailed(Exception):
    """Ends a job as Failed with this FailureReason."""


class TrainingService:
    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.store = emulator.resources
        self.objects = emulator.objects
        self.logs = emulator.logs
        self.backend = emulator.backend
        self.jobs_dir = Path(emulator.settings.data_dir) / "training-jobs"
        self._running: dict[str, RunningJob] = {}
        self._lock = threading.Lock()
        self._shutting_down = False

    # -- called by the operations ------------------------------------------------------------
    def submit(self, name: str) -> None:
        self._start_thread(name, self._execute)

    def _start_thread(self, name: str, body: Callable[..., None], *args: Any) -> None:
        job = RunningJob(name)
        job.thread = threading.Thread(target=self._run, args=(job, body, *args), name=f"training-{name}",
                                      daemon=True)
        with self._lock:
            self._running[name.lower()] = job
        job.thread.start()

    def request_stop(self, name: str) -> None:
        with self._lock:
            job = self._running.get(name.lower())
        if job:
            job.stop_requested.set()

    # -- lifecycle of the emulator -----------------------------------------------------------
    def recover(self) -> None:
        """A job that was running when the emulator went away is never left InProgress: its hosts
        are adopted where the backend still has them all (docker containers outlive the emulator),
        and the job goes on; otherwise it ends as Failed (or Stopped, if it was being stopped)."""
        adopt = getattr(self.backend, "adopt_training", None)
        for document in self.store.scan(KIND, statuses=("InProgress", "Stopping")):
            name = document["TrainingJobName"]
            for pid in document.get("_ProcessIds", []):
                kill_stray_process(pid, document.get("_Workspace", "\0"))
            stopping = document["TrainingJobStatus"] == "Stopping"
            if adopt is not None and self._adopt(document, adopt):
                if stopping:
                    self.request_stop(name)
                continue
            self._finish(
                name,
                "Stopped" if stopping else "Failed",
                "Stopped" if stopping else "Failed",
                "Training job stopped" if stopping else "Training job failed",
                failure=None if stopping else "InternalServerError: The emulator stopped while the training job "
                "was running, so the job could not finish. Start it again.",
            )

    def _adopt(self, document: dict[str, Any], adopt: Callable[..., Any]) -> bool:
        streams = document.get("_LogStreams") or {}
        hosts = contract.host_names(document["ResourceConfig"]["InstanceCount"])
        if document.get("SecondaryStatus") != "Training" or sorted(streams) != hosts or not document.get("_Workspace"):
            return False  # not started yet, or staged by an emulator that did not record its streams
        algorithm = algorithm_for_image(document["AlgorithmSpecification"].get("TrainingImage", ""))
        metrics = MetricCollector(_metric_definitions(document, algorithm), builtin=algorithm is not None)
        metrics.restore(document.get("FinalMetricDataList") or [])
        since = {host: self.logs.last_event_ms(LOG_GROUP, stream) for host, stream in streams.items()}
        execution = adopt(document["TrainingJobName"], hosts, self._output_sink(streams, metrics), since)
        if execution is None:
            return False
        log.info("training job %s: adopted its %d running host(s)", document["TrainingJobName"], len(hosts))
        self._start_thread(document["TrainingJobName"], self._resume, execution, metrics)
        return True

    def shutdown(self) -> None:
        self._shutting_down = True
        with self._lock:
            jobs = list(self._running.values())
        for job in jobs:
            job.stop_requested.set()
        for job in jobs:
            if job.thread:
                job.thread.join(STOP_GRACE_SECONDS + 5)

    # -- the job thread ----------------------------------------------------------------------
    def _run(self, job: RunningJob, body: Callable[..., None], *args: Any) -> None:
        try:
            body(job, *args)
        except Exception as error:  # a bug here must still end the job
            log.exception("training job %s: internal error", job.name)
            self._finish(job.name, "Failed", "Failed", "Training job failed",
                         failure=f"InternalServerError: {type(error).__name__}: {error}")
        finally:
            with self._lock:
                self._running.pop(job.name.lower(), None)

    def _execute(self, job: RunningJob) -> None:
        name = job.name
        document = self.store.get(KIND, name)
        if document is None:
            return
        self.transition(name, "Starting", "Preparing the instances for training")
        image = document["AlgorithmSpecification"].get("TrainingImage", "")
        algorithm = algorithm_for_image(image)
        instance_count = document["ResourceConfig"]["InstanceCount"]
        hosts = contract.host_names(instance_count)
        root = self.jobs_dir / name
        shutil.rmtree(root, ignore_errors=True)
        workspaces = {host: root / host for host in hosts}
        for host, workspace in workspaces.items():
            contract.write_training_config(
                contract.ContainerPaths(workspace),
                document.get("HyperParameters", {}),
                _input_data_config(document.get("InputDataConfig", [])),
                contract.resource_config(host, hosts),
            )
        self.store.update(KIND, name, lambda d: d.update(_Workspace=str(root)))

        try:
            started = utcnow()
            self.transition(name, "Downloading", "Downloading input data", TrainingStartTime=started)
            self._stage_inputs(document, workspaces, job)
            if job.stop_requested.is_set():
                return self._stopped(name, document, workspaces, "Stopped", "Training job stopped")

            self.transition(name, "Training", "Downloading the training image")
            streams = self._open_log_streams(name, hosts)
            metrics = MetricCollector(_metric_definitions(document, algorithm), builtin=algorithm is not None)
            on_output = self._output_sink(streams, metrics)
            try:
                execution = self.backend.start_training(
                    TrainingLaunch(name, image, algorithm.name if algorithm else None, workspaces,
                                   dict(document.get("Environment") or {}),
                                   instance_type=document["ResourceConfig"].get("InstanceType"),
                                   network_isolation=bool(document.get("EnableNetworkIsolation"))),
                    on_output,
                )
            except BackendError as error:
                raise JobFailed(f"ClientError: {error}") from error
            self.store.update(KIND, name, lambda d: d.update(_ProcessIds=execution.process_ids()))
            self.transition(name, "Training", "Training image download completed. Training in progress.")
            self._supervise(job, document, workspaces, execution, metrics, time.monotonic())
        except (JobFailed, channels.ChannelError) as failure:
            self._finish(name, "Failed", "Failed", "Training job failed", failure=str(failure))

    def _resume(self, job: RunningJob, execution: Any, metrics: "MetricCollector") -> None:
        """Watch a job whose hosts were adopted after a restart, from where the last emulator left it."""
        document = self.store.get(KIND, job.name)
        root = Path(document["_Workspace"])
        workspaces = {host: root / host for host in contract.host_names(document["ResourceConfig"]["InstanceCount"])}
        start = document.get("TrainingStartTime")
        elapsed = (utcnow() - start).total_seconds() if isinstance(start, datetime) else 0.0
        try:
            self._supervise(job, document, workspaces, execution, metrics, time.monotonic() - elapsed)
        except (JobFailed, channels.ChannelError) as failure:
            self._finish(job.name, "Failed", "Failed", "Training job failed", failure=str(failure))

    def _output_sink(self, streams: dict[str, str], metrics: "MetricCollector"):
        def on_output(host: str, line: str) -> None:
            self.logs.append(LOG_GROUP, streams[host], [(now_ms(), line)])
            metrics.observe(line)

        return on_output

    def _supervise(self, job: RunningJob, document: dict[str, Any], workspaces: dict[str, Path], execution: Any,
                   metrics: "MetricCollector", started: float) -> None:
        """Wait for the hosts (stopping them on StopTrainingJob or MaxRuntimeInSeconds), then end the
        job: upload the model, or record why it failed or stopped."""
        name = job.name
        max_runtime = document.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)
        deadline = started + max_runtime
        outcome = None
        exit_code = None
        while exit_code is None:
            exit_code = execution.wait(POLL_SECONDS)
            if exit_code is not None:
                break
            self._flush_metrics(name, metrics)
            if job.stop_requested.is_set():
                outcome = "stopped"
            elif time.monotonic() >= deadline:
                outcome = "max-runtime"
            if outcome:
                execution.stop(STOP_GRACE_SECONDS)
                exit_code = execution.wait(None)
        self._flush_metrics(name, metrics)

        if outcome == "stopped" or (outcome is None and job.stop_requested.is_set() and exit_code != 0):
            if self._shutting_down:
                raise JobFailed("InternalServerError: The emulator shut down while the training job was running.")
            return self._stopped(name, document, workspaces, "Stopped", "Training job stopped")
        if outcome == "max-runtime":
            return self._stopped(
                name, document, workspaces, "MaxRuntimeExceeded",
                f"Job stopped because it ran longer than MaxRuntimeInSeconds ({max_runtime} s)",
            )
        host_paths = [contract.ContainerPaths(workspaces[host]) for host in sorted(workspaces)]
        if exit_code != 0:
            reason = _first_failure(host_paths) or f"AlgorithmError: , exit code: {exit_code}"
            raise JobFailed(reason)

        self.transition(name, "Uploading", "Uploading generated training model")
        artifacts = self._upload_outputs(document, host_paths)
        self._finish(name, "Completed", "Completed", "Training job completed", artifacts=artifacts)

    def _stage_inputs(self, document: dict[str, Any], workspaces: dict[str, Path], job: RunningJob) -> None:
        hosts = sorted(workspaces)
        every_host_runs = getattr(self.backend, "runs_every_host", False)
        for channel in document.get("InputDataConfig", []):
            if job.stop_requested.is_set():
                return
            entries = channels.list_channel_objects(
                self.objects, channel, document["RoleArn"], self.emulator.region
            )
            distribution = channel["DataSource"]["S3DataSource"].get("S3DataDistributionType", "FullyReplicated")
            compression = channel.get("CompressionType")
            for index, host in enumerate(hosts):
                if not every_host_runs and index > 0:
                    break  # the single worker (algo-1) receives every shard
                selected = channels.shard(entries, distribution, index, len(hosts)) if every_host_runs else entries
                destination = contract.ContainerPaths(workspaces[host]).channel_dir(channel["ChannelName"])
                channels.stage(self.objects, selected, destination, compression)

    def _open_log_streams(self, name: str, hosts: list[str]) -> dict[str, str]:
        epoch = int(time.time())
        streams = {host: f"{name}/{host}-{epoch}" for host in hosts}
        for stream in streams.values():
            self.logs.ensure_stream(LOG_GROUP, stream)
        self.store.update(KIND, name, lambda d: d.update(_LogStreams=streams))
        return streams

    def _flush_metrics(self, name: str, metrics: "MetricCollector") -> None:
        if metrics.dirty:
            final = metrics.final_metrics()
            self.store.update(KIND, name, lambda d: d.update(FinalMetricDataList=final))

    def _upload_outputs(self, document: dict[str, Any], hosts: list[contract.ContainerPaths]) -> dict[str, Any]:
        """``model.tar.gz`` holds what every host left in ``model/`` (on a name that several hosts
        wrote, the first host's file wins); ``output.tar.gz`` likewise with ``output/data/``."""
        output_path = document["OutputDataConfig"]["S3OutputPath"]
        bucket, prefix = channels.parse_s3_uri(output_path)
        base = f"{prefix.rstrip('/')}/{document['TrainingJobName']}/output".lstrip("/")
        model_key = f"{base}/model.tar.gz"
        try:
            self._upload_tarball(bucket, model_key, [paths.model_dir for paths in hosts])
            outputs = [paths.output_data_dir for paths in hosts]
            if any(directory.is_dir() and any(directory.iterdir()) for directory in outputs):
                self._upload_tarball(bucket, f"{base}/output.tar.gz", outputs)
        except Exception as error:
            message = getattr(error, "message", str(error))
            raise JobFailed(f"ClientError: Could not upload the model to {output_path}: {message}") from error
        return {"S3ModelArtifacts": f"s3://{bucket}/{model_key}"}

    def _upload_tarball(self, bucket: str, key: str, directories: list[Path]) -> None:
        with tempfile.NamedTemporaryFile(dir=self.jobs_dir, suffix=".tar.gz", delete=False) as handle:
            temporary = Path(handle.name)
        try:
            with tarfile.open(temporary, "w:gz", compresslevel=6) as archive:
                added: set[str] = set()
                for directory in directories:
                    if not directory.is_dir():
                        continue
                    for child in sorted(directory.iterdir()):
                        if child.name not in added:
                            added.add(child.name)
                            archive.add(child, arcname=child.name)
            self.objects.put_object_from_file(bucket, key, temporary, content_type="application/x-tar", move=True)
        finally:
            temporary.unlink(missing_ok=True)

    def _stopped(self, name: str, document: dict[str, Any], workspaces: dict[str, Path], secondary: str, message: str) -> None:
        """Stopped jobs keep whatever model the algorithm saved, as SageMaker does."""
        artifacts = None
        hosts = [contract.ContainerPaths(workspaces[host]) for host in sorted(workspaces)]
        if any(paths.model_dir.is_dir() and any(paths.model_dir.iterdir()) for paths in hosts):
            try:
                artifacts = self._upload_outputs(document, hosts)
            except JobFailed:
                artifacts = None
        self._finish(name, "Stopped", secondary, message, artifacts=artifacts)

    # -- recording state ---------------------------------------------------------------------
    def transition(self, name: str, status: str, message: str, job_status: str | None = None, **fields: Any) -> None:
        def change(document: dict[str, Any]) -> None:
            record_transition(document, status, message)
            if job_status:
                document["TrainingJobStatus"] = job_status
            document.update(fields)

        self.store.update(KIND, name, change, status_key="TrainingJobStatus")

    def _finish(
        self,
        name: str,
        job_status: str,
        secondary: str,
        message: str,
        failure: str | None = None,
        artifacts: dict[str, Any] | None = None,
    ) -> None:
        def change(document: dict[str, Any]) -> None:
            now = utcnow()
            record_transition(document, secondary, message, terminal=True)
            document["TrainingJobStatus"] = job_status
            document["TrainingEndTime"] = now
            start = document.get("TrainingStartTime")
            if isinstance(start, datetime):
                seconds = max(1, int(round((now - start).total_seconds())))
                document["TrainingTimeInSeconds"] = seconds
                document["BillableTimeInSeconds"] = seconds
            if failure:
                document["FailureReason"] = failure[: contract.FAILURE_REASON_LIMIT]
            if artifacts:
                document["ModelArtifacts"] = artifacts
            document.pop("_ProcessIds", None)

        self.store.update(KIND, name, change, status_key="TrainingJobStatus")
        log.info("training job %s: %s%s", name, job_status, f" ({failure})" if failure else "")


def _first_failure(hosts: list[contract.ContainerPaths]) -> str | None:
    """The reason of the host that failed first: a peer that lost it in a collective operation
    fails later with a consequence, not the cause."""
    written = [paths for paths in hosts if paths.failure_file.is_file()]
    for paths in sorted(written, key=lambda paths: paths.failure_file.stat().st_mtime_ns):
        reason = contract.read_failure(paths)
        if reason:
            return reason
    return None


def record_transition(document: dict[str, Any], status: str, message: str, terminal: bool = False) -> None:
    now = utcnow()
    transitions = document.setdefault("SecondaryStatusTransitions", [])
    if transitions and transitions[-1]["Status"] == status:
        transitions[-1]["StatusMessage"] = message
    else:
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": message}
        if terminal:
            entry["EndTime"] = now
        transitions.append(entry)
    document["SecondaryStatus"] = status
    document["LastModifiedTime"] = now


def _input_data_config(channel_list: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {}
    for channel in channel_list:
        source = channel.get("DataSource", {}).get("S3DataSource", {})
        entry: dict[str, Any] = {
            "TrainingInputMode": channel.get("InputMode", "File"),
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        config[channel["ChannelName"]] = entry
    return config


def _metric_definitions(document: dict[str, Any], algorithm: Any) -> list[dict[str, str]]:
    if algorithm is not None:
        return algorithm.metric_definition_list()
    return list(document.get("AlgorithmSpecification", {}).get("MetricDefinitions") or [])


class MetricCollector:
    """Applies metric-definition regexes to output lines and keeps the last value of each metric."""

    def __init__(self, definitions: list[dict[str, str]], builtin: bool = True) -> None:
        # The built-in algorithms' metric lines all hold "=" or ":"; users' regexes may match any line.
        self.prefilter = builtin
        self.patterns = []
        for definition in definitions:
            try:
                self.patterns.append((definition["Name"], re.compile(definition["Regex"])))
            except re.error:
                log.warning("ignoring metric %s: invalid regex %r", definition.get("Name"), definition.get("Regex"))
        self.values: dict[str, tuple[float, datetime]] = {}
        self.dirty = False
        self._lock = threading.Lock()

    def restore(self, recorded: list[dict[str, Any]]) -> None:
        """Continue from the FinalMetricDataList an earlier emulator recorded."""
        with self._lock:
            for metric in recorded:
                self.values[metric["MetricName"]] = (float(metric["Value"]), metric["Timestamp"])

    def observe(self, line: str) -> None:
        if not self.patterns or self.prefilter and "=" not in line and ":" not in line:
            return
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1))
            except (IndexError, ValueError):
                continue
            with self._lock:
                self.values[name] = (value, utcnow())
                self.dirty = True

    def final_metrics(self) -> list[dict[str, Any]]:
        with self._lock:
            self.dirty = False
            return [
                {"MetricName": name, "Value": value, "Timestamp": timestamp}
                for name, (value, timestamp) in self.values.items()
            ]
