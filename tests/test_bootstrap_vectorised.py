"""The vectorised bootstrap equals the per-resample loop it replaced.

Each statistic now takes the whole ``(resamples, patients)`` multiplicity matrix at once.
The per-resample code it replaced is kept here, privately, as the reference (``_old_*``,
copied from lssbench 0.1.0 before the change); the vectorised values must equal it bit for
bit (kappa) or to 1e-12 (detection AP: the 101 interpolated precisions are summed as
precision x number of recall points served; segmentation: a matrix product may add in
another order than a vector product), on randomized inputs and end to end through
``Evaluator``. The results JSON rounds to 6 decimals, so it stays byte-identical
(benchmarks/check_identical.py compares whole outputs with another revision).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_detection import random_case

import lssbench.metrics.detection as detection
from lssbench.domain import CATEGORIES, GRADES
from lssbench.board import board_parts
from lssbench.metrics.bootstrap import batch_values, bootstrap_counts, subset_counts, values_on_counts
from lssbench.metrics.detection import RECALL_THRESHOLDS, match_detections
from lssbench.metrics.grading import (
    align_grades,
    kappa_from_confusion,
    kappas_from_confusions,
    unit_confusions,
    weighted_kappas,
)
from lssbench.metrics.segmentation import headline_arrays, headline_from_weights
from lssbench.scoring import Evaluator
from lssbench.submission import load_submission

_T, _K = len(detection.IOU_THRESHOLDS), len(CATEGORIES)


# --- the per-resample code that was replaced (references) ------------------------------------
def _old_coco_table(m, w: np.ndarray) -> np.ndarray:
    """DetectionMatches._coco_table of lssbench 0.1.0: one weight vector, fast path."""
    if not m.det_counted.all():
        return m._coco_table_reference(w)
    t50, t75 = detection._T50, detection._T75
    out = np.full((_K, 4), np.nan)
    npig = w @ m.gt_counts
    has = npig > 0
    if not has.any():
        return out
    n_pad = m.tp_positions.shape[1]
    bounds = m.category_bounds
    cum_w = np.concatenate([[0], np.cumsum(w[m.det_image])])
    row_cat = np.repeat(np.arange(_K), _T)
    n_rows = np.repeat(npig, _T).astype(np.float64)[:, None]
    if n_pad:
        tp = np.cumsum(np.append(w, 0)[m.tp_images], axis=1)
        seen = cum_w[m.tp_positions + 1] - cum_w[bounds[row_cat]][:, None]
        tp_f = tp.astype(np.float64)
        fp_f = (seen - tp).astype(np.float64)
        pr = tp_f / (fp_f + tp_f + np.spacing(1))
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        tp_last = tp[:, -1]
    else:
        tp, pr = np.zeros((_K * _T, 0), np.int64), np.zeros((_K * _T, 0))
        tp_last = np.zeros(_K * _T, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.ceil(RECALL_THRESHOLDS[None, :] * n_rows).astype(np.int64)
        need -= ((need - 1) / n_rows >= RECALL_THRESHOLDS) & (need > 0)
        need += need / n_rows < RECALL_THRESHOLDS
    rows = np.arange(_K * _T)[:, None]
    big = int(tp_last.max()) + 2
    keys = (rows * big + tp).ravel()
    found = np.searchsorted(keys, (rows * big + need).ravel(), side="left").reshape(need.shape)
    index = found - rows * n_pad
    inside = (index < n_pad) & (need <= tp_last[:, None])
    q = np.zeros(need.shape)
    if n_pad:
        q[inside] = pr[np.broadcast_to(rows, need.shape)[inside], index[inside]]
    q = q.reshape(_K, _T, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = (tp_last / n_rows[:, 0]).reshape(_K, _T)
    out[has, 0] = q[has].mean(axis=(1, 2))
    out[has, 1] = q[has, t50].mean(axis=1)
    out[has, 2] = q[has, t75].mean(axis=1)
    out[has, 3] = recall[has].mean(axis=1)
    return out


def _old_headline(m, w: np.ndarray) -> dict:
    table = _old_coco_table(m, w)
    has = ~np.isnan(table[:, 0])
    if not has.any():
        return {"mAP": None, "AP50": None}
    return {"mAP": float(table[has, 0].mean()), "AP50": float(table[has, 1].mean())}


def _old_kappa_from_confusion(confusion, weights="quadratic"):
    observed = np.asarray(confusion, dtype=np.float64)
    total = observed.sum()
    if not total > 0:
        return None
    i, j = np.indices(observed.shape)
    w = {"quadratic": ((i - j) ** 2), "linear": np.abs(i - j), None: (i != j)}[weights].astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    expected_disagreement = float((w * expected).sum())
    observed_disagreement = float((w * observed).sum())
    if expected_disagreement <= 0:
        return 1.0 if observed_disagreement <= 0 else 0.0
    return 1.0 - observed_disagreement / expected_disagreement


def _old_weighted_kappa(y_true, y_pred, sample_weight, weights="quadratic"):
    flat = np.asarray(y_true) * 4 + np.asarray(y_pred)
    counts = np.bincount(flat, weights=np.asarray(sample_weight, dtype=np.float64), minlength=16)
    return _old_kappa_from_confusion(counts.reshape(4, 4), weights)


def _as_float(value) -> float:
    return np.nan if value is None else float(value)


# --- detection -----------------------------------------------------------------------------------
@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few resamples, so the tests cross chunk borders."""
    monkeypatch.setattr(detection, "_CHUNK_RESAMPLES", 7)


