"""Reading the LSS-MRI-AISSLab dataset (real or synthetic) into plain records.

The names below are imported from their modules on first use (PEP 562), so importing one
light module of this package (``lssbench.dataset.masks``, which scoring needs) does not
import pydicom and the DICOM decoders.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "check_pixels": "images",
    "read_dicom_slice": "images",
    "read_png": "images",
    "read_series_pixels": "images",
    "transfer_syntax_label": "images",
    "undecodable_reason": "images",
    "decode_mask": "masks",
    "read_mask": "masks",
    "read_dataset": "reader",
    "AnnotatedSlice": "records",
    "Box": "records",
    "Dataset": "records",
    "SegmentationCase": "records",
    "Series": "records",
    "summarize_dataset": "summary",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
