"""What an ``ml.*`` instance type gives a container: vCPUs, memory and GPUs.

The docker backend turns these into the container's CPU, memory and GPU limits, capped by what the
host has (a laptop cannot give an ``ml.c5.18xlarge`` 72 CPUs). Types missing from the table are
estimated from their size (``large`` = 2 vCPUs, ``xlarge`` = 4, ``Nxlarge`` = 4N) and family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float
    gpus: int = 0

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * 1024**3)


_TABLE: dict[str, tuple[int, float, int]] = {
    # general purpose
    "ml.t2.medium": (2, 4, 0), "ml.t2.large": (2, 8, 0), "ml.t2.xlarge": (4, 16, 0), "ml.t2.2xlarge": (8, 32, 0),
    "ml.t3.medium": (2, 4, 0), "ml.t3.large": (2, 8, 0), "ml.t3.xlarge": (4, 16, 0), "ml.t3.2xlarge": (8, 32, 0),
    "ml.m4.xlarge": (4, 16, 0), "ml.m4.2xlarge": (8, 32, 0), "ml.m4.4xlarge": (16, 64, 0),
    "ml.m4.10xlarge": (40, 160, 0), "ml.m4.16xlarge": (64, 256, 0),
    "ml.m5.large": (2, 8, 0), "ml.m5.xlarge": (4, 16, 0), "ml.m5.2xlarge": (8, 32, 0), "ml.m5.4xlarge": (16, 64, 0),
    "ml.m5.12xlarge": (48, 192, 0), "ml.m5.24xlarge": (96, 384, 0),
    "ml.m6i.large": (2, 8, 0), "ml.m6i.xlarge": (4, 16, 0), "ml.m6i.2xlarge": (8, 32, 0),
    "ml.m6i.4xlarge": (16, 64, 0), "ml.m6i.8xlarge": (32, 128, 0),
    # compute optimised
    "ml.c4.large": (2, 3.75, 0), "ml.c4.xlarge": (4, 7.5, 0), "ml.c4.2xlarge": (8, 15, 0),
    "ml.c4.4xlarge": (16, 30, 0), "ml.c4.8xlarge": (36, 60, 0),
    "ml.c5.large": (2, 4, 0), "ml.c5.xlarge": (4, 8, 0), "ml.c5.2xlarge": (8, 16, 0), "ml.c5.4xlarge": (16, 32, 0),
    "ml.c5.9xlarge": (36, 72, 0), "ml.c5.18xlarge": (72, 144, 0),
    # memory optimised
    "ml.r5.large": (2, 16, 0), "ml.r5.xlarge": (4, 32, 0), "ml.r5.2xlarge": (8, 64, 0), "ml.r5.4xlarge": (16, 128, 0),
    "ml.r5.12xlarge": (48, 384, 0), "ml.r5.24xlarge": (96, 768, 0),
    # accelerated
    "ml.p2.xlarge": (4, 61, 1), "ml.p2.8xlarge": (32, 488, 8), "ml.p2.16xlarge": (64, 732, 16),
    "ml.p3.2xlarge": (8, 61, 1), "ml.p3.8xlarge": (32, 244, 4), "ml.p3.16xlarge": (64, 488, 8),
    "ml.p3dn.24xlarge": (96, 768, 8), "ml.p4d.24xlarge": (96, 1152, 8), "ml.p5.48xlarge": (192, 2048, 8),
    "ml.g4dn.xlarge": (4, 16, 1), "ml.g4dn.2xlarge": (8, 32, 1), "ml.g4dn.4xlarge": (16, 64, 1),
    "ml.g4dn.8xlarge": (32, 128, 1), "ml.g4dn.12xlarge": (48, 192, 4), "ml.g4dn.16xlarge": (64, 256, 1),
    "ml.g5.xlarge": (4, 16, 1), "ml.g5.2xlarge": (8, 32, 1), "ml.g5.4xlarge": (16, 64, 1), "ml.g5.8xlarge": (32, 128, 1),
    "ml.g5.12xlarge": (48, 192, 4), "ml.g5.16xlarge": (64, 256, 1), "ml.g5.24xlarge": (96, 384, 4),
    "ml.g5.48xlarge": (192, 768, 8),
}

# GiB of memory per vCPU by family letter, for types not in the table.
_MEMORY_PER_VCPU = {"c": 2.0, "m": 4.0, "t": 4.0, "r": 8.0, "x": 16.0, "z": 8.0, "g": 4.0, "p": 7.6}
_NAME = re.compile(
    r"^ml\.(?P<family>[a-z]+)(?P<generation>\d+)[a-z0-9-]*\.(?:(?P<multiple>\d+)?xlarge|(?P<small>large|medium))$"
)


def instance_type(name: str | None) -> InstanceType:
    """The resources of ``name``; unknown or missing names get an ``ml.m5.large``'s (2 vCPUs, 8 GiB)."""
    name = (name or "").strip()
    if name in _TABLE:
        return InstanceType(name, *_TABLE[name])
    match = _NAME.match(name)
    if not match:
        return InstanceType(name or "ml.m5.large", 2, 8.0)
    if match.group("small"):
        vcpus = 2
    else:
        vcpus = 4 * int(match.group("multiple") or 1)
    family = match.group("family")[0]
    gpus = max(1, vcpus // 32) if family in ("g", "p") else 0
    return InstanceType(name, vcpus, vcpus * _MEMORY_PER_VCPU.get(family, 4.0), gpus)
