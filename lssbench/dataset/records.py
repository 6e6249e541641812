"""Plain records the dataset reader produces and everything downstream consumes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from lssbench.domain import SIDES, category_name, image_id
from lssbench.problems import Problem

#: A slice within this lateral distance (mm) of the middle of its series lies on the midline.
MIDLINE_TOLERANCE_MM = 0.01


@dataclass(frozen=True)
class Box:
    """One foramen box on one slice, PASCAL VOC pixel corners of the slice PNG."""

    level: str
    side: str
    severity: int
    xmin: float
    ymin: float
    xmax: float
    ymax: float

    @property
    def category(self) -> str:
        return category_name(self.level, self.side)


@dataclass
class AnnotatedSlice:
    """One annotated sagittal slice (``Foramina_Detection``) and its boxes."""

    patient_id: str
    slice_name: str  # e.g. "IM000003"
    width: int
    height: int
    boxes: list[Box]
    annotation_path: Path
    image_path: Path | None = None

    @property
    def image_id(self) -> str:
        return image_id(self.patient_id, self.slice_name)


@dataclass
class Series:
    """A patient's sagittal DICOM series, slices in acquisition order (InstanceNumber)."""

    patient_id: str
    files: list[Path]
    slice_names: list[str]  # file stem per slice, e.g. "IM000003"; parallel to ``files``
    rows: int
    columns: int
    pixel_spacing_mm: tuple[float, float]  # DICOM PixelSpacing: (row spacing, column spacing)
    slice_thickness_mm: float | None
    x_positions_mm: list[float]  # ImagePositionPatient x per slice (gives the scan direction)

    def spacing_for(self, width: int, height: int) -> tuple[float, float]:
        """(row, column) spacing in mm on a PNG grid of ``width`` x ``height`` resized from DICOM."""
        row_mm, col_mm = self.pixel_spacing_mm
        return row_mm * self.rows / height, col_mm * self.columns / width

    def lateral_offset_mm(self, slice_name: str) -> float | None:
        """ImagePositionPatient x of a slice minus the centre of the series' x range, in mm.

        DICOM LPS: ``+x`` points to the patient's left, so a positive offset is a slice left
        of the middle of the sagittal stack (which scans centre on the spine). None when the
        slice is not in the series or a position is missing.
        """
        xs = self.x_positions_mm
        if slice_name not in self.slice_names or not xs or any(math.isnan(x) for x in xs):
            return None
        return xs[self.slice_names.index(slice_name)] - (min(xs) + max(xs)) / 2

    def side_of_spine(self, slice_name: str) -> str | None:
        """``"left"`` / ``"right"``: the side of the spine a slice lies on (from its lateral
        offset, see :meth:`lateral_offset_mm`); None for the middle slice or when unknown."""
        offset = self.lateral_offset_mm(slice_name)
        if offset is None or abs(offset) < MIDLINE_TOLERANCE_MM:
            return None
        left, right = SIDES
        return left if offset > 0 else right


@dataclass
class SegmentationCase:
    """A patient's middle sagittal slice and its anatomical mask."""

    patient_id: str
    image_path: Path
    mask_path: Path
    width: int
    height: int
    slice_name: str | None = None  # e.g. "IM000009" when the middle slice's file name gives it


@dataclass
class Dataset:
    """Everything read from one dataset folder (real or synthetic)."""

    root: Path
    patients: list[str]  # sorted union of all patients seen anywhere
    series: dict[str, Series] = field(default_factory=dict)
    slices: list[AnnotatedSlice] = field(default_factory=list)  # sorted by image_id
    segmentation: dict[str, SegmentationCase] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
