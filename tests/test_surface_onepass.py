"""The one-pass surface distances (window search + lifted k-d tree) against medpy, class by class."""

from __future__ import annotations

import numpy as np
import pytest
from medpy.metric import binary as medpy_binary
from scipy import ndimage

from lssbench.domain import SEGMENTATION_CLASSES
from lssbench.metrics.segmentation import binary_metrics, case_metrics, percentile
from lssbench.metrics import surface
from lssbench.metrics.surface import WINDOW_PX, class_surface_distances, surface_distances

medpy_surface_distances = vars(medpy_binary)["__surface_distances"]  # name-mangled private helper


def _labels(rng, shape, n_classes=6):
    """A smooth random class-index image (blobs of every class, some missing)."""
    noise = np.stack([ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.8, 4.0)) for _ in range(n_classes)])
    return np.argmax(noise, axis=0).astype(np.uint8)


def _perturbed(rng, truth):
    """The truth shifted, with label noise, an island far away and sometimes a class dropped."""
    shift = tuple(int(v) for v in rng.integers(-3, 4, 2))
    prediction = np.roll(truth, shift, axis=(0, 1))
    noise = rng.random(truth.shape) < rng.uniform(0.0, 0.05)
    prediction[noise] = rng.integers(0, 6, int(noise.sum()))
    height, width = truth.shape
    r, c = int(rng.integers(0, height)), int(rng.integers(0, width))
    prediction[r:r + 3, c:c + 4] = rng.integers(0, 6)  # far from its class: beyond the window
    if rng.random() < 0.3:
        prediction[prediction == rng.integers(0, 6)] = 0
    return prediction


def _spacing(rng, case):
    kind = case % 3
    if kind == 0:
        return (1.0, 1.0)
    if kind == 1:  # isotropic, not 1: exact ties between different offsets are possible
        s = float(rng.uniform(0.3, 1.3))
        return (s, s)
    return tuple(float(v) for v in rng.uniform(0.3, 1.7, 2))


@pytest.mark.parametrize("far_pixels", ["compared with every pixel", "k-d tree"])
def test_every_class_both_directions_equal_medpy(far_pixels, monkeypatch):
    if far_pixels == "k-d tree":
        monkeypatch.setattr(surface, "BRUTE_FORCE_PAIRS", 0)
    rng = np.random.default_rng(1313)
    compared = 0
    for case in range(60):
        shape = (int(rng.integers(10, 120)), int(rng.integers(10, 120)))
        truth = _labels(rng, shape)
        prediction = _perturbed(rng, truth)
        spacing = _spacing(rng, case)
        got = class_surface_distances(truth, prediction, spacing)
        present = sorted(set(np.unique(truth)) & set(np.unique(prediction)))
        assert sorted(got) == present, case
        for c in present:
            t, p = truth == c, prediction == c
            forward = medpy_surface_distances(p, t, spacing)
            backward = medpy_surface_distances(t, p, spacing)
            if case % 3 == 1:  # a tie may be resolved by another pixel: last-digit differences only
                np.testing.assert_allclose(got[c].pred_to_truth, forward, rtol=0, atol=1e-9)
                np.testing.assert_allclose(got[c].truth_to_pred, backward, rtol=0, atol=1e-9)
            else:
                assert np.array_equal(got[c].pred_to_truth, forward), (case, c)
                assert np.array_equal(got[c].truth_to_pred, backward), (case, c)
            compared += 1
    assert compared > 250


