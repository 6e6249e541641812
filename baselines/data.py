"""Data pipeline: patient-level split, decoded images cached in memory, torch datasets/loaders.

Every image is resized to a square grid once (``input_size`` for detection, ``seg_size``
for segmentation) and cached as uint8. Intensities are percentile-scaled (0.5-99.5 %): a PNG
slice by its own pixels, DICOM neighbour slices by their whole series. Detection inputs
(2.5D) are ``2 * context + 1`` slice channels -- the annotated PNG in the middle, its DICOM
neighbours around it -- plus one constant channel holding the slice's lateral position
(DICOM x, patient left positive), which is what tells a left foramen from a right one. The
same slice channels are also kept at the PNG's own size for the grader's crops.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset as TorchDataset, DistributedSampler

from lssbench.dataset import read_mask, read_png, read_series_pixels, records
from lssbench.domain import CATEGORIES, category_name
from lssbench.splits import fold_patients, resolve_split_definition, split_patients

from baselines.augment import augment, intensity
from baselines.config import Config
from baselines.decode import encode_targets
from baselines.grading import crop_boxes, jitter_boxes

#: Lateral offsets (mm) are divided by this and clipped to [-1, 1] for the position channel.
POSITION_SCALE_MM = 40.0
PERCENTILES = (0.5, 99.5)


# --- splits ---------------------------------------------------------------------------------

def split_definition(patients: list[str], fold: int | None = None, definition: str | None = None) -> dict:
    """Train and validation patients: the ``val`` split, or CV fold ``fold`` of ``train``.

    ``definition`` names a lssbench split definition (name or JSON path; default: the rule).
    """
    resolved = resolve_split_definition(definition)
    train = split_patients(patients, "train", resolved)
    if fold is None:
        val = split_patients(patients, "val", resolved)
    else:
        val = fold_patients(patients, fold, resolved)
        train = sorted(set(train) - set(val))
    return {"definition": resolved.name if definition is None else str(definition), "fold": fold,
            "validation": "val split" if fold is None else f"train fold {fold}", "train": train, "val": val}


# --- pixels ---------------------------------------------------------------------------------

def percentile_scale(array: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Float32 in [0, 1]: ``array`` scaled between the percentiles of ``reference`` (itself by default)."""
    ref = array if reference is None else reference
    low, high = np.percentile(ref, PERCENTILES)
    if high <= low:
        high = low + 1.0
    return np.clip((array.astype(np.float32) - low) / (high - low), 0.0, 1.0)


def resize(array: np.ndarray, size: int | tuple[int, int], mode: str = "bilinear") -> np.ndarray:
    """Resize a (H, W) or (C, H, W) array to (…, size, size) or (…, *size) with torch
    (antialiased when shrinking)."""
    shape = (size, size) if isinstance(size, int) else tuple(size)
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    squeeze = tensor.ndim == 2
    tensor = tensor[None, None] if squeeze else tensor[None]
    if tuple(tensor.shape[-2:]) == shape:
        out = tensor
    elif mode == "nearest":
        out = F.interpolate(tensor, size=shape, mode="nearest-exact")
    else:
        out = F.interpolate(tensor, size=shape, mode="bilinear", align_corners=False, antialias=True)
    out = out[0, 0] if squeeze else out[0]
    return out.numpy()


def to_uint8(array: np.ndarray) -> np.ndarray:
    return np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)


def lateral_position(series: records.Series | None, slice_name: str) -> float:
    """Signed lateral offset of a slice from the middle of its series, scaled to [-1, 1] (0 if unknown)."""
    offset = None if series is None else series.lateral_offset_mm(slice_name)
    if offset is None:
        return 0.0
    return float(np.clip(offset / POSITION_SCALE_MM, -1.0, 1.0))


# --- cached items ---------------------------------------------------------------------------

@dataclass
class DetectionItem:
    """One annotated slice, decoded: ``pixels`` (C, S, S) uint8 resized, boxes on the S grid;
    ``full`` (C, height, width) uint8 the same channels at the PNG's size, ``png_boxes`` its boxes."""

    image_id: str
    patient_id: str
    width: int
    height: int
    pixels: np.ndarray
    full: np.ndarray
    position: float
    boxes: np.ndarray  # (N, 4) float32 xyxy in input pixels
    png_boxes: np.ndarray  # (N, 4) float32 xyxy in PNG pixels
    labels: np.ndarray  # (N,) int64 category index
    grades: np.ndarray  # (N,) int64


@dataclass
class SegmentationItem:
    """One middle slice, decoded and resized: ``pixels`` (1, S, S) uint8, ``mask`` (S, S) uint8 or None."""

    patient_id: str
    width: int
    height: int
    spacing_mm: tuple[float, float]
    pixels: np.ndarray
    mask: np.ndarray | None


def read_volume(series: records.Series | None) -> np.ndarray | None:
    """The percentile-scaled DICOM series (S, H, W), or None when absent or unreadable."""
    if series is None or not series.files:
        return None
    try:
        return percentile_scale(read_series_pixels(series))
    except Exception:  # a broken series only costs the 2.5D context
        return None


