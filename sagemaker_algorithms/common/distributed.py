"""The hosts of one training job cooperating through ``torch.distributed``.

SageMaker starts ``InstanceCount`` hosts (``algo-1`` .. ``algo-N``, listed in
``resourceconfig.json``); its own framework containers join them into one process group with
``torch.distributed``, the first host in sorted order as the master on port 7777. The built-in
algorithms do the same here: :func:`join_hosts` gives a :class:`HostGroup` whose rank is the host's
position in the sorted host list.

The rendezvous address comes from ``MASTER_ADDR`` / ``MASTER_PORT`` when the platform sets them (the
process backend runs every host on the loopback interface with a free port), else the first host's
name and port 7777 (containers on a per-job network where ``algo-1`` resolves).

Every group's own collectives go through gloo. Hosts with GPUs call :meth:`TorchHostGroup.place_on_gpus`:
hosts that see the same GPUs share a machine (the process backend runs every host on one) and deal
those GPUs out among themselves; when every host ends up with a GPU of its own, the gradients go
through an NCCL group, else through gloo (NCCL refuses two ranks on one device).

A single-host job never imports torch. When the emulator runs one worker for a multi-host job (the
process backend without torch installed), it sets ``SAGEMAKER_EMULATOR_SINGLE_WORKER=1`` and that
worker trains alone on every shard.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import os
from typing import Any, Sequence

import numpy as np

from .errors import ClientError

logger = logging.getLogger(__name__)

MASTER_ADDR_ENV = "MASTER_ADDR"
MASTER_PORT_ENV = "MASTER_PORT"
SINGLE_WORKER_ENV = "SAGEMAKER_EMULATOR_SINGLE_WORKER"
DEFAULT_MASTER_PORT = 7777  # the port SageMaker's PyTorch containers use
RENDEZVOUS_TIMEOUT = datetime.timedelta(minutes=10)


def is_replicated(channel_config: dict[str, Any]) -> bool:
    """Whether every host holds the whole channel (``FullyReplicated``, the default) rather than its
    own shard (``ShardedByS3Key``); ``channel_config`` is the channel's inputdataconfig.json entry."""
    return channel_config.get("S3DistributionType", "FullyReplicated") != "ShardedByS3Key"


