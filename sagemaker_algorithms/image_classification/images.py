"""Decoding and augmenting images with Pillow and NumPy (no torch): what runs in the data workers.

Training (algorithms.md §5.1): decode, optionally resize the shorter side to ``resize``, then crop
``image_shape``: a random crop (plus a random horizontal flip) with ``augmentation_type``, the
centre crop otherwise. An image smaller than ``image_shape`` in either dimension fails, as
SageMaker's does ("input image size smaller than input shape"). ``crop_color`` adds random hue,
saturation and lightness changes; ``crop_color_transform`` adds a random rotation, shear and
aspect-ratio change before cropping. Validation images get the centre crop, never augmentation.

Inference: the image is resized to ``image_shape`` ignoring its aspect ratio, no crop.

Everything returns ``uint8`` arrays laid out ``(height, width, channels)``; normalisation happens
on the training device, in :mod:`.network`.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..common.errors import DataError

Image.MAX_IMAGE_PIXELS = None  # training images are the customer's own data
SMALLER_THAN_SHAPE = "input image size smaller than input shape"

# crop_color / crop_color_transform ranges (MXNet's image-classification defaults as SageMaker
# documents them: hue ±36 degrees, saturation and lightness ±50 on a 0-255 scale; rotation ±10
# degrees, shear ±0.1, aspect ratio ±25%).
MAX_HUE_DEGREES = 36.0
MAX_SATURATION = 50.0 / 255.0
MAX_LIGHTNESS = 50.0
MAX_ROTATE_DEGREES = 10.0
MAX_SHEAR = 0.1
MAX_ASPECT = 0.25

_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


@dataclass(frozen=True)
class Geometry:
    """What the model sees: ``channels, height, width``; ``resize`` is the shorter side before cropping."""

    channels: int
    height: int
    width: int
    resize: int | None = None

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"


def open_image(data: bytes, mode: str, *, target: tuple[int, int] | None = None) -> Image.Image:
    """Decode ``data`` into a Pillow image of ``mode``; ``target`` (width, height) lets JPEG decode
    at a reduced scale that is still at least that size. ``DataError`` when it is not an image."""
    try:
        image = Image.open(io.BytesIO(data))
        if target is not None and image.format == "JPEG":
            image.draft(mode, target)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"the data is not an image that can be decoded (JPEG or PNG expected): {error}") from None
    if image.mode != mode:
        if image.mode in ("RGBA", "LA", "P") and mode == "RGB":
            image = image.convert("RGBA").convert(mode)
        else:
            image = image.convert(mode)
    return image


def _shorter_side_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    if width <= height:
        return shorter, max(shorter, int(round(height * shorter / width)))
    return max(shorter, int(round(width * shorter / height))), shorter


def decode_for_training(data: bytes, geometry: Geometry, augmentation: str | None,
                        rng: np.random.Generator | None) -> np.ndarray:
    """One training (``augmentation`` set, ``rng`` given) or validation image as ``(H, W, C)`` uint8."""
    target = None
    if geometry.resize is not None:
        try:  # the header alone tells the size, so JPEG can decode straight at a smaller scale
            with Image.open(io.BytesIO(data)) as probe:
                target = _shorter_side_size(*probe.size, geometry.resize)
        except Exception:  # noqa: BLE001 - open_image reports it properly
            target = None
    image = open_image(data, geometry.mode, target=target)
    if geometry.resize is not None:
        size = _shorter_side_size(*image.size, geometry.resize)
        if size != image.size:
            image = image.resize(size, Image.BILINEAR)
    if augmentation == "crop_color_transform" and rng is not None:
        image = _random_affine(image, rng)
    width, height = image.size
    if width < geometry.width or height < geometry.height:
        raise DataError(f"{SMALLER_THAN_SHAPE}: the image is {width}x{height} (width x height) but image_shape is "
                        f"{geometry.channels},{geometry.height},{geometry.width}; use larger images, a smaller "
                        "image_shape, or resize")
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if augmentation and rng is not None:
        top = int(rng.integers(0, height - geometry.height + 1))
        left = int(rng.integers(0, width - geometry.width + 1))
        pixels = pixels[top:top + geometry.height, left:left + geometry.width]
        if rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        if augmentation in ("crop_color", "crop_color_transform") and geometry.channels == 3:
            pixels = _random_color(pixels, rng)
    else:
        top = (height - geometry.height) // 2
        left = (width - geometry.width) // 2
        pixels = pixels[top:top + geometry.height, left:left + geometry.width]
    return pixels


def decode_for_inference(data: bytes, geometry: Geometry) -> np.ndarray:
    """An inference image resized to ``image_shape`` (aspect ratio ignored) as ``(H, W, C)`` uint8."""
    image = open_image(data, geometry.mode, target=(geometry.width, geometry.height))
    if image.size != (geometry.width, geometry.height):
        image = image.resize((geometry.width, geometry.height), Image.BILINEAR)
    pixels = np.asarray(image)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _random_color(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random hue rotation (in YIQ), saturation scaling and lightness shift, as one 3x3 transform."""
    hue = math.radians(rng.uniform(-MAX_HUE_DEGREES, MAX_HUE_DEGREES))
    saturation = 1.0 + rng.uniform(-MAX_SATURATION, MAX_SATURATION) * 2.0
    lightness = rng.uniform(-MAX_LIGHTNESS, MAX_LIGHTNESS)
    cos, sin = math.cos(hue) * saturation, math.sin(hue) * saturation
    rotate = np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]], np.float32)
    matrix = _YIQ_TO_RGB @ rotate @ _RGB_TO_YIQ
    out = pixels.astype(np.float32) @ matrix.T
    out += lightness
    return np.clip(out, 0, 255).astype(np.uint8)


def _random_affine(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Rotate, shear and stretch about the centre, keeping the canvas size."""
    angle = math.radians(rng.uniform(-MAX_ROTATE_DEGREES, MAX_ROTATE_DEGREES))
    shear = rng.uniform(-MAX_SHEAR, MAX_SHEAR)
    aspect = 1.0 + rng.uniform(-MAX_ASPECT, MAX_ASPECT)
    scale_x, scale_y = math.sqrt(aspect), 1.0 / math.sqrt(aspect)
    cos, sin = math.cos(angle), math.sin(angle)
    # forward map: rotation @ shear @ scale; Pillow wants the inverse (output -> input)
    forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([scale_x, scale_y])
    inverse = np.linalg.inv(forward)
    width, height = image.size
    cx, cy = width / 2.0, height / 2.0
    offset = np.array([cx, cy]) - inverse @ np.array([cx, cy])
    data = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    return image.transform(image.size, Image.AFFINE, data, resample=Image.BILINEAR)


def encode_image(pixels: np.ndarray, format: str = "JPEG", quality: int = 95) -> bytes:  # noqa: A002
    """``(H, W)`` / ``(H, W, C)`` uint8 pixels as JPEG (quality 95, like im2rec) or PNG bytes."""
    array = np.asarray(pixels, dtype=np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    if format.upper() == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format=format.upper())
    return buffer.getvalue()
