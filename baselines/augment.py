"""Train-time augmentation in torch: one small affine for image, boxes and mask, then intensity.

Images are ``(C, S, S)`` float tensors in [0, 1]; boxes ``(N, 4)`` xyxy in pixels of the
same grid (0 = left/top edge); masks ``(S, S)`` class indices. Horizontal flips are left
out on purpose: on a sagittal slice they swap anterior and posterior.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from baselines.config import AugmentConfig


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def random_affine(config: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """A 3x3 forward map (input -> output) in normalised [-1, 1] coordinates."""
    angle = math.radians(_uniform(-config.rotate_deg, config.rotate_deg, generator))
    scale = _uniform(1 - config.scale, 1 + config.scale, generator)
    tx = _uniform(-config.translate, config.translate, generator) * 2
    ty = _uniform(-config.translate, config.translate, generator) * 2
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    return torch.tensor([[cos, -sin, tx], [sin, cos, ty], [0.0, 0.0, 1.0]])


def warp(image: torch.Tensor, forward: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Resample ``image`` (C, H, W) so that input point p lands on ``forward @ p``."""
    theta = torch.linalg.inv(forward)[:2].to(image.dtype)[None]
    grid = F.affine_grid(theta, [1, *image.shape], align_corners=False)
    return F.grid_sample(image[None], grid, mode=mode, padding_mode="zeros", align_corners=False)[0]


def transform_boxes(boxes: torch.Tensor, forward: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes enclosing the mapped corners, clipped to the image; also which boxes are kept.

    A box is kept while its mapped centre stays inside the image.
    """
    if len(boxes) == 0:
        return boxes.reshape(0, 4), torch.zeros(0, dtype=torch.bool)
    x0, y0, x1, y1 = boxes.unbind(1)
    corners = torch.stack([torch.stack(p, -1) for p in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))], 1)  # (N, 4, 2)
    norm = corners * (2 / size) - 1
    mapped = norm @ forward[:2, :2].T + forward[:2, 2]
    pixels = (mapped + 1) * (size / 2)
    out = torch.cat([pixels.min(1).values, pixels.max(1).values], dim=1)
    centre = (out[:, :2] + out[:, 2:]) / 2
    keep = ((centre >= 0) & (centre < size)).all(1)
    return out.clamp(0, size)[keep], keep


def intensity(image: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random gamma, contrast, brightness and Gaussian noise, the same for all channels."""
    gamma = math.exp(_uniform(-config.gamma, config.gamma, generator))
    image = image.clamp(0, 1) ** gamma
    contrast = _uniform(1 - config.contrast, 1 + config.contrast, generator)
    brightness = _uniform(-config.brightness, config.brightness, generator)
    mean = image.mean()
    image = (image - mean) * contrast + mean + brightness
    if config.noise > 0:
        image = image + torch.randn(image.shape, generator=generator) * config.noise
    return image.clamp(0, 1)


def augment(image: torch.Tensor, config: AugmentConfig, boxes: torch.Tensor | None = None,
            mask: torch.Tensor | None = None, generator: torch.Generator | None = None):
    """Augment an image with its boxes and/or mask consistently.

    Returns ``(image, boxes, keep, mask)``: ``keep`` marks the input boxes that survived
    (index labels with it); ``boxes``/``keep``/``mask`` are ``None`` when not given.
    """
    size = image.shape[-1]
    forward = random_affine(config, generator)
    image = warp(image, forward)
    keep = None
    if boxes is not None:
        boxes, keep = transform_boxes(boxes.float(), forward, size)
    if mask is not None:
        mask = warp(mask[None].float(), forward, mode="nearest")[0].round().long()
    return intensity(image, config, generator), boxes, keep, mask
