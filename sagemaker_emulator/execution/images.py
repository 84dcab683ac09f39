"""The emulator's own images: which one runs each built-in algorithm, and how to build it.

``containers/build.py`` builds and tags them; the docker backend looks them up by these names.
One image serves several algorithms: the emulator sets ``SAGEMAKER_ALGORITHM`` when it starts a
container (see ``containers/README.md``).

=====================================================  ===============================================
``sagemaker-emulator/algorithms-numpy:<version>``      kmeans, knn, linear-learner (numpy only)
``sagemaker-emulator/algorithms-torch:<version>``      image-classification (torch CPU + Pillow), and
                                                       every built-in on several hosts (torch.distributed)
``sagemaker-emulator/algorithms-torch:<version>-cuda``  the same with torch's CUDA build (GPU hosts)
``sagemaker-emulator/base:bookworm``                   the base built locally (debootstrap)
``sagemaker-emulator/emulator:<version>``              the emulator itself (docker-compose.yml)
=====================================================  ===============================================

Every algorithm image carries the label ``SOURCE_LABEL``: a digest of the ``sagemaker_algorithms``
sources it was built from, so the emulator can say when an image is older than the code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sagemaker_emulator import __version__

REPOSITORY_PREFIX = "sagemaker-emulator/"
BASE_IMAGE = REPOSITORY_PREFIX + "base:bookworm"
NUMPY_IMAGE = f"{REPOSITORY_PREFIX}algorithms-numpy:{__version__}"
TORCH_IMAGE = f"{REPOSITORY_PREFIX}algorithms-torch:{__version__}"
TORCH_CUDA_IMAGE = f"{TORCH_IMAGE}-cuda"
EMULATOR_IMAGE = f"{REPOSITORY_PREFIX}emulator:{__version__}"
SOURCE_LABEL = "org.sagemaker-emulator.algorithms-source"
BUILD_COMMAND = "bash scripts/build-images.sh"

# Built-in algorithm (SAGEMAKER_ALGORITHM) -> (image target in containers/build.py, image)
ALGORITHM_IMAGES: dict[str, tuple[str, str]] = {
    "kmeans": ("numpy", NUMPY_IMAGE),
    "knn": ("numpy", NUMPY_IMAGE),
    "linear-learner": ("numpy", NUMPY_IMAGE),
    "image-classification": ("torch", TORCH_IMAGE),
}


def image_for_algorithm(algorithm: str, gpu: bool = False, multi_host: bool = False) -> str:
    """The image that runs a built-in: its own, or the torch image (which carries every algorithm)
    when its hosts must join through torch.distributed."""
    target, image = ALGORITHM_IMAGES.get(algorithm, ("numpy", NUMPY_IMAGE))
    if multi_host:
        target, image = "torch", TORCH_IMAGE
    return TORCH_CUDA_IMAGE if gpu and target == "torch" else image


def build_hint(image: str) -> str:
    target = "torch --cuda" if image == TORCH_CUDA_IMAGE else "torch" if image == TORCH_IMAGE else "numpy"
    return f"build it with `{BUILD_COMMAND}` (or `.venv/bin/python containers/build.py {target}`)"


def algorithms_source_digest(root: Path | None = None) -> str:
    """A digest of every ``.py`` file of ``sagemaker_algorithms`` (paths and contents)."""
    import sagemaker_algorithms

    root = root or Path(sagemaker_algorithms.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
