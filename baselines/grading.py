"""The second stage: crops around foramen boxes, ordinal grade probabilities, severity decoding.

Coordinates are pixels of the full-size PNG (0 = the left/top edge of the first pixel, so a
box ``xmin..xmax`` covers the pixels ``xmin .. xmax - 1``). A crop is the box grown by
``margin`` times its width (height) on the left and right (top and bottom), resampled to
``size`` x ``size`` on every channel (the slice and its DICOM neighbours); outside the image
it reads 0.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lssbench.domain import GRADES

from baselines.config import SEVERITY_RULES, check_choice


def crop_boxes(image: torch.Tensor, boxes: torch.Tensor, size: int, margin: float = 0.0) -> torch.Tensor:
    """Crops ``(N, C, size, size)`` of ``image`` (C, H, W) around ``boxes`` (N, 4) xyxy pixels.

    Bilinear sampling at the centres of a ``size`` grid laid over the grown box: a box of
    exactly ``size / (1 + 2 * margin)`` pixels on integer corners gives the pixels themselves.
    """
    boxes = boxes.to(torch.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return image.new_zeros((0, image.shape[0], size, size))
    height, width = image.shape[-2:]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half_w = (boxes[:, 2] - boxes[:, 0]) * (0.5 + margin)
    half_h = (boxes[:, 3] - boxes[:, 1]) * (0.5 + margin)
    # affine_grid (align_corners=False) maps the output's [-1, 1] onto the input's [-1, 1], where
    # -1 is the left edge of pixel 0: pixel coordinate X sits at 2 X / W - 1.
    theta = torch.zeros(len(boxes), 2, 3)
    theta[:, 0, 0] = 2 * half_w / width
    theta[:, 0, 2] = 2 * cx / width - 1
    theta[:, 1, 1] = 2 * half_h / height
    theta[:, 1, 2] = 2 * cy / height - 1
    grid = F.affine_grid(theta.to(image.dtype), [len(boxes), image.shape[0], size, size], align_corners=False)
    source = image[None].expand(len(boxes), *image.shape)
    return F.grid_sample(source, grid.to(image.device), mode="bilinear", padding_mode="zeros", align_corners=False)


def jitter_boxes(boxes: torch.Tensor, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boxes with their centre shifted and their sides scaled by up to ``amount`` of their size."""
    if amount <= 0 or len(boxes) == 0:
        return boxes
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    u = torch.rand(len(boxes), 4, generator=generator) * 2 - 1
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + u[:, 0] * amount * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + u[:, 1] * amount * h
    w, h = w * (1 + u[:, 2] * amount), h * (1 + u[:, 3] * amount)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)


def cumulative_probs(cumulative_logits: torch.Tensor) -> torch.Tensor:
    """Grade probabilities ``(B, K)`` of a cumulative-link model from its ``(B, K - 1)`` logits.

    ``P(grade <= k) = sigmoid(cumulative_logits[:, k])`` for ``k < K - 1`` (the logits
    increase with ``k``); each grade's probability is the difference of neighbouring
    cumulatives (clamped at 0 should the logits not increase).
    """
    below = torch.sigmoid(cumulative_logits.float())  # (B, K - 1)
    ones, zeros = torch.ones_like(below[:, :1]), torch.zeros_like(below[:, :1])
    return (torch.cat([below, ones], 1) - torch.cat([zeros, below], 1)).clamp(min=0)


def class_weights(counts, power: float) -> torch.Tensor:
    """Per-grade loss weights proportional to ``frequency ** -power``, averaging 1 over the samples.

    Grades never seen get the weight of the rarest seen grade.
    """
    counts = np.asarray(counts, dtype=np.float64)
    freq = counts / max(counts.sum(), 1.0)
    seen = freq > 0
    weights = np.ones_like(freq)
    if seen.any():
        weights[seen] = freq[seen] ** -power
        weights[~seen] = weights[seen].max()
        weights /= (freq * weights).sum() if (freq * weights).sum() > 0 else 1.0
    return torch.tensor(weights, dtype=torch.float32)


def severity_from_probs(probs: np.ndarray, rule: str = "expected") -> np.ndarray:
    """Grades of probability rows ``(N, 4)``: the rounded expected grade, or the most probable grade."""
    check_choice("grade_decode rule", rule, SEVERITY_RULES)
    probs = np.asarray(probs, dtype=np.float64).reshape(-1, len(GRADES))
    if rule == "argmax":
        return probs.argmax(1).astype(np.int64)
    expected = probs @ np.asarray(GRADES, dtype=np.float64) / probs.sum(1).clip(min=1e-12)
    return np.clip(np.floor(expected + 0.5), GRADES[0], GRADES[-1]).astype(np.int64)
