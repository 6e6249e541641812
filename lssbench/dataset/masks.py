"""Segmentation masks in any stored form -> class indices 0-5, decoded in this one place.

Accepted forms (the dataset does not document which one it uses):

* 2-D class indices 0-5 (mode ``L``, ``I;16``, ``I`` or ``1``).
* 2-D class indices 1-6, the numbering of the dataset figure; shifted down by one.
  Detection rule: all values within 1..6 and no 0 present => 1-6. The anterior region
  (background) fills much of every real mask, so a 0-5 mask always contains 0; the only
  ambiguous case is a 0-5 mask without background, which this rule reads as 1-6.
  A mask holding both 0 and 6 is an error.
* RGB / RGBA colours of :data:`lssbench.domain.SEGMENTATION_CLASSES` (alpha ignored),
  matched exactly; an RGB image whose three channels are equal everywhere is read as
  grayscale class indices.
* Palette (``P``) images: mapped through the palette to RGB, then as colours.

Anything else raises :class:`DataError` whose problems name each value or colour that
cannot be mapped, with its pixel count and first position (row-major, ``x``/``y``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lssbench.domain import NUM_SEGMENTATION_CLASSES, SEGMENTATION_CLASSES
from lssbench.problems import DataError, Problem

_COLOUR_NAMES = {
    (0, 0, 0): "black",
    (255, 0, 0): "red",
    (0, 255, 0): "green",
    (0, 0, 255): "blue",
    (255, 255, 0): "yellow",
    (255, 0, 255): "magenta",
    (0, 255, 255): "cyan",
    (255, 255, 255): "white",
}
EXPECTED_COLOURS_TEXT = "expected one of " + ", ".join(
    _COLOUR_NAMES.get(c.colour, str(c.colour)) for c in SEGMENTATION_CLASSES
)
_MAX_LISTED = 10  # unknown values/colours named one by one; the rest are counted


def _pack(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) int32 ``r << 16 | g << 8 | b``."""
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


_CLASS_BY_PACKED = {int(_pack(np.array([[c.colour]]))[0, 0]): c.index for c in SEGMENTATION_CLASSES}


def _first_position(flat: np.ndarray, value: int, width: int) -> tuple[int, int]:
    """(x, y) of the first pixel (row-major) of ``flat`` equal to ``value``."""
    index = int(np.argmax(flat == value))
    return index % width, index // width


def _unmapped_problems(values: np.ndarray, bad: list[int], source: str, describe) -> list[Problem]:
    """One problem per unmapped value (most frequent first), naming count and first position."""
    width = values.shape[1]
    flat = values.ravel()
    counts = {v: int(np.count_nonzero(flat == v)) for v in bad}
    ordered = sorted(bad, key=lambda v: (-counts[v], v))
    problems = []
    for value in ordered[:_MAX_LISTED]:
        x, y = _first_position(flat, value, width)
        problems.append(Problem(source, "", describe(value, x, y, counts[value])))
    if len(ordered) > _MAX_LISTED:
        problems.append(Problem(source, "", f"and {len(ordered) - _MAX_LISTED} more unmapped values"))
    return problems


def _fail(source: str, problems: list[Problem]) -> DataError:
    return DataError(f"{source}: cannot decode mask", problems)


def value_counts(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of an image and their pixel counts (like ``np.unique``, but
    by counting for 8- and 16-bit images, which is much faster than sorting)."""
    array = np.asarray(array)
    if array.dtype.kind == "u" and array.dtype.itemsize <= 2:
        counts = np.bincount(array.ravel())
        values = np.flatnonzero(counts)
        return values.astype(array.dtype), counts[values]
    return np.unique(array, return_counts=True)


def _decode_indices(values: np.ndarray, source: str) -> np.ndarray:
    """2-D integer class indices, 0-5 or 1-6 (see module docstring)."""
    present = set(int(v) for v in value_counts(values)[0])
    shift = (
        1 if present and 0 not in present and present <= set(range(1, NUM_SEGMENTATION_CLASSES + 1)) else 0
    )
    allowed = set(range(shift, NUM_SEGMENTATION_CLASSES + shift))
    bad = sorted(present - allowed)
    if bad:

        def describe(value, x, y, count):
            return (
                f"value {value} at x={x}, y={y} ({count} pixels) is not a class index; "
                f"expected 0-{NUM_SEGMENTATION_CLASSES - 1} or 1-{NUM_SEGMENTATION_CLASSES}"
            )

        raise _fail(source, _unmapped_problems(values, bad, source, describe))
    return (values - shift).astype(np.uint8)


def _decode_colours(rgb: np.ndarray, source: str) -> np.ndarray:
    """(H, W, 3) RGB of the domain colours -> class indices."""
    packed = _pack(rgb)
    present, inverse = np.unique(packed, return_inverse=True)
    bad = [int(p) for p in present if int(p) not in _CLASS_BY_PACKED]
    if bad:

        def describe(value, x, y, count):
            colour = (value >> 16, (value >> 8) & 255, value & 255)
            return f"colour {colour} at x={x}, y={y} ({count} pixels) is not a class colour; {EXPECTED_COLOURS_TEXT}"

        raise _fail(source, _unmapped_problems(packed, bad, source, describe))
    lookup = np.array([_CLASS_BY_PACKED[int(p)] for p in present], dtype=np.uint8)
    return lookup[inverse.reshape(packed.shape)]


def decode_mask(array: np.ndarray, source: str) -> np.ndarray:
    """Class indices 0-5 (uint8, shape (H, W)) of a mask array: 2-D indices or (H, W, 3|4) colours.

    ``source`` names the mask in problems (a path relative to the dataset root).
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        rgb = array[..., :3]
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            return decode_mask(rgb[..., 0], source)
        if rgb.dtype != np.uint8:
            raise _fail(
                source, [Problem(source, "", f"colour mask has dtype {rgb.dtype}; expected 8-bit RGB")]
            )
        return _decode_colours(rgb, source)
    if array.ndim == 2 and (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        # unsigned values are counted as they are (no sort); others widened to int64 first
        return _decode_indices(array if array.dtype.kind == "u" else array.astype(np.int64), source)
    raise _fail(
        source,
        [
            Problem(
                source,
                "",
                f"mask array has shape {array.shape} and dtype {array.dtype}; "
                "expected 2-D class indices or (H, W, 3|4) RGB colours",
            )
        ],
    )


def _image_array(image: Image.Image, source: str) -> np.ndarray:
    """Pixel array of a mask image in a form :func:`decode_mask` accepts."""
    if image.mode == "P":
        return np.asarray(image.convert("RGB"))
    if image.mode in ("RGB", "RGBA", "L", "1", "I", "I;16", "I;16B", "I;16L"):
        return np.asarray(image)
    if image.mode == "LA":
        return np.asarray(image)[..., 0]
    raise _fail(
        source,
        [
            Problem(
                source,
                "",
                f"image mode {image.mode!r} is not a mask format; expected L, I;16, P, RGB or RGBA",
            )
        ],
    )


def read_mask(path: str | Path, source: str | None = None) -> np.ndarray:
    """Class indices 0-5 (uint8, (H, W)) of a mask PNG in any accepted form.

    ``source`` names the file in problems (default: ``path`` as given).
    """
    source = str(path) if source is None else source
    try:
        with Image.open(path) as image:
            image.load()
            array = _image_array(image, source)
    except (OSError, Image.DecompressionBombError) as exc:
        raise _fail(source, [Problem(source, "", f"cannot read image: {exc}")]) from exc
    return decode_mask(array, source)
