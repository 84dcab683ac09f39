"""ImageNet weights for ``use_pretrained_model=1``, from torch's local weights cache.

The cache is ``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub/checkpoints``, by default
``~/.cache/torch/hub/checkpoints``): the directory torchvision downloads its checkpoints into, so a
machine that ever ran ``torchvision.models.resnet18(weights="DEFAULT")`` already has
``resnet18-f37072fd.pth``. Any ``resnet<N>-*.pth`` there with torchvision's parameter names is used
(ResNet-200 has no torchvision checkpoint; bring your own). When the file is missing it is
downloaded from ``download.pytorch.org`` (``$SAGEMAKER_IMAGE_CLASSIFICATION_WEIGHTS_URL`` replaces
that base URL; an empty value forbids downloading); when that fails too, the job fails with a
``ClientError`` saying which file to put where.

As on SageMaker, every layer but the classifier starts from the ImageNet weights; ``fc`` is
initialised afresh for ``num_classes``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import torch
from torch import nn

from ..common.errors import ClientError

logger = logging.getLogger("image-classification")

TORCHVISION_FILES = {
    18: "resnet18-f37072fd.pth",
    34: "resnet34-b627a593.pth",
    50: "resnet50-0676ba61.pth",
    101: "resnet101-63fe2227.pth",
    152: "resnet152-394f9c45.pth",
}
DEFAULT_BASE_URL = "https://download.pytorch.org/models/"
BASE_URL_ENV = "SAGEMAKER_IMAGE_CLASSIFICATION_WEIGHTS_URL"
DOWNLOAD_TIMEOUT_SECONDS = 30


def checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(num_layers: int, directory: Path | None = None) -> Path | None:
    """The cached checkpoint for ``num_layers``: torchvision's file name first, then any ``resnet<N>-*.pth``."""
    directory = directory or checkpoint_dir()
    known = TORCHVISION_FILES.get(num_layers)
    if known and (directory / known).is_file():
        return directory / known
    candidates = sorted(directory.glob(f"resnet{num_layers}-*.pth")) if directory.is_dir() else []
    return candidates[0] if candidates else None


def _download(name: str, directory: Path) -> tuple[Path | None, str]:
    base = os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL)
    if not base:
        return None, f"downloading is disabled (${BASE_URL_ENV} is empty)"
    url = base.rstrip("/") + "/" + name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:  # noqa: S310
            with tempfile.NamedTemporaryFile(dir=directory, suffix=".partial", delete=False) as handle:
                temporary = Path(handle.name)
                while chunk := response.read(1 << 20):
                    handle.write(chunk)
        target = directory / name
        os.replace(temporary, target)
        return target, url
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return None, f"could not be downloaded from {url} ({reason})"


def locate_weights(num_layers: int) -> Path:
    """The checkpoint file, downloading it when possible; ClientError saying exactly what is missing."""
    directory = checkpoint_dir()
    found = find_weights(num_layers, directory)
    if found is not None:
        return found
    name = TORCHVISION_FILES.get(num_layers)
    if name is None:
        raise ClientError(
            f"use_pretrained_model=1 needs ImageNet weights for ResNet-{num_layers}, but no resnet{num_layers}-*.pth "
            f"is in the torch weights cache ({directory}) and torchvision publishes none to download. Put a "
            "checkpoint with torchvision's parameter names there, or set use_pretrained_model=0",
            "FileNotFoundError")
    logger.info("Pretrained weights %s are not in %s; downloading them", name, directory)
    path, detail = _download(name, directory)
    if path is None:
        raise ClientError(
            f"use_pretrained_model=1 needs the ImageNet weights for ResNet-{num_layers} ({name}), which are not in "
            f"the torch weights cache ({directory}) and {detail}. Copy {name} into that directory (or point "
            "TORCH_HOME at a cache that has it), or set use_pretrained_model=0", "FileNotFoundError")
    logger.info("Downloaded %s to %s", detail, path)
    return path


def load_pretrained(model: nn.Module, num_layers: int) -> Path:
    """Copy ImageNet weights into every layer of ``model`` except ``fc``; returns the file used."""
    path = locate_weights(num_layers)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file
        raise ClientError(f"Unable to read the pretrained weights {path}: {error}", "ValueError") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    state = {key.removeprefix("module."): value for key, value in state.items() if not key.startswith("fc.")}
    own = model.state_dict()
    mismatched = [key for key, value in state.items() if key in own and tuple(value.shape) != tuple(own[key].shape)]
    missing = [key for key in own if not key.startswith("fc.") and key not in state
               and not key.endswith("num_batches_tracked")]
    if mismatched or missing:
        problem = (f"shapes differ for {mismatched[:3]}" if mismatched else f"it lacks {missing[:3]}")
        raise ClientError(f"The pretrained weights {path} do not fit ResNet-{num_layers}: {problem}", "ValueError")
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return path
