"""Figures: inline SVG, deterministic, text kept as text, nothing referenced outside the figure."""

from __future__ import annotations

import re

import numpy as np

from lssbench.report import plots


def test_same_numbers_give_the_same_svg_and_text_stays_text():
    rows = [("1  $x$ <b>&", 0.5, 0.4, 0.6, False), ("-  reference", 0.0, 0.0, 0.0, True)]
    first = plots.forest(rows, xlabel="AP50", name="forest-detection")
    assert first == plots.forest(rows, xlabel="AP50", name="forest-detection")
    assert first.startswith('<svg class="figure" data-figure="forest-detection" role="img"')
    assert "1  $x$ &lt;b&gt;&amp;" in first  # a $ is a dollar sign, markup is escaped text
    assert "<?xml" not in first and "<!DOCTYPE" not in first and "<metadata>" not in first
    references = re.findall(r'(?:xlink:)?href="([^"]*)"', first)
    assert all(ref.startswith("#") for ref in references), references


def test_mask_images_are_embedded_and_ids_differ_between_figures():
    mask = np.zeros((40, 30), np.uint8)
    mask[10:30, 5:20] = 3
    svg = plots.overlays([("case", mask, np.roll(mask, 2, axis=1))])
    assert 'xlink:href="data:image/png;base64,' in svg
    ids_a = set(re.findall(r'id="([^"]+)"', svg))
    ids_b = set(re.findall(r'id="([^"]+)"', plots.confusion_matrices(np.eye(4, dtype=int))))
    assert ids_a and ids_b and not ids_a & ids_b  # several figures can share one page


def test_overlay_colours_come_from_the_domain():
    from lssbench.domain import SEGMENTATION_CLASSES

    truth = np.array([[0, 1], [4, 5]], np.uint8)
    truth_rgb, pred_rgb, _ = plots.overlay_rgb(truth, truth)
    for (r, c), cls in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [SEGMENTATION_CLASSES[i] for i in (0, 1, 4, 5)]):
        assert tuple(np.round(truth_rgb[r, c] * 255).astype(int)) == cls.colour
