"""Training losses: CenterNet focal loss, L1 at centres, severity CE at centres, Dice + CE."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines.decode import gather


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


def grade_loss(logits: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, grade: torch.Tensor) -> torch.Tensor:
    """Severity cross-entropy at the object centres."""
    values = gather(logits.float(), index)  # (B, K, G)
    ce = F.cross_entropy(values.reshape(-1, values.shape[-1]), grade.reshape(-1), reduction="none")
    m = mask.reshape(-1)
    return (ce * m).sum() / m.sum().clamp(min=1)


def detection_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """The weighted detection losses and their ``total``."""
    index, mask = targets["index"], targets["mask"]
    parts = {
        "heatmap": focal_loss(outputs["heatmap"], targets["heatmap"]),
        "wh": masked_l1(outputs["wh"], index, mask, targets["wh"]),
        "offset": masked_l1(outputs["offset"], index, mask, targets["offset"]),
        "grade": grade_loss(outputs["grade"], index, mask, targets["grade"]),
    }
    parts["total"] = (parts["heatmap"] + config.wh_weight * parts["wh"] + config.offset_weight * parts["offset"]
                      + config.grade_weight * parts["grade"])
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
