"""Image classification training throughput: our training code path vs a torchvision loop, in one run.

    .venv-torchvision/bin/python -m benchmarks.image_classification [--models 18,50] [--batch-size 16]
        [--warmup 2] [--batches 6] [--precision float32|float16] [--images 256] [--breakdown]

``.venv-torchvision`` is a virtualenv with torch 2.14.1 and torchvision 0.29.1 (torchvision does not
install next to the project's own torch build) and the repository on its path::

    python3 -m venv .venv-torchvision
    .venv-torchvision/bin/pip install torch==2.14.1 torchvision==0.29.1 pillow numpy
    echo "$PWD" > .venv-torchvision/lib/python3.11/site-packages/sagemaker_emulator_repo.pth

Data: MNIST digits (``sagemaker_emulator/data/mnist``) scaled to 224x224, tinted into RGB and
encoded as JPEG (quality 90), packed into one image ``.rec`` with IRHeaders (10 classes).

* **ours**: the algorithm's own training path on that ``.rec``: ``pipeline.load_image_set`` reads
  it, ``training.Trainer`` trains (batch decoding in worker processes with prefetch, uint8 batches
  normalised on the device, the device/precision/memory-format choices the training job makes);
* **torchvision** (the peer): what a torchvision user writes for the same JPEGs:
  ``torchvision.models.resnet18/resnet50(num_classes=10)``, a per-image ``Dataset`` that decodes with
  ``torchvision.io.decode_jpeg`` and applies ``transforms.v2`` (``ToDtype(float32, scale=True)``,
  ``Normalize`` with ImageNet's statistics), a ``DataLoader`` (shuffle, same number of workers,
  pinned memory on CUDA), ``model(x)``, cross-entropy, ``backward``, ``SGD.step`` (momentum 0.9,
  weight decay 1e-4, as ours). Without torchvision (the project's ``.venv``) the peer falls back to
  **plain**: the same loop over our ``network.build_network`` with a Pillow-decoding ``Dataset``, and
  the output says so.

Same architecture (our ResNets have torchvision's layout and parameter names; the parameter counts
are printed), batch size, optimiser settings, precision (autocast dtype) and device. The machine is
shared and noisy, so the two paths advance one batch at a time in turns (which goes first
alternates), after ``--warmup`` batches each, and every batch is timed on its own (fetching it from
the loader plus the training step, device synchronised): both see the same load. Throughput = batch
size / median batch time (the mean-based figure is printed too); ratio = ours / peer. On CUDA the
sustained throughput (mean-based: total images over total time, so that waits for data count) is
also given as a share of the H100's dense bf16 peak (989 TFLOP/s), counting training
as 3x the forward FLOPs (ResNet-18 3.6 GFLOP/image, ResNet-50 8.2 GFLOP/image at 224x224).

``--breakdown`` also times the two halves of our path on their own, to tell which one bounds it: the
data pipeline alone (batches decoded, moved to the device and normalised, no training) and the
training step alone (forward, backward and update on one batch kept on the device).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # what the training job sets (both paths share it)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from sagemaker_algorithms.common.training import Channel, TrainingEnvironment  # noqa: E402
from sagemaker_algorithms.common.content_types import MediaType  # noqa: E402
from sagemaker_algorithms.image_classification.hyperparameters import SCHEMA  # noqa: E402
from sagemaker_algorithms.image_classification.images import Geometry  # noqa: E402
from sagemaker_algorithms.image_classification.network import RGB_MEAN, RGB_STD, build_network  # noqa: E402
from sagemaker_algorithms.image_classification.pipeline import batches as pipeline_batches  # noqa: E402
from sagemaker_algorithms.image_classification.pipeline import default_workers, load_image_set  # noqa: E402
from sagemaker_algorithms.image_classification.records import read_record_file, write_record_file  # noqa: E402
from sagemaker_algorithms.image_classification.training import (Accuracy, Trainer,  # noqa: E402
                                                                autocast_dtype, select_device)

try:
    import torchvision  # noqa: E402
    from torchvision.io import ImageReadMode, decode_jpeg  # noqa: E402
    from torchvision.transforms import v2  # noqa: E402
except ImportError:  # the project's own .venv: torchvision does not install next to its torch build
    torchvision = None

MNIST = Path(__file__).resolve().parents[1] / "sagemaker_emulator" / "data" / "mnist"
SIZE = 224
CLASSES = 10
FORWARD_GFLOP = {18: 3.6, 50: 8.2}
H100_BF16_DENSE_TFLOPS = 989.0


def mnist_digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(MNIST / "train-images.idx3-ubyte.gz") as stream:
        images = np.frombuffer(stream.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(MNIST / "train-labels.idx1-ubyte.gz") as stream:
        labels = np.frombuffer(stream.read(), np.uint8, offset=8)
    return images[:count], labels[:count]


def write_rec(path: Path, count: int) -> None:
    images, labels = mnist_digits(count)
    rng = np.random.default_rng(0)
    items = []
    for digit, label in zip(images, labels):
        gray = np.asarray(Image.fromarray(digit).resize((SIZE, SIZE), Image.BILINEAR), np.float32) / 255.0
        tint = rng.uniform(0.3, 1.0, 3)
        background = rng.uniform(0, 60, 3)
        rgb = np.clip(background + gray[:, :, None] * tint * 255, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
        items.append((float(label), buffer.getvalue()))
    with open(path, "wb") as stream:
        write_record_file(stream, items)


# --------------------------------------------------------------------------------------------
# The peers: torchvision (when installed), else a plain torch loop over our network


class PlainJpegDataset(Dataset):
    """One image per item: Pillow decode, float tensor, normalise (what a tutorial would write)."""

    def __init__(self, items: list[tuple[int, bytes]]) -> None:
        self.items = items
        self.mean = torch.tensor(RGB_MEAN).view(3, 1, 1) / 255.0
        self.std = torch.tensor(RGB_STD).view(3, 1, 1) / 255.0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        label, data = self.items[index]
        image = Image.open(io.BytesIO(data)).convert("RGB")
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255.0)
        return (x - self.mean) / self.std, label


def _limit_threads(_: int) -> None:
    torch.set_num_threads(1)


class TorchvisionJpegDataset(Dataset):
    """One image per item: ``torchvision.io.decode_jpeg`` then ``transforms.v2`` (a torchvision tutorial)."""

    def __init__(self, items: list[tuple[int, bytes]]) -> None:
        self.items = items
        self.transform = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                                     v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        label, data = self.items[index]
        image = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
        return self.transform(image), label


class PlainLoop:
    """The peer: torchvision's ResNet and data loading (``use_torchvision``), else our network with a
    Pillow-decoding dataset."""

    def __init__(self, depth: int, items, batch_size: int, device: torch.device, amp, workers: int,
                 *, use_torchvision: bool) -> None:
        torch.manual_seed(0)
        if use_torchvision:
            self.model = getattr(torchvision.models, f"resnet{depth}")(num_classes=CLASSES).to(device)
            dataset: Dataset = TorchvisionJpegDataset(items)
            init = None  # DataLoader workers already run torch with one thread
        else:
            self.model = build_network(depth, CLASSES).to(device)
            dataset, init = PlainJpegDataset(items), (_limit_threads if workers else None)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
        self.device, self.amp = device, amp
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                 num_workers=workers, pin_memory=device.type == "cuda",
                                 persistent_workers=workers > 0, worker_init_fn=init)

    def batches(self) -> Iterator[int]:
        """Train batch after batch, forever, yielding each batch's size after its update."""
        self.model.train()
        while True:
            for x, y in self.loader:
                x = x.to(self.device, non_blocking=True)
                y = y.to(self.device, non_blocking=True)
                with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
                    loss = torch.nn.functional.cross_entropy(self.model(x), y)
                self.optimizer.zero_grad()
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                yield int(y.shape[0])


