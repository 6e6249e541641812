"""Segmentation metrics: agreement with medpy, conventions, empty masks, summaries, weights."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from medpy.metric import binary as medpy_binary
from scipy import ndimage

from lssbench.domain import HEADLINE_SEGMENTATION_CLASSES, SEGMENTATION_CLASS_NAMES, SEGMENTATION_CLASSES
from lssbench.metrics.segmentation import (
    binary_metrics,
    case_metrics,
    headline_arrays,
    headline_from_weights,
    image_diagonal_mm,
    nsd_key,
    prepare_truth,
    summarize_cases,
)
from lssbench.metrics.surface import border, surface_distances

medpy_surface_distances = vars(medpy_binary)["__surface_distances"]  # name-mangled private helper
CLASS_KEYS = {"dice", "hd_mm", "hd95_mm", "hd95_pooled_mm", "assd_mm", "nsd_2mm", "empty"}


def _blobby(rng, shape, box=None):
    """A random smooth blobby mask, optionally confined to ``box`` (row/col slices)."""
    mask = np.zeros(shape, dtype=bool)
    region = box or (slice(0, shape[0]), slice(0, shape[1]))
    sub = mask[region]
    noise = ndimage.gaussian_filter(rng.random(sub.shape), rng.uniform(0.7, 3.0))
    sub[...] = noise > np.quantile(noise, rng.uniform(0.4, 0.8))
    if not mask.any():
        mask[region][0, 0] = True
    return mask


def _random_pair(rng):
    """Truth/prediction pairs: full-image blobs, or small blobs in a big image (so cropping bites)."""
    if rng.random() < 0.5:
        shape = tuple(int(v) for v in rng.integers(8, 60, size=2))
        return _blobby(rng, shape), _blobby(rng, shape)
    shape = (int(rng.integers(80, 160)), int(rng.integers(80, 160)))
    r0, c0 = int(rng.integers(0, shape[0] - 30)), int(rng.integers(0, shape[1] - 30))
    box = (slice(r0, r0 + int(rng.integers(5, 30))), slice(c0, c0 + int(rng.integers(5, 30))))
    truth = _blobby(rng, shape, box)
    shifted = (slice(box[0].start + int(rng.integers(0, 4)), box[0].stop + 2),
               slice(box[1].start + int(rng.integers(0, 4)), box[1].stop + 2))
    prediction = _blobby(rng, shape, shifted)
    if rng.random() < 0.5:  # a stray island somewhere, possibly on the image edge
        r, c = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        prediction[r:r + 3, c:c + 2] = True
    return truth, prediction


def _spacing(rng):
    return (float(rng.uniform(0.3, 1.7)), float(rng.uniform(0.3, 1.7)))


# --- agreement with medpy ------------------------------------------------------------------------

def test_agrees_with_medpy_to_the_last_digit_on_random_masks_with_anisotropic_spacing():
    rng = np.random.default_rng(2024)
    for _ in range(60):
        truth, prediction = _random_pair(rng)
        spacing = _spacing(rng)
        got = binary_metrics(truth, prediction, spacing)
        assert got["empty"] is None
        assert got["hd_mm"] == medpy_binary.hd(prediction, truth, voxelspacing=spacing)
        assert got["hd_mm"] == medpy_binary.hd(truth, prediction, voxelspacing=spacing)
        assert got["hd95_pooled_mm"] == medpy_binary.hd95(prediction, truth, voxelspacing=spacing)
        assert got["assd_mm"] == pytest.approx(medpy_binary.assd(prediction, truth, voxelspacing=spacing),
                                               rel=1e-12, abs=1e-12)
        assert got["assd_mm"] == medpy_binary.assd(prediction, truth, voxelspacing=spacing)
        assert got["dice"] == medpy_binary.dc(prediction, truth)
        # the directed-maximum HD95 from medpy's own directed surface distances
        forward = medpy_surface_distances(prediction, truth, spacing)
        backward = medpy_surface_distances(truth, prediction, spacing)
        assert got["hd95_mm"] == max(np.percentile(forward, 95), np.percentile(backward, 95))
        assert got["hd95_mm"] >= 0 and got["hd95_pooled_mm"] <= got["hd_mm"]


def test_surface_distances_equal_medpy_arrays_element_for_element():
    rng = np.random.default_rng(7)
    for _ in range(30):
        truth, prediction = _random_pair(rng)
        spacing = _spacing(rng)
        got = surface_distances(truth, prediction, spacing)
        assert np.array_equal(got.pred_to_truth, medpy_surface_distances(prediction, truth, spacing))
        assert np.array_equal(got.truth_to_pred, medpy_surface_distances(truth, prediction, spacing))


def test_border_is_medpy_surface():
    rng = np.random.default_rng(3)
    cross = ndimage.generate_binary_structure(2, 1)
    for _ in range(30):
        mask = _blobby(rng, (int(rng.integers(1, 40)), int(rng.integers(1, 40))))
        assert np.array_equal(border(mask), mask ^ ndimage.binary_erosion(mask, structure=cross, iterations=1))


def test_cropped_distances_equal_uncropped():
    rng = np.random.default_rng(11)
    for _ in range(60):
        truth, prediction = _random_pair(rng)
        spacing = _spacing(rng)
        cropped = surface_distances(truth, prediction, spacing, crop=True)
        full = surface_distances(truth, prediction, spacing, crop=False)
        assert np.array_equal(cropped.pred_to_truth, full.pred_to_truth)
        assert np.array_equal(cropped.truth_to_pred, full.truth_to_pred)


def test_object_touching_the_image_edge_keeps_its_edge_as_surface():
    truth = np.zeros((20, 20), dtype=bool)
    truth[0:6, 0:6] = True
    prediction = np.zeros_like(truth)
    prediction[0:6, 0:9] = True
    got = binary_metrics(truth, prediction, (0.5, 2.0))
    assert got["hd_mm"] == medpy_binary.hd(prediction, truth, (0.5, 2.0)) == 6.0
    assert got["assd_mm"] == medpy_binary.assd(prediction, truth, (0.5, 2.0))


# --- conventions -----------------------------------------------------------------------------

def test_perfect_prediction():
    rng = np.random.default_rng(5)
    mask = rng.integers(0, 6, size=(40, 50)).astype(np.uint8)
    result = case_metrics(mask, mask.copy(), (0.7, 0.9))
    assert list(result) == list(SEGMENTATION_CLASS_NAMES)
    for metrics in result.values():
        assert set(metrics) == CLASS_KEYS
        assert metrics["dice"] == 1.0 and metrics["nsd_2mm"] == 1.0 and metrics["empty"] is None
        assert metrics["hd_mm"] == metrics["hd95_mm"] == metrics["hd95_pooled_mm"] == metrics["assd_mm"] == 0.0


def test_far_island_pooled_and_directed_hd95_disagree_by_a_lot():
    truth = np.zeros((100, 100), dtype=bool)
    truth[10:40, 10:40] = True
    prediction = truth.copy()
    prediction[85:89, 85:89] = True  # a 4x4 false island ~ 40 mm away
    spacing = (0.6, 0.6)
    got = binary_metrics(truth, prediction, spacing)
    # pooled (medpy): the 12 island surface pixels are under 5% of the 128 + 116 + 12 pooled distances
    assert got["hd95_pooled_mm"] == medpy_binary.hd95(prediction, truth, spacing) == 0.0
    # directed maximum (Metrics Reloaded): they are over 5% of the prediction's 128 surface pixels
    assert got["hd95_mm"] == pytest.approx(40.17281277171213, abs=1e-12)
    assert got["hd95_mm"] - got["hd95_pooled_mm"] > 40
    assert got["hd_mm"] == medpy_binary.hd(prediction, truth, spacing)
    assert got["dice"] == pytest.approx(2 * 900 / (900 + 916))


def test_nsd_hand_case_and_spacing_order():
    truth = np.zeros((20, 30), dtype=bool)
    prediction = np.zeros_like(truth)
    truth[5, 5] = True
    prediction[5, 6] = True  # 1 column away
    prediction[5, 20] = True  # 15 columns away
    got = binary_metrics(truth, prediction, (1.0, 0.5), nsd_tolerance_mm=2.0)
    # surfaces: truth {(5,5)}, prediction {(5,6), (5,20)}; distances pred->truth 0.5, 7.5; truth->pred 0.5
    assert got["nsd_2mm"] == pytest.approx(2 / 3)
    assert got["dice"] == 0.0
    assert got["hd_mm"] == 7.5
    assert got["assd_mm"] == pytest.approx((0.5 + 7.5 + 0.5) / 3)
    assert got["hd95_mm"] == pytest.approx(0.5 + 0.95 * 7.0)  # P95 of [0.5, 7.5]
    assert got["hd95_pooled_mm"] == pytest.approx(0.5 + 0.9 * 7.0)  # P95 of [0.5, 0.5, 7.5]
    assert binary_metrics(truth, prediction, (1.0, 0.5), nsd_tolerance_mm=0.4)["nsd_0.4mm"] == 0.0

    # two one-pixel lines three rows apart: within 2 mm only if the *row* spacing is small
    truth = np.zeros((20, 30), dtype=bool)
    prediction = np.zeros_like(truth)
    truth[5, 5:25] = True
    prediction[8, 5:25] = True
    assert binary_metrics(truth, prediction, (0.6, 3.0))["nsd_2mm"] == 1.0  # 1.8 mm
    assert binary_metrics(truth, prediction, (0.7, 0.1))["nsd_2mm"] == 0.0  # 2.1 mm
    assert binary_metrics(truth, prediction, (0.7, 0.1))["hd_mm"] == pytest.approx(2.1)


def test_nsd_key():
    assert nsd_key() == "nsd_2mm"
    assert nsd_key(1.5) == "nsd_1.5mm"
    assert nsd_key(3) == "nsd_3mm"


# --- empty masks -----------------------------------------------------------------------------

def test_empty_mask_combinations():
    shape, spacing = (30, 40), (0.5, 0.75)
    diagonal = math.sqrt((30 * 0.5) ** 2 + (40 * 0.75) ** 2)
    assert image_diagonal_mm(shape, spacing) == pytest.approx(diagonal)
    empty = np.zeros(shape, dtype=bool)
    blob = np.zeros(shape, dtype=bool)
    blob[10:15, 10:20] = True

    both = binary_metrics(empty, empty, spacing)
    assert both == {"dice": 1.0, "hd_mm": 0.0, "hd95_mm": 0.0, "hd95_pooled_mm": 0.0, "assd_mm": 0.0,
                    "nsd_2mm": 1.0, "empty": "both"}
    for truth, prediction, which in ((empty, blob, "truth"), (blob, empty, "prediction")):
        got = binary_metrics(truth, prediction, spacing)
        assert got["empty"] == which
        assert got["dice"] == 0.0 and got["nsd_2mm"] == 0.0
        for key in ("hd_mm", "hd95_mm", "hd95_pooled_mm", "assd_mm"):
            assert got[key] == pytest.approx(diagonal) and math.isfinite(got[key])

    truth = np.zeros(shape, dtype=np.uint8)
    truth[5:10, 5:10] = 3  # vertebra only in the truth
    prediction = np.zeros(shape, dtype=np.uint8)
    prediction[20:25, 5:10] = 4  # disc only in the prediction
    result = case_metrics(truth, prediction, spacing)
    assert result["vertebra"]["empty"] == "prediction"
    assert result["disc"]["empty"] == "truth"
    assert result["sacrum"]["empty"] == "both"
    assert result["anterior"]["empty"] is None
    summary = summarize_cases({"PATIENT00001": result, "PATIENT00002": case_metrics(truth, truth, spacing)})
    assert summary["per_class"]["vertebra"]["n_empty_prediction"] == 1
    assert summary["per_class"]["disc"]["n_empty_truth"] == 1
    assert summary["per_class"]["disc"]["n_empty_both"] == 1
    assert summary["per_class"]["sacrum"]["n_empty_both"] == 2
    assert summary["per_class"]["vertebra"]["hd95_mm"] == pytest.approx(diagonal / 2)
    json.dumps(summary, allow_nan=False)  # finite, JSON-ready


# --- input checks ----------------------------------------------------------------------------

def test_shape_mismatch_and_bad_input_raise():
    with pytest.raises(ValueError, match="shape"):
        case_metrics(np.zeros((10, 10), np.uint8), np.zeros((10, 11), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        binary_metrics(np.zeros((10, 10), bool), np.zeros((11, 10), bool))
    with pytest.raises(ValueError, match="2-D"):
        case_metrics(np.zeros((2, 10, 10), np.uint8), np.zeros((2, 10, 10), np.uint8))
    with pytest.raises(ValueError, match="spacing"):
        case_metrics(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8), (0.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        case_metrics(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="unknown segmentation class"):
        case_metrics(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8), classes=["spleen"])


def test_case_metrics_class_subset_by_name_and_json_ready():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 6, size=(32, 32)).astype(np.uint8)
    prediction = rng.integers(0, 6, size=(32, 32)).astype(np.uint8)
    result = case_metrics(truth, prediction, (0.8, 0.6), classes=["vertebra", "disc"], nsd_tolerance_mm=1.0)
    assert list(result) == ["vertebra", "disc"]
    assert set(result["disc"]) == CLASS_KEYS - {"nsd_2mm"} | {"nsd_1mm"}
    for metrics in result.values():
        for key, value in metrics.items():
            assert value is None if key == "empty" else type(value) is float
    direct = binary_metrics(truth == 3, prediction == 3, (0.8, 0.6), 1.0)
    assert result["vertebra"] == direct


# --- summaries and weights -------------------------------------------------------------------

def _fake_case(dice, hd95, empty=None):
    """A per-case result with the given per-class dice / hd95 (other distances derived)."""
    return {name: {"dice": d, "hd_mm": 2 * h, "hd95_mm": h, "hd95_pooled_mm": h / 2, "assd_mm": h / 4,
                   "nsd_2mm": d, "empty": (empty or {}).get(name)}
            for name, d, h in zip(SEGMENTATION_CLASS_NAMES, dice, hd95)}


def test_summarize_known_numbers():
    per_case = {
        "PATIENT00003": _fake_case([0.9, 0.8, 0.6, 0.5, 0.4, 0.3], [1, 2, 3, 4, 5, 6]),
        "PATIENT00001": _fake_case([0.7, 0.6, 0.6, 0.7, 0.8, 0.9], [3, 4, 5, 6, 7, 8],
                                   empty={"sacrum": "prediction"}),
        "PATIENT00002": _fake_case([0.5, 1.0, 0.3, 0.9, 0.0, 1.0], [5, 0, 10, 2, 9, 0],
                                   empty={"disc": "truth", "sacrum": "both"}),
    }
    summary = summarize_cases(per_case)
    vertebra = summary["per_class"]["vertebra"]
    assert vertebra["dice"] == pytest.approx((0.5 + 0.7 + 0.9) / 3)
    assert vertebra["dice_median"] == pytest.approx(0.7)
    assert vertebra["hd95_mm"] == pytest.approx(4.0)
    assert vertebra["hd95_median_mm"] == pytest.approx(4.0)
    assert vertebra["hd_mm"] == pytest.approx(8.0)
    assert vertebra["hd95_pooled_mm"] == pytest.approx(2.0)
    assert vertebra["assd_mm"] == pytest.approx(1.0)
    assert vertebra["n_cases"] == 3 and vertebra["n_empty_truth"] == 0
    disc = summary["per_class"]["disc"]
    assert disc["hd95_median_mm"] == pytest.approx(7.0)
    assert disc["n_empty_truth"] == 1
    sacrum = summary["per_class"]["sacrum"]
    assert (sacrum["n_empty_prediction"], sacrum["n_empty_both"], sacrum["n_empty_truth"]) == (1, 1, 0)
    assert set(vertebra) == {"dice", "dice_median", "hd_mm", "hd95_mm", "hd95_median_mm", "hd95_pooled_mm",
                             "assd_mm", "nsd_2mm", "n_cases", "n_empty_truth", "n_empty_prediction",
                             "n_empty_both"}
    # headline: mean over the five non-anterior classes of the per-class means
    class_dice = {"posterior_a": 2.4 / 3, "posterior_b": 1.5 / 3, "vertebra": 2.1 / 3, "disc": 1.2 / 3,
                  "sacrum": 2.2 / 3}
    assert tuple(class_dice) == HEADLINE_SEGMENTATION_CLASSES
    assert summary["mean_dice"] == pytest.approx(sum(class_dice.values()) / 5)
    class_hd95 = [6 / 3, 18 / 3, 12 / 3, 21 / 3, 14 / 3]
    assert summary["mean_hd95_mm"] == pytest.approx(sum(class_hd95) / 5)
    assert summary["per_class"]["anterior"]["dice"] == pytest.approx(0.7)  # computed, not in the headline
    json.dumps(summary, allow_nan=False)


def _random_per_case(rng, n):
    return {f"PATIENT{100000 + int(i):06d}": _fake_case(rng.random(6), rng.random(6) * 20)
            for i in rng.permutation(n)}


def test_weights_equal_repeated_cases_and_headline_arrays():
    rng = np.random.default_rng(9)
    per_case = _random_per_case(rng, 12)
    ids = sorted(per_case)
    weights = rng.multinomial(len(ids), np.full(len(ids), 1 / len(ids)))
    weighted = summarize_cases(per_case, case_weights=weights)
    repeated = {f"{cid}#{k}": per_case[cid] for cid, w in zip(ids, weights) for k in range(w)}
    plain = summarize_cases(repeated)
    assert weighted["mean_dice"] == pytest.approx(plain["mean_dice"], rel=1e-12)
    assert weighted["mean_hd95_mm"] == pytest.approx(plain["mean_hd95_mm"], rel=1e-12)
    for name, values in plain["per_class"].items():
        for key, value in values.items():
            assert weighted["per_class"][name][key] == pytest.approx(value, rel=1e-12, abs=1e-15), (name, key)

    case_ids, dice, hd95 = headline_arrays(per_case)
    assert case_ids == ids and dice.shape == hd95.shape == (12, 5)
    mean_dice, mean_hd95 = headline_from_weights(dice, hd95, weights)
    assert float(mean_dice) == pytest.approx(weighted["mean_dice"], rel=1e-12)
    assert float(mean_hd95) == pytest.approx(weighted["mean_hd95_mm"], rel=1e-12)
    # many weight vectors at once (a bootstrap), and unit weights == no weights
    draws = rng.multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=20)
    many_dice, many_hd95 = headline_from_weights(dice, hd95, draws)
    for row, d, h in zip(draws, many_dice, many_hd95):
        expected = summarize_cases(per_case, case_weights=row)
        assert d == pytest.approx(expected["mean_dice"], rel=1e-12)
        assert h == pytest.approx(expected["mean_hd95_mm"], rel=1e-12)
    unit = summarize_cases(per_case, case_weights=np.ones(12, dtype=int))
    assert unit == summarize_cases(per_case)


def test_summarize_rejects_bad_weights_and_no_cases():
    per_case = _random_per_case(np.random.default_rng(0), 3)
    with pytest.raises(ValueError):
        summarize_cases({})
    with pytest.raises(ValueError, match="one weight per case"):
        summarize_cases(per_case, case_weights=[1, 1])
    with pytest.raises(ValueError):
        summarize_cases(per_case, case_weights=[0, 0, 0])
    with pytest.raises(ValueError):
        summarize_cases(per_case, case_weights=[1, -1, 2])
    with pytest.raises(ValueError, match="lacks class"):
        headline_arrays({"PATIENT00001": {"vertebra": per_case[sorted(per_case)[0]]["vertebra"]}})


def test_real_case_metrics_summarize_end_to_end():
    rng = np.random.default_rng(21)
    per_case = {}
    for k in range(4):
        truth = np.zeros((96, 96), dtype=np.uint8)
        truth[10:80, 50:90] = 1
        truth[10:80, 40:50] = 2
        for j in range(4):
            truth[12 + 17 * j:24 + 17 * j, 15:38] = 3
            truth[24 + 17 * j:29 + 17 * j, 15:38] = 4
        truth[82:94, 15:38] = 5
        prediction = np.roll(truth, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2)))
        per_case[f"PATIENT0000{k}"] = case_metrics(truth, prediction, (0.9, 0.7))
    summary = summarize_cases(per_case)
    assert 0.5 < summary["mean_dice"] <= 1.0
    assert 0.0 <= summary["mean_hd95_mm"] < 5.0
    _, dice, hd95 = headline_arrays(per_case)
    d, h = headline_from_weights(dice, hd95, np.ones(4))
    assert float(d) == pytest.approx(summary["mean_dice"], rel=1e-12)
    assert float(h) == pytest.approx(summary["mean_hd95_mm"], rel=1e-12)


def test_worked_example_of_the_docs():
    truth = np.zeros((8, 10), np.uint8)
    truth[2:6, 2:6] = 3
    prediction = np.zeros_like(truth)
    prediction[2:6, 3:7] = 3
    prediction[7, 9] = 3
    got = case_metrics(truth, prediction, (0.5, 1.0), classes=["vertebra"])["vertebra"]
    assert got["dice"] == pytest.approx(24 / 33)
    assert got["hd_mm"] == pytest.approx(math.sqrt(17))
    assert got["hd95_mm"] == pytest.approx(1 + 0.4 * (math.sqrt(17) - 1))
    assert got["hd95_pooled_mm"] == pytest.approx(1.0)
    assert got["assd_mm"] == pytest.approx((4 * 0.5 + 8 * 1.0 + math.sqrt(17)) / 25)
    assert got["nsd_2mm"] == pytest.approx(24 / 25)
    assert got["empty"] is None


def test_weighted_median_equals_median_of_repeated_values():
    from lssbench.metrics.segmentation import _weighted_median

    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(1, 9))
        values = rng.integers(0, 5, size=n).astype(float) / 3  # ties on purpose
        weights = rng.integers(0, 4, size=n)
        if weights.sum() == 0:
            weights[0] = 1
        assert _weighted_median(values, weights) == np.median(np.repeat(values, weights))


def test_nearest_surface_distances_equal_scipy_edt_elementwise():
    """The k-d tree path gives exactly what distance_transform_edt gives, pixel by pixel."""
    from scipy.ndimage import binary_dilation, distance_transform_edt

    from lssbench.metrics.surface import _distances_to, border

    rng = np.random.default_rng(2024)
    checked = 0
    for case in range(150):
        height, width = (int(v) for v in rng.integers(16, 90, 2))
        spacing = np.array([1.0, 1.0]) if case % 4 == 0 else rng.uniform(0.3, 1.3, 2)
        target = binary_dilation(rng.random((height, width)) < rng.uniform(0.005, 0.2),
                                 iterations=int(rng.integers(0, 3)))
        query = binary_dilation(rng.random((height, width)) < rng.uniform(0.005, 0.2),
                                iterations=int(rng.integers(0, 3)))
        if not target.any() or not query.any():
            continue
        target_border, query_border = border(target), border(query)
        rows, cols = np.nonzero(query_border)
        expected = distance_transform_edt(~target_border, sampling=spacing)[rows, cols]
        assert np.array_equal(_distances_to(target_border, rows, cols, spacing), expected), case
        checked += 1
    assert checked > 120


def _blocky_labels(rng) -> np.ndarray:
    """A random six-class mask of blocks, 12-69 pixels a side."""
    from scipy.ndimage import zoom

    height, width = (int(v) for v in rng.integers(12, 70, 2))
    coarse = rng.integers(0, 6, (max(2, height // 6), max(2, width // 6)))
    return zoom(coarse, (height / coarse.shape[0], width / coarse.shape[1]), order=0).astype(np.uint8)


def _relabelled(truth: np.ndarray, noise: np.ndarray, rng) -> np.ndarray:
    """A copy of ``truth`` with the ``noise`` pixels given random classes."""
    prediction = truth.copy()
    prediction[noise] = rng.integers(0, 6, int(noise.sum()))
    return prediction


def test_case_metrics_equal_binary_metrics_per_class_exactly():
    """The one-pass-per-case path gives bit for bit what the per-class binary path gives."""
    rng = np.random.default_rng(77)
    for case in range(40):
        truth = _blocky_labels(rng)
        prediction = _relabelled(truth, rng.random(truth.shape) < rng.uniform(0.0, 0.2), rng)
        if case % 5 == 0:
            prediction[prediction == 4] = 0  # a class missing from the prediction
        spacing = (1.0, 1.0) if case % 3 == 0 else tuple(rng.uniform(0.3, 1.2, 2))
        expected = {c.name: binary_metrics(truth == c.index, prediction == c.index, spacing)
                    for c in SEGMENTATION_CLASSES}
        assert case_metrics(truth, prediction, spacing) == expected, case


def test_a_prepared_truth_gives_the_same_metrics():
    """Class counts from the differing pixels, surfaces found once: the numbers of the plain call."""
    rng = np.random.default_rng(78)
    for case in range(60):
        truth = _blocky_labels(rng)
        if case % 7 == 0:
            truth[truth == 2] = 0  # a class the truth lacks
        share = (0.0, 0.02, 0.1, 0.2, 0.6, 1.0)[case % 6]  # past a quarter differing, counts are made in full
        prediction = _relabelled(truth, rng.random(truth.shape) < share, rng)
        if case % 5 == 0:
            prediction[0, 0] = 7  # a class index beyond the truth's
        spacing = (1.0, 1.0) if case % 3 == 0 else tuple(rng.uniform(0.3, 1.2, 2))
        prepared = prepare_truth(truth)
        assert prepared.counts.tolist()[:6] == [int((truth == c).sum()) for c in range(6)]
        assert case_metrics(truth, prediction, spacing, prepared_truth=prepared) == case_metrics(truth, prediction,
                                                                                              spacing), case
    with pytest.raises(ValueError, match="2-D array of class indices"):
        prepare_truth(np.zeros((3, 3), dtype=float))