def slice_stack(item: records.AnnotatedSlice, series: records.Series | None, volume: np.ndarray | None,
                centre: np.ndarray, context: int) -> np.ndarray:
    """(2 * context + 1, H, W) float at the PNG's size: DICOM neighbours around the PNG slice
    (resized to it; the PNG repeated where there are none)."""
    size = centre.shape
    channels = [centre] * (2 * context + 1)
    if volume is None or series is None or item.slice_name not in series.slice_names:
        return np.stack(channels)
    index = series.slice_names.index(item.slice_name)
    for offset in range(-context, context + 1):
        if offset:
            channels[offset + context] = resize(volume[int(np.clip(index + offset, 0, len(volume) - 1))], size)
    return np.stack(channels)


def _detection_item(item: records.AnnotatedSlice, series: records.Series | None, volume: np.ndarray | None,
                    config: Config) -> DetectionItem:
    centre = percentile_scale(read_png(item.image_path))
    if centre.shape != (item.height, item.width):
        raise ValueError(f"{item.image_path}: image is {centre.shape[::-1]}, annotation says "
                         f"{(item.width, item.height)}")
    size = config.input_size
    stack = slice_stack(item, series, volume, centre, config.context)
    scale = np.array([size / item.width, size / item.height] * 2, dtype=np.float32)
    boxes = np.array([[b.xmin, b.ymin, b.xmax, b.ymax] for b in item.boxes], dtype=np.float32).reshape(-1, 4)
    return DetectionItem(
        image_id=item.image_id, patient_id=item.patient_id, width=item.width, height=item.height,
        pixels=to_uint8(resize(stack, size)), full=to_uint8(stack), position=lateral_position(series, item.slice_name),
        boxes=boxes * scale, png_boxes=boxes,
        labels=np.array([CATEGORIES.index(category_name(b.level, b.side)) for b in item.boxes], dtype=np.int64),
        grades=np.array([b.severity for b in item.boxes], dtype=np.int64),
    )


def _segmentation_item(case: records.SegmentationCase, dataset: records.Dataset, config: Config,
                       with_masks: bool) -> SegmentationItem:
    image = percentile_scale(read_png(case.image_path))
    mask = None
    if with_masks:
        mask = resize(read_mask(case.mask_path), config.seg_size, mode="nearest").astype(np.uint8)
    series = dataset.series.get(case.patient_id)
    spacing = series.spacing_for(case.width, case.height) if series is not None else (1.0, 1.0)
    return SegmentationItem(case.patient_id, case.width, case.height, spacing,
                            to_uint8(resize(image, config.seg_size))[None], mask)


def _parallel(function, items, workers: int) -> list:
    if workers <= 1 or len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def load_detection_items(dataset: records.Dataset, patients: list[str], config: Config,
                         workers: int = 4) -> list[DetectionItem]:
    """The annotated slices of ``patients``, decoded and cached (sorted by image_id)."""
    wanted = set(patients)
    by_patient: dict[str, list[records.AnnotatedSlice]] = {}
    for item in dataset.slices:
        if item.patient_id in wanted:
            by_patient.setdefault(item.patient_id, []).append(item)

    def patient_items(patient_id: str) -> list[DetectionItem]:
        # one patient at a time: its full-size series is dropped once its slices are cached
        series = dataset.series.get(patient_id)
        volume = read_volume(series) if config.context else None
        return [_detection_item(item, series, volume, config) for item in by_patient[patient_id]]

    items = [item for group in _parallel(patient_items, sorted(by_patient), workers) for item in group]
    return sorted(items, key=lambda item: item.image_id)


def load_segmentation_items(dataset: records.Dataset, patients: list[str], config: Config,
                            with_masks: bool = True, workers: int = 4) -> list[SegmentationItem]:
    """The middle slices (and masks) of ``patients`` that have a segmentation case."""
    cases = [dataset.segmentation[p] for p in sorted(patients) if p in dataset.segmentation]
    return _parallel(lambda c: _segmentation_item(c, dataset, config, with_masks), cases, workers)


def grade_prior(items: list[DetectionItem]) -> list[float]:
    """Grade frequencies over the boxes of ``items`` (the fallback grade probabilities)."""
    counts = np.bincount(np.concatenate([i.grades for i in items] or [np.zeros(0, np.int64)]), minlength=4)[:4]
    counts = counts.astype(np.float64) + 1e-6  # never a zero probability
    return (counts / counts.sum()).tolist()


# --- torch datasets -------------------------------------------------------------------------

def detection_input(item: DetectionItem) -> torch.Tensor:
    """Float (C + 1, S, S): the slice channels in [0, 1] and the position channel."""
    pixels = torch.from_numpy(item.pixels).float() / 255
    return torch.cat([pixels, torch.full_like(pixels[:1], item.position)])


