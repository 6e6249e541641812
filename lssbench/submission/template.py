"""A valid starting submission for a split: the shape of every file, no predictions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from lssbench.domain import DETECTION_COLUMNS, GRADE_COLUMNS, LEVELS, PROBABILITY_COLUMNS, SIDES
from lssbench.submission.write import write_submission

TEMPLATE_META = {
    "team": "your team",
    "method": "template (all normal, no detections, background masks)",
    "url": "https://example.org/your-method",
    "description": "Replace every file with your predictions; see docs/submission.md.",
}


def template_grades(patients) -> pd.DataFrame:
    """All ten foramina of every patient graded normal with probabilities 1, 0, 0, 0."""
    rows = [
        (pid, level, side, 0, 1.0, 0.0, 0.0, 0.0)
        for pid in sorted(patients)
        for level in LEVELS
        for side in SIDES
    ]
    return pd.DataFrame(rows, columns=[*GRADE_COLUMNS, *PROBABILITY_COLUMNS])


def template_masks(cases) -> dict[str, np.ndarray]:
    """An all-background (0) mask of each case's middle-slice size."""
    return {
        pid: np.zeros((int(case["height"]), int(case["width"])), dtype=np.uint8)
        for pid, case in cases.items()
    }


def write_template(reference, out: str | os.PathLike) -> Path:
    """Write a valid template submission for ``reference`` (a GroundTruth or alike) to ``out``.

    ``out`` is a folder, or a zip when it ends in ``.zip``.
    """
    return write_submission(
        out,
        detections=pd.DataFrame(columns=list(DETECTION_COLUMNS)),
        grades=template_grades(reference.patients),
        masks=template_masks(reference.cases),
        meta=TEMPLATE_META,
    )
