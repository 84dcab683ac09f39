"""The input pipeline: channels → labelled image sets → batches of decoded ``uint8`` images.

Channels (algorithms.md §5.2):

* RecordIO (``application/x-recordio``): every file of the channel except ``.idx``/``.lst`` is an
  image ``.rec`` (labels from each record's IRHeader).
* Images (``application/x-image``, ``image/jpeg``, ``image/png``): ``train_lst`` /
  ``validation_lst`` hold ``.lst`` files whose paths are relative to the ``train`` / ``validation``
  channel. Without the ``_lst`` channel a ``.lst`` inside the image channel itself is used.
* No ContentType: images when the ``_lst`` channel exists, RecordIO otherwise.

Labels: single-label jobs take each record's first label, which must be a class index in
``[0, num_classes)``. Multi-label jobs (``multi_label=1``) take a label vector of length
``num_classes`` as multi-hot, and any other length as a list of class indices (the ``class-id``
form).

Batches are decoded in worker processes (a torch ``DataLoader`` over whole batches, with prefetch and,
on CUDA, pinned memory). Each batch is ``(N, H, W, C)`` uint8 plus targets; its random augmentation
is seeded from (seed, epoch, batch), so a job is reproducible whatever the number of workers. The
last training batch of an epoch is filled up from the start of the epoch's order, as MXNet's
``round_batch`` does, so every training batch has ``mini_batch_size`` images. A worker never raises:
a bad image comes back as a message, which the training loop turns into a ClientError.

Several hosts: when they all hold the same records (``FullyReplicated``), each takes every
``size``-th position of the epoch's shared order, starting at its rank (training pads the order so
that all get as many; evaluation splits it exactly); with ``ShardedByS3Key`` each reads only its own
files. Each host decodes its own batches of ``mini_batch_size`` images.

Workers: on CUDA one per available core but one (at most 16), as the GPU outruns a decoder many
times over; on the CPU one (a training step there costs a hundred times the decoding of its
batch, and every other core computes). ``$SAGEMAKER_IMAGE_CLASSIFICATION_WORKERS`` overrides this
(0 decodes in the training process).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..common.content_types import parse_media_type
from ..common.errors import ClientError, DataError
from ..common.training import Channel, TrainingEnvironment
from .images import Geometry, decode_for_training
from .records import FileImages, RecordImages, parse_lst, read_record_file

logger = logging.getLogger("image-classification")

RECORDIO = "application/x-recordio"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png", "image/jpg")
WORKERS_ENV = "SAGEMAKER_IMAGE_CLASSIFICATION_WORKERS"


class ImageSource:
    """Several ``.rec`` files or image lists seen as one indexable collection of encoded images."""

    def __init__(self, parts: list[tuple[str, RecordImages | FileImages]]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(part) for _, part in parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _locate(self, index: int) -> tuple[int, int]:
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return part, index - int(self.offsets[part])

    def get(self, index: int) -> bytes:
        part, local = self._locate(index)
        return self.parts[part][1].get(local)

    def describe(self, index: int) -> str:
        part, local = self._locate(index)
        name, images = self.parts[part]
        if isinstance(images, FileImages):
            return f"image '{(images.names or images.paths)[local]}'"
        return f"record {local} of '{name}'"


@dataclass
class ImageSet:
    channel: str
    source: ImageSource
    targets: np.ndarray  # int64 (N,) class indices, or float32 (N, num_classes) multi-hot

    def __len__(self) -> int:
        return len(self.source)


# --------------------------------------------------------------------------------------------
# Channels → image sets


def channel_format(env: TrainingEnvironment, channel: Channel) -> str:
    """``"recordio"`` or ``"image"``; ClientError for any other content type."""
    declared = channel.config.get("ContentType")
    if not declared:
        return "image" if env.channel(f"{channel.name}_lst") is not None else "recordio"
    essence = parse_media_type(declared).essence
    if essence == RECORDIO:
        return "recordio"
    if essence in IMAGE_TYPES:
        return "image"
    accepted = ", ".join(f"'{t}'" for t in (RECORDIO, *IMAGE_TYPES[:3]))
    raise ClientError(f"Content type '{declared}' of channel '{channel.name}' is not supported; use one of {accepted}")


def load_image_set(env: TrainingEnvironment, name: str, num_classes: int, multi_label: bool) -> ImageSet:
    channel = env.require_channel(name)
    if channel_format(env, channel) == "recordio":
        parts, labels = _read_recordio_channel(channel)
    else:
        parts, labels = _read_image_channel(env, channel)
    if not labels:
        raise ClientError(f"No images were found in channel '{name}'")
    source = ImageSource(parts)
    return ImageSet(name, source, _targets(labels, num_classes, multi_label, name, source))


def _read_recordio_channel(channel: Channel) -> tuple[list, list[np.ndarray]]:
    files = [p for p in channel.files if p.suffix.lower() not in (".idx", ".lst")]
    if not files:
        raise ClientError(f"No data was found in channel '{channel.name}' (the channel directory has no .rec files)")
    parts, labels = [], []
    for path in files:
        relative = path.relative_to(channel.directory).as_posix()
        try:
            record_labels, images = read_record_file(path)
        except DataError as error:
            raise ClientError(f"Unable to read data channel '{channel.name}' (file '{relative}', content type "
                              f"'{RECORDIO}'): {error}") from None
        if len(images):
            parts.append((relative, images))
            labels.extend(record_labels)
    return parts, labels


def _read_image_channel(env: TrainingEnvironment, channel: Channel) -> tuple[list, list[np.ndarray]]:
    list_channel = env.channel(f"{channel.name}_lst")
    if list_channel is not None:
        lists = [p for p in list_channel.files if p.suffix.lower() == ".lst"] or list_channel.files
        where = f"channel '{list_channel.name}'"
    else:
        lists = [p for p in channel.files if p.suffix.lower() == ".lst"]
        where = f"channel '{channel.name}'"
    if not lists:
        raise ClientError(f"Channel '{channel.name}_lst' is required with image content types: it holds the .lst "
                          f"file that lists the images of channel '{channel.name}' and their labels")
    root = channel.directory.resolve()
    paths, names, labels = [], [], []
    for lst in lists:
        logger.info("Reading image list %s", lst.name)
        try:
            entries = parse_lst(lst.read_text(encoding="utf-8", errors="replace"))
        except DataError as error:
            raise ClientError(f"Unable to read the image list '{lst.name}' in {where}: {error}") from None
        for entry in entries:
            path = (root / entry.path).resolve()
            if root not in path.parents or not path.is_file():
                raise ClientError(f"The image '{entry.path}' listed in '{lst.name}' ({where}) was not found in "
                                  f"channel '{channel.name}'")
            paths.append(str(path))
            names.append(entry.path)
            labels.append(entry.labels)
    return [(channel.name, FileImages(paths, names))], labels


def _targets(labels: list[np.ndarray], num_classes: int, multi_label: bool, channel: str,
             source: ImageSource) -> np.ndarray:
    if not multi_label:
        first = np.array([vector[0] if vector.size else np.nan for vector in labels], np.float64)
        bad = np.flatnonzero(~np.isfinite(first) | (first != np.round(first)) | (first < 0) | (first >= num_classes))
        if bad.size:
            index = int(bad[0])
            raise ClientError(f"Label {labels[index][:1].tolist()} of {source.describe(index)} in channel '{channel}' "
                              f"is not a class index in 0..{num_classes - 1} (num_classes={num_classes})")
        return first.astype(np.int64)
    hot = np.zeros((len(labels), num_classes), np.float32)
    for index, vector in enumerate(labels):
        if vector.size == num_classes:
            hot[index] = vector != 0
            continue
        ids = vector.astype(np.int64)
        if (ids != vector).any() or (ids < 0).any() or (ids >= num_classes).any():
            raise ClientError(f"Labels {vector.tolist()} of {source.describe(index)} in channel '{channel}' are "
                              f"neither a multi-hot vector of num_classes={num_classes} values nor class indices in "
                              f"0..{num_classes - 1}")
        hot[index, ids] = 1.0
    return hot


# --------------------------------------------------------------------------------------------
# Batches


class EpochBatches(Sampler):
    """Yields ``(epoch, batch number, indices)``; call :meth:`set_epoch` before iterating.

    With ``size`` > 1 the epoch's order (the same on every host: it depends on seed and epoch only)
    is dealt out to the hosts: this one takes positions ``rank::size``. With ``fill_last`` the order
    is first padded by wrapping around to a multiple of ``size``, so every host gets the same number
    of records (as ``DistributedSampler`` does); without it the parts are disjoint and together hold
    every record exactly once (evaluation). ``limit`` caps the batches of an epoch (the hosts' agreed
    number of steps).
    """

    def __init__(self, count: int, batch_size: int, *, shuffle: bool, fill_last: bool, seed: int,
                 rank: int = 0, size: int = 1, limit: int | None = None) -> None:
        self.count, self.batch_size, self.shuffle = count, batch_size, shuffle
        self.fill_last, self.seed = fill_last, seed
        self.rank, self.size, self.limit = rank, size, limit
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def local_count(self) -> int:
        """How many records of an epoch this host takes."""
        if self.size == 1:
            return self.count
        if self.fill_last:
            return -(-self.count // self.size)
        return len(range(self.rank, self.count, self.size))

    @property
    def batches_per_epoch(self) -> int:
        """Batches of an epoch before ``limit``."""
        return -(-self.local_count // self.batch_size)

    def __len__(self) -> int:
        batches = self.batches_per_epoch
        return batches if self.limit is None else min(batches, self.limit)

    def __iter__(self) -> Iterator[tuple[int, int, np.ndarray]]:
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.count) if self.shuffle
                 else np.arange(self.count))
        if self.size > 1:
            if self.fill_last:
                order = np.resize(order, self.local_count * self.size)
            order = order[self.rank::self.size]
        for number in range(len(self)):
            indices = order[number * self.batch_size:(number + 1) * self.batch_size]
            if self.fill_last and indices.size < self.batch_size:
                indices = np.resize(np.concatenate([indices, order]), self.batch_size)
            yield self.epoch, number, indices


class BatchDecoder(Dataset):
    """Decodes one whole batch per item (in a worker process when the loader has workers)."""

    def __init__(self, images: ImageSet, geometry: Geometry, augmentation: str | None, seed: int,
                 stream: int = 0) -> None:
        self.images, self.geometry, self.augmentation, self.seed = images, geometry, augmentation, seed
        self.entropy = (1,) if stream == 0 else (1, stream)  # each host its own augmentation stream

    def __getitem__(self, item: tuple[int, int, np.ndarray]) -> dict:
        epoch, number, indices = item
        rng = np.random.default_rng([self.seed, epoch, number, *self.entropy]) if self.augmentation else None
        g = self.geometry
        out = np.empty((indices.size, g.height, g.width, g.channels), np.uint8)
        for position, index in enumerate(indices.tolist()):
            try:
                out[position] = decode_for_training(self.images.source.get(index), g, self.augmentation, rng)
            except DataError as error:
                return {"error": f"{self.images.source.describe(index)}: {error}"}
            except Exception as error:  # noqa: BLE001 - reported, never raised inside a worker
                return {"error": f"{self.images.source.describe(index)}: {type(error).__name__}: {error}"}
        return {"images": torch.from_numpy(out), "targets": torch.from_numpy(self.images.targets[indices])}


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers(device: torch.device) -> int:
    """How many decoding processes (see the module docstring)."""
    override = os.environ.get(WORKERS_ENV)
    if override is not None and override.strip().isdigit():
        return int(override)
    if device.type == "cuda":
        return max(1, min(available_cpus() - 1, 16))
    return 1


def make_loader(images: ImageSet, geometry: Geometry, batch_size: int, *, train: bool, augmentation: str | None,
                seed: int, workers: int, pin_memory: bool, rank: int = 0, size: int = 1, stream: int = 0,
                limit: int | None = None) -> tuple[DataLoader, EpochBatches]:
    """The loader of one channel. ``rank``/``size``: this host's part of the records when the hosts
    share one copy of them (see :class:`EpochBatches`); ``stream``: the host's augmentation stream."""
    sampler = EpochBatches(len(images), batch_size, shuffle=train, fill_last=train, seed=seed, rank=rank, size=size,
                           limit=limit)
    decoder = BatchDecoder(images, geometry, augmentation if train else None, seed, stream)
    workers = min(workers, len(sampler))
    loader = DataLoader(decoder, batch_size=None, sampler=sampler, num_workers=workers, pin_memory=pin_memory,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
                        worker_init_fn=_worker_init if workers > 0 else None)
    return loader, sampler


def batches(loader: DataLoader, sampler: EpochBatches, epoch: int, channel: str) -> Iterator[dict]:
    """The epoch's batches; a worker's decoding error becomes a ClientError naming the image."""
    sampler.set_epoch(epoch)
    for batch in loader:
        if "error" in batch:
            raise ClientError(f"Unable to read data channel '{channel}': {batch['error']}")
        yield batch


def class_counts(images: ImageSet, num_classes: int) -> np.ndarray:
    if images.targets.ndim == 2:
        return images.targets.sum(0)
    return np.bincount(images.targets, minlength=num_classes).astype(np.float32)
