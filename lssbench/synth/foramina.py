"""Neural foramina: where they lie, how they look per grade, and their boxes.

A foramen is an ellipse in the spine frame (see anatomy.py) just behind the lower
posterior corner of the upper vertebral body and the disc, between the pedicles:
semi-axis ``half_height`` along the column, ``half_width`` across it. Inside, bright
perineural fat surrounds a dark nerve root in the upper part; stenotic tissue (dark)
takes the fat's place from below as the grade rises, so grade 0 is almost all fat and
grade 3 keeps only a thin rim around the root (:data:`plan.FAT_RADIUS`).
"""

from __future__ import annotations

import numpy as np

from lssbench.synth.anatomy import Frame, Segments, to_image_mm
from lssbench.synth.plan import DISCS, AnatomyPlan, ForamenPlan

BOX_MIN_PX, BOX_MAX_PX = 20, 60
BOX_MARGIN_MM = 1.0
FAT_VALUE, STENOSIS_VALUE, ROOT_VALUE = 0.8, 0.16, 0.2


def centre(foramen: ForamenPlan, seg: Segments) -> tuple[float, float]:
    """Spine-frame centre (s, d) in mm of a foramen."""
    disc = 2 * DISCS.index(foramen.level) + 1  # the disc segment follows its upper body
    top = seg.bounds[disc]
    upper_height = top - seg.bounds[disc - 1]
    return float(top - 0.15 * upper_height), float(max(seg.backs[disc], 0.0) + 0.9 * foramen.half_width)


def outline_mm(anat: AnatomyPlan, foramen: ForamenPlan, seg: Segments, margin: float) -> tuple:
    """Image-plane bounds (u0, v0, u1, v1) in mm of the foramen grown by ``margin``."""
    s_f, d_f = centre(foramen, seg)
    t = np.linspace(0.0, 2 * np.pi, 64, endpoint=False)
    u, v = to_image_mm(
        anat, s_f + (foramen.half_height + margin) * np.cos(t), d_f + (foramen.half_width + margin) * np.sin(t)
    )
    return float(u.min()), float(v.min()), float(u.max()), float(v.max())


def _fit(lo: float, hi: float, limit: int) -> tuple[int, int]:
    """Integer interval around [lo, hi] with a size in [BOX_MIN_PX, BOX_MAX_PX], inside [0, limit - 1]."""
    size = int(round(np.clip(hi - lo, BOX_MIN_PX, BOX_MAX_PX)))
    start = int(round((lo + hi - size) / 2))
    start = min(max(start, 0), limit - 1 - size)
    return start, start + size


def box_png(
    anat: AnatomyPlan, foramen: ForamenPlan, seg: Segments, png_spacing: float, png_size: int, jitter: np.ndarray
) -> tuple[int, int, int, int]:
    """PASCAL VOC corners (xmin, ymin, xmax, ymax), integer PNG pixels, of a foramen box;
    ``jitter`` (4 values, px) mimics the annotator's hand."""
    u0, v0, u1, v1 = (np.array(outline_mm(anat, foramen, seg, BOX_MARGIN_MM)) / png_spacing) + jitter
    xmin, xmax = _fit(u0, u1, png_size)
    ymin, ymax = _fit(v0, v1, png_size)
    return xmin, ymin, xmax, ymax


def _soft(distance: np.ndarray, width: float) -> np.ndarray:
    return np.clip(distance / width + 0.5, 0.0, 1.0)


def patch(anat: AnatomyPlan, foramen: ForamenPlan, seg: Segments, spacing: float, size: int) -> tuple[slice, slice]:
    """Rows and columns of the DICOM grid that hold the foramen (with a margin)."""
    u0, v0, u1, v1 = outline_mm(anat, foramen, seg, 2.0)
    cols = slice(max(int(u0 / spacing) - 1, 0), min(int(u1 / spacing) + 2, size))
    rows = slice(max(int(v0 / spacing) - 1, 0), min(int(v1 / spacing) + 2, size))
    return rows, cols


def paint(
    image: np.ndarray,
    frame: Frame,
    foramen: ForamenPlan,
    seg: Segments,
    where: tuple,
    visibility: float,
    fat: float,
    gain: np.ndarray,
) -> None:
    """Draw one foramen into ``image[where]`` (in place) with a fat fraction ``fat`` (0.26-1.05)
    at ``visibility`` (0 invisible, 1 fully there); ``gain`` is the bias field over the patch."""
    s_f, d_f = centre(foramen, seg)
    x = (frame.s[where] - s_f) / foramen.half_height  # + is inferior
    y = (frame.d[where] - d_f) / foramen.half_width  # + is posterior
    edge = frame.spacing_mm / foramen.half_width
    outer = _soft(1 - np.sqrt(x * x + y * y), edge)
    keyhole = y / (1 - 0.35 * np.clip(x, 0, 1))  # narrower below the root
    root_x = -0.35
    fx = x - root_x * (1 - fat) / 0.74  # the fat retracts towards the root
    fat_region = _soft(fat - np.sqrt(fx * fx + keyhole * keyhole), edge)
    root = _soft(1 - np.sqrt(((x - root_x) / 0.26) ** 2 + (y / 0.42) ** 2), edge * 3)
    target = STENOSIS_VALUE + (FAT_VALUE - STENOSIS_VALUE) * fat_region
    target = (target + (ROOT_VALUE - target) * root) * gain
    region = image[where]
    image[where] = region + (visibility * outer) * (target - region)