@pytest.mark.parametrize("seed", range(0, 220, 5))
def test_detection_headlines_equal_the_loop(seed, small_chunks):
    gt, dt, image_ids = random_case(seed)
    m = match_detections(gt, dt, image_ids)
    counts = bootstrap_counts(len(image_ids), 60, seed=seed)
    counts[0] = 0  # nothing drawn: no ground truth, undefined
    many = m.headlines(counts)
    for key in ("mAP", "AP50"):
        expected = np.array([_as_float(_old_headline(m, w)[key]) for w in counts])
        np.testing.assert_allclose(many[key], expected, rtol=0, atol=1e-12)
        assert np.array_equal(np.isnan(many[key]), np.isnan(expected))
    tables = m._coco_tables(counts)
    np.testing.assert_allclose(tables, np.stack([_old_coco_table(m, w) for w in counts]), rtol=0, atol=1e-12)


def test_detection_headlines_with_a_detection_outside_the_area_range(small_chunks):
    # an unmatched detection above COCO's area range is ignored (neither TP nor FP)
    gt, dt, image_ids = random_case(3)
    dt = dt.copy()
    dt.loc[len(dt)] = [image_ids[0], "L3-L4", "left", 0.99, 0.0, 0.0, 2e5, 2e5]
    m = match_detections(gt, dt, image_ids)
    assert not m.det_counted.all()
    counts = bootstrap_counts(len(image_ids), 40, seed=1)
    tables = m._coco_tables(counts)
    for w, table in zip(counts, tables):
        np.testing.assert_allclose(table, m._coco_table_reference(w), rtol=0, atol=1e-12)


def test_detection_headlines_with_a_matched_detection_outside_the_area_range(small_chunks):
    # a detection just above COCO's area range that matches a box is a TP that is not counted
    # among the detections seen (the "uncounted" TP entries of the bootstrap path)
    gt, dt, image_ids = random_case(5)
    gt, dt = gt.copy(), dt.copy()
    box = gt.iloc[0]
    gt.loc[len(gt)] = [box["image_id"], box["level"], box["side"], 0.0, 0.0, 1e5, 1e5]
    dt.loc[len(dt)] = [box["image_id"], box["level"], box["side"], 0.99, 0.0, 0.0, 1e5, 1.0001e5]
    m = match_detections(gt, dt, image_ids)
    assert m._tp_entries["uncounted"].any()
    counts = bootstrap_counts(len(image_ids), 40, seed=1)
    tables = m._coco_tables(counts)
    for w, table in zip(counts, tables):
        np.testing.assert_allclose(table, m._coco_table_reference(w), rtol=0, atol=1e-12)


def test_detection_headlines_refuse_bad_weights():
    gt, dt, image_ids = random_case(1)
    m = match_detections(gt, dt, image_ids)
    with pytest.raises(ValueError, match="one value per image"):
        m.headlines(np.ones(len(image_ids), dtype=np.int64))
    with pytest.raises(ValueError, match="non-negative integers"):
        m.headlines(-np.ones((2, len(image_ids)), dtype=np.int64))
    assert m.headlines(np.zeros((0, len(image_ids)), dtype=np.int64))["mAP"].shape == (0,)