# --------------------------------------------------------------------------------------------
# Ours


def our_image_set(rec_dir: Path):
    env = TrainingEnvironment(paths=None, hyperparameters={}, raw_hyperparameters={},  # type: ignore[arg-type]
                              channels={"train": Channel("train", rec_dir, MediaType("application/x-recordio"),
                                                         {"ContentType": "application/x-recordio"})})
    return load_image_set(env, "train", CLASSES, multi_label=False)


class OurLoop:
    def __init__(self, depth: int, images, batch_size: int, device: torch.device, precision: str) -> None:
        self.hp = SCHEMA.validate({"num_classes": str(CLASSES), "num_training_samples": str(len(images)),
                                   "num_layers": str(depth), "image_shape": f"3,{SIZE},{SIZE}",
                                   "mini_batch_size": str(batch_size), "learning_rate": "0.01",
                                   "precision_dtype": precision})
        torch.manual_seed(0)
        self.trainer = Trainer(build_network(depth, CLASSES), self.hp, device, Geometry(3, SIZE, SIZE))
        self.images = images

    def batches(self) -> Iterator[int]:
        """The training job's own steps (accuracy bookkeeping included), epoch after epoch."""
        epoch = 0
        while True:
            metric = Accuracy(False, None, self.trainer.device)
            yield from self.trainer.steps(self.images, epoch, metric)
            epoch += 1


