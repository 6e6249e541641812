"""Counts of a read dataset for ``lssbench check-data`` (a plain JSON-able dict).

Foramina are unique (patient, level, side); "multi_slice" counts those boxed on more than
one slice, "conflicting_grades" those whose slices disagree on the grade. Image sizes are
the annotated slices' ``"WxH"``; DICOM matrix sizes are ``"columns x rows"`` likewise.
Transfer syntaxes are keyed by UID: ``{"name", "series", "files"}`` (a series stored in two
syntaxes counts under both).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from pydicom.uid import UID

from lssbench.dataset.records import Dataset
from lssbench.domain import GRADE_NAMES, LEVELS, SIDES


def _ordered(counter: Counter, keys) -> dict:
    return {str(key): int(counter.get(key, 0)) for key in keys}


def _box_counts(dataset: Dataset) -> dict:
    boxes = [box for item in dataset.slices for box in item.boxes]
    return {
        "total": len(boxes),
        "per_level": _ordered(Counter(b.level for b in boxes), LEVELS),
        "per_side": _ordered(Counter(b.side for b in boxes), SIDES),
        "per_grade": dict(zip(GRADE_NAMES, _ordered(Counter(b.severity for b in boxes), range(4)).values())),
    }


def _foramen_counts(dataset: Dataset) -> dict:
    grades: dict[tuple, list[int]] = defaultdict(list)
    for item in dataset.slices:
        for box in item.boxes:
            grades[(item.patient_id, box.level, box.side)].append(box.severity)
    return {
        "total": len(grades),
        "multi_slice": sum(len(g) > 1 for g in grades.values()),
        "conflicting_grades": sum(len(set(g)) > 1 for g in grades.values()),
    }


def _spacing_range(dataset: Dataset) -> dict | None:
    values = [v for s in dataset.series.values() for v in s.pixel_spacing_mm if not math.isnan(v)]
    return {"min_mm": min(values), "max_mm": max(values)} if values else None


def _slices_without_dicom(dataset: Dataset) -> int:
    """Annotated slices whose slice name is not a file of the patient's series."""
    names = {pid: set(s.slice_names) for pid, s in dataset.series.items()}
    return sum(item.slice_name not in names.get(item.patient_id, set()) for item in dataset.slices)


def _transfer_syntaxes(dataset: Dataset) -> dict:
    files = Counter(uid for s in dataset.series.values() for uid in s.transfer_syntaxes)
    series = Counter(uid for s in dataset.series.values() for uid in set(s.transfer_syntaxes))
    return {uid: {"name": UID(uid).name if uid else "unknown", "series": series[uid], "files": files[uid]}
            for uid in sorted(files)}


def summarize_dataset(dataset: Dataset) -> dict:
    """Counts of patients, series, slices, boxes, foramina, masks, sizes, spacing, problems."""
    series = dataset.series.values()
    return {
        "root": str(dataset.root),
        "patients": len(dataset.patients),
        "series": len(dataset.series),
        "dicom_slices": sum(len(s.files) for s in series),
        "annotated_slices": len(dataset.slices),
        "annotated_patients": len({item.patient_id for item in dataset.slices}),
        "annotated_slices_without_dicom_slice": _slices_without_dicom(dataset),
        "boxes": _box_counts(dataset),
        "foramina": _foramen_counts(dataset),
        "segmentation_cases": len(dataset.segmentation),
        "masks": sum(1 for case in dataset.segmentation.values() if case.mask_path is not None),
        "image_sizes": dict(sorted(Counter(f"{i.width}x{i.height}" for i in dataset.slices).items())),
        "dicom_sizes": dict(sorted(Counter(f"{s.columns}x{s.rows}" for s in series).items())),
        "pixel_spacing": _spacing_range(dataset),
        "transfer_syntaxes": _transfer_syntaxes(dataset),
        "problems": len(dataset.problems),
    }
