"""A plain 2D U-Net, a CenterNet-style foramen detector on the same body, and the crop grader."""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from lssbench.domain import CATEGORIES, GRADES, NUM_SEGMENTATION_CLASSES


def conv_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Two 3x3 convolutions, each with batch norm and ReLU.

    Batch norm, not group/instance norm: a per-sample norm would subtract the constant
    lateral-position channel of the detector input, i.e. erase left versus right.
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class UNetBody(nn.Module):
    """U-Net encoder (one block per width, halving the size) and a decoder up to ``out_stride``.

    The input side must be divisible by ``2 ** (len(widths) - 1)``.
    """

    def __init__(self, in_ch: int, widths: tuple[int, ...], out_stride: int = 1):
        super().__init__()
        depth = len(widths)
        n_up = depth - 1 - int(math.log2(out_stride))
        if out_stride < 1 or 2 ** int(math.log2(out_stride)) != out_stride or n_up < 0:
            raise ValueError(f"out_stride {out_stride} must be a power of two below 2**{depth - 1}")
        self.down = nn.ModuleList()
        prev = in_ch
        for width in widths:
            self.down.append(conv_block(prev, width))
            prev = width
        self.up = nn.ModuleList()
        self.fuse = nn.ModuleList()
        for i in range(n_up):
            skip = widths[depth - 2 - i]
            self.up.append(nn.ConvTranspose2d(prev, skip, 2, stride=2))
            self.fuse.append(conv_block(2 * skip, skip))
            prev = skip
        self.out_channels = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        skips.pop()
        for up, fuse in zip(self.up, self.fuse):
            x = up(x)
            x = fuse(torch.cat([x, skips.pop()], dim=1))
        return x


class UNet(nn.Module):
    """Segmentation U-Net: ``(B, in_ch, S, S)`` -> logits ``(B, num_classes, S, S)``."""

    def __init__(self, in_ch: int = 1, widths: tuple[int, ...] = (32, 64, 128, 256),
                 num_classes: int = NUM_SEGMENTATION_CLASSES):
        super().__init__()
        self.body = UNetBody(in_ch, widths, out_stride=1)
        self.head = nn.Conv2d(self.body.out_channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _head(in_ch: int, out_ch: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, out_ch, 1))


class CenterNet(nn.Module):
    """CenterNet-style foramen detector.

    Outputs at ``1 / stride`` of the input: ``heatmap`` (10 category logits, one per
    level/side), ``wh`` (box width and height in output cells) and ``offset`` (sub-cell
    centre offset). Grading is the :class:`Grader`'s job, on crops around the boxes.
    """

    def __init__(self, in_ch: int = 3, widths: tuple[int, ...] = (32, 64, 128, 256), stride: int = 4,
                 num_categories: int = len(CATEGORIES), prior: float = 0.05):
        super().__init__()
        self.stride = stride
        self.body = UNetBody(in_ch, widths, out_stride=stride)
        ch = self.body.out_channels
        hidden = max(ch, 32)
        self.heatmap = _head(ch, num_categories, hidden)
        self.wh = _head(ch, 2, hidden)
        self.offset = _head(ch, 2, hidden)
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - prior) / prior))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.body(x)
        return {
            "heatmap": self.heatmap(features),
            "wh": self.wh(features),
            "offset": self.offset(features),
        }


class Grader(nn.Module):
    """Severity of one foramen crop as a cumulative-link (ordinal logistic) model.

    A small CNN maps a crop ``(B, in_ch, S, S)`` to one severity score ``s`` per crop; the
    ``num_grades - 1`` ordered cut points ``theta`` (the first free, the others spaced by
    softplus steps, so always increasing) give ``P(grade <= k) = sigmoid(theta_k - s)``.
    ``forward`` returns the cumulative logits ``theta_k - s`` (B, num_grades - 1), increasing
    in ``k`` as the cumulative probabilities are.
    """

    def __init__(self, in_ch: int = 3, widths: tuple[int, ...] = (16, 32, 64), num_grades: int = len(GRADES)):
        super().__init__()
        blocks, prev = [], in_ch
        for i, width in enumerate(widths):
            if i:
                blocks.append(nn.MaxPool2d(2))
            blocks.append(conv_block(prev, width))
            prev = width
        self.features = nn.Sequential(*blocks)
        self.score = nn.Linear(2 * prev, 1)
        self.first_cut = nn.Parameter(torch.zeros(1))
        self.cut_steps = nn.Parameter(torch.zeros(num_grades - 2))

    def cutpoints(self) -> torch.Tensor:
        return torch.cat([self.first_cut, self.first_cut + torch.cumsum(F.softplus(self.cut_steps) + 1e-3, 0)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        pooled = torch.cat([f.mean((2, 3)), f.amax((2, 3))], dim=1)
        return self.cutpoints()[None, :] - self.score(pooled).float()


def build_models(config) -> tuple[CenterNet, UNet, Grader]:
    """The detector, the segmenter and the grader of a :class:`baselines.config.Config`."""
    detector = CenterNet(config.det_in_channels, config.det_widths, config.det_stride)
    segmenter = UNet(1, config.seg_widths)
    grader = Grader(config.grade_in_channels, config.grade_widths)
    return detector, segmenter, grader
