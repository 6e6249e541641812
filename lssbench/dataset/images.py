"""Pixel access for PNG slices and DICOM series (the reader itself never decodes pixels).

Conventions: every function returns ``float32`` grayscale arrays in the file's own intensity
units (0-255 for 8-bit PNGs, 0-65535 for 16-bit; DICOM after RescaleSlope/Intercept), shape
(H, W) for one image and (S, H, W) for a series in DICOM order (InstanceNumber).

DICOM pixels are decoded by pydicom and the decoder plugins lssbench depends on
(pylibjpeg with libjpeg, openjpeg and rle, and pyjpegls): uncompressed (implicit/explicit VR,
little/big endian), deflated, RLE Lossless, JPEG baseline/extended/lossless, JPEG-LS,
JPEG 2000 and HTJ2K. A transfer syntax nothing installed can decode is a :class:`DataError`
naming the syntax (name and UID) and what would decode it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from lssbench.dataset.records import Dataset, Series
from lssbench.parallel import fork_map
from lssbench.problems import DataError, Problem

#: What lssbench installs for pydicom to decode compressed pixels (its own dependencies).
DECODER_PACKAGES = ("pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle", "pyjpegls")


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


def transfer_syntax_label(uid: str) -> str:
    """``"JPEG-LS Lossless Image Compression (1.2.840.10008.1.2.4.80)"``; an unknown UID by number."""
    uid = UID(uid)
    return f"{uid.name} ({uid})" if uid.name != str(uid) else f"unknown transfer syntax {uid}"


def undecodable_reason(uid: str) -> str | None:
    """None when the installed decoders read pixels stored in transfer syntax ``uid``,
    else a sentence naming the syntax and what would decode it."""
    label = transfer_syntax_label(uid)
    try:
        decoder = get_decoder(UID(uid))
    except NotImplementedError:
        return (f"pixels are stored as {label}, which pydicom has no decoder for; convert the series to an "
                f"uncompressed or lossless transfer syntax first (e.g. `gdcmconv --raw` or dcmtk's `dcmdjpeg`)")
    if decoder.is_available:
        return None
    return (f"pixels are stored as {label} and no installed decoder reads it; pydicom needs one of: "
            f"{'; '.join(decoder.missing_dependencies)} (lssbench depends on {', '.join(DECODER_PACKAGES)}; "
            f"reinstall it with its dependencies)")


def file_transfer_syntax(ds: pydicom.Dataset) -> str:
    """The TransferSyntaxUID of a read file; for a file without file meta, the encoding pydicom
    read it with (implicit/explicit VR little endian, explicit VR big endian)."""
    stated = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if stated:
        return str(stated)
    implicit, little = getattr(ds, "original_encoding", (False, True))
    if implicit:
        return pydicom.uid.ImplicitVRLittleEndian
    return pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian


def read_dicom_slice(path: str | Path) -> np.ndarray:
    """Float32 (H, W) pixels of one DICOM file, RescaleSlope/Intercept applied; compressed
    pixels decoded (see the module docstring), an undecodable syntax is a DataError."""
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as exc:  # pydicom raises many types for unreadable files
        raise _error(path, f"cannot read DICOM file: {exc}") from exc
    syntax = file_transfer_syntax(ds)
    if "PixelData" not in ds:
        raise _error(path, "no pixel data (7FE0,0010) in this DICOM file")
    reason = undecodable_reason(syntax)
    if reason:
        raise _error(path, reason)
    try:
        pixels = ds.pixel_array.astype(np.float32)
    except Exception as exc:  # corrupt or truncated data: pydicom and its plugins raise many types
        raise _error(path, f"cannot decode DICOM pixels ({transfer_syntax_label(syntax)}): {exc}") from exc
    if pixels.ndim != 2:
        raise _error(path, f"pixel array has shape {pixels.shape}; expected one 2-D slice")
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
    return pixels * slope + intercept


def _check_slice_shape(path: Path, pixels: np.ndarray, series: Series) -> None:
    if pixels.shape != (series.rows, series.columns):
        raise _error(
            path, f"slice is {pixels.shape[1]}x{pixels.shape[0]}; series is {series.columns}x{series.rows}"
        )


def read_series_pixels(series: Series) -> np.ndarray:
    """Float32 (S, H, W) stack of a series in DICOM order; every slice must be rows x columns."""
    slices = [read_dicom_slice(path) for path in series.files]
    for path, pixels in zip(series.files, slices):
        _check_slice_shape(path, pixels, series)
    return np.stack(slices) if slices else np.zeros((0, series.rows, series.columns), np.float32)


def _decode_problem(job: tuple[Path, Path, Series]) -> Problem | None:
    root, path, series = job
    try:
        _check_slice_shape(path, read_dicom_slice(path), series)
    except DataError as error:
        try:
            file = path.relative_to(root).as_posix()
        except ValueError:
            file = str(path)
        return Problem(file, "", error.problems[0].message)
    return None


def check_pixels(dataset: Dataset, *, every_slice: bool = False, workers: int | None = None) -> tuple[int, list[Problem]]:
    """Decode the first slice of every series (``every_slice``: all of them) and check its size.

    Returns ``(slices decoded, problems)``; each problem names the file (relative to the
    dataset root) and why its pixels cannot be read. Runs in forked workers when it helps.
    """
    jobs = [(dataset.root, path, series)
            for _, series in sorted(dataset.series.items())
            for path in (series.files if every_slice else series.files[:1])]
    problems = [p for p in fork_map(_decode_problem, jobs, workers=workers, min_items=64) if p is not None]
    return len(jobs), problems
