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
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from ..common.errors import ClientError
from ..common.training import TrainingEnvironment
from . import artifact
from .hyperparameters import SCHEMA, check_consistency
from .images import Geometry
from .network import Normalizer, ResNet, build_network
from .pipeline import ImageSet, available_cpus, batches, class_counts, default_workers, load_image_set, make_loader
from .pretrained import load_pretrained

logger = logging.getLogger("image-classification")

NAME = "image-classification"
SEED = 0
CHANNELS = ("train", "validation", "train_lst", "validation_lst", "model")
LOG_EVERY_BATCHES = 20


class ImageClassificationTraining:
    """The training side of the algorithm, as :func:`common.training.run_training` expects it."""

    name = NAME
    schema = SCHEMA
    defaults_source = f"{__package__}.hyperparameters (default-input)"

    def train(self, env: TrainingEnvironment) -> None:
        train(env)


ALGORITHM = ImageClassificationTraining()


# --------------------------------------------------------------------------------------------
# Device and precision


def select_device() -> torch.device:
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda", 0)
    torch.set_num_threads(available_cpus())
    return torch.device("cpu")


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


def learning_rate_at(update: int, hp: dict[str, Any]) -> float:
    """MXNet's MultiFactorScheduler: ×factor once ``update`` passes each step (steps in updates)."""
    steps = hp["lr_scheduler_step"] or []
    epoch_size = max(hp["num_training_samples"] // hp["mini_batch_size"], 1)
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

    def values(self) -> dict[str, float]:
        seen = max(self.seen, 1)
        result = {"accuracy": float(self.correct) / seen}
        if self.top_k:
            result[f"top_k_accuracy_{self.top_k}"] = float(self.top) / seen
        return result


# --------------------------------------------------------------------------------------------
# The trainer


class Trainer:
    """One model on one device with its optimiser, loss, precision and data loaders."""

    def __init__(self, model: ResNet, hp: dict[str, Any], device: torch.device, geometry: Geometry,
                 *, workers: int | None = None, channels_last: bool = True, seed: int = SEED) -> None:
        self.hp, self.device, self.geometry, self.seed = hp, device, geometry, seed
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(device).to(memory_format=self.memory_format)
        self.optimizer = make_optimizer(self.model, hp)
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
            positives = class_counts(train_set, self.hp["num_classes"])
            negatives = len(train_set) - positives
            pos_weight = torch.tensor(np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0),
                                      dtype=torch.float32, device=self.device)
        self.loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def loader(self, images: ImageSet, *, train: bool):
        key = f"{images.channel}:{train}"
        if key not in self._loaders:
            self._loaders[key] = make_loader(
                images, self.geometry, self.hp["mini_batch_size"], train=train,
                augmentation=self.hp["augmentation_type"], seed=self.seed, workers=self.workers,
                pin_memory=self.pin_memory)
        return self._loaders[key]

    def _inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.normalize(batch["images"], non_blocking=self.non_blocking)
        y = batch["targets"].to(self.device, non_blocking=self.non_blocking)
        return x, y

    def steps(self, images: ImageSet, epoch: int, metric: Accuracy | None = None) -> Iterator[int]:
        """Train on the epoch's batches one at a time, yielding each batch's size after its update."""
        loader, sampler = self.loader(images, train=True)
        model = self.model.train()
        for batch in batches(loader, sampler, epoch, images.channel):
            rate = learning_rate_at(self.updates, self.hp)
            for group in self.optimizer.param_groups:
                group["lr"] = rate
            x, y = self._inputs(batch)
            with self._autocast():
                logits = model(x)
            loss = self.loss_fn(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.updates += 1
            if metric is not None:
                metric.update(logits.detach(), y)
            yield int(y.shape[0])

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
        return metric.values(), time.perf_counter() - started

    @torch.no_grad()
    def evaluate(self, images: ImageSet, epoch: int = 0) -> dict[str, float]:
        loader, sampler = self.loader(images, train=False)
        model = self.model.eval()
        metric = Accuracy(self.multi_label, self.hp["top_k"], self.device)
        for batch in batches(loader, sampler, epoch, images.channel):
            x, y = self._inputs(batch)
            with self._autocast():
                logits = model(x)
            metric.update(logits, y)
        return metric.values()

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


def train(env: TrainingEnvironment) -> None:
    hp = env.hyperparameters
    check_consistency(hp)
    for name in env.channels:
        if name not in CHANNELS:
            logger.warning("Ignoring channel '%s': image classification reads %s", name, ", ".join(CHANNELS))
    device = select_device()
    log_parameters(hp, device, autocast_dtype(hp["precision_dtype"], device))
    channels, height, width = hp["image_shape"]
    geometry = Geometry(channels, height, width, hp["resize"])
    multi_label = bool(hp["multi_label"])
    train_set = load_image_set(env, "train", hp["num_classes"], multi_label)
    validation_set = load_image_set(env, "validation", hp["num_classes"], multi_label)
    logger.info("Found %d images in channel 'train' and %d in channel 'validation'", len(train_set),
                len(validation_set))
    if hp["num_training_samples"] != len(train_set):
        logger.warning("num_training_samples is %d but channel 'train' holds %d images; the learning-rate "
                       "schedule counts epochs with num_training_samples", hp["num_training_samples"], len(train_set))
    if len(env.hosts) > 1:
        logger.info("%d hosts are configured; %s trains on every image it was given", len(env.hosts),
                    env.current_host)

    torch.manual_seed(SEED)
    model = build_network(hp["num_layers"], hp["num_classes"], channels)
    initialise(model, env, hp)
    trainer = Trainer(model, hp, device, geometry)
    trainer.set_loss(train_set)
    writer = ModelWriter(env.model_dir, hp)
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
                logger.info("Storing the best model with validation accuracy: %f", accuracy)
                writer.store_best(trainer.model, epoch)
                best = accuracy
            if hp["checkpoint_frequency"] and (epoch + 1) % hp["checkpoint_frequency"] == 0:
                writer.checkpoint(trainer.model, epoch)
            stale = 0 if (improved and significant) else stale + 1
            if hp["early_stopping"] and epoch + 1 >= hp["early_stopping_min_epochs"] \
                    and stale >= hp["early_stopping_patience"]:
                logger.info("Early stopping: validation accuracy has not improved by more than %g (relative) in %d "
                            "epochs; stopping after epoch %d", hp["early_stopping_tolerance"], stale, epoch)
                break
    finally:
        trainer.close()
    logger.info("Best validation accuracy: %f", best if best is not None else 0.0)