# --------------------------------------------------------------------------------------------


def measure(loops: dict, device: torch.device, warmup: int, batches: int) -> dict[str, list[tuple[float, int]]]:
    """(seconds, images) of each timed batch of each loop; the loops advance in turns."""
    streams = {name: loop.batches() for name, loop in loops.items()}
    for _ in range(warmup):
        for stream in streams.values():
            next(stream)
    timings: dict[str, list[tuple[float, int]]] = {name: [] for name in streams}
    for number in range(batches):
        order = list(streams) if number % 2 == 0 else list(reversed(streams))
        for name in order:
            started = time.perf_counter()
            size = next(streams[name])
            synchronize(device)
            timings[name].append((time.perf_counter() - started, size))
    for stream in streams.values():
        stream.close()
    return timings


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def pipeline_rate(ours: "OurLoop", epochs: int = 2) -> float:
    """Images/s of our data pipeline alone over whole epochs (the workers' start-up included): batches
    decoded, on the device and normalised, nothing trained."""
    trainer = ours.trainer
    loader, sampler = trainer.loader(ours.images, train=True)
    rates = []
    for epoch in range(1000, 1000 + epochs):
        started, images = time.perf_counter(), 0
        for batch in pipeline_batches(loader, sampler, epoch, ours.images.channel):
            x, _ = trainer._inputs(batch)
            images += x.shape[0]
        synchronize(trainer.device)
        rates.append(images / (time.perf_counter() - started))
    return statistics.median(rates)


def step_rate(ours: "OurLoop", batches: int) -> float:
    """Images/s of our training step alone, on one batch that stays on the device."""
    trainer = ours.trainer
    loader, sampler = trainer.loader(ours.images, train=True)
    x, y = trainer._inputs(next(pipeline_batches(loader, sampler, 0, ours.images.channel)))
    model, seconds = trainer.model.train(), []
    for number in range(batches + 2):
        started = time.perf_counter()
        trainer.step(model, x, y)
        synchronize(trainer.device)
        if number >= 2:
            seconds.append(time.perf_counter() - started)
    return x.shape[0] / statistics.median(seconds)


