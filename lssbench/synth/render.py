"""Turn a :class:`PatientPlan` into pixels: DICOM slices, boxes and the middle-slice classes.

A slice at lateral offset ``z`` (mm, + = patient left) blends the static maps of
anatomy.py: ``mid`` up to 5 mm, ``lateral`` from 11 to 17 mm, ``far`` from 28 mm on.
Foramina are painted on the slices their plan makes visible, then a smooth bias
field, a per-slice gain and noise are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lssbench.synth import foramina as fm
from lssbench.synth.anatomy import segments, static_maps
from lssbench.synth.plan import PatientPlan

#: Knots of the lateral blend: |z| (mm) -> weights of the (mid, lateral, far) maps.
BLEND_Z = (0.0, 5.0, 11.0, 17.0, 28.0)
BLEND_WEIGHTS = ((1, 1, 0, 0, 0), (0, 0, 1, 1, 0), (0, 0, 0, 0, 1))
PNG_PERCENTILE = 99.7


@dataclass(frozen=True)
class LabelledBox:
    level: str
    side: str
    grade: int
    box: tuple[int, int, int, int]  # xmin, ymin, xmax, ymax in PNG pixels


@dataclass
class RenderedPatient:
    slices: list[np.ndarray]  # uint16 (rows, cols), acquisition order
    classes: np.ndarray  # uint8 class indices on the DICOM grid, middle slice
    boxes: dict[int, list[LabelledBox]] = field(default_factory=dict)  # slice index -> boxes
    png_white: float = 1.0  # DICOM value drawn as 255 in the PNG exports


def blend_weights(z_mm: float) -> tuple[float, float, float]:
    return tuple(float(np.interp(abs(z_mm), BLEND_Z, w)) for w in BLEND_WEIGHTS)


def bias_field(plan: PatientPlan) -> np.ndarray:
    """Smooth multiplicative field: brighter posteriorly (spine coil), a vertical tilt, vignetting."""
    size = plan.series.dicom_size
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    gain_u, gain_v, curve = plan.anatomy.bias
    u, v = axis[None, :], axis[:, None]
    return (np.exp(0.5 * gain_u * u + 0.5 * gain_v * v) * (1 - 0.5 * curve * (u * u + v * v))).astype(np.float32)


def _boxes(plan: PatientPlan, seg, rng: np.random.Generator) -> dict[int, list[LabelledBox]]:
    series = plan.series
    out: dict[int, list[LabelledBox]] = {}
    for foramen in plan.foramina:
        for index, grade in foramen.boxes:
            jitter = rng.uniform(-1.5, 1.5, 4)
            box = fm.box_png(plan.anatomy, foramen, seg, series.png_spacing_mm, series.png_size, jitter)
            out.setdefault(index, []).append(LabelledBox(foramen.level, foramen.side, grade, box))
    return out


def _blend_layers(layers: list[np.ndarray], weights: tuple[float, ...]) -> np.ndarray:
    used = [(w, m) for w, m in zip(weights, layers) if w > 0]
    image = used[0][1] * np.float32(used[0][0])
    for weight, layer in used[1:]:
        image += np.float32(weight) * layer
    return image


def _finish(image: np.ndarray, noise_sd: float, gain: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude-like noise, then DICOM units (uint16); works in place on ``image``."""
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    noise *= np.float32(noise_sd)
    image += noise
    np.abs(image, out=image)
    image *= np.float32(gain)
    np.clip(image, 0, 65535, out=image)
    return image.astype(np.uint16)


def render_patient(plan: PatientPlan) -> RenderedPatient:
    """All DICOM slices of a patient, with its boxes and middle-slice classes."""
    rng = np.random.default_rng([*plan.entropy, 0xD2A])
    series, anat = plan.series, plan.anatomy
    maps = static_maps(plan, rng)
    seg = segments(anat)
    bias = bias_field(plan)
    layers = [m * bias for m in (maps.mid, maps.lateral, maps.far)]
    patches = [fm.patch(anat, f, seg, series.spacing_mm, series.dicom_size) for f in plan.foramina]
    slices = []
    for index, z in enumerate(series.z_mm):
        image = _blend_layers(layers, blend_weights(z))
        for foramen, where in zip(plan.foramina, patches):
            if foramen.visibility[index] > 0:
                vis, fat = foramen.visibility[index], foramen.fat_radius[index]
                fm.paint(image, maps.frame, foramen, seg, where, vis, fat, bias[where])
        slices.append(_finish(image, anat.noise, anat.scale * rng.uniform(0.96, 1.04), rng))
    white = float(np.percentile(slices[series.middle], PNG_PERCENTILE))
    return RenderedPatient(slices, maps.classes, _boxes(plan, seg, rng), max(white, 1.0))