# --- grading ---------------------------------------------------------------------------------------
def _grades(rng, n_rows):
    y_true = rng.choice(GRADES, size=n_rows, p=[0.55, 0.25, 0.12, 0.08])
    y_pred = np.where(rng.random(n_rows) < 0.7, y_true, rng.choice(GRADES, size=n_rows))
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("weights", ["quadratic", "linear", None])
def test_kappa_on_weights_equals_the_loop_bit_for_bit(seed, weights):
    rng = np.random.default_rng(seed)
    n_units = int(rng.integers(1, 30))
    row_units = rng.integers(0, n_units, size=int(rng.integers(1, 200)))
    y_true, y_pred = _grades(rng, row_units.size)
    if seed % 4 == 0:  # one grade everywhere: expected disagreement 0
        y_true = y_pred = np.full(row_units.size, GRADES[seed % 3])
    counts = bootstrap_counts(n_units, 200, seed=seed)
    counts[0] = 0
    values = weighted_kappas(unit_confusions(y_true, y_pred, row_units, n_units), counts, weights)
    expected = [_as_float(_old_weighted_kappa(y_true, y_pred, w[row_units], weights)) for w in counts]
    np.testing.assert_array_equal(values, expected)


def test_kappas_of_float_confusions_equal_one_at_a_time():
    rng = np.random.default_rng(5)
    confusions = rng.random((300, 4, 4)) * rng.integers(0, 2, (300, 4, 4))
    confusions[0] = 0
    confusions[1] = np.diag([0, 3.5, 0, 0])
    for weights in ("quadratic", "linear", None):
        many = kappas_from_confusions(confusions, weights)
        np.testing.assert_array_equal(many, [_as_float(_old_kappa_from_confusion(c, weights)) for c in confusions])
        assert [kappa_from_confusion(c, weights) for c in confusions[:3]] == [None, 1.0, many[2]]
    binary = rng.random((50, 2, 2))
    np.testing.assert_array_equal(kappas_from_confusions(binary, None),
                                  [_old_kappa_from_confusion(c, None) for c in binary])


def test_unit_confusions_and_refusals():
    confusion = unit_confusions([0, 3, 3, 1], [0, 2, 3, 1], [1, 0, 1, 1], 3)
    assert confusion.shape == (3, 4, 4) and confusion.dtype == np.int64
    assert confusion[0, 3, 2] == 1 and confusion[1, 0, 0] == confusion[1, 3, 3] == confusion[1, 1, 1] == 1
    assert confusion[2].sum() == 0 and confusion.sum() == 4
    with pytest.raises(ValueError, match="row_units must lie in 0..2"):
        unit_confusions([0], [0], [3], 3)
    with pytest.raises(ValueError, match="row_units has shape"):
        unit_confusions([0, 1], [0, 1], [0], 3)
    with pytest.raises(ValueError, match="unit_weights must be integer"):
        weighted_kappas(confusion, np.ones((2, 3)) * 0.5)
    with pytest.raises(ValueError, match=r"confusions must be \(B, n, n\)"):
        kappas_from_confusions(np.ones((4, 4)))


# --- segmentation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_segmentation_headline_on_a_weight_matrix_equals_the_loop(seed):
    rng = np.random.default_rng(seed)
    n_cases = int(rng.integers(1, 60))
    dice, hd95 = rng.random((n_cases, 5)), rng.random((n_cases, 5)) * 30
    counts = bootstrap_counts(n_cases, 300, seed=seed)
    many_dice, many_hd95 = headline_from_weights(dice, hd95, counts)
    one = [headline_from_weights(dice, hd95, w) for w in counts]
    np.testing.assert_allclose(many_dice, [float(d) for d, _ in one], rtol=1e-12, atol=0)
    np.testing.assert_allclose(many_hd95, [float(h) for _, h in one], rtol=1e-12, atol=0)


# --- end to end: Evaluator.evaluate against the per-resample statistics ---------------------------------
def _old_statistics(evaluator: Evaluator, submission, results: dict) -> dict:
    """The statistics of lssbench 0.1.0's Evaluator: one patient weight vector per call."""
    gt = evaluator.ground_truth
    position = {pid: i for i, pid in enumerate(evaluator.patients)}

    def rows_of(patient_ids):
        index = np.array([position[p] for p in patient_ids], dtype=np.int64)
        return lambda w: w[index]

    matches = match_detections(gt.boxes, submission.detections, list(gt.images["image_id"]))
    to_images = rows_of(gt.images["patient_id"])
    aligned = align_grades(gt.grades, submission.grades)
    y_true = aligned["severity_true"].to_numpy(dtype=np.int64)
    y_pred = aligned["severity_pred"].to_numpy(dtype=np.int64)
    to_rows = rows_of(aligned["patient_id"])
    per_case = {c["patient_id"]: c["metrics"] for c in results["segmentation"]["per_case"]}
    case_ids, dice, hd95 = headline_arrays(per_case)
    to_cases = rows_of(case_ids)

    def segmentation(w, which):
        case_weights = to_cases(w)
        return float(headline_from_weights(dice, hd95, case_weights)[which]) if case_weights.any() else None

    return {
        "detection.mAP": lambda w: _old_headline(matches, to_images(w))["mAP"],
        "detection.AP50": lambda w: _old_headline(matches, to_images(w))["AP50"],
        "grading.qwk": lambda w: _old_weighted_kappa(y_true, y_pred, to_rows(w)),
        "segmentation.mean_dice": lambda w: segmentation(w, 0),
        "segmentation.mean_hd95_mm": lambda w: segmentation(w, 1),
    }


