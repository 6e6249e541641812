"""Pixel access for PNG slices and DICOM series (the reader itself never decodes pixels).

Conventions: every function returns ``float32`` grayscale arrays in the file's own intensity
units (0-255 for 8-bit PNGs, 0-65535 for 16-bit; DICOM after RescaleSlope/Intercept), shape
(H, W) for one image and (S, H, W) for a series in DICOM order (InstanceNumber).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from lssbench.dataset.records import Series
from lssbench.problems import DataError, Problem


def _error(path: Path | str, message: str) -> DataError:
    return DataError(f"{path}: {message}", [Problem(str(path), "", message)])


def read_png(path: str | Path) -> np.ndarray:
    """Grayscale float32 (H, W) of a PNG; colour images must have three equal channels."""
    try:
        with Image.open(path) as image:
            image.load()
            array = np.asarray(image.convert("RGB") if image.mode == "P" else image)
    except (OSError, Image.DecompressionBombError) as exc:
        raise _error(path, f"cannot read image: {exc}") from exc
    if array.ndim == 3 and array.shape[2] in (2, 4):
        array = array[..., :-1]  # drop alpha
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3:
        channels = array
        if not (
            np.array_equal(channels[..., 0], channels[..., 1])
            and np.array_equal(channels[..., 0], channels[..., 2])
        ):
            raise _error(path, "colour image; expected a grayscale slice")
        array = channels[..., 0]
    return array.astype(np.float32)


def read_dicom_slice(path: str | Path) -> np.ndarray:
    """Float32 (H, W) pixels of one DICOM file, RescaleSlope/Intercept applied."""
    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array.astype(np.float32)
    except Exception as exc:  # pydicom raises many types for unreadable/compressed data
        raise _error(path, f"cannot decode DICOM pixels: {exc}") from exc
    if pixels.ndim != 2:
        raise _error(path, f"pixel array has shape {pixels.shape}; expected one 2-D slice")
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
    return pixels * slope + intercept


def read_series_pixels(series: Series) -> np.ndarray:
    """Float32 (S, H, W) stack of a series in DICOM order; every slice must be rows x columns."""
    slices = [read_dicom_slice(path) for path in series.files]
    for path, pixels in zip(series.files, slices):
        if pixels.shape != (series.rows, series.columns):
            raise _error(
                path,
                f"slice is {pixels.shape[1]}x{pixels.shape[0]}; series is {series.columns}x{series.rows}",
            )
    return np.stack(slices) if slices else np.zeros((0, series.rows, series.columns), np.float32)
