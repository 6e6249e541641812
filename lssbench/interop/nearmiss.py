"""Near-miss formats: files and boxes that look like a task's under another name, format or
convention. Each becomes a problem that names what was found and what is expected, so a
submission is never scored zero, or a task silently skipped, for a convention mix-up.

Used by the validator (lssbench/submission/validate.py) for every entry it does not know and
for the box coordinates of a detection file. Pure functions of paths and arrays.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lssbench.domain import (DETECTION_COLUMNS, DETECTIONS_FILE, DETECTIONS_JSON_FILE, GRADE_COLUMNS, GRADES_FILE,
                             META_FILE, PATIENT_ID_PATTERN, SEGMENTATION_DIR, SLICE_NAME_PATTERN,
                             SUBMISSION_NAMES)

TASK_NAMES = SUBMISSION_NAMES
MASK_TEXT = f"masks are 8-bit PNG files {SEGMENTATION_DIR}/<patient_id>.png of class indices 0-5"
CONVERT_YOLO = "lssbench convert yolo LABELS --gt public.json --out SUBMISSION"
#: Image formats a mask is sometimes sent in, and what to call them.
MASK_FORMATS = {".nii.gz": "a NIfTI volume", ".nii": "a NIfTI volume", ".mha": "a MetaImage", ".mhd": "a MetaImage",
                ".nrrd": "an NRRD volume", ".npy": "a NumPy array", ".npz": "a NumPy archive",
                ".tif": "a TIFF image", ".tiff": "a TIFF image", ".jpg": "a JPEG image (lossy)",
                ".jpeg": "a JPEG image (lossy)", ".bmp": "a BMP image", ".dcm": "a DICOM file"}
_YOLO_STEM = re.compile(rf"{PATIENT_ID_PATTERN.pattern}_{SLICE_NAME_PATTERN.pattern}", re.IGNORECASE)
#: Smallest image side (pixels) for which boxes all within [0, 1] must be normalised ones.
NORMALISED_MIN_SIDE = 32


def _suffix(name: str) -> str:
    lower = name.lower()
    return ".nii.gz" if lower.endswith(".nii.gz") else Path(lower).suffix


def _expected(stem: str) -> str:
    return {"detections": f"{DETECTIONS_FILE} (or {DETECTIONS_JSON_FILE}, the COCO results format)",
            "grades": GRADES_FILE, "meta": META_FILE}[stem]


def _csv_header(path: Path) -> set[str]:
    try:
        with open(path, "rb") as handle:
            first = handle.read(4096).decode("utf-8-sig", "replace").splitlines()[:1]
    except OSError:
        return set()
    return {cell.strip().strip('"').lower() for cell in first[0].split(",")} if first else set()


def _yolo_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix.lower() == ".txt" and p.is_file()]


class NearMiss(NamedTuple):
    """An entry that looks like a task file: what it stands for (a :data:`TASK_NAMES` entry,
    or "" when it cannot be told) and the message naming what was found and what is expected."""

    stands_for: str
    message: str


def misplaced_entry(path: Path) -> NearMiss | None:
    """A :class:`NearMiss` for an entry of the submission's top folder that is not one of
    :data:`TASK_NAMES` but looks like a task file under another name, format or place, or None
    for an entry that is merely unknown (ignored with a warning)."""
    name, lower = path.name, path.name.lower()
    suffix, stem = _suffix(name), lower.split(".")[0]
    if lower in TASK_NAMES:
        return NearMiss(lower, f"found {name!r}; expected {lower!r} (file names are lower-case)")
    if path.is_dir():
        return _misplaced_folder(path)
    if stem in ("detections", "grades", "meta"):
        return NearMiss(f"{stem}.{'csv' if stem != 'meta' else 'json'}", f"found {name!r}; expected {_expected(stem)}")
    if suffix in MASK_FORMATS:
        return NearMiss(SEGMENTATION_DIR, f"found {name!r}, {MASK_FORMATS[suffix]}; {MASK_TEXT}")
    if suffix == ".txt" and _YOLO_STEM.fullmatch(path.stem):
        return NearMiss(DETECTIONS_FILE, f"found {name!r}, a YOLO label file; lssbench reads {DETECTIONS_FILE} or "
                                         f"{DETECTIONS_JSON_FILE}: convert YOLO predictions with `{CONVERT_YOLO}`")
    if suffix == ".csv":
        header = _csv_header(path)
        for columns, expected in ((DETECTION_COLUMNS, DETECTIONS_FILE), (GRADE_COLUMNS, GRADES_FILE)):
            if set(columns) <= header:
                return NearMiss(expected, f"found {name!r} with the columns of {expected}; name it {expected}")
    return None


def _misplaced_folder(path: Path) -> NearMiss | None:
    name, lower = path.name, path.name.lower()
    inner = {p.name for p in path.iterdir()}
    nested = sorted(inner & set(TASK_NAMES))
    if nested:
        shown = ", ".join(f"{name}/{n}" for n in nested)
        return NearMiss("", f"found task files one folder down ({shown}); put them at the top of the submission "
                            "(zip the files, not the folder holding them)")
    texts = _yolo_files(path)
    if lower == "labels" or (texts and any(_YOLO_STEM.fullmatch(p.stem) for p in texts)):
        count = f"{len(texts)} YOLO label file{'s' * (len(texts) != 1)}"
        return NearMiss(DETECTIONS_FILE, f"found {name + '/'!r}, a folder of {count}; lssbench reads "
                                         f"{DETECTIONS_FILE} or {DETECTIONS_JSON_FILE}: convert it with `{CONVERT_YOLO}`")
    if lower in ("masks", "mask", "segmentations", "seg", "predictions") and any(
            _suffix(n) in (".png", *MASK_FORMATS) for n in inner):
        return NearMiss(SEGMENTATION_DIR, f"found masks in {name + '/'!r}; expected the folder {SEGMENTATION_DIR}/ "
                                          f"({MASK_TEXT})")
    return None


def covered_by(near: NearMiss, present) -> str | None:
    """The task file among ``present`` (names found at the top) that already submits what
    ``near`` stands for -- then ``near`` is only a warning -- or None."""
    family = (DETECTIONS_FILE, DETECTIONS_JSON_FILE) if near.stands_for in (DETECTIONS_FILE, DETECTIONS_JSON_FILE) \
        else (near.stands_for,)
    return next((name for name in family if name and name in present), None)


def misplaced_mask(path: Path) -> str | None:
    """Why an entry of ``segmentation/`` that is not ``<name>.png`` looks like a mask in another
    format or place (the submission is then invalid), or None (ignored with a warning)."""
    rel = f"{SEGMENTATION_DIR}/{path.name}"
    suffix = _suffix(path.name)
    if path.is_dir():
        return f"found a folder {rel + '/'!r}; masks sit directly in {SEGMENTATION_DIR}/ ({MASK_TEXT})"
    if suffix == ".png":
        return f"found {path.name!r}; expected the extension '.png' in lower case ({MASK_TEXT})"
    if suffix in MASK_FORMATS:
        return f"found {path.name!r}, {MASK_FORMATS[suffix]}; {MASK_TEXT}"
    return None


# --- boxes -------------------------------------------------------------------------------


def normalised_boxes(x0, y0, x1, y1, widths, heights) -> str | None:
    """A problem text when every box lies within [0, 1] on images at least
    :data:`NORMALISED_MIN_SIDE` pixels wide and high: the boxes look normalised. Arrays of the
    valid rows only; None when there are none."""
    coords = np.concatenate([np.asarray(a, dtype=float) for a in (x0, y0, x1, y1)])
    sides = np.concatenate([np.asarray(widths, dtype=float), np.asarray(heights, dtype=float)])
    if coords.size == 0 or np.isnan(sides).all():
        return None
    if coords.min() < 0 or coords.max() > 1 or np.nanmin(sides) < NORMALISED_MIN_SIDE:
        return None
    return (f"all {len(np.asarray(x0))} boxes lie within [0, 1] on images of {np.nanmin(sides):g} pixels and more: "
            "they look normalised; lssbench expects pixels of the slice PNG: multiply x by the image width "
            "and y by its height (public.json images[].width, height), or convert YOLO predictions with "
            f"`{CONVERT_YOLO}`")


def xywh_valid(x0, y0, x1, y1, widths, heights) -> np.ndarray:
    """Rows whose corners fail ``xmin < xmax`` / ``ymin < ymax`` but whose four numbers would
    be a valid box inside the image as x, y, width, height."""
    x, y, w, h, width, height = (np.asarray(a, dtype=float) for a in (x0, y0, x1, y1, widths, heights))
    with np.errstate(invalid="ignore"):
        inverted = (x >= w) | (y >= h)
        fits = (x >= 0) & (y >= 0) & (w > 0) & (h > 0) & (x + w <= width) & (y + h <= height)
    return inverted & fits


XYWH_HINT = ("; as x, y, width, height this box would be valid: write xmax = x + width and ymax = y + height "
             f"(or submit {DETECTIONS_JSON_FILE}, whose COCO bbox is [x, y, width, height])")

def coco_corners_valid(x0, y0, x1, y1, widths, heights) -> np.ndarray:
    """Rows of a COCO results file (``x1 = x + w``, ``y1 = y + h``) whose ``bbox`` would be a
    valid box inside the image if read as corners ``[xmin, ymin, xmax, ymax]``."""
    x, y, x1, y1, width, height = (np.asarray(a, dtype=float) for a in (x0, y0, x1, y1, widths, heights))
    xmax, ymax = x1 - x, y1 - y  # the bbox's third and fourth numbers
    with np.errstate(invalid="ignore"):
        return (x >= 0) & (y >= 0) & (xmax > x) & (ymax > y) & (xmax <= width) & (ymax <= height)


CORNERS_HINT = ("; as corners [xmin, ymin, xmax, ymax] this bbox would fit: the COCO bbox is "
                "[x, y, width, height], so write [xmin, ymin, xmax - xmin, ymax - ymin]")

__all__ = ["CORNERS_HINT", "MASK_TEXT", "TASK_NAMES", "XYWH_HINT", "NearMiss", "coco_corners_valid", "covered_by",
           "misplaced_entry", "misplaced_mask", "normalised_boxes", "xywh_valid"]