class HostGroup:
    """This host's view of the job's hosts. The base class is the one-host group: every collective
    returns this host's own contribution."""

    def __init__(self, hosts: Sequence[str], current_host: str) -> None:
        self.hosts = sorted(hosts)
        self.current_host = current_host
        self.rank = self.hosts.index(current_host) if current_host in self.hosts else 0
        self.size = 1

    @property
    def is_primary(self) -> bool:
        return self.rank == 0

    @property
    def primary_host(self) -> str:
        return self.hosts[0] if self.hosts else self.current_host

    def all_reduce_sum(self, array: np.ndarray) -> np.ndarray:
        """The element-wise sum of every host's ``array`` (same shape and dtype on every host)."""
        return np.array(array, copy=True)

    def all_gather_objects(self, value: Any) -> list[Any]:
        """Every host's ``value`` (picklable), in rank order."""
        return [value]

    def gather_objects(self, value: Any, destination: int = 0) -> list[Any] | None:
        """Every host's ``value`` in rank order on the host of rank ``destination``; None elsewhere."""
        return [value]

    def gather_rows(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each of ``arrays`` (row-aligned) with every host's rows, in rank order; hosts without
        rows are left out."""
        return arrays

    def share(self, channel_config: dict[str, Any]) -> slice:
        """The rows of a channel this host scores: its own shard, or its stride of a replicated one
        (``FullyReplicated`` gives every host every record; the job's figures count each once)."""
        return slice(self.rank, None, self.size) if is_replicated(channel_config) and self.size > 1 else slice(None)

    def broadcast_object(self, value: Any, source: int = 0) -> Any:
        """``value`` as the host of rank ``source`` has it."""
        return value

    def barrier(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def gradient_group(self) -> Any:
        """The torch process group gradients are averaged over (None: the default one)."""
        return None

    def __enter__(self) -> "HostGroup":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class TorchHostGroup(HostGroup):
    """Several hosts in one ``torch.distributed`` process group (gloo; NCCL for the gradients of hosts
    with a GPU each, see :meth:`place_on_gpus`)."""

    def __init__(self, hosts: Sequence[str], current_host: str, *, address: str | None = None, port: int | None = None,
                 timeout: datetime.timedelta = RENDEZVOUS_TIMEOUT) -> None:
        super().__init__(hosts, current_host)
        import torch.distributed as dist

        self._dist = dist
        self.size = len(self.hosts)
        self._gradient_group: Any = None
        address = address or os.environ.get(MASTER_ADDR_ENV) or self.primary_host
        port = int(port or os.environ.get(MASTER_PORT_ENV) or DEFAULT_MASTER_PORT)
        logger.info("Joining %d hosts as rank %d (%s) through torch.distributed gloo at %s:%d", self.size, self.rank,
                    current_host, address, port)
        dist.init_process_group("gloo", init_method=f"tcp://{address}:{port}", rank=self.rank,
                                world_size=self.size, timeout=timeout)
        logger.info("All %d hosts joined: %s", self.size, ", ".join(self.hosts))

    def all_reduce_sum(self, array: np.ndarray) -> np.ndarray:
        import torch

        tensor = torch.from_numpy(np.array(array, copy=True))
        self._dist.all_reduce(tensor, op=self._dist.ReduceOp.SUM)
        return tensor.numpy()

    def all_gather_objects(self, value: Any) -> list[Any]:
        gathered: list[Any] = [None] * self.size
        self._dist.all_gather_object(gathered, value)
        return gathered

    def gather_rows(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        parts = [part for part in self.all_gather_objects(arrays) if len(part[0])]
        if not parts:
            return arrays
        return tuple(np.concatenate([part[index] for part in parts]) for index in range(len(arrays)))

    def gather_objects(self, value: Any, destination: int = 0) -> list[Any] | None:
        gathered: list[Any] | None = [None] * self.size if self.rank == destination else None
        self._dist.gather_object(value, gathered, dst=destination)
        return gathered

    def broadcast_object(self, value: Any, source: int = 0) -> Any:
        holder = [value if self.rank == source else None]
        self._dist.broadcast_object_list(holder, src=source)
        return holder[0]

    def barrier(self) -> None:
        self._dist.barrier()

    def place_on_gpus(self) -> int:
        """Choose this host's GPU (its index among the visible ones; made the current device) and
        the group its gradients go through. Every host must call it."""
        import torch

        visible = [str(torch.cuda.get_device_properties(index).uuid) for index in range(torch.cuda.device_count())]
        index, own_gpus = deal_gpus(self.all_gather_objects(visible), self.rank)
        torch.cuda.set_device(index)
        if own_gpus:
            self._gradient_group = self._dist.new_group(backend="nccl")
            logger.info("Each host trains on a GPU of its own (GPU %d here); gradients go through NCCL", index)
        else:
            logger.info("Hosts share GPUs (GPU %d here); gradients go through gloo, as NCCL needs a GPU per host",
                        index)
        return index

    @property
    def gradient_group(self) -> Any:
        return self._gradient_group

    def close(self) -> None:
        if self._dist.is_initialized():
            self._dist.destroy_process_group()

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        # On a failure the group stays up until the process exits, after the failure file is
        # written: the peers lose the connection later than this host recorded why it failed. It is
        # still destroyed then (at exit), since gloo aborts the process when left to static teardown.
        if exc_type is None:
            self.close()
        else:
            atexit.register(self.close)


def deal_gpus(visible: Sequence[Sequence[str]], rank: int) -> tuple[int, bool]:
    """Host ``rank``'s GPU index and whether every host has a GPU of its own, from the GPU ids each
    host sees (``visible``, in rank order). Hosts seeing the same GPUs share a machine and take its
    GPUs in turn by rank."""
    chosen = []
    for host, gpus in enumerate(visible):
        neighbours = [other for other, theirs in enumerate(visible) if list(theirs) == list(gpus)]
        chosen.append(neighbours.index(host) % len(gpus))
    distinct = {visible[host][index] for host, index in enumerate(chosen)}
    return chosen[rank], len(distinct) == len(visible)


def join_hosts(hosts: Sequence[str], current_host: str) -> HostGroup:
    """The job's host group: :class:`HostGroup` for one host (or one worker standing in for all),
    else a :class:`TorchHostGroup` (blocks until every host has joined)."""
    if len(hosts) <= 1:
        return HostGroup(hosts or [current_host], current_host)
    if os.environ.get(SINGLE_WORKER_ENV) == "1":
        logger.info("%d hosts are configured and %s trains alone on every shard (the emulator runs one worker)",
                    len(hosts), current_host)
        return HostGroup([current_host], current_host)
    try:
        import torch.distributed  # noqa: F401
    except ImportError:
        raise ClientError(
            f"Training on {len(hosts)} hosts needs torch.distributed, and torch is not installed in this "
            "container (install sagemaker-emulator[torch], or use InstanceCount 1)") from None
    return TorchHostGroup(hosts, current_host)
