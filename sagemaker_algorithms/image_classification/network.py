"""ResNets in plain torch (no torchvision), and the input normalisation they expect.

Two families, chosen by ``num_layers`` (algorithms.md §5.1):

* ImageNet-style (18, 34: basic blocks; 50, 101, 152, 200: bottlenecks): a 7x7/2 stem and 3x3/2
  max-pool, four stages of 64/128/256/512 base channels, global average pooling, one linear layer.
  The layout and parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
  ``layer1.0.downsample.0``, ``fc``; ResNet v1.5, stride in the 3x3 of a bottleneck), so the
  ImageNet checkpoints torchvision publishes load unchanged. ResNet-200 uses 3/24/36/3 bottlenecks.
* CIFAR-style 6n+2 nets (20, 32, 44, 56, 110): a 3x3 stem of 16 channels, three stages of n basic
  blocks with 16/32/64 channels (1x1 projection shortcuts where the shape changes), pooling, linear.

Inputs are ``uint8`` ``(N, H, W, C)`` batches; :class:`Normalizer` moves one to the device and
normalises it there with ImageNet's channel means and deviations (the statistics the pretrained
weights were trained with), giving a float ``(N, C, H, W)`` tensor (channels-last by default: the
``(N, H, W, C)`` bytes already are that layout).
"""

from __future__ import annotations

import torch
from torch import nn

from .hyperparameters import CIFAR_DEPTHS, IMAGENET_DEPTHS

# (block kind, blocks per stage)
IMAGENET_LAYOUT = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}

RGB_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
RGB_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
GRAY_MEAN = (0.449 * 255,)
GRAY_STD = (0.226 * 255,)


def _conv3x3(inputs: int, outputs: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)


def _conv1x1(inputs: int, outputs: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 1, stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inputs: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inputs, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inputs: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(inputs, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, width * self.expansion)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Module):
    """A residual network; ``stem`` is ``"imagenet"`` (7x7/2 + max-pool) or ``"cifar"`` (3x3/1)."""

    def __init__(self, block: str, stages: tuple[int, ...], widths: tuple[int, ...], num_classes: int,
                 in_channels: int = 3, stem: str = "imagenet") -> None:
        super().__init__()
        self.block_kind = block
        block_type = BLOCKS[block]
        self.inplanes = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, 2, 3, bias=False)
        else:
            self.conv1 = _conv3x3(in_channels, self.inplanes)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else None
        for index, (count, width) in enumerate(zip(stages, widths), 1):
            setattr(self, f"layer{index}", self._stage(block_type, width, count, 1 if index == 1 else 2))
        self.stage_count = len(stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.inplanes, num_classes)
        self._initialise()

    def _stage(self, block_type, width: int, count: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != width * block_type.expansion:
            downsample = nn.Sequential(_conv1x1(self.inplanes, width * block_type.expansion, stride),
                                       nn.BatchNorm2d(width * block_type.expansion))
        blocks = [block_type(self.inplanes, width, stride, downsample)]
        self.inplanes = width * block_type.expansion
        blocks += [block_type(self.inplanes, width) for _ in range(1, count)]
        return nn.Sequential(*blocks)

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # each residual branch starts as the identity: faster, steadier early training
        for module in self.modules():
            if isinstance(module, Bottleneck):
                nn.init.zeros_(module.bn3.weight)
            elif isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.fc.in_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for index in range(1, self.stage_count + 1):
            x = getattr(self, f"layer{index}")(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def build_network(num_layers: int, num_classes: int, in_channels: int = 3) -> ResNet:
    """The ResNet ``num_layers`` names (randomly initialised)."""
    if num_layers in IMAGENET_DEPTHS:
        block, stages = IMAGENET_LAYOUT[num_layers]
        return ResNet(block, stages, (64, 128, 256, 512), num_classes, in_channels, "imagenet")
    if num_layers in CIFAR_DEPTHS:
        n = (num_layers - 2) // 6
        return ResNet("basic", (n, n, n), (16, 32, 64), num_classes, in_channels, "cifar")
    raise ValueError(f"No ResNet with {num_layers} layers; use one of {IMAGENET_DEPTHS + CIFAR_DEPTHS}")


def family(num_layers: int) -> str:
    return "imagenet" if num_layers in IMAGENET_DEPTHS else "cifar"


class Normalizer:
    """uint8 ``(N, H, W, C)`` on any device → normalised float ``(N, C, H, W)`` in ``memory_format``."""

    def __init__(self, channels: int, device: torch.device,
                 memory_format: torch.memory_format = torch.channels_last) -> None:
        mean, std = (RGB_MEAN, RGB_STD) if channels == 3 else (GRAY_MEAN, GRAY_STD)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.scale = (1.0 / torch.tensor(std, dtype=torch.float32, device=device)).view(1, -1, 1, 1)
        self.device = device
        self.memory_format = memory_format

    def __call__(self, batch: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
        x = batch.to(self.device, non_blocking=non_blocking)
        # (N, H, W, C) contiguous viewed as (N, C, H, W) *is* the channels-last layout
        x = x.permute(0, 3, 1, 2).float()
        x = (x - self.mean) * self.scale
        return x.contiguous(memory_format=self.memory_format)
