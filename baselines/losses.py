"""Training losses: CenterNet focal loss and L1 at centres, the grader's ordinal loss, Dice + CE."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines.decode import gather
from baselines.grading import cumulative_probs


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel focal loss, normalised by the number of peaks."""
    pred = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_loss = torch.log(1 - pred) * pred**alpha * (1 - target) ** beta * neg
    n_pos = pos.sum()
    return -(pos_loss.sum() + neg_loss.sum()) / n_pos.clamp(min=1)


def masked_l1(pred: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between ``pred`` (B, 2, H, W) at the object cells and ``target`` (B, K, 2)."""
    values = gather(pred.float(), index)
    weight = mask[..., None].expand_as(values)
    return (F.l1_loss(values, target, reduction="none") * weight).sum() / weight.sum().clamp(min=1)


def ordinal_loss(cumulative_logits: torch.Tensor, grade: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
    """Class-weighted negative log-likelihood of a cumulative-link model.

    ``-sum_i w[y_i] log P(y_i) / sum_i w[y_i]`` with ``P`` from
    :func:`baselines.grading.cumulative_probs` (``weights`` None: all 1). A wrong grade
    costs more the further it is from the truth, as the cumulatives share one score.
    """
    probs = cumulative_probs(cumulative_logits)
    nll = -torch.log(probs.gather(1, grade[:, None]).clamp(min=1e-7))[:, 0]
    w = torch.ones_like(nll) if weights is None else weights.to(nll.device)[grade]
    return (nll * w).sum() / w.sum().clamp(min=1e-12)


def detection_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """The weighted detection losses and their ``total``."""
    index, mask = targets["index"], targets["mask"]
    parts = {
        "heatmap": focal_loss(outputs["heatmap"], targets["heatmap"]),
        "wh": masked_l1(outputs["wh"], index, mask, targets["wh"]),
        "offset": masked_l1(outputs["offset"], index, mask, targets["offset"]),
    }
    parts["total"] = parts["heatmap"] + config.wh_weight * parts["wh"] + config.offset_weight * parts["offset"]
    return parts


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cross-entropy plus soft Dice (mean over classes present in the batch or predicted)."""
    logits = logits.float()
    ce = F.cross_entropy(logits, target)
    probs = logits.softmax(1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    dice = 1 - ((2 * inter + 1) / (denom + 1)).mean()
    return {"ce": ce, "dice": dice, "total": ce + dice}
