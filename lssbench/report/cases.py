"""Per-case export: one row per segmentation case and class, one per graded foramen.

A long table for pandas (``pd.read_csv``): the ``task`` column says which kind a row is;
cells that do not apply to it are empty. Segmentation rows carry the metrics of
:func:`lssbench.metrics.segmentation.case_metrics` (distances in mm; ``empty`` names a
class absent from the truth and/or the prediction); grading rows carry the true and
predicted grade (0-3) and the submitted probabilities when given.
"""

from __future__ import annotations

import pandas as pd

from lssbench.domain import PROBABILITY_COLUMNS

SEGMENTATION_COLUMNS = ("dice", "hd_mm", "hd95_mm", "hd95_pooled_mm", "assd_mm", "nsd_2mm", "empty")
COLUMNS = (("task", "patient_id", "class", "level", "side") + SEGMENTATION_COLUMNS
           + ("severity_true", "severity_pred") + PROBABILITY_COLUMNS)


def per_case_frame(results: dict, aligned_grades: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-case rows of ``results`` (segmentation ``per_case``) and of ``aligned_grades``
    (:func:`lssbench.metrics.grading.align_grades`), in :data:`COLUMNS` order."""
    rows = []
    for case in (results.get("segmentation") or {}).get("per_case", []):
        for name, metrics in case["metrics"].items():
            rows.append({"task": "segmentation", "patient_id": case["patient_id"], "class": name,
                         **{k: metrics.get(k) for k in SEGMENTATION_COLUMNS}})
    if aligned_grades is not None:
        present = [c for c in PROBABILITY_COLUMNS if c in aligned_grades.columns]
        for row in aligned_grades.itertuples(index=False):
            rows.append({"task": "grading", "patient_id": row.patient_id, "level": row.level, "side": row.side,
                         "severity_true": int(row.severity_true), "severity_pred": int(row.severity_pred),
                         **{c: float(getattr(row, c)) for c in present}})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("severity_true", "severity_pred"):
        frame[column] = frame[column].astype("Int64")
    return frame


def per_case_csv(results: dict, aligned_grades: pd.DataFrame | None = None) -> str:
    """:func:`per_case_frame` as CSV text (``\\n`` line ends, floats to 6 decimals)."""
    return per_case_frame(results, aligned_grades).to_csv(index=False, lineterminator="\n", float_format="%.6g")