@pytest.mark.parametrize("budget", [surface.BRUTE_FORCE_PAIRS, 0])
def test_far_pixels_beyond_the_window_are_still_exact(budget, monkeypatch):
    monkeypatch.setattr(surface, "BRUTE_FORCE_PAIRS", budget)
    truth = np.zeros((60, 80), dtype=np.uint8)
    truth[10:20, 10:20] = 1
    prediction = truth.copy()
    prediction[50:53, 70:73] = 1  # an island about 50 px away: the k-d tree answers
    got = class_surface_distances(truth, prediction, (0.7, 1.1), classes=[1])
    expected = medpy_surface_distances(prediction == 1, truth == 1, (0.7, 1.1))
    assert np.array_equal(got[1].pred_to_truth, expected)
    assert got[1].pred_to_truth.max() > (WINDOW_PX + 1) * 1.1
    assert np.array_equal(got[1].truth_to_pred, medpy_surface_distances(truth == 1, prediction == 1, (0.7, 1.1)))


def test_classes_filter_booleans_and_missing_classes():
    rng = np.random.default_rng(5)
    truth = _labels(rng, (40, 50))
    prediction = _perturbed(rng, truth)
    prediction[prediction == 2] = 3
    everything = class_surface_distances(truth, prediction, (0.5, 0.5))
    assert 2 not in everything  # missing from the prediction: undefined, left out
    only = class_surface_distances(truth, prediction, (0.5, 0.5), classes=[3, 2, 99])
    assert sorted(only) == [3]
    assert np.array_equal(only[3].pred_to_truth, everything[3].pred_to_truth)
    as_bool = class_surface_distances(truth == 3, prediction == 3, (0.5, 0.5))
    assert np.array_equal(as_bool[1].truth_to_pred, everything[3].truth_to_pred)
    assert np.array_equal(surface_distances(truth == 3, prediction == 3, (0.5, 0.5)).pred_to_truth,
                          everything[3].pred_to_truth)
    assert class_surface_distances(np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint8)) == {}


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="equal shapes"):
        class_surface_distances(np.zeros((3, 4), np.uint8), np.zeros((4, 3), np.uint8))
    with pytest.raises(ValueError, match="non-negative class indices, found -1"):
        class_surface_distances(np.full((3, 3), -1), np.zeros((3, 3), np.int64))
    with pytest.raises(ValueError, match="class indices \\(integers\\) or booleans, got dtype float64"):
        class_surface_distances(np.zeros((3, 3)), np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match="prediction holds class index 70000; at most 65535 are supported"):
        class_surface_distances(np.zeros((3, 3), np.int64), np.full((3, 3), 70000))
    with pytest.raises(ValueError, match="spacing_mm must be 2 positive finite numbers"):
        class_surface_distances(np.zeros((3, 3), np.uint8), np.zeros((3, 3), np.uint8), (0.0, 1.0))


def test_case_metrics_equal_medpy_on_realistic_shifted_cases():
    rng = np.random.default_rng(99)
    for case in range(12):
        truth = _labels(rng, (int(rng.integers(60, 140)), int(rng.integers(60, 140))))
        prediction = _perturbed(rng, truth)
        spacing = _spacing(rng, case)
        got = case_metrics(truth, prediction, spacing)
        for cls in SEGMENTATION_CLASSES:
            m = got[cls.name]
            t, p = truth == cls.index, prediction == cls.index
            if not (t.any() and p.any()):
                continue
            assert m == binary_metrics(t, p, spacing) or case % 3 == 1, (case, cls.name)
            assert m["hd_mm"] == pytest.approx(medpy_binary.hd(p, t, spacing), abs=1e-9)
            assert m["hd95_pooled_mm"] == pytest.approx(medpy_binary.hd95(p, t, spacing), abs=1e-9)
            assert m["assd_mm"] == pytest.approx(medpy_binary.assd(p, t, spacing), abs=1e-9)
            assert m["dice"] == medpy_binary.dc(p, t)


def test_percentile_is_numpy_percentile_bit_for_bit():
    rng = np.random.default_rng(0)
    for n in list(range(1, 60)) + [97, 1000, 4099]:
        values = rng.random(n) * rng.uniform(0.1, 50)
        if n % 4 == 0:
            values = np.round(values, 1)  # ties
        for q in (0, 5, 50, 90, 95, 99, 100, 37.5):
            assert percentile(values.copy(), q) == np.percentile(values, q), (n, q)
