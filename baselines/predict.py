"""Inference: checkpoint -> detections, grades and masks of a split -> a submission folder."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

import lssbench
from lssbench.dataset import read_dataset
from lssbench.domain import DETECTION_COLUMNS, PROBABILITY_COLUMNS
from lssbench.splits import split_patients
from lssbench.submission import write_submission

from baselines.config import Config, config_from_dict
from baselines.data import (DetectionItem, SegmentationItem, detection_input, item_crops, load_detection_items,
                            load_segmentation_items)
from baselines.decode import candidate_boxes, decode, detections_table, grades_from_detections
from baselines.grading import cumulative_probs
from baselines.models import build_models
from baselines.runtime import autocast, log, pick_device

CHECKPOINT = "model.pt"


def load_run(run: str | Path, device: torch.device):
    """The models (``det``, ``seg``, ``grade``), config and checkpoint dict of a training run folder."""
    path = Path(run) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint; train first (python -m baselines train --out {run})")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    config = config_from_dict(checkpoint["config"])
    models = dict(zip(("det", "seg", "grade"), build_models(config)))
    for key, name in (("det", "detector"), ("seg", "segmenter"), ("grade", "grader")):
        models[key].load_state_dict(checkpoint[name])
    for model in models.values():
        model.to(device).eval()
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
    return models, config, checkpoint


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    memory = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    return x.to(device, non_blocking=True).contiguous(memory_format=memory)


@torch.no_grad()
def infer_detections(detector: torch.nn.Module, items: list[DetectionItem], config: Config,
                     device: torch.device, batch_size: int = 32) -> pd.DataFrame:
    """Detections of every item, boxes in its PNG pixels."""
    frames = []
    for batch in _batches(items, batch_size):
        x = _to_device(torch.stack([detection_input(item) for item in batch]), device)
        with autocast(device):
            outputs = detector(x)
        decoded = decode(outputs, config.det_stride, config.top_k, config.score_threshold)
        for item, found in zip(batch, decoded):
            size = config.input_size
            frames.append(detections_table(item.image_id, found, item.width / size, item.height / size,
                                           item.width, item.height))
    if not frames:
        return detections_table("", {"category": np.zeros(0, int), "score": np.zeros(0), "boxes": np.zeros((0, 4))},
                                1, 1, 1, 1)
    return pd.concat(frames, ignore_index=True)


@torch.no_grad()
def infer_grades(grader: torch.nn.Module, items: list[DetectionItem], boxes: pd.DataFrame, config: Config,
                 device: torch.device, batch_size: int = 256) -> pd.DataFrame:
    """``boxes`` (detection rows) with the grader's probabilities ``p_*`` of the crop around each."""
    boxes = boxes.reset_index(drop=True)
    by_id = {item.image_id: item for item in items}
    rows, crops = [], []
    for image_id, group in boxes.groupby("image_id", sort=False):
        rows.append(group.index.to_numpy())
        crops.append(item_crops(by_id[image_id], group[["xmin", "ymin", "xmax", "ymax"]].to_numpy(), config))
    probs = np.zeros((len(boxes), len(PROBABILITY_COLUMNS)))
    if crops:
        stacked, out = torch.cat(crops), []
        for start in range(0, len(stacked), batch_size):
            with autocast(device):
                logits = grader(_to_device(stacked[start:start + batch_size], device))
            out.append(cumulative_probs(logits).cpu().numpy())
        probs[np.concatenate(rows)] = np.concatenate(out)
    return boxes.assign(**{column: probs[:, j] for j, column in enumerate(PROBABILITY_COLUMNS)})


@torch.no_grad()
def infer_masks(segmenter: torch.nn.Module, items: list[SegmentationItem], device: torch.device,
                batch_size: int = 16) -> dict[str, np.ndarray]:
    """Class-index masks (uint8, the case's height x width): logits resized back, then argmax."""
    masks = {}
    for batch in _batches(items, batch_size):
        x = _to_device(torch.stack([torch.from_numpy(item.pixels).float() / 255 for item in batch]), device)
        with autocast(device):
            logits = segmenter(x)
        for item, case_logits in zip(batch, logits.float()):
            full = F.interpolate(case_logits[None], size=(item.height, item.width), mode="bilinear",
                                 align_corners=False)
            masks[item.patient_id] = full[0].argmax(0).to(torch.uint8).cpu().numpy()
    return masks


