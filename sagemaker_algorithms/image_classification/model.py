"""Image classification ``serve``: load the artifact and classify one encoded image per request.

Requests (algorithms.md §5.6): ``Content-Type`` ``application/x-image``, ``image/jpeg``,
``image/png``, or ``application/octet-stream`` (the SageMaker SDK's generic ``Predictor``), with
the raw JPEG/PNG bytes as the body. The image is resized to the training ``image_shape`` ignoring
its aspect ratio (no crop), normalised like the training images, and classified.

Responses, by ``Accept``:

* missing, ``*/*``, ``application/json``: a bare JSON array of ``num_classes`` probabilities;
* ``application/jsonlines``: ``{"prediction": [...]}`` on one line.

Probabilities are the softmax of the network's outputs, or for a ``multi_label`` model the
per-class sigmoid (independent probabilities that need not sum to 1; SageMaker does not document
which it uses). An empty body or bytes that are not an image → 400 ``unable to evaluate payload
provided: ...``; another Content-Type → 415; another Accept → 406.

The model runs on the first CUDA GPU when there is one, else the CPU, in channels-last format.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from pathlib import Path

import torch

from ..common import contract
from ..common.content_types import JSON, JSONLINES, parse_media_type
from ..common.errors import BadRequest, DataError, RequestError, UnsupportedMediaType
from ..common.inference import PAYLOAD_ERROR, TEXT_PLAIN, choose_response_type
from . import artifact
from .images import Geometry, decode_for_inference
from .network import Normalizer, build_network

logger = logging.getLogger("image-classification")

REQUEST_TYPES = ("application/x-image", "image/jpeg", "image/png", "image/jpg", "application/octet-stream")
RESPONSE_TYPES = (JSON, JSONLINES)


class ImageClassifier:
    """A trained network ready to classify encoded images."""

    response_types = RESPONSE_TYPES

    def __init__(self, network: torch.nn.Module, info: artifact.ModelInfo, device: torch.device | None = None) -> None:
        self.info = info
        self.device = device or (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))
        self.network = network.to(self.device).to(memory_format=torch.channels_last).eval()
        channels, height, width = info.image_shape
        self.geometry = Geometry(channels, height, width)
        self.normalize = Normalizer(channels, self.device)
        self.feature_dim = channels * height * width  # what the serving harness logs
        self._lock = threading.Lock() if self.device.type == "cuda" else None

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @torch.no_grad()
    def probabilities(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(N, H, W, C)`` uint8 → ``(N, num_classes)`` float probabilities on the CPU."""
        x = self.normalize(pixels)
        logits = self.network(x).float()
        probs = torch.sigmoid(logits) if self.info.multi_label else torch.softmax(logits, 1)
        return probs.cpu()

    def classify(self, data: bytes) -> list[float]:
        try:
            pixels = decode_for_inference(data, self.geometry)
        except DataError as error:
            raise BadRequest(f"{PAYLOAD_ERROR}: {error}") from None
        batch = torch.from_numpy(pixels.copy()).unsqueeze(0)
        if self._lock is None:
            probs = self.probabilities(batch)
        else:
            with self._lock:
                probs = self.probabilities(batch)
        return probs[0].tolist()

    def handle_invocation(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[int, str, bytes]:
        """One ``POST /invocations``: (status, response Content-Type, body)."""
        try:
            media = parse_media_type(content_type)
            if media is None or media.essence not in REQUEST_TYPES:
                shown = "none" if media is None else f"'{media.essence}'"
                raise UnsupportedMediaType(f"Content type {shown} is not supported; send the image bytes as one of "
                                           + ", ".join(REQUEST_TYPES))
            response = choose_response_type(accept, self.response_types)
            if not body:
                raise BadRequest(f"{PAYLOAD_ERROR}: the request body is empty")
            probabilities = self.classify(body)
            if response.essence == JSONLINES:
                return 200, JSONLINES, (json.dumps({"prediction": probabilities}) + "\n").encode()
            return 200, JSON, json.dumps(probabilities).encode()
        except RequestError as error:
            return error.status, TEXT_PLAIN, error.message.encode("utf-8")


def load_classifier(model_dir: Path, device: torch.device | None = None) -> ImageClassifier:
    """The classifier stored in ``model_dir`` (extracted artifact, or a directory holding model.tar.gz)."""
    with tempfile.TemporaryDirectory(prefix="ic-serve-") as scratch:
        directory = artifact.unpack_model_archive(model_dir, Path(scratch))
        info = artifact.read_info(directory)
        network = build_network(info.num_layers, info.num_classes, info.image_shape[0])
        params = artifact.choose_params(directory, info)
        artifact.load_params(params, network)
    logger.info("Loaded %s: ResNet-%d, image_shape %s, %d classes%s", params.name, info.num_layers,
                info.image_shape_text, info.num_classes, ", multi-label" if info.multi_label else "")
    return ImageClassifier(network, info, device)


def load_model(paths: contract.ContainerPaths) -> ImageClassifier:
    if not torch.cuda.is_available():
        from .pipeline import available_cpus

        torch.set_num_threads(available_cpus())
    return load_classifier(paths.model_dir)
