"""Random draws of the synthetic dataset: patient IDs, series geometry, anatomy, labels.

Everything random is drawn here, from one ``numpy.random.Generator`` per patient, so
the drawing and writing modules are pure functions of a :class:`PatientPlan`.

Conventions (all lengths in mm):

* Image plane: columns run anterior -> posterior, rows superior -> inferior.
* Lateral offset ``z`` of a slice from the spine's midline: ``+z`` is patient LEFT,
  as DICOM LPS ``+x``. A slice's ImagePositionPatient x equals its ``z``.
* ``direction = +1``: x grows with the slice index (scan right -> left, the left
  foramina are on the high-index slices); ``-1``: the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from lssbench.domain import LEVELS, SIDES, SPLITS
from lssbench.splits import assign_split

#: PNG matrix sizes and how often they occur.
PNG_SIZES: tuple[int, ...] = (320, 512, 576)
PNG_SIZE_WEIGHTS: tuple[float, ...] = (0.35, 0.40, 0.25)
#: DICOM matrix used instead of the PNG size for some patients (the PNG is then resized).
RESAMPLED_DICOM_SIZE: dict[int, int] = {320: 256, 512: 384, 576: 448}
RESAMPLED_SHARE = 0.2
#: DICOM matrix of the compact variant (``synthesize(..., compact=True)``, used by the demo):
#: half the PNG size, same field of view, so pixel spacing doubles and the PNG is the resized slice.
COMPACT_DICOM_SIZE: dict[int, int] = {320: 160, 512: 256, 576: 288}
#: Field of view 250-300 mm, capped so that the DICOM pixel spacing stays <= 1 mm.
MAX_SPACING_MM = 1.0

SLICE_COUNTS: tuple[int, ...] = (12, 13, 14, 15, 16, 17, 18)
SLICE_COUNT_WEIGHTS: tuple[float, ...] = (0.04, 0.05, 0.08, 0.13, 0.2, 0.25, 0.25)

#: DICOM folder layouts: (nested ST000000-<n>/Sagittal/, file suffix) and weights.
LAYOUTS: tuple[tuple[bool, str], ...] = ((False, ".dcm"), (False, ""), (True, ".dcm"), (True, ""))
LAYOUT_WEIGHTS: tuple[float, ...] = (0.55, 0.2, 0.15, 0.1)
ZERO_BASED_SHARE = 0.2

#: Transfer syntaxes of the DICOM series (all lossless) and how often they occur, per series.
#: Drawn from a stream of its own, so pixels, labels and every other draw do not depend on it.
TRANSFER_SYNTAXES: tuple[str, ...] = (
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGLSLossless, JPEG2000Lossless, RLELossless,
    DeflatedExplicitVRLittleEndian,
)
TRANSFER_SYNTAX_WEIGHTS: tuple[float, ...] = (0.15, 0.05, 0.50, 0.15, 0.10, 0.05)

#: Target severity mix of boxed foramina (grades 0-3).
GRADE_MIX: tuple[float, ...] = (0.70, 0.15, 0.09, 0.06)
#: Probability that a foramen is boxed, per level (about 6 of 10 per patient).
BOX_PROBABILITY: dict[str, float] = {"L1-L2": 0.54, "L2-L3": 0.77, "L3-L4": 0.82, "L4-L5": 0.63, "L5-S1": 0.25}
DUPLICATE_SHARE = 0.08  # boxed foramina also boxed on the neighbouring slice
DUPLICATE_GRADE_CHANGE = 0.4  # ... of which the second box differs by one grade
PATIENT_GRADE_CORRELATION = 0.55
#: Partial-volume visibility (0-1) of a boxed foramen next to its box, and of unboxed ones.
NEIGHBOUR_VISIBILITY = 0.22
UNBOXED_VISIBILITY = (0.1, 0.22)  # latent patient factor in the grade (Gaussian copula)

#: Vertebral bodies drawn from top to bottom; the lumbar levels come from domain.LEVELS.
BODIES: tuple[str, ...] = ("T11", "T12", "L1", "L2", "L3", "L4", "L5")
DISCS: tuple[str, ...] = ("T11-T12", "T12-L1") + LEVELS


@dataclass(frozen=True)
class SeriesPlan:
    """Geometry of one sagittal series; slice ``i`` (acquisition order) is at ``z_mm[i]``."""

    n_slices: int
    dicom_size: int  # rows == columns of the DICOM matrix
    png_size: int  # width == height of the PNG exports
    spacing_mm: float  # DICOM PixelSpacing, row == column
    thickness_mm: float
    gap_mm: float  # slice spacing = thickness + gap
    direction: int  # +1: x (patient left) grows with the slice index
    offset_mm: float  # z of the middle slice
    first_index: int  # slice names count from 0 or 1
    nested: bool  # DICOM/<pid>/ST000000-<study>/Sagittal/
    suffix: str  # ".dcm" or ""
    study: int
    transfer_syntax: str = ExplicitVRLittleEndian  # TransferSyntaxUID of every slice

    @property
    def fov_mm(self) -> float:
        return self.dicom_size * self.spacing_mm

    @property
    def png_spacing_mm(self) -> float:
        return self.fov_mm / self.png_size

    @property
    def middle(self) -> int:
        return self.n_slices // 2

    @property
    def z_mm(self) -> np.ndarray:
        step = self.direction * (self.thickness_mm + self.gap_mm)
        return (np.arange(self.n_slices) - self.middle) * step + self.offset_mm

    def slice_name(self, index: int) -> str:
        return f"IM{index + self.first_index:06d}"


@dataclass(frozen=True)
class AnatomyPlan:
    """Shape of the column; lengths in mm along the curved spine frame (see anatomy.py)."""

    theta: float  # in-plane rotation of the column (radians)
    lordosis_mm: float  # anterior bow of the lumbar curve
    top_mm: tuple[float, float]  # (column u, row v) of L1's posterior-superior corner
    body_heights: tuple[float, ...]  # per BODIES
    body_depths: tuple[float, ...]
    body_values: tuple[float, ...]
    disc_heights: tuple[float, ...]  # per DISCS
    disc_values: tuple[float, ...]  # nucleus brightness (degenerated discs darker)
    disc_bulges: tuple[float, ...]
    sacrum_length: float
    sacrum_curve: float  # posterior shift of the sacrum at its tip
    canal_mm: float
    posterior_a_mm: float
    posterior_b_mm: float
    fat_mm: float  # subcutaneous fat at the back of region B
    gamma: float  # contrast
    noise: float  # noise sd relative to full intensity
    bias: tuple[float, float, float]  # posterior gain, vertical gain, curvature
    scale: float  # intensity of 1.0 in DICOM units


@dataclass(frozen=True)
class ForamenPlan:
    """One foramen: where it lies, its shape and its per-slice visibility and grade."""

    level: str
    side: str
    z_mm: float
    half_height: float  # semi-axis along the spine (mm)
    half_width: float  # semi-axis across it (mm)
    grade: int  # the grade drawn on slices without a box
    boxes: tuple[tuple[int, int], ...]  # (slice index, grade) of each box
    visibility: tuple[float, ...]  # per slice, 0 (absent) .. 1 (clearly visible)
    fat_radius: tuple[float, ...]  # per slice, fraction of the foramen filled with fat


@dataclass(frozen=True)
class PatientPlan:
    patient_id: str
    entropy: tuple[int, int]  # (seed, index): seeds the pixel noise of this patient
    series: SeriesPlan
    anatomy: AnatomyPlan
    foramina: tuple[ForamenPlan, ...]


def patient_ids(n_patients: int, seed: int) -> list[str]:
    """``n_patients`` IDs ``PATIENT`` + 7 digits whose ``assign_split`` counts are exactly
    round(0.7 N) train, round(0.1 N) val and the rest test (rejection sampling)."""
    quota = {"train": round(0.7 * n_patients), "val": round(0.1 * n_patients)}
    quota["test"] = n_patients - quota["train"] - quota["val"]
    rng = np.random.default_rng([seed, 0x1D5])
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < n_patients:
        pid = f"PATIENT{int(rng.integers(1_000_000, 10_000_000))}"
        split = assign_split(pid)
        if pid in seen or quota[split] == 0:
            continue
        seen.add(pid)
        quota[split] -= 1
        chosen.append(pid)
    assert set(quota) == set(SPLITS)
    return chosen


def _choice(rng: np.random.Generator, options, weights):
    return options[int(rng.choice(len(options), p=np.asarray(weights) / sum(weights)))]


def plan_series(rng: np.random.Generator, transfer_syntax: str = ExplicitVRLittleEndian,
                compact: bool = False) -> SeriesPlan:
    """The series geometry; ``compact`` changes only the DICOM matrix (and so the spacing),
    every draw stays the same."""
    png = _choice(rng, PNG_SIZES, PNG_SIZE_WEIGHTS)
    dicom = RESAMPLED_DICOM_SIZE[png] if rng.random() < RESAMPLED_SHARE else png
    fov = rng.uniform(250.0, min(300.0, dicom * MAX_SPACING_MM))
    if compact:
        dicom = COMPACT_DICOM_SIZE[png]
    thickness = float(rng.choice([3.0, 3.5, 4.0, 4.5]))
    gap = float(rng.choice([0.0, 0.3, 0.5]))
    nested, suffix = _choice(rng, LAYOUTS, LAYOUT_WEIGHTS)
    return SeriesPlan(
        n_slices=_choice(rng, SLICE_COUNTS, SLICE_COUNT_WEIGHTS),
        dicom_size=dicom,
        png_size=png,
        spacing_mm=round(fov / dicom, 4),
        thickness_mm=thickness,
        gap_mm=gap,
        direction=1 if rng.random() < 0.5 else -1,
        offset_mm=round(rng.uniform(-0.3, 0.3) * (thickness + gap), 2),
        first_index=0 if rng.random() < ZERO_BASED_SHARE else 1,
        nested=nested,
        suffix=suffix,
        study=int(rng.integers(1, 100_000)),
        transfer_syntax=transfer_syntax,
    )


def plan_anatomy(rng: np.random.Generator, fov: float) -> AnatomyPlan:
    u = rng.uniform
    n_bodies, n_discs = len(BODIES), len(DISCS)
    height, depth = u(24.0, 30.0), u(30.0, 37.0)
    degeneration = np.clip(np.linspace(0.0, 0.5, n_discs) + u(-0.1, 0.4) + u(-0.2, 0.2, n_discs), 0, 1)
    pa, pb = u(34.0, 46.0), u(38.0, 60.0)
    margin = u(10.0, 35.0)
    return AnatomyPlan(
        theta=u(-0.12, 0.12),
        lordosis_mm=u(4.0, 16.0),
        top_mm=(fov - margin - pa - pb, fov * u(0.08, 0.16)),
        body_heights=tuple(height * np.linspace(0.94, 1.04, n_bodies) * u(0.96, 1.04, n_bodies)),
        body_depths=tuple(depth * np.linspace(0.86, 1.06, n_bodies) * u(0.97, 1.03, n_bodies)),
        body_values=tuple(u(0.38, 0.55) + u(-0.04, 0.04, n_bodies)),
        disc_heights=tuple(u(7.0, 11.0) * np.linspace(0.7, 1.1, n_discs) * (1 - 0.35 * degeneration)),
        disc_values=tuple(0.9 - 0.5 * degeneration),
        disc_bulges=tuple(0.5 + 3.0 * degeneration * u(0.3, 1.0, n_discs)),
        sacrum_length=u(55.0, 70.0),
        sacrum_curve=u(12.0, 30.0),
        canal_mm=u(12.0, 17.0),
        posterior_a_mm=pa,
        posterior_b_mm=pb,
        fat_mm=u(8.0, 22.0),
        gamma=u(0.8, 1.25),
        noise=u(0.025, 0.06),
        bias=(u(0.0, 0.7), u(-0.25, 0.25), u(0.0, 0.3)),
        scale=u(900.0, 2400.0),
    )


def _grades(rng: np.random.Generator, n: int) -> np.ndarray:
    """Grades 0-3 with the :data:`GRADE_MIX` marginal, correlated within a patient."""
    cuts = [NormalDist().inv_cdf(c) for c in np.cumsum(GRADE_MIX)[:-1]]
    r = PATIENT_GRADE_CORRELATION
    latent = r * rng.standard_normal() + np.sqrt(1 - r * r) * rng.standard_normal(n)
    return np.searchsorted(cuts, latent)


#: Fraction of the foramen filled with bright fat, per grade (before per-slice jitter).
FAT_RADIUS: tuple[float, ...] = (1.0, 0.76, 0.54, 0.34)
#: Per-slice sd of the fat fraction: neighbouring grades overlap, distant ones hardly.
FAT_JITTER = 0.08


def _boxed_slices(rng: np.random.Generator, z: np.ndarray, z_f: float, grade: int) -> tuple:
    order = np.argsort(np.abs(z - z_f), kind="stable")
    boxes = [(int(order[0]), grade)]
    if rng.random() < DUPLICATE_SHARE:
        second = grade
        if rng.random() < DUPLICATE_GRADE_CHANGE:
            second = int(np.clip(grade + (1 if rng.random() < 0.5 else -1), 0, 3))
        boxes.append((int(order[1]), second))
    return tuple(sorted(boxes))


def _visibility(z: np.ndarray, z_f: float, boxes: tuple, rng: np.random.Generator) -> np.ndarray:
    """Boxed slices clearly visible; neighbours and unboxed foramina faint (partial volume)."""
    vis = np.zeros(len(z))
    if boxes:
        for index, _ in boxes:
            for near in (index - 1, index + 1):
                if 0 <= near < len(z):
                    vis[near] = max(vis[near], NEIGHBOUR_VISIBILITY)
        for index, _ in boxes:
            vis[index] = rng.uniform(0.85, 1.0)
    else:
        vis[int(np.argmin(np.abs(z - z_f)))] = rng.uniform(*UNBOXED_VISIBILITY)
    return vis


def plan_foramina(rng: np.random.Generator, series: SeriesPlan) -> tuple[ForamenPlan, ...]:
    z = series.z_mm
    side_z = {"left": rng.uniform(12.0, 17.0), "right": -rng.uniform(12.0, 17.0)}
    grades = _grades(rng, len(LEVELS) * len(SIDES))
    foramina = []
    for k, (level, side) in enumerate((lv, sd) for lv in LEVELS for sd in SIDES):
        z_f = side_z[side] + rng.uniform(-1.5, 1.5)
        grade = int(grades[k])
        boxed = rng.random() < BOX_PROBABILITY[level]
        boxes = _boxed_slices(rng, z, z_f, grade) if boxed else ()
        slice_grade = dict(boxes)
        jitter = rng.normal(0.0, FAT_JITTER, len(z))
        radius = [FAT_RADIUS[slice_grade.get(i, grade)] + jitter[i] for i in range(len(z))]
        small = 0.85 if level == LEVELS[-1] else 1.0
        foramina.append(
            ForamenPlan(
                level=level,
                side=side,
                z_mm=z_f,
                half_height=rng.uniform(7.0, 10.0) * small,
                half_width=rng.uniform(4.0, 5.5) * small,
                grade=grade,
                boxes=boxes,
                visibility=tuple(_visibility(z, z_f, boxes, rng)),
                fat_radius=tuple(np.clip(radius, 0.26, 1.05)),
            )
        )
    return tuple(foramina)


def plan_transfer_syntax(seed: int, index: int) -> str:
    """The transfer syntax of patient ``index``'s series, from its own stream ``(seed, index)``."""
    return _choice(np.random.default_rng([seed, 0x75C, index]), TRANSFER_SYNTAXES, TRANSFER_SYNTAX_WEIGHTS)


def plan_patient(patient_id: str, seed: int, index: int, compact: bool = False) -> PatientPlan:
    """All random choices of one patient, from its own generator ``(seed, index)``."""
    rng = np.random.default_rng([seed, 0x5A7, index])
    series = plan_series(rng, plan_transfer_syntax(seed, index), compact)
    return PatientPlan(
        patient_id=patient_id,
        entropy=(seed, index),
        series=series,
        anatomy=plan_anatomy(rng, series.fov_mm),
        foramina=plan_foramina(rng, series),
    )
