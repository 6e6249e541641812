"""Masks in every stored form decode to the same class indices 0-5."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dataset_builders import colour_mask, sample_indices, write_png
from lssbench.dataset.masks import decode_mask, read_mask
from lssbench.domain import SEGMENTATION_CLASSES
from lssbench.problems import DataError

SOURCE = "Segmentation/Masks/PATIENT10001_IM000009.png"
EXPECTED = sample_indices(12, 6)


def _palette_image(indices: np.ndarray, colours) -> Image.Image:
    image = Image.fromarray(indices, mode="P")
    image.putpalette([v for colour in colours for v in colour])
    return image


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda m: Image.fromarray(m), id="indices-0-5"),
        pytest.param(lambda m: Image.fromarray(m + 1), id="indices-1-6"),
        pytest.param(lambda m: Image.fromarray(m.astype(np.uint16)), id="I16"),
        pytest.param(lambda m: Image.fromarray(colour_mask(m)), id="rgb"),
        pytest.param(lambda m: Image.fromarray(colour_mask(m)).convert("RGBA"), id="rgba"),
        pytest.param(lambda m: _palette_image(m, [c.colour for c in SEGMENTATION_CLASSES]), id="palette"),
        pytest.param(lambda m: Image.fromarray(np.stack([m] * 3, axis=-1)), id="gray-as-rgb"),
    ],
)
def test_every_stored_form_reads_to_the_same_indices(tmp_path, make):
    path = write_png(tmp_path / "mask.png", image=make(EXPECTED))
    mask = read_mask(path)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, EXPECTED)


def test_palette_order_does_not_matter(tmp_path):
    colours = [c.colour for c in reversed(SEGMENTATION_CLASSES)]
    image = _palette_image((5 - EXPECTED).astype(np.uint8), colours)
    np.testing.assert_array_equal(read_mask(write_png(tmp_path / "p.png", image=image)), EXPECTED)


def test_unknown_colour_is_named_with_count_and_position():
    rgb = colour_mask(EXPECTED)
    rgb[2, 5] = (12, 200, 7)
    rgb[3, 0:2] = (12, 200, 7)
    with pytest.raises(DataError) as info:
        decode_mask(rgb, SOURCE)
    assert [str(p) for p in info.value.problems] == [
        f"{SOURCE}: colour (12, 200, 7) at x=5, y=2 (3 pixels) is not a class colour; "
        "expected one of black, red, green, blue, yellow, magenta"
    ]


def test_unknown_index_value_is_named():
    values = EXPECTED.copy()
    values[4, 7] = 9
    with pytest.raises(DataError) as info:
        decode_mask(values, SOURCE)
    assert [p.message for p in info.value.problems] == [
        "value 9 at x=7, y=4 (1 pixels) is not a class index; expected 0-5 or 1-6"
    ]


def test_zero_and_six_together_are_an_error():
    values = EXPECTED.copy()
    values[0, 0] = 6
    with pytest.raises(DataError, match="value 6 at x=0, y=0"):
        decode_mask(values, SOURCE)


def test_no_zero_means_one_to_six():
    """The documented ambiguity: values 1..5 without 0 are read as the 1-6 numbering."""
    np.testing.assert_array_equal(decode_mask(np.array([[1, 2], [5, 6]]), SOURCE), [[0, 1], [4, 5]])
    np.testing.assert_array_equal(decode_mask(np.array([[1, 2], [5, 3]]), SOURCE), [[0, 1], [4, 2]])


def test_wrong_shape_and_unreadable_files_are_errors(tmp_path):
    with pytest.raises(DataError, match="expected 2-D class indices"):
        decode_mask(np.zeros((2, 2, 2)), SOURCE)
    with pytest.raises(DataError, match="expected 2-D class indices"):
        decode_mask(np.zeros((2, 2), np.float32), SOURCE)
    bad = tmp_path / "bad.png"
    bad.write_text("not a png")
    with pytest.raises(DataError, match="cannot read image"):
        read_mask(bad, "x.png")
