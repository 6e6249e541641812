"""CenterNet targets and decoding, and the per-foramen grade rules (the best or worst confident box).

Coordinates here are pixels of the network input (``input_size`` square) unless a
function says otherwise; :func:`decode` returns boxes on that grid and the caller
rescales them to the PNG.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lssbench.domain import CATEGORIES, GRADES, LEVELS, PROBABILITY_COLUMNS, SIDES, split_category

from baselines.config import GRADE_POOLS, check_choice
from baselines.grading import severity_from_probs

MAX_OBJECTS = 32


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: the largest centre shift that keeps IoU >= ``min_overlap`` (3 cases)."""
    a1, b1 = 1.0, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4.0, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(heatmap: torch.Tensor, cx: int, cy: int, radius: int) -> None:
    """Paint a Gaussian peak of 1 at (cx, cy) into a 2D heatmap, keeping the maximum."""
    sigma = (2 * radius + 1) / 6
    height, width = heatmap.shape
    ys = torch.arange(max(0, cy - radius), min(height, cy + radius + 1))
    xs = torch.arange(max(0, cx - radius), min(width, cx + radius + 1))
    if len(ys) == 0 or len(xs) == 0:
        return
    g = torch.exp(-((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) / (2 * sigma**2))
    patch = heatmap[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
    torch.maximum(patch, g.to(heatmap.dtype), out=patch)


def encode_targets(boxes: torch.Tensor, labels: torch.Tensor, input_size: int, stride: int,
                   num_categories: int = len(CATEGORIES)) -> dict[str, torch.Tensor]:
    """CenterNet targets of one image from ``boxes`` (N, 4) xyxy in input pixels.

    Returns ``heatmap`` (C, H, W), and per object slot (``MAX_OBJECTS``): ``index`` (flat
    cell index), ``mask``, ``wh`` and ``offset`` (in output cells).
    """
    size = input_size // stride
    heatmap = torch.zeros(num_categories, size, size)
    index = torch.zeros(MAX_OBJECTS, dtype=torch.long)
    mask = torch.zeros(MAX_OBJECTS)
    wh = torch.zeros(MAX_OBJECTS, 2)
    offset = torch.zeros(MAX_OBJECTS, 2)
    for k, (box, label) in enumerate(zip(boxes[:MAX_OBJECTS], labels)):
        x0, y0, x1, y1 = (box / stride).tolist()
        w, h = x1 - x0, y1 - y0
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if w <= 0 or h <= 0 or not (0 <= cx < size and 0 <= cy < size):
            continue
        ix, iy = int(cx), int(cy)
        radius = max(0, int(gaussian_radius(h, w)))
        draw_gaussian(heatmap[int(label)], ix, iy, radius)
        index[k] = iy * size + ix
        mask[k] = 1
        wh[k] = torch.tensor([w, h])
        offset[k] = torch.tensor([cx - ix, cy - iy])
    return {"heatmap": heatmap, "index": index, "mask": mask, "wh": wh, "offset": offset}


def gather(feature: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Values of ``feature`` (B, C, H, W) at flat cell ``index`` (B, K): (B, K, C)."""
    b, c = feature.shape[:2]
    flat = feature.reshape(b, c, -1)
    return flat.gather(2, index[:, None, :].expand(b, c, index.shape[1])).permute(0, 2, 1)


def decode(outputs: dict[str, torch.Tensor], stride: int, top_k: int = 30,
           score_threshold: float = 0.0) -> list[dict[str, np.ndarray]]:
    """Detections of a batch: 3x3 max-pool NMS on the heatmaps, then the top ``top_k`` peaks.

    Per image: ``category`` (index into CATEGORIES), ``score`` and ``boxes`` (xyxy in input
    pixels).
    """
    heat = torch.sigmoid(outputs["heatmap"].float())
    b, c, h, w = heat.shape
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    scores, flat = peaks.reshape(b, -1).topk(min(top_k, c * h * w))
    category = flat // (h * w)
    cell = flat % (h * w)
    ys, xs = (cell // w).float(), (cell % w).float()
    wh = gather(outputs["wh"].float(), cell)
    offset = gather(outputs["offset"].float(), cell)
    cx, cy = xs + offset[..., 0], ys + offset[..., 1]
    min_side = 1.0 / stride  # at least one input pixel
    half_w, half_h = wh[..., 0].clamp(min=min_side) / 2, wh[..., 1].clamp(min=min_side) / 2
    boxes = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1) * stride
    result = []
    for i in range(b):
        keep = scores[i] > score_threshold
        result.append({
            "category": category[i][keep].cpu().numpy(),
            "score": scores[i][keep].cpu().numpy(),
            "boxes": boxes[i][keep].cpu().numpy(),
        })
    return result


def detections_table(image_id: str, decoded: dict[str, np.ndarray], scale_x: float, scale_y: float,
                     width: int, height: int) -> pd.DataFrame:
    """One image's decoded detections as detection rows in PNG pixels.

    Boxes are clipped to the image; boxes left without area are dropped.
    """
    boxes = decoded["boxes"].astype(np.float64) * np.array([scale_x, scale_y, scale_x, scale_y])
    boxes = boxes.clip(0, [width, height, width, height])
    keep = (boxes[:, 2] - boxes[:, 0] > 1e-3) & (boxes[:, 3] - boxes[:, 1] > 1e-3)
    decoded = {key: value[keep] for key, value in decoded.items()}
    boxes = boxes[keep]
    names = [split_category(CATEGORIES[int(c)]) for c in decoded["category"]]
    frame = pd.DataFrame({
        "image_id": image_id,
        "level": [level for level, _ in names],
        "side": [side for _, side in names],
        "score": decoded["score"].astype(np.float64),
        "xmin": boxes[:, 0], "ymin": boxes[:, 1], "xmax": boxes[:, 2], "ymax": boxes[:, 3],
    })
    return frame


def best_boxes(detections: pd.DataFrame) -> pd.DataFrame:
    """The most confident detection of every foramen (patient, level, side) that has one.

    ``detections`` needs ``image_id`` (``PATIENT/IMAGE``), ``level``, ``side`` and ``score``;
    the result adds ``patient_id``; ties keep the first row.
    """
    frame = _with_patient_id(detections).sort_values("score", ascending=False, kind="stable")
    return frame.drop_duplicates(["patient_id", "level", "side"], keep="first").reset_index(drop=True)


def _with_patient_id(detections: pd.DataFrame) -> pd.DataFrame:
    """``detections`` with the ``patient_id`` of each ``PATIENT/IMAGE`` image_id."""
    patient_id = detections["image_id"].astype(str).str.split("/", n=1).str[0]  # (empty-safe, unlike partition)
    return detections.assign(patient_id=patient_id.astype(object))


def candidate_boxes(detections: pd.DataFrame, ratio: float = 1.0) -> pd.DataFrame:
    """The detections of each foramen scoring at least ``ratio`` times its best (``patient_id`` added).

    ``ratio = 1`` is :func:`best_boxes` (one row per foramen); a lower ratio also keeps the
    foramen's other confident boxes -- on a neighbouring slice, say -- for the grader.
    """
    if ratio >= 1.0:
        return best_boxes(detections)
    frame = _with_patient_id(detections)
    best = frame.groupby(["patient_id", "level", "side"])["score"].transform("max")
    frame = frame[frame["score"] >= ratio * best]
    return frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def grades_from_detections(detections: pd.DataFrame, patients: list[str], prior: list[float],
                           rule: str = "expected", pool: str = "best") -> pd.DataFrame:
    """One grade row per foramen (all 10 of every patient) from graded detections.

    ``detections`` carry the grader's probabilities (``p_*`` columns) of the crop of each
    box, and the severity ``rule`` of :func:`baselines.grading.severity_from_probs` turns
    probabilities into a grade. A foramen takes the probabilities and grade of its most
    confident box (``pool="best"``), or of the box whose grade is the worst among its graded
    boxes (``pool="worst"``, the ground truth's worst-grade rule; of boxes with that grade,
    the most confident). A foramen without a box gets grade 0 and the ``prior`` (train
    grade frequencies).
    """
    check_choice("grade pool", pool, GRADE_POOLS)
    chosen: dict[tuple[str, str, str], np.ndarray] = {}
    if len(detections):
        frame = best_boxes(detections) if pool == "best" else _with_patient_id(detections)
        probs = frame[list(PROBABILITY_COLUMNS)].to_numpy(np.float64)
        if pool == "worst":  # the worst grade as written (the severity rule's), then the most confident
            order = np.lexsort((-frame["score"].to_numpy(), -severity_from_probs(probs, rule)))
            frame, probs = frame.iloc[order], probs[order]
        for key, row in zip(zip(frame["patient_id"], frame["level"], frame["side"]), probs):
            chosen.setdefault(key, row)
    prior_array = np.asarray(prior, dtype=np.float64)
    rows = []
    for patient_id in sorted(patients):
        for level in LEVELS:
            for side in SIDES:
                probs = chosen.get((patient_id, level, side))
                if probs is None:
                    rows.append([patient_id, level, side, GRADES[0], *prior_array.tolist()])
                else:
                    severity = int(severity_from_probs(probs[None], rule)[0])
                    rows.append([patient_id, level, side, severity, *probs.tolist()])
    return pd.DataFrame(rows, columns=["patient_id", "level", "side", "severity", *PROBABILITY_COLUMNS])