class DetectionSet(TorchDataset):
    """Annotated slices -> (input, CenterNet targets); augmented when ``train``."""

    def __init__(self, items: list[DetectionItem], config: Config, train: bool):
        self.items, self.config, self.train = items, config, train

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        item = self.items[index]
        image = detection_input(item)
        boxes, labels, grades = torch.from_numpy(item.boxes), torch.from_numpy(item.labels), torch.from_numpy(item.grades)
        if self.train:
            slices, boxes, keep, _ = augment(image[:-1], self.config.augment, boxes=boxes)
            image = torch.cat([slices, image[-1:]])
            labels = labels[keep]
        targets = encode_targets(boxes, labels, self.config.input_size, self.config.det_stride)
        return image, targets, index


def item_crops(item: DetectionItem, boxes: np.ndarray | torch.Tensor, config: Config) -> torch.Tensor:
    """Float crops ``(N, C, grade_crop, grade_crop)`` in [0, 1] of ``item.full`` around PNG-pixel ``boxes``.

    Only the window around the boxes is turned into floats (the crops are the same as
    :func:`baselines.grading.crop_boxes` on the whole image).
    """
    boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float32)).reshape(-1, 4)
    if len(boxes) == 0:
        return torch.zeros(0, item.full.shape[0], config.grade_crop, config.grade_crop)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    grow = config.grade_margin + 1.0  # a pixel of bilinear support beyond the sampled area
    x0 = int(max(0, float((boxes[:, 0] - grow * w).min()) - 1))
    y0 = int(max(0, float((boxes[:, 1] - grow * h).min()) - 1))
    x1 = int(min(item.width, float((boxes[:, 2] + grow * w).max()) + 2))
    y1 = int(min(item.height, float((boxes[:, 3] + grow * h).max()) + 2))
    if x1 <= x0 or y1 <= y0:  # every box outside the image: crops of zeros
        return torch.zeros(len(boxes), item.full.shape[0], config.grade_crop, config.grade_crop)
    window = torch.from_numpy(np.ascontiguousarray(item.full[:, y0:y1, x0:x1])).float() / 255
    shifted = boxes - torch.tensor([x0, y0, x0, y0], dtype=torch.float32)
    # the window reaches a margin of a box side beyond every sampled point (or the image edge),
    # so the crops read the same pixels, and the same zeros outside the image, as on the whole image
    return crop_boxes(window, shifted, config.grade_crop, config.grade_margin)


class GradeSet(TorchDataset):
    """Ground-truth boxes -> (crop, grade); jittered and intensity-augmented when ``train``;
    every box repeated ``repeat`` times."""

    def __init__(self, items: list[DetectionItem], config: Config, train: bool, repeat: int = 1):
        self.items, self.config, self.train = items, config, train
        self.boxes = [(i, k) for i, item in enumerate(items) for k in range(len(item.grades))]
        self.repeat = repeat

    def __len__(self) -> int:
        return len(self.boxes) * self.repeat

    def __getitem__(self, index: int):
        i, k = self.boxes[index % len(self.boxes)]
        item = self.items[i]
        box = torch.from_numpy(item.png_boxes[k : k + 1])
        if self.train:
            box = jitter_boxes(box, self.config.grade_jitter)
        crop = item_crops(item, box, self.config)[0]
        if self.train:
            crop = intensity(crop, self.config.augment)
        return crop, torch.tensor(int(item.grades[k])), index % len(self.boxes)


class SegmentationSet(TorchDataset):
    """Middle slices -> (input, mask); augmented when ``train``; repeated ``repeat`` times."""

    def __init__(self, items: list[SegmentationItem], config: Config, train: bool, repeat: int = 1):
        self.items, self.config, self.train, self.repeat = items, config, train, repeat

    def __len__(self) -> int:
        return len(self.items) * self.repeat

    def __getitem__(self, index: int):
        item = self.items[index % len(self.items)]
        image = torch.from_numpy(item.pixels).float() / 255
        mask = torch.from_numpy(item.mask).long() if item.mask is not None else torch.zeros(image.shape[1:], dtype=torch.long)
        if self.train:
            image, _, _, mask = augment(image, self.config.augment, mask=mask)
        return image, mask, index % len(self.items)


# --- loaders and seeds ----------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_init(worker_id: int) -> None:
    """Seed a DataLoader worker from its torch seed (distinct per worker, rank and epoch)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)


def make_loader(dataset: TorchDataset, batch_size: int, train: bool, config: Config, device: torch.device,
                distributed: bool = False, seed: int = 0, share: float = 1.0) -> DataLoader:
    """A DataLoader that keeps a GPU fed: workers, pinned memory, persistent workers, prefetching.

    ``share`` of ``config.num_workers`` worker processes (at least one when there are any).
    """
    workers = min(config.num_workers, os.cpu_count() or 1)
    workers = max(1, round(workers * share)) if workers else 0
    sampler = DistributedSampler(dataset, shuffle=train, seed=seed) if distributed else None
    per_replica = len(sampler) if sampler is not None else len(dataset)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        drop_last=train and per_replica > batch_size,  # no ragged last batch, but never an empty loader
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=worker_init,
        generator=generator,
    )
