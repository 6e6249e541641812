"""Helpers for the submission tests: a small reference and file writers (no tests here)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from lssbench.splits import assign_split
from lssbench.submission import Reference, write_template

_IDS = [f"PATIENT{n:05d}" for n in range(10000, 10300)]


def patients_of(split: str, count: int) -> list[str]:
    """The first ``count`` synthetic patient IDs the split rule puts in ``split``."""
    return sorted(p for p in _IDS if assign_split(p) == split)[:count]


TEST = patients_of("test", 3)
TRAIN = patients_of("train", 1)[0]
IMAGE = f"{TEST[0]}/IM000005"  # a 64x48 annotated slice
MASK_SIZE = (32, 24)  # width, height of each case's middle slice


def make_reference() -> Reference:
    images = pd.DataFrame(
        [(f"{p}/IM000005", p, 64, 48) for p in TEST], columns=["image_id", "patient_id", "width", "height"]
    )
    cases = {p: {"width": MASK_SIZE[0], "height": MASK_SIZE[1], "spacing_mm": [0.5, 0.5]} for p in TEST[:2]}
    return Reference("test", list(TEST), images, cases)


def template(tmp_path: Path, name: str = "sub") -> Path:
    return write_template(make_reference(), tmp_path / name)


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array, mode=mode)
    if mode == "P":
        image.putpalette(list(range(256)) * 3)  # a full palette keeps the indices as written
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def messages(report) -> list[str]:
    return [str(p) for p in report.problems]
