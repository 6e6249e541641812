"""Text and image formats shared by ground-truth bundles and submissions.

CSV conventions (docs/submission.md): columns in :data:`domain.DETECTION_COLUMNS` /
:data:`domain.GRADE_COLUMNS` order (+ the four probability columns when given),
canonical level/side spellings, floats formatted with ``%.6g`` (six significant
digits), severities as integers, rows sorted, ``\n`` line ends, UTF-8 without BOM.
Masks are 8-bit grayscale ('L') PNGs of class indices 0-5.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

from lssbench.domain import (
    DETECTION_COLUMNS,
    GRADE_COLUMNS,
    GRADES,
    NUM_SEGMENTATION_CLASSES,
    PROBABILITY_COLUMNS,
    parse_level,
    parse_side,
)

#: printf format of every float written to a submission CSV.
FLOAT_FORMAT = "%.6g"
_COORDS = ("xmin", "ymin", "xmax", "ymax")


def _canonical_keys(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["level"] = [parse_level(v) for v in frame["level"]]
    frame["side"] = [parse_side(v) for v in frame["side"]]
    return frame


def _require_columns(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} table lacks column(s) {', '.join(missing)}")


def _csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def detections_csv(detections: pd.DataFrame) -> str:
    """CSV text of a detections table, sorted by image, level, side, then score descending."""
    _require_columns(detections, DETECTION_COLUMNS, "detections")
    frame = _canonical_keys(detections[list(DETECTION_COLUMNS)])
    frame["image_id"] = frame["image_id"].astype(str)
    for column in ("score", *_COORDS):
        frame[column] = frame[column].astype(float)
    frame = frame.sort_values(
        ["image_id", "level", "side", "score", *_COORDS],
        ascending=[True, True, True, False, True, True, True, True],
        kind="mergesort",
    )
    return _csv_text(frame)


def grades_csv(grades: pd.DataFrame) -> str:
    """CSV text of a grades table (probability columns kept when all four are present)."""
    _require_columns(grades, GRADE_COLUMNS, "grades")
    columns = list(GRADE_COLUMNS)
    if any(c in grades.columns for c in PROBABILITY_COLUMNS):
        _require_columns(grades, PROBABILITY_COLUMNS, "grades")
        columns += list(PROBABILITY_COLUMNS)
    frame = _canonical_keys(grades[columns])
    frame["patient_id"] = frame["patient_id"].astype(str)
    frame["severity"] = frame["severity"].astype(int)
    if not frame["severity"].isin(GRADES).all():
        raise ValueError(f"severity must be one of {GRADES}")
    for column in columns[len(GRADE_COLUMNS):]:
        frame[column] = frame[column].astype(float)
    frame = frame.sort_values(["patient_id", "level", "side"], kind="mergesort")
    return _csv_text(frame)


def mask_png(mask: np.ndarray) -> bytes:
    """PNG bytes ('L' mode) of a 2-D class-index mask with values 0-5."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask must be 2-D (height, width), got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= NUM_SEGMENTATION_CLASSES):
        raise ValueError(f"mask values must be class indices 0-{NUM_SEGMENTATION_CLASSES - 1}")
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
