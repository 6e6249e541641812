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
from lssbench.domain import DETECTION_COLUMNS
from lssbench.splits import split_patients
from lssbench.submission import write_submission

from baselines.config import Config, config_from_dict
from baselines.data import (DetectionItem, SegmentationItem, detection_input, load_detection_items,
                            load_segmentation_items)
from baselines.decode import decode, detections_table, grades_from_detections
from baselines.models import build_models
from baselines.runtime import autocast, log, pick_device

CHECKPOINT = "model.pt"


def load_run(run: str | Path, device: torch.device):
    """The detector, segmenter, config and checkpoint dict of a training run folder."""
    checkpoint = torch.load(Path(run) / CHECKPOINT, map_location="cpu", weights_only=False)
    config = config_from_dict(checkpoint["config"])
    detector, segmenter = build_models(config)
    detector.load_state_dict(checkpoint["detector"])
    segmenter.load_state_dict(checkpoint["segmenter"])
    for model in (detector, segmenter):
        model.to(device).eval()
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
    return detector, segmenter, config, checkpoint


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    memory = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    return x.to(device, non_blocking=True).contiguous(memory_format=memory)


@torch.no_grad()
def infer_detections(detector: torch.nn.Module, items: list[DetectionItem], config: Config,
                     device: torch.device, batch_size: int = 32) -> pd.DataFrame:
    """Detections of every item, boxes in its PNG pixels, with grade probabilities ``p_*``."""
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
        return detections_table("", {"category": np.zeros(0, int), "score": np.zeros(0), "boxes": np.zeros((0, 4)),
                                     "grade_probs": np.zeros((0, 4))}, 1, 1, 1, 1)
    return pd.concat(frames, ignore_index=True)


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


def predict_items(detector, segmenter, config: Config, det_items: list[DetectionItem],
                  seg_items: list[SegmentationItem], patients: list[str], prior: list[float],
                  device: torch.device) -> dict:
    """Submission tables of some cached items: ``detections`` (with ``p_*``), ``grades``, ``masks``."""
    detections = infer_detections(detector, det_items, config, device)
    grades = grades_from_detections(detections, patients, prior)
    masks = infer_masks(segmenter, seg_items, device)
    return {"detections": detections, "grades": grades, "masks": masks}


def predict(data: str | Path, split: str, run: str | Path, out: str | Path, device: str = "auto",
            definition: str | None = None) -> dict:
    """Write the submission of a trained run for every patient of ``split``; returns timing figures.

    The split definition is the run's own unless ``definition`` names another.
    """
    dev = pick_device(device)
    detector, segmenter, config, checkpoint = load_run(run, dev)
    dataset = read_dataset(data)
    patients = split_patients(dataset.patients, split, definition or checkpoint["split"]["definition"])
    start = time.perf_counter()
    det_items = load_detection_items(dataset, patients, config)
    seg_items = load_segmentation_items(dataset, patients, config, with_masks=False)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    tables = predict_items(detector, segmenter, config, det_items, seg_items, patients, checkpoint["grade_prior"], dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    infer_s = time.perf_counter() - start
    meta = {
        "team": "lssbench",
        "method": f"lssbench reference baseline (CenterNet + U-Net, config {config.name})",
        "url": "https://github.com/lssbench/lssbench/tree/main/baselines",
        "description": ("2.5D CenterNet-style foramen detector with a severity head; per-foramen grade from the "
                        "most confident box of that level/side; 2D U-Net on the middle slice. "
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


def write_submission_tables(out: str | Path, tables: dict, meta: dict) -> Path:
    """Write ``predict_items`` tables through lssbench's ``write_submission``."""
    detections = tables["detections"][list(DETECTION_COLUMNS)]
    return write_submission(out, detections=detections, grades=tables["grades"], masks=tables["masks"], meta=meta)
