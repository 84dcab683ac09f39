"""Image classification ``train``: channels → a ResNet trained with torch → the MXNet-style artifact.

Runs on the best device present: the first CUDA GPU (cuDNN autotuning, TF32, float16 autocast with
a gradient scaler for ``precision_dtype=float16``, pinned host memory and asynchronous copies), the
CPU otherwise (every available core computes; ``float16`` becomes bfloat16 autocast where the CPU
has native bfloat16, float32 elsewhere). The network runs in channels-last memory format on both
(on the CPU, oneDNN trained ResNet-18/50 at 224x224 about 5% faster that way than in NCHW). Images
are decoded and augmented by worker processes (:mod:`.pipeline`) while the device trains, and
normalised on the device.

Training follows MXNet's ``Module.fit`` as SageMaker's container uses it:

* optimizers ``sgd`` (momentum, weight decay), ``nag`` (Nesterov), ``adam`` (beta_1, beta_2, eps)
  and ``rmsprop`` (gamma, eps); weight decay applies to convolution and classifier weights only
  (MXNet's default ``wd_mult`` exempts biases and batch-norm parameters), and only for sgd and nag;
* the learning rate is multiplied by ``lr_scheduler_factor`` at each epoch of
  ``lr_scheduler_step``, counted in updates of ``num_training_samples // mini_batch_size``;
* loss: softmax cross-entropy, or for ``multi_label=1`` sigmoid binary cross-entropy (with
  ``use_weighted_loss=1`` each class's positives weighted by its negatives/positives ratio);
* metrics: ``accuracy`` (multi-label: the share of labels predicted right at probability 0.5) and,
  with ``top_k``, ``top_k_accuracy_<k>`` (multi-label: a true label among the top k).

Log lines (the metric regexes read the ``Epoch[..]`` ones)::

    Epoch[0] Batch [20]	Speed: 310.42 samples/sec	accuracy=0.412500
    Epoch[0] Train-accuracy=0.150391
    Epoch[0] Train-top_k_accuracy_2=0.273438
    Epoch[0] Time cost=8.095
    Epoch[0] Validation-accuracy=0.253906
    Storing the best model with validation accuracy: 0.253906
    Saved checkpoint to "/opt/ml/model/image-classification-0001.params"

The model directory ends up holding the best epoch's ``.params`` (by validation accuracy; ties keep
the earlier epoch), every ``checkpoint_frequency``-th epoch's, the symbol and ``model-shapes.json``
(:mod:`.artifact`). ``early_stopping`` ends training once ``early_stopping_patience`` epochs in a
row (after ``early_stopping_min_epochs``) improved the best validation accuracy by no more than the
relative ``early_stopping_tolerance``.

Several hosts (``resourceconfig.json`` lists ``algo-1`` .. ``algo-N``) train one model together,
like MXNet's ``dist_sync`` kvstore: every host joins the job's process group
(:func:`..common.distributed.join_hosts`; gradients through NCCL when every host has a GPU of its
own, else gloo), the model is wrapped in
``DistributedDataParallel`` (each update averages the gradients of all hosts' batches), and

* ``mini_batch_size`` is each host's batch, as SageMaker documents it ("for the multi-machine
  training in dist_sync mode, the actual batch size is mini_batch_size*number of machines"); the
  learning rate is used as given (nothing is scaled with the number of hosts), and the
  ``lr_scheduler_step`` epochs are counted in ``num_training_samples // mini_batch_size / hosts``
  updates, as MXNet's ``fit`` counts them with a distributed kvstore;
* a ``FullyReplicated`` channel (every host holds every record) is dealt out per epoch: host ``r``
  of ``N`` takes positions ``r::N`` of the epoch's shuffled order; with ``ShardedByS3Key`` each host
  trains on the files it was given;
* every host runs the same number of updates per epoch: the fewest batches any host has (DDP's
  collectives would wait forever otherwise);
* accuracy counts (training and validation) are summed over the hosts, so every host logs the same
  ``Epoch[..]`` figures; validation runs with the primary host's batch-norm statistics, i.e. on the
  model that is saved;
* only the primary host (``algo-1``) writes the model directory; the early-stopping and best-epoch
  decisions follow the shared validation accuracy, so they agree on every host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
from torch import nn

from ..common.errors import ClientError
from ..common.training import TrainingAlgorithm, TrainingEnvironment
from . import artifact
from .hyperparameters import SCHEMA, check_consistency
from .images import Geometry
from .network import Normalizer, ResNet, build_network
from .pipeline import ImageSet, available_cpus, batches, class_counts, default_workers, load_image_set, make_loader
from .pretrained import load_pretrained

if TYPE_CHECKING:
    from ..common.distributed import HostGroup

logger = logging.getLogger("image-classification")

NAME = "image-classification"
SEED = 0
CHANNELS = ("train", "validation", "train_lst", "validation_lst", "model")
LOG_EVERY_BATCHES = 20


# --------------------------------------------------------------------------------------------
# Device and precision


def select_device() -> torch.device:
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda", 0)
    torch.set_num_threads(compute_threads())
    return torch.device("cpu")


def compute_threads() -> int:
    """Every available core, or ``$OMP_NUM_THREADS`` when it is set (several hosts on one machine)."""
    override = os.environ.get("OMP_NUM_THREADS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return available_cpus()


def cpu_has_native_bfloat16() -> bool:
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def autocast_dtype(precision_dtype: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision_dtype`` on ``device`` (None: plain float32)."""
    if precision_dtype != "float16":
        return None
    if device.type == "cuda":
        return torch.float16
    if cpu_has_native_bfloat16():
        return torch.bfloat16
    return None


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        count = torch.cuda.device_count()
        return f"GPU {torch.cuda.get_device_name(device)} (1 of {count} visible)"
    return f"CPU ({torch.get_num_threads()} threads)"


