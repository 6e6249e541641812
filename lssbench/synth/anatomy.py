"""Procedural sagittal T2 anatomy of the lumbar spine, drawn with vectorized numpy.

Every pixel gets coordinates in a curved *spine frame* (mm): ``s`` runs down the
column (0 at the top of L1), ``d`` runs across it, 0 on the posterior wall of the
vertebral bodies, negative anterior, positive posterior. Structures are simple
shapes in that frame, so the lordotic curve bends and tilts all of them together.

Three static intensity maps are drawn per patient (intensity 0-1, T2 look: CSF, fat
and healthy discs bright, bone marrow mid-grey, muscle dark, air black):
``mid`` (midline: canal, spinous processes), ``lateral`` (parasagittal: pedicles,
foramen space, facet joints) and ``far`` (beyond the column). A slice blends them
by its lateral offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from lssbench.synth.plan import BODIES, DISCS, AnatomyPlan, PatientPlan

# Segment kinds along the column.
NONE, BODY, DISC, SACRUM = 0, 1, 2, 3

CSF, FAT, MUSCLE, AIR, LIGAMENT, BONE, ANNULUS = 0.92, 0.78, 0.24, 0.01, 0.14, 0.42, 0.32


@dataclass
class Frame:
    """Per-pixel spine-frame coordinates (mm) on the DICOM grid, float32 (rows, cols)."""

    s: np.ndarray
    d: np.ndarray
    spacing_mm: float


def _curve(anat: AnatomyPlan, q):
    """Lordotic centre line ``p = c(q)`` (anterior bow between L1 and S1) and its slope."""
    length = lumbar_length(anat)
    phase = np.pi * np.asarray(q) / length
    return -anat.lordosis_mm * np.sin(phase), -anat.lordosis_mm * np.pi / length * np.cos(phase)


def lumbar_length(anat: AnatomyPlan) -> float:
    """Distance from the top of L1 to the top of the sacrum along the column."""
    first = BODIES.index("L1")
    return float(sum(anat.body_heights[first:]) + sum(anat.disc_heights[DISCS.index("T12-L1") + 1 :]))


def spine_frame(anat: AnatomyPlan, size: int, spacing: float) -> Frame:
    """Spine-frame coordinates of every pixel centre (first-order foot-point projection)."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) * spacing
    u0, v0 = anat.top_mm
    cos, sin = np.float32(np.cos(anat.theta)), np.float32(np.sin(anat.theta))
    du, dv = axis[None, :] - u0, axis[:, None] - v0
    p = du * cos + dv * sin
    q = dv * cos - du * sin
    c, slope = _curve(anat, q)
    e = p - c.astype(np.float32)
    norm2 = (1 + slope * slope).astype(np.float32)
    return Frame(s=q + e * slope.astype(np.float32) / norm2, d=e / np.sqrt(norm2), spacing_mm=spacing)