def throughput(timings: list[tuple[float, int]]) -> tuple[float, float]:
    """(images/s from the median batch time, images/s from the total time)."""
    size = statistics.median(images for _, images in timings)
    return size / statistics.median(seconds for seconds, _ in timings), \
        sum(images for _, images in timings) / sum(seconds for seconds, _ in timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="18,50")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--precision", default="float32", choices=("float32", "float16"))
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--breakdown", action="store_true", help="also time our data pipeline and training step alone")
    args = parser.parse_args()

    device = select_device()
    amp = autocast_dtype(args.precision, device)
    workers = default_workers(device)
    with tempfile.TemporaryDirectory(prefix="bench-ic-") as scratch:
        run(args, device, amp, workers, Path(scratch))


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def run(args: argparse.Namespace, device: torch.device, amp, workers: int, scratch: Path) -> None:
    write_rec(scratch / "train.rec", args.images)
    images = our_image_set(scratch)
    labels, source = read_record_file(scratch / "train.rec")
    items = [(int(label[0]), source.get(i)) for i, label in enumerate(labels)]
    device_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"CPU, {torch.get_num_threads()} threads")
    use_torchvision = torchvision is not None
    peer = "torchvision" if use_torchvision else "plain"
    print(f"device: {device_name}; torch {torch.__version__}; "
          f"torchvision {torchvision.__version__ if use_torchvision else 'not installed'}; "
          f"precision {args.precision} (autocast {amp}); batch {args.batch_size}; {workers} data worker(s); "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"{args.warmup} warm-up + {args.batches} timed batches per path, in turns")
    if use_torchvision:
        print("peer: torchvision.models.resnetN(num_classes=10), torchvision.io.decode_jpeg + transforms.v2 "
              "in a DataLoader, SGD, cross-entropy")
    else:
        print("peer: torchvision is not installed in this environment, so the peer is a plain torch loop over "
              "our own network with a Pillow-decoding DataLoader (run with .venv-torchvision for the torchvision "
              "peer)")

    summary = []
    for depth in (int(d) for d in args.models.split(",")):
        ours = OurLoop(depth, images, args.batch_size, device, args.precision)
        plain = PlainLoop(depth, items, args.batch_size, device, amp, workers, use_torchvision=use_torchvision)
        print(f"ResNet-{depth} parameters: ours {parameter_count(ours.trainer.model):,}, "
              f"{peer} {parameter_count(plain.model):,}", flush=True)
        timings = measure({"ours": ours, peer: plain}, device, args.warmup, args.batches)
        ours_median, ours_mean = throughput(timings["ours"])
        plain_median, plain_mean = throughput(timings[peer])
        for name in ("ours", peer):
            print(f"ResNet-{depth} {name:>11} batch seconds: " + " ".join(f"{s:.2f}" for s, _ in timings[name]))
        print(f"ResNet-{depth}: ours {ours_median:.2f} img/s (mean-based {ours_mean:.2f}), {peer} {plain_median:.2f} "
              f"img/s (mean-based {plain_mean:.2f})", flush=True)
        summary.append((depth, ours_median, ours_mean, plain_median, ours_median / plain_median, ours_mean / plain_mean))
        if args.breakdown:
            print(f"ResNet-{depth} ours alone: data pipeline {pipeline_rate(ours):.2f} img/s, "
                  f"training step {step_rate(ours, args.batches):.2f} img/s", flush=True)

        ours.trainer.close()

    print()
    print(f"{'model':>10} {'ours img/s':>11} {peer + ' img/s':>17} {'ratio':>6} {'(mean)':>7} "
          f"{'share of H100 bf16 peak':>26}")
    for depth, ours_median, ours_mean, plain_median, ratio, mean_ratio in summary:
        if device.type == "cuda":  # from the sustained (mean-based) rate: the pipeline's stalls count
            tflops = ours_mean * 3 * FORWARD_GFLOP[depth] / 1000
            share = f"{tflops:.1f} TFLOP/s = {tflops / H100_BF16_DENSE_TFLOPS:.1%}"
        else:
            share = "n/a (no GPU present)"
        print(f"{'ResNet-' + str(depth):>10} {ours_median:11.2f} {plain_median:17.2f} {ratio:6.2f} {mean_ratio:7.2f} "
              f"{share:>26}")
    print(f"ratio = ours / {peer} images per second from median batch times (target >= 1.0); (mean) from total "
          "times")
    if device.type != "cuda":
        print("No CUDA device was present, so the share of the GPU's bf16 peak was not computed.")

if __name__ == "__main__":
    main()