def results_on(statistic, counts) -> np.ndarray:
    return np.array([_as_float(statistic(w)) for w in counts])


def _assert_values(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for name, values in expected.items():
        got = np.array([np.nan if v is None else v for v in actual[name]], dtype=np.float64)
        if not name.startswith("grading."):
            np.testing.assert_allclose(got, values, rtol=1e-12, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(got, values, err_msg=name)


@pytest.mark.parametrize("sample", ["jittered", "weak"])
def test_evaluate_equals_the_per_resample_loop(sample, sample_submissions, ground_truth, small_chunks):
    parts = board_parts(ground_truth, 0.5)
    evaluator = Evaluator(ground_truth, keep_resamples=True, parts=parts)
    submission = load_submission(sample_submissions[sample], ground_truth)
    results = evaluator.evaluate(submission, n_bootstrap=400, seed=3)
    statistics = _old_statistics(evaluator, submission, results)
    n = len(evaluator.patients)
    _assert_values(results["resamples"], values_on_counts(statistics, bootstrap_counts(n, 400, seed=3)))
    for name, patients in parts.items():
        members = np.array(sorted(evaluator.patients.index(p) for p in patients))
        part = results["parts"][name]
        _assert_values(part["resamples"], values_on_counts(statistics, subset_counts(n, members, 400, seed=3)))
        weights = np.zeros(n, dtype=np.int64)
        weights[members] = 1
        for key, fn in statistics.items():
            expected = fn(weights)
            assert part["headlines"][key] == pytest.approx(expected, rel=1e-12, abs=0) if expected is not None \
                else part["headlines"][key] is None, (name, key)
    # a resample that draws none of a task's units leaves it undefined (NaN), like before
    counts = bootstrap_counts(n, 3, seed=0)
    counts[1] = 0
    for task in ("detection", "grading", "segmentation"):
        _, task_statistics, _ = getattr(evaluator, f"_score_{task}")(submission)
        for key, fn in task_statistics.items():
            got = batch_values({key: fn}, counts)[key]
            assert np.isnan(got[1]) and np.isfinite(got[[0, 2]]).all(), (task, key)
            expected = results_on(statistics[f"{task}.{key}"], counts[[0, 2]])
            np.testing.assert_allclose(got[[0, 2]], expected, rtol=0 if task == "grading" else 1e-12, atol=0)


def test_prepare_keeps_the_shared_work_and_changes_nothing(sample_submissions, ground_truth):
    parts = board_parts(ground_truth, 0.5)
    submission = load_submission(sample_submissions["jittered"], ground_truth)
    plain = Evaluator(ground_truth, keep_resamples=True, parts=parts).evaluate(submission, n_bootstrap=100, seed=1)
    prepared = Evaluator(ground_truth, keep_resamples=True, parts=parts).prepare(n_bootstrap=100, seed=1)
    assert set(ground_truth._masks) == set(ground_truth.cases)  # decoded before any submission
    assert len(prepared._counts) == 1 + len(parts)
    assert prepared.evaluate(submission, n_bootstrap=100, seed=1) == plain
    assert len(prepared._counts) == 1 + len(parts)  # reused, not drawn again


def test_batch_values_checks_shapes_and_stores_nan():
    counts = bootstrap_counts(5, 10, seed=0)
    values = batch_values({"s": lambda w: np.where(w[:, 0] > 0, w[:, 1] / 1.0, np.inf)}, counts)
    np.testing.assert_array_equal(values["s"], np.where(counts[:, 0] > 0, counts[:, 1], np.nan))
    with pytest.raises(ValueError, match=r"statistic 'bad' returned shape \(\), expected \(10,\)"):
        batch_values({"bad": lambda w: 1.0}, counts)


@pytest.mark.parametrize("width", [3, detection._ROW_BY_ROW, 1000])
def test_row_by_row_accumulation_equals_numpys(width):
    rng = np.random.default_rng(width)
    counts = rng.integers(0, 4, (37, width))
    assert np.array_equal(detection._accumulate_rows(np.add, counts.copy()), np.cumsum(counts, axis=0))
    precision = rng.random((37, width))
    expected = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
    got = precision.copy()
    detection._accumulate_rows(np.maximum, got[::-1])  # in place, through the reversed view
    assert np.array_equal(got, expected)