def to_image_mm(anat: AnatomyPlan, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`spine_frame`: spine frame (s, d) -> image (u column, v row) in mm."""
    c, slope = _curve(anat, s)
    norm = np.sqrt(1 + slope * slope)
    p, q = c + d / norm, s - d * slope / norm
    cos, sin = np.cos(anat.theta), np.sin(anat.theta)
    return anat.top_mm[0] + p * cos - q * sin, anat.top_mm[1] + p * sin + q * cos


@dataclass(frozen=True)
class Segments:
    """The column cut along ``s`` into bodies, discs and the sacrum (top to bottom)."""

    bounds: np.ndarray  # n + 1 segment edges along s (mm)
    kinds: np.ndarray  # per segment: BODY, DISC or SACRUM
    fronts: np.ndarray  # anterior edge (d, mm, negative)
    backs: np.ndarray  # posterior edge (d, mm)
    values: np.ndarray  # intensity of the segment's bone marrow or nucleus
    names: tuple[str, ...]


def segments(anat: AnatomyPlan) -> Segments:
    """Bodies T11-L5 with the disc below each, then the sacrum; s = 0 at the top of L1."""
    rows = []  # (name, kind, height, front, back, value)
    last = len(BODIES) - 1
    for k, body in enumerate(BODIES):
        rows.append((body, BODY, anat.body_heights[k], -anat.body_depths[k], 0.0, anat.body_values[k]))
        front = -max(anat.body_depths[k], anat.body_depths[min(k + 1, last)]) - 1.0
        rows.append((DISCS[k], DISC, anat.disc_heights[k], front, anat.disc_bulges[k], anat.disc_values[k]))
    rows.append(("S1", SACRUM, anat.sacrum_length, -anat.body_depths[-1], 0.0, anat.body_values[-1]))
    names, kinds, heights, fronts, backs, values = zip(*rows)
    bounds = np.concatenate([[0.0], np.cumsum(heights)]) - sum(heights[: 2 * BODIES.index("L1")])
    f32 = np.float32
    return Segments(
        bounds.astype(f32), np.array(kinds), np.array(fronts, f32), np.array(backs, f32), np.array(values, f32), names
    )


def _soft(distance_mm: np.ndarray, spacing: float) -> np.ndarray:
    """Anti-aliased inside fraction from a signed distance (positive inside), one pixel wide."""
    return np.clip(distance_mm / spacing + 0.5, 0.0, 1.0)


@dataclass
class Column:
    """Soft membership (0-1) of bodies, discs and sacrum, and their intensities."""

    kind: np.ndarray  # per pixel segment kind (NONE outside the column's s range)
    inside: np.ndarray  # 0-1
    value: np.ndarray  # intensity where inside
    wall: np.ndarray  # posterior wall (d, mm): 0, or the sacrum's backward curve


def column(frame: Frame, anat: AnatomyPlan, seg: Segments) -> Column:
    """Column membership, computed only in the band of pixels that can hold it."""
    shape, sp = frame.s.shape, frame.spacing_mm
    s, d = frame.s.ravel(), frame.d.ravel()
    t = (frame.s - seg.bounds[-2]) / anat.sacrum_length  # 0 .. 1 down the sacrum
    wall = np.where(t > 0, anat.sacrum_curve * np.clip(t, 0, 1.6) ** 2, 0).astype(np.float32)
    reach = seg.backs.max() + anat.sacrum_curve + 2.0
    band = np.flatnonzero((s >= seg.bounds[0]) & (s < seg.bounds[-1]) & (d > seg.fronts.min() - 2.0) & (d < reach))
    kind, inside, value = _column_band(s[band], d[band], wall.ravel()[band], anat, seg, sp)
    out = [np.zeros(s.size, dtype) for dtype in (np.int8, np.float32, np.float32)]
    for full, part in zip(out, (kind, inside, value)):
        full[band] = part
    return Column(*(a.reshape(shape) for a in out), wall=wall)


def _column_band(s, d, shift, anat: AnatomyPlan, seg: Segments, sp: float):
    """Kind, soft membership and intensity of column pixels (1-D arrays, mm)."""
    k = np.clip(np.searchsorted(seg.bounds, s, side="right") - 1, 0, len(seg.kinds) - 1)
    kind = seg.kinds[k]
    top, bottom = seg.bounds[k], seg.bounds[k + 1]
    half_h = (bottom - top) / 2
    ts = (s - top) / half_h - 1  # -1 .. 1 within the segment
    front, back = seg.fronts[k], seg.backs[k]
    half_d = (back - front) / 2
    td = (d - (back + front) / 2) / half_d
    ts2, td2 = ts * ts, td * td
    r = np.where(kind == BODY, (ts2**3 + td2**3) ** (1 / 6), np.sqrt(np.sqrt(ts2 * ts2 + td2 * td2)))
    inside = _soft((1 - r) * np.minimum(half_h, half_d), sp)

    endplate = _soft(1.0 - (1 - np.abs(ts)) * half_h, sp)  # dark line at body end plates
    nucleus = _soft((1 - np.sqrt(ts2 / 0.36 + td2 / 0.5)) * half_h, sp)
    value = seg.values[k]
    value = np.where(kind == DISC, ANNULUS + (value - ANNULUS) * nucleus, value * (1 - 0.6 * endplate))

    length = anat.sacrum_length
    t = (s - seg.bounds[-2]) / length
    sac_front = seg.fronts[-1] * (1 - 0.5 * t) + shift
    sac_dist = np.minimum(np.minimum(d - sac_front, shift - d), (1 - t) * length)
    ridges = np.exp(-(((t - 0.33) * length / 1.5) ** 2)) + np.exp(-(((t - 0.6) * length / 1.5) ** 2))
    is_sacrum = kind == SACRUM
    inside = np.where(is_sacrum, _soft(sac_dist, sp), inside)
    value = np.where(is_sacrum, value * (1 - 0.45 * ridges), value)
    return kind, inside, value


def texture(rng: np.random.Generator, size: int, spacing: float, grain_mm: float) -> np.ndarray:
    """Smooth zero-mean noise (about unit sd) with features of ``grain_mm``."""
    coarse = max(4, int(size * spacing / grain_mm))
    field = Image.fromarray(rng.standard_normal((coarse, coarse)).astype(np.float32), mode="F")
    return np.asarray(field.resize((size, size), Image.BICUBIC), dtype=np.float32)


def _blend(base: np.ndarray, alpha: np.ndarray, value) -> np.ndarray:
    return base + alpha * (value - base)


@dataclass
class Maps:
    """Static intensity maps of one patient and the middle-slice class map."""

    mid: np.ndarray
    lateral: np.ndarray
    far: np.ndarray
    classes: np.ndarray  # uint8 class indices 0-5 (domain.SEGMENTATION_CLASSES order)
    frame: Frame


def _posterior(frame: Frame, anat: AnatomyPlan, col: Column, rng: np.random.Generator):
    """Distance behind the posterior wall and the soft regions A, B and skin/air."""
    sp = frame.spacing_mm
    dp = frame.d - col.wall
    skin = anat.posterior_a_mm + anat.posterior_b_mm + 3.0 * np.sin(frame.s / 37.0 + rng.uniform(0, 6))
    region_a = _soft(np.minimum(dp, anat.posterior_a_mm - dp), sp)
    region_b = _soft(np.minimum(dp - anat.posterior_a_mm, skin - dp), sp)
    fat = _soft(np.minimum(dp - (skin - anat.fat_mm), skin - dp), sp)
    air = _soft(dp - skin, sp)
    return dp, region_a, region_b, fat, air


def _elements(frame: Frame, seg: Segments, dp: np.ndarray, start: float, slant: float):
    """Bony posterior elements repeating per vertebra: in-segment fraction ``ts`` of the
    body found ``slant`` mm up per mm behind ``start``."""
    shifted = frame.s - slant * np.maximum(dp - start, 0)
    k = np.clip(np.searchsorted(seg.bounds, shifted, side="right") - 1, 0, len(seg.kinds) - 1)
    ts = (shifted - seg.bounds[k]) / (seg.bounds[k + 1] - seg.bounds[k])
    return seg.kinds[k] == BODY, ts


def static_maps(plan: PatientPlan, rng: np.random.Generator) -> Maps:
    """Draw the three intensity maps and the class map on the DICOM grid."""
    anat, series = plan.anatomy, plan.series
    sp = series.spacing_mm
    frame = spine_frame(anat, series.dicom_size, sp)
    seg = segments(anat)
    col = column(frame, anat, seg)
    dp, region_a, region_b, fat, air = _posterior(frame, anat, col, rng)
    tex = texture(rng, series.dicom_size, sp, 12.0)
    grain = texture(rng, series.dicom_size, sp, 4.0)

    front = float(seg.fronts.min())  # most anterior edge of the column
    anterior = 0.34 + 0.08 * tex + 0.03 * grain
    aorta = _soft(9.0 - np.abs(frame.d - (front - 14.0)), sp) * (frame.s < seg.bounds[-2])
    muscle = MUSCLE + 0.04 * grain + 0.02 * tex

    def posterior(a_content: np.ndarray) -> np.ndarray:
        out = _blend(anterior, region_a, a_content)
        out = _blend(out, region_b, muscle)
        out = _blend(out, fat, FAT + 0.03 * grain)
        return _blend(out, air, AIR)

    # Midline: canal (CSF), ligamentum flavum, slanted spinous processes.
    canal = anat.canal_mm
    is_body, ts = _elements(frame, seg, dp, canal, 0.35)
    spinous = _soft(np.minimum(dp - canal - 3.0, 0.4 - np.abs(ts - 0.55)) * 4.0, sp) * is_body
    a_mid = np.where(dp < canal, CSF, np.where(dp < canal + 2.5, LIGAMENT, 0.62 + 0.05 * grain))
    a_mid = _blend(a_mid, spinous, BONE - 0.1 + 0.04 * grain)
    mid = _blend(posterior(a_mid), aorta, 0.05)

    # Parasagittal: pedicles (upper part of each body) around the foramen space, facets.
    is_body, ts = _elements(frame, seg, dp, 0.0, 0.0)
    pedicle = _soft(np.minimum(16.0 - dp, (0.62 - ts) * 20.0), sp) * is_body
    facet_body, facet_ts = _elements(frame, seg, dp, 16.0, 0.2)
    facet = _soft(np.minimum(np.minimum(dp - 17.0, 32.0 - dp), 4.0 * (0.45 - np.abs(facet_ts - 0.95))), sp)
    facet = facet * facet_body
    a_lat = np.where(dp < 16.0, 0.33 + 0.03 * grain, muscle)
    a_lat = _blend(_blend(a_lat, pedicle, BONE + 0.05), facet, BONE)
    lateral = posterior(a_lat)

    column_value = col.value + 0.03 * grain
    mid = _blend(mid, col.inside, column_value)
    lateral = _blend(lateral, col.inside, column_value)
    far = _blend(lateral, (frame.d > front - 5.0) * (1 - fat - air) * 0.75, muscle)
    maps = [np.clip(m, 0.0, 1.2).astype(np.float32) ** np.float32(anat.gamma) for m in (mid, lateral, far)]
    return Maps(*maps, classes=class_map(col, region_a, region_b), frame=frame)


def class_map(col: Column, region_a: np.ndarray, region_b: np.ndarray) -> np.ndarray:
    """Middle-slice classes (domain order): 0 anterior/background, 1 posterior A,
    2 posterior B, 3 vertebra, 4 disc, 5 sacrum; the column wins over regions A/B."""
    classes = np.zeros(col.kind.shape, dtype=np.uint8)
    classes[region_a >= 0.5] = 1
    classes[region_b >= 0.5] = 2
    inside = col.inside >= 0.5
    for kind, index in ((BODY, 3), (DISC, 4), (SACRUM, 5)):
        classes[inside & (col.kind == kind)] = index
    return classes
