"""Reading the LSS-MRI-AISSLab dataset (real or synthetic) into plain records."""

from lssbench.dataset.images import (
    check_pixels,
    read_dicom_slice,
    read_png,
    read_series_pixels,
    transfer_syntax_label,
    undecodable_reason,
)
from lssbench.dataset.masks import decode_mask, read_mask
from lssbench.dataset.reader import read_dataset
from lssbench.dataset.records import AnnotatedSlice, Box, Dataset, SegmentationCase, Series
from lssbench.dataset.summary import summarize_dataset

__all__ = [
    "AnnotatedSlice",
    "Box",
    "Dataset",
    "SegmentationCase",
    "Series",
    "check_pixels",
    "decode_mask",
    "read_dataset",
    "read_dicom_slice",
    "read_mask",
    "read_png",
    "read_series_pixels",
    "summarize_dataset",
    "transfer_syntax_label",
    "undecodable_reason",
]