def predict_items(models: dict, config: Config, det_items: list[DetectionItem],
                  seg_items: list[SegmentationItem], patients: list[str], prior: list[float],
                  device: torch.device) -> dict:
    """Submission tables of some cached items: ``detections``, ``grades``, ``masks``.

    Grades: the grader sees the crops of each foramen's boxes scoring at least
    ``grade_pool_ratio`` of its best, and ``grade_pool`` picks one (the rules of
    :func:`baselines.decode.grades_from_detections`, which also gives the fallback).
    """
    detections = infer_detections(models["det"], det_items, config, device)
    graded = infer_grades(models["grade"], det_items, candidate_boxes(detections, config.grade_pool_ratio), config,
                          device)
    grades = grades_from_detections(graded, patients, prior, config.grade_decode, config.grade_pool)
    masks = infer_masks(models["seg"], seg_items, device)
    return {"detections": detections, "grades": grades, "masks": masks}


def predict(data: str | Path, split: str, run: str | Path, out: str | Path, device: str = "auto",
            definition: str | None = None) -> dict:
    """Write the submission of a trained run for every patient of ``split``; returns timing figures.

    The split definition is the run's own unless ``definition`` names another.
    """
    dev = pick_device(device)
    models, config, checkpoint = load_run(run, dev)
    dataset = read_dataset(data)
    patients = split_patients(dataset.patients, split, definition or checkpoint["split"]["definition"])
    start = time.perf_counter()
    det_items = load_detection_items(dataset, patients, config)
    seg_items = load_segmentation_items(dataset, patients, config, with_masks=False)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    tables = predict_items(models, config, det_items, seg_items, patients, checkpoint["grade_prior"], dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    infer_s = time.perf_counter() - start
    meta = {
        "team": "lssbench",
        "method": f"lssbench reference baseline (CenterNet + crop grader + U-Net, config {config.name})",
        "url": "https://github.com/lssbench/lssbench/tree/main/baselines",
        "description": ("2.5D CenterNet-style foramen detector; a small ordinal (cumulative-link) CNN grades "
                        f"the crops (slice and neighbours) of {_pool_text(config)}; "
                        "2D U-Net on the middle slice. "
                        f"Split {split}, epoch {checkpoint['epoch']}, lssbench {lssbench.__version__}."),
    }
    write_submission_tables(out, tables, meta)
    n_images = len(det_items) + len(seg_items)
    figures = {"split": split, "patients": len(patients), "detection_images": len(det_items),
               "segmentation_images": len(seg_items), "load_s": load_s, "inference_s": infer_s,
               "images_per_s": n_images / max(infer_s, 1e-9), "device": str(dev)}
    log(f"predict {split}: {len(patients)} patients, {len(det_items)} slices, {len(seg_items)} masks; "
        f"decode/cache {load_s:.1f}s, inference {infer_s:.2f}s ({figures['images_per_s']:.1f} images/s) -> {out}")
    return figures


def _pool_text(config: Config) -> str:
    """The grade rule of ``config`` in words (for meta.json)."""
    if config.grade_pool == "worst":
        return (f"each foramen's boxes scoring >= {config.grade_pool_ratio:g} of its best, "
                "and the foramen keeps the worst grade")
    return "each foramen's most confident box"


def write_submission_tables(out: str | Path, tables: dict, meta: dict) -> Path:
    """Write ``predict_items`` tables through lssbench's ``write_submission``."""
    detections = tables["detections"][list(DETECTION_COLUMNS)]
    return write_submission(out, detections=detections, grades=tables["grades"], masks=tables["masks"], meta=meta)