# --------------------------------------------------------------------------------------------
# Optimisation


def make_optimizer(model: nn.Module, hp: dict[str, Any]) -> torch.optim.Optimizer:
    decayed = [p for name, p in model.named_parameters() if name.endswith("weight") and p.ndim > 1]
    exempt = [p for name, p in model.named_parameters() if not (name.endswith("weight") and p.ndim > 1)]
    name, lr = hp["optimizer"], hp["learning_rate"]
    decay = hp["weight_decay"] if name in ("sgd", "nag") else 0.0
    groups = [{"params": decayed, "weight_decay": decay}, {"params": exempt, "weight_decay": 0.0}]
    if name in ("sgd", "nag"):
        nesterov = name == "nag" and hp["momentum"] > 0
        return torch.optim.SGD(groups, lr=lr, momentum=hp["momentum"], nesterov=nesterov)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(hp["beta_1"], hp["beta_2"]), eps=hp["eps"])
    return torch.optim.RMSprop(groups, lr=lr, alpha=hp["gamma"], eps=hp["eps"])


def learning_rate_at(update: int, hp: dict[str, Any], hosts: int = 1) -> float:
    """MXNet's MultiFactorScheduler: ×factor once ``update`` passes each step (steps in updates; an
    epoch is ``num_training_samples // mini_batch_size`` updates, divided by the number of hosts)."""
    steps = hp["lr_scheduler_step"] or []
    epoch_size = max(hp["num_training_samples"] // hp["mini_batch_size"], 1) / max(hosts, 1)
    passed = sum(1 for step in steps if update > step * epoch_size)
    return hp["learning_rate"] * hp["lr_scheduler_factor"] ** passed


# --------------------------------------------------------------------------------------------
# Metrics


@dataclass
class Accuracy:
    """Device-side counters (no host sync until :meth:`values`)."""

    multi_label: bool
    top_k: int | None
    device: torch.device
    correct: torch.Tensor = field(init=False)
    top: torch.Tensor = field(init=False)
    seen: int = 0

    def __post_init__(self) -> None:
        self.correct = torch.zeros((), dtype=torch.float64, device=self.device)
        self.top = torch.zeros((), dtype=torch.float64, device=self.device)

    @torch.no_grad()
    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        logits = logits.float()
        if self.multi_label:
            self.correct += ((logits > 0) == (targets > 0.5)).float().mean(1).sum()
            if self.top_k:
                hits = torch.gather(targets, 1, logits.topk(self.top_k, 1).indices) > 0.5
                self.top += hits.any(1).sum()
        else:
            self.correct += (logits.argmax(1) == targets).sum()
            if self.top_k:
                self.top += (logits.topk(self.top_k, 1).indices == targets[:, None]).any(1).sum()
        self.seen += int(targets.shape[0])

    def combine(self, group: "HostGroup | None") -> None:
        """Sum the counts over every host of ``group`` (a collective: every host calls it)."""
        if group is None or group.size == 1:
            return
        totals = group.all_reduce_sum(np.array([float(self.correct), float(self.top), float(self.seen)], np.float64))
        self.correct = torch.tensor(totals[0], dtype=torch.float64, device=self.device)
        self.top = torch.tensor(totals[1], dtype=torch.float64, device=self.device)
        self.seen = int(round(totals[2]))

    def values(self) -> dict[str, float]:
        seen = max(self.seen, 1)
        result = {"accuracy": float(self.correct) / seen}
        if self.top_k:
            result[f"top_k_accuracy_{self.top_k}"] = float(self.top) / seen
        return result


# --------------------------------------------------------------------------------------------
# The trainer


class Trainer:
    """One model on one device with its optimiser, loss, precision and data loaders.

    With a ``group`` of several hosts, ``model`` is the network wrapped in DistributedDataParallel
    (``network`` is the bare one, for saving and evaluation); the channels named in ``split`` hold
    every record on every host and are dealt out among the hosts (the others are each host's own
    shard)."""

    def __init__(self, model: ResNet, hp: dict[str, Any], device: torch.device, geometry: Geometry,
                 *, workers: int | None = None, channels_last: bool = True, seed: int = SEED,
                 group: "HostGroup | None" = None, split: tuple[str, ...] = ()) -> None:
        self.hp, self.device, self.geometry, self.seed = hp, device, geometry, seed
        self.group = group if group is not None and group.size > 1 else None
        self.rank, self.size = (self.group.rank, self.group.size) if self.group else (0, 1)
        self.split = split
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.network = model.to(device).to(memory_format=self.memory_format)
        self.model: nn.Module = self.network
        if self.group is not None:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(self.network, device_ids=[device.index] if device.type == "cuda"
                                                 else None, process_group=self.group.gradient_group)
        self.optimizer = make_optimizer(self.network, hp)
        self.amp_dtype = autocast_dtype(hp["precision_dtype"], device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.normalize = Normalizer(geometry.channels, device, self.memory_format)
        self.workers = default_workers(device) if workers is None else workers
        self.pin_memory = device.type == "cuda"
        self.non_blocking = device.type == "cuda"
        self.multi_label = bool(hp["multi_label"])
        self.loss_fn: nn.Module = nn.CrossEntropyLoss()
        self.updates = 0
        self._loaders: dict[str, tuple] = {}

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def set_loss(self, train_set: ImageSet) -> None:
        if not self.multi_label:
            self.loss_fn = nn.CrossEntropyLoss()
            return
        pos_weight = None
        if self.hp["use_weighted_loss"]:
            counts = np.concatenate([class_counts(train_set, self.hp["num_classes"]), [len(train_set)]])
            if self.group is not None and train_set.channel not in self.split:  # each host has its own shard
                counts = self.group.all_reduce_sum(counts.astype(np.float64))
            positives, total = counts[:-1], counts[-1]
            negatives = total - positives
            pos_weight = torch.tensor(np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0),
                                      dtype=torch.float32, device=self.device)
        self.loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def loader(self, images: ImageSet, *, train: bool):
        key = f"{images.channel}:{train}"
        if key not in self._loaders:
            rank, size = (self.rank, self.size) if images.channel in self.split else (0, 1)
            loader, sampler = make_loader(
                images, self.geometry, self.hp["mini_batch_size"], train=train,
                augmentation=self.hp["augmentation_type"], seed=self.seed, workers=self.workers,
                pin_memory=self.pin_memory, rank=rank, size=size, stream=self.rank)
            if train and self.group is not None:
                sampler.limit = self.agreed_steps(images.channel, sampler.batches_per_epoch)
            self._loaders[key] = (loader, sampler)
        return self._loaders[key]

    def agreed_steps(self, channel: str, batches: int) -> int:
        """The fewest training batches per epoch of any host: every host runs that many updates."""
        counts = self.group.all_gather_objects(batches)
        steps = min(counts)
        logger.info("Channel '%s': %d batches of %d images per epoch on each of %d hosts (this host has %d)", channel,
                    steps, self.hp["mini_batch_size"], self.size, batches)
        if steps < batches:
            logger.warning("Host %s drops the last %d of its %d batches every epoch: every host runs %d updates per "
                           "epoch (the fewest any host has)", self.group.current_host, batches - steps, batches, steps)
        return steps

    def _inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.normalize(batch["images"], non_blocking=self.non_blocking)
        y = batch["targets"].to(self.device, non_blocking=self.non_blocking)
        return x, y

    def steps(self, images: ImageSet, epoch: int, metric: Accuracy | None = None) -> Iterator[int]:
        """Train on the epoch's batches one at a time, yielding each batch's size after its update."""
        loader, sampler = self.loader(images, train=True)
        model = self.model.train()
        for batch in batches(loader, sampler, epoch, images.channel):
            rate = learning_rate_at(self.updates, self.hp, self.size)
            for group in self.optimizer.param_groups:
                group["lr"] = rate
            x, y = self._inputs(batch)
            logits = self.step(model, x, y)
            if metric is not None:
                metric.update(logits.detach(), y)
            yield int(y.shape[0])

    def step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One update on the batch ``x``, ``y`` (on the device); returns the logits."""
        with self._autocast():
            logits = model(x)
        loss = self.loss_fn(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.updates += 1
        return logits

    def train_epoch(self, images: ImageSet, epoch: int) -> tuple[dict[str, float], float]:
        """One pass over ``images``: (metrics, seconds), with a speed line every LOG_EVERY_BATCHES batches."""
        metric = Accuracy(self.multi_label, self.hp["top_k"], self.device)
        started = window_start = time.perf_counter()
        window_seen = 0
        for number, size in enumerate(self.steps(images, epoch, metric)):
            window_seen += size
            if (number + 1) % LOG_EVERY_BATCHES == 0:
                now = time.perf_counter()
                logger.info("Epoch[%d] Batch [%d]\tSpeed: %.2f samples/sec\taccuracy=%f", epoch, number + 1,
                            window_seen / max(now - window_start, 1e-9), metric.values()["accuracy"])
                window_start, window_seen = now, 0
        metric.combine(self.group)
        return metric.values(), time.perf_counter() - started

    @torch.no_grad()
    def evaluate(self, images: ImageSet, epoch: int = 0) -> dict[str, float]:
        loader, sampler = self.loader(images, train=False)
        self.sync_buffers()
        model = self.network.eval()
        metric = Accuracy(self.multi_label, self.hp["top_k"], self.device)
        for batch in batches(loader, sampler, epoch, images.channel):
            x, y = self._inputs(batch)
            with self._autocast():
                logits = model(x)
            metric.update(logits, y)
        metric.combine(self.group)
        return metric.values()

    def sync_buffers(self) -> None:
        """The primary host's batch-norm statistics on every host (DDP syncs them before each training
        forward, and each host's last forward moved its own a little)."""
        if self.group is None:
            return
        import torch.distributed as dist

        for buffer in self.network.buffers():
            dist.broadcast(buffer, 0)

    def close(self) -> None:
        for loader, _ in self._loaders.values():
            iterator = getattr(loader, "_iterator", None)
            if iterator is not None and hasattr(iterator, "_shutdown_workers"):
                iterator._shutdown_workers()
        self._loaders.clear()


# --------------------------------------------------------------------------------------------
# The job


def log_parameters(hp: dict[str, Any], device: torch.device, amp: torch.dtype | None) -> None:
    shape = ",".join(str(v) for v in hp["image_shape"])
    steps = ",".join(str(s) for s in hp["lr_scheduler_step"]) if hp["lr_scheduler_step"] else None
    lines = [
        f"num_layers: {hp['num_layers']}", f"image_shape: {shape}", f"num_classes: {hp['num_classes']}",
        f"num_training_samples: {hp['num_training_samples']}", f"mini_batch_size: {hp['mini_batch_size']}",
        f"epochs: {hp['epochs']}", f"learning_rate: {hp['learning_rate']}", f"lr_scheduler_step: {steps}",
        f"lr_scheduler_factor: {hp['lr_scheduler_factor']}", f"optimizer: {hp['optimizer']}",
        f"momentum: {hp['momentum']}", f"weight_decay: {hp['weight_decay']}", f"beta_1: {hp['beta_1']}",
        f"beta_2: {hp['beta_2']}", f"eps: {hp['eps']}", f"gamma: {hp['gamma']}",
        f"augmentation_type: {hp['augmentation_type']}", f"resize: {hp['resize']}", f"top_k: {hp['top_k']}",
        f"multi_label: {int(hp['multi_label'])}", f"use_weighted_loss: {int(hp['use_weighted_loss'])}",
        f"use_pretrained_model: {int(hp['use_pretrained_model'])}", f"precision_dtype: {hp['precision_dtype']}",
        f"kv_store: {hp['kv_store'] or 'device'}", f"early_stopping: {hp['early_stopping']}",
    ]
    logger.info("---- Parameters ----")
    for line in lines:
        logger.info(line)
    if hp["checkpoint_frequency"] is None:
        logger.info("checkpoint_frequency not set, will store the best model")
    else:
        logger.info("checkpoint_frequency: %d", hp["checkpoint_frequency"])
    logger.info("--------------------")
    logger.info("Training on %s%s", describe_device(device),
                f" with {str(amp).replace('torch.', '')} mixed precision" if amp is not None else "")
    if hp["precision_dtype"] == "float16" and amp is None:
        logger.warning("precision_dtype float16: this CPU has no native half-precision arithmetic; "
                       "training in float32")


def initialise(model: ResNet, env: TrainingEnvironment, hp: dict[str, Any]) -> None:
    """Weights from the ``model`` channel (incremental training) or ImageNet (``use_pretrained_model``)."""
    channel = env.channel("model")
    if channel is not None:
        with tempfile.TemporaryDirectory(prefix="ic-model-") as scratch:
            directory = artifact.unpack_model_archive(channel.directory, Path(scratch))
            info = artifact.read_info(directory)
            wanted = artifact.ModelInfo(hp["num_layers"], hp["num_classes"], tuple(hp["image_shape"]), False)
            if (info.num_layers, info.num_classes, info.image_shape) != (
                    wanted.num_layers, wanted.num_classes, wanted.image_shape):
                raise ClientError(
                    "Incremental training needs the same num_layers, image_shape and num_classes as the model in "
                    f"channel 'model' (num_layers={info.num_layers}, image_shape={info.image_shape_text}, "
                    f"num_classes={info.num_classes}), but this job has num_layers={wanted.num_layers}, "
                    f"image_shape={wanted.image_shape_text}, num_classes={wanted.num_classes}")
            params = artifact.choose_params(directory, info)
            artifact.load_params(params, model)
        logger.info("Loaded %s from channel 'model' for incremental training", params.name)
        return
    if hp["use_pretrained_model"]:
        path = load_pretrained(model, hp["num_layers"])
        logger.info("Loaded the ImageNet weights %s; the classifier (fc) starts afresh for %d classes",
                    path.name, hp["num_classes"])


class ModelWriter:
    """Keeps the model directory in step: the best epoch, periodic checkpoints, symbol and shapes."""

    def __init__(self, model_dir: Path, hp: dict[str, Any]) -> None:
        self.model_dir, self.hp = model_dir, hp
        self.best_path: Path | None = None
        self.kept: set[Path] = set()
        model_dir.mkdir(parents=True, exist_ok=True)

    def info(self, best_epoch: int | None) -> artifact.ModelInfo:
        hp = self.hp
        return artifact.ModelInfo(hp["num_layers"], hp["num_classes"], tuple(hp["image_shape"]),
                                  bool(hp["multi_label"]), best_epoch)

    def _save(self, model: nn.Module, epoch: int) -> Path:
        path = self.model_dir / artifact.params_file_name(epoch + 1)
        artifact.save_params(path, model)
        logger.info('Saved checkpoint to "%s"', path)
        return path

    def store_best(self, model: ResNet, epoch: int) -> None:
        previous = self.best_path
        self.best_path = self._save(model, epoch)
        if previous is not None and previous != self.best_path and previous not in self.kept:
            previous.unlink(missing_ok=True)
        (self.model_dir / artifact.SYMBOL_FILE).write_text(artifact.symbol_json(model, self.info(epoch + 1)),
                                                           encoding="utf-8")
        artifact.write_shapes(self.model_dir, self.hp["mini_batch_size"], tuple(self.hp["image_shape"]))

    def checkpoint(self, model: ResNet, epoch: int) -> None:
        path = self.model_dir / artifact.params_file_name(epoch + 1)
        if path != self.best_path:
            self._save(model, epoch)
        self.kept.add(path)


def replicated_channels(env: TrainingEnvironment) -> tuple[str, ...]:
    """The data channels every host holds whole (``S3DistributionType`` ``FullyReplicated``, the default)."""
    from ..common.distributed import is_replicated

    return tuple(name for name in ("train", "validation")
                 if name not in env.channels or is_replicated(env.channels[name].config))


def load_image_sets(env: TrainingEnvironment, hp: dict[str, Any], group: "HostGroup") -> tuple[ImageSet, ImageSet]:
    """The train and validation sets. With several hosts, one host's ClientError (a missing shard,
    a bad label) fails every host with it, instead of leaving the others waiting for it."""
    multi_label = bool(hp["multi_label"])
    error: ClientError | None = None
    try:
        sets = (load_image_set(env, "train", hp["num_classes"], multi_label),
                load_image_set(env, "validation", hp["num_classes"], multi_label))
    except ClientError as raised:
        if group.size == 1:
            raise
        error = raised
    if group.size > 1:
        reports = group.all_gather_objects(None if error is None else (error.message, error.caused_by))
        failed = [(group.hosts[rank], report) for rank, report in enumerate(reports) if report is not None]
        if failed:
            if error is not None:
                raise error
            host, (message, caused_by) = failed[0]
            raise ClientError(f"Host {host}: {message}", caused_by)
    return sets


def train(env: TrainingEnvironment) -> None:
    hp = env.hyperparameters
    check_consistency(hp)
    for name in env.channels:
        if name not in CHANNELS:
            logger.warning("Ignoring channel '%s': image classification reads %s", name, ", ".join(CHANNELS))
    device = select_device()
    from ..common.distributed import join_hosts

    # closed on success; after a failure it stays up until the process exits (see HostGroup.__exit__)
    with join_hosts(env.hosts, env.current_host) as group:
        if device.type == "cuda" and group.size > 1:
            device = torch.device("cuda", group.place_on_gpus())
        train_on(env, hp, device, group)


def train_on(env: TrainingEnvironment, hp: dict[str, Any], device: torch.device, group: "HostGroup") -> None:
    log_parameters(hp, device, autocast_dtype(hp["precision_dtype"], device))
    channels, height, width = hp["image_shape"]
    geometry = Geometry(channels, height, width, hp["resize"])
    train_set, validation_set = load_image_sets(env, hp, group)
    logger.info("Found %d images in channel 'train' and %d in channel 'validation'", len(train_set),
                len(validation_set))
    split = replicated_channels(env) if group.size > 1 else ()
    total = len(train_set)
    if group.size > 1:
        if "train" not in split:
            total = int(group.all_reduce_sum(np.array([len(train_set)], np.int64))[0])
        logger.info("Training on %d hosts as %s (rank %d); channel 'train' is %s; mini_batch_size %d per host, "
                    "%d per update", group.size, group.current_host, group.rank,
                    "dealt out among the hosts" if "train" in split else "sharded by S3 key",
                    hp["mini_batch_size"], hp["mini_batch_size"] * group.size)
    elif len(env.hosts) > 1:
        logger.info("%d hosts are configured; %s trains on every image it was given", len(env.hosts),
                    env.current_host)
    if hp["num_training_samples"] != total:
        logger.warning("num_training_samples is %d but channel 'train' holds %d images; the learning-rate "
                       "schedule counts epochs with num_training_samples", hp["num_training_samples"], total)

    torch.manual_seed(SEED)
    model = build_network(hp["num_layers"], hp["num_classes"], channels)
    initialise(model, env, hp)
    trainer = Trainer(model, hp, device, geometry, group=group, split=split)
    trainer.set_loss(train_set)
    writer = ModelWriter(env.model_dir, hp) if group.is_primary else None
    best: float | None = None
    stale = 0
    try:
        for epoch in range(hp["epochs"]):
            values, seconds = trainer.train_epoch(train_set, epoch)
            for name, value in values.items():
                logger.info("Epoch[%d] Train-%s=%f", epoch, name, value)
            logger.info("Epoch[%d] Time cost=%.3f", epoch, seconds)
            validation = trainer.evaluate(validation_set, epoch)
            for name, value in validation.items():
                logger.info("Epoch[%d] Validation-%s=%f", epoch, name, value)
            accuracy = validation["accuracy"]
            improved = best is None or accuracy > best
            significant = best is None or (accuracy - best) > hp["early_stopping_tolerance"] * max(best, 1e-12)
            if improved:
                best = accuracy
                if writer is not None:
                    logger.info("Storing the best model with validation accuracy: %f", accuracy)
                    writer.store_best(trainer.network, epoch)
            if writer is not None and hp["checkpoint_frequency"] and (epoch + 1) % hp["checkpoint_frequency"] == 0:
                writer.checkpoint(trainer.network, epoch)
            stale = 0 if (improved and significant) else stale + 1
            if hp["early_stopping"] and epoch + 1 >= hp["early_stopping_min_epochs"] \
                    and stale >= hp["early_stopping_patience"]:
                logger.info("Early stopping: validation accuracy has not improved by more than %g (relative) in %d "
                            "epochs; stopping after epoch %d", hp["early_stopping_tolerance"], stale, epoch)
                break
    finally:
        trainer.close()
    group.barrier()
    logger.info("Best validation accuracy: %f", best if best is not None else 0.0)


ALGORITHM = TrainingAlgorithm(NAME, SCHEMA, f"{__package__}.hyperparameters (default-input)", train)
