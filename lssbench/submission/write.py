"""Write a submission folder (or ``.zip``) from the shared tables.

The file formats are those of :mod:`lssbench.formats`; every file is written atomically.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from lssbench.domain import DETECTIONS_FILE, GRADES_FILE, META_FILE, SEGMENTATION_DIR
from lssbench.formats import FLOAT_FORMAT, detections_csv, grades_csv, mask_png
from lssbench.jsonio import write_bytes_atomic, write_json_atomic, write_text_atomic


def _write_masks(folder: Path, masks: Mapping[str, np.ndarray]) -> None:
    seg = folder / SEGMENTATION_DIR
    if seg.is_dir():  # stale masks of an earlier run would become "extra masks"
        for old in seg.glob("*.png"):
            old.unlink()
    for patient_id, mask in sorted(masks.items()):
        write_bytes_atomic(seg / f"{patient_id}.png", mask_png(mask))
    seg.mkdir(parents=True, exist_ok=True)


def _write_folder(folder: Path, detections, grades, masks, meta) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if detections is not None:
        write_text_atomic(folder / DETECTIONS_FILE, detections_csv(detections))
    if grades is not None:
        write_text_atomic(folder / GRADES_FILE, grades_csv(grades))
    if masks is not None:
        _write_masks(folder, masks)
    if meta is not None:
        write_json_atomic(folder / META_FILE, dict(meta))


def _zip_folder(folder: Path, out: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    write_bytes_atomic(out, buffer.getvalue())


def write_submission(
    out: str | os.PathLike,
    *,
    detections: pd.DataFrame | None = None,
    grades: pd.DataFrame | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    meta: Mapping | None = None,
) -> Path:
    """Write the given parts as a submission folder ``out`` (or a zip if it ends in ``.zip``).

    Only the given parts are written; files of other tasks already in ``out`` stay.
    Writing ``masks`` replaces every ``segmentation/*.png`` already there.
    """
    out = Path(out)
    if out.suffix.lower() != ".zip":
        _write_folder(out, detections, grades, masks, meta)
        return out
    with tempfile.TemporaryDirectory(prefix="lssbench-write-") as tmp:
        _write_folder(Path(tmp), detections, grades, masks, meta)
        _zip_folder(Path(tmp), out)
    return out


__all__ = ["FLOAT_FORMAT", "detections_csv", "grades_csv", "mask_png", "write_submission"]
