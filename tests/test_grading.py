"""Grading metrics: agreement with scikit-learn, hand cases and documented edge values."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from lssbench.domain import GRADES, LEVELS, PROBABILITY_COLUMNS, SIDES
from lssbench.metrics.grading import (
    accuracy,
    align_grades,
    balanced_accuracy,
    binary_view,
    confusion_matrix_4,
    evaluate_grading,
    grading_aurocs,
    grading_metrics,
    kappa_from_confusion,
    macro_f1,
    normalize_probabilities,
    roc_auc,
    rsna_weighted_log_loss,
    weighted_kappa,
)

LABELS = list(GRADES)
TEST_MIX = (418, 91, 52, 35)  # DATASET.md: severity mix of a public 596-box test subset


def random_case(rng, n=None, present=GRADES, weighted=True):
    n = n or int(rng.integers(5, 200))
    y_true = rng.choice(present, size=n)
    # predictions near the truth, with occasional jumps
    noise = rng.choice([-1, 0, 0, 0, 1], size=n) + rng.choice([0, 0, 0, 2, -2], size=n)
    y_pred = np.clip(y_true + noise, 0, 3)
    weight = rng.integers(0, 4, size=n).astype(float) if weighted else None
    return y_true, y_pred, weight


def cases(seed=0, count=60):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        present = [GRADES, (0, 1, 3), (0, 2), (1, 2, 3), (0, 1)][k % 5]
        out.append(random_case(rng, present=present, weighted=k % 3 != 0))
    return out


# --- agreement with scikit-learn ----------------------------------------------------------

@pytest.mark.parametrize("weights", ["quadratic", "linear", None])
def test_kappa_matches_sklearn_with_fixed_labels(weights):
    for y_true, y_pred, w in cases():
        if w is not None and w.sum() == 0:
            continue
        expected = skm.cohen_kappa_score(y_true, y_pred, labels=LABELS, weights=weights, sample_weight=w)
        assert weighted_kappa(y_true, y_pred, weights=weights, sample_weight=w) == pytest.approx(expected, abs=1e-12)


def test_sklearn_without_labels_differs_when_a_grade_is_missing():
    y_true = np.array([0, 0, 1, 1, 3, 3, 0, 1])  # grade 2 never occurs on either side
    y_pred = np.array([0, 1, 1, 3, 3, 1, 0, 0])
    fixed = skm.cohen_kappa_score(y_true, y_pred, labels=LABELS, weights="quadratic")
    implicit = skm.cohen_kappa_score(y_true, y_pred, weights="quadratic")  # 1 and 3 become adjacent
    ours = weighted_kappa(y_true, y_pred)
    assert ours == pytest.approx(fixed, abs=1e-12)
    assert abs(ours - implicit) > 0.01


def test_accuracy_balanced_accuracy_f1_confusion_match_sklearn():
    for y_true, y_pred, w in cases(seed=1):
        if w is not None and w.sum() == 0:
            continue
        assert accuracy(y_true, y_pred, w) == pytest.approx(skm.accuracy_score(y_true, y_pred, sample_weight=w), abs=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns when y_pred has grades y_true lacks
            expected_bal = skm.balanced_accuracy_score(y_true, y_pred, sample_weight=w)
        if w is None or np.all(w > 0):
            # with zero weights sklearn may still count a grade present only in zero-weight rows
            assert balanced_accuracy(y_true, y_pred, w) == pytest.approx(expected_bal, abs=1e-12)
        expected_f1 = skm.f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=np.nan, sample_weight=w)
        assert macro_f1(y_true, y_pred, w) == pytest.approx(expected_f1, abs=1e-12)
        expected_cm = skm.confusion_matrix(y_true, y_pred, labels=LABELS, sample_weight=w)
        np.testing.assert_allclose(confusion_matrix_4(y_true, y_pred, w), expected_cm, rtol=0, atol=1e-12)


def test_binary_view_matches_sklearn():
    for y_true, y_pred, w in cases(seed=2):
        if w is not None and w.sum() == 0:
            continue
        t, p = (y_true >= 2).astype(int), (y_pred >= 2).astype(int)
        view = binary_view(y_true, y_pred, sample_weight=w)
        if (t == 1).any() and (w is None or w[t == 1].sum() > 0):
            assert view["sensitivity"] == pytest.approx(skm.recall_score(t, p, sample_weight=w), abs=1e-12)
        if (t == 0).any() and (w is None or w[t == 0].sum() > 0):
            assert view["specificity"] == pytest.approx(skm.recall_score(t, p, pos_label=0, sample_weight=w), abs=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = skm.cohen_kappa_score(t, p, labels=[0, 1], sample_weight=w)
        if not math.isnan(expected):
            assert view["kappa"] == pytest.approx(expected, abs=1e-12)


def test_roc_auc_matches_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(3)
    for k in range(40):
        n = int(rng.integers(5, 150))
        y = rng.integers(0, 2, size=n)
        if y.min() == y.max():
            y[0] = 1 - y[0]
        score = rng.integers(0, 6, size=n) / 5.0 if k % 2 else rng.random(n)  # many ties on even k
        w = rng.integers(1, 4, size=n).astype(float) if k % 3 else None
        assert roc_auc(y, score, w) == pytest.approx(skm.roc_auc_score(y, score, sample_weight=w), abs=1e-12)


def test_grading_aurocs_match_sklearn_on_normalized_probabilities():
    rng = np.random.default_rng(4)
    y_true = rng.choice(GRADES, size=120, p=[0.6, 0.2, 0.12, 0.08])
    raw = rng.random((120, 4)) * 3  # rows not summing to 1: normalized first
    p = raw / raw.sum(axis=1, keepdims=True)
    aurocs = grading_aurocs(y_true, raw)
    assert aurocs["auroc_severe"] == pytest.approx(skm.roc_auc_score(y_true == 3, p[:, 3]), abs=1e-12)
    assert aurocs["auroc_moderate_plus"] == pytest.approx(skm.roc_auc_score(y_true >= 2, p[:, 2] + p[:, 3]), abs=1e-12)


# --- hand cases and anchors ---------------------------------------------------------------

# The worked example of docs/metrics.md.
DOC_MATRIX = np.array([[6, 2, 0, 0],
                       [1, 2, 1, 0],
                       [0, 1, 2, 1],
                       [0, 0, 1, 3]])


def expand(confusion):
    rows = [(i, j) for i in GRADES for j in GRADES for _ in range(int(confusion[i][j]))]
    y_true, y_pred = (np.array(v) for v in zip(*rows))
    return y_true, y_pred


def test_hand_computed_kappa_of_documented_matrix():
    # every error is one grade off: sum(W*O) = 2+1+1+1+1+1 = 7 for both weightings;
    # expected disagreement sum(W*E) = 1060/20 = 53 (quadratic), 508/20 = 25.4 (linear)
    assert kappa_from_confusion(DOC_MATRIX, "quadratic") == pytest.approx(46 / 53, abs=1e-15)
    assert kappa_from_confusion(DOC_MATRIX, "linear") == pytest.approx(1 - 7 / 25.4, abs=1e-15)
    y_true, y_pred = expand(DOC_MATRIX)
    assert weighted_kappa(y_true, y_pred) == pytest.approx(0.8679245283018868, abs=1e-15)
    assert accuracy(y_true, y_pred) == pytest.approx(13 / 20)
    np.testing.assert_array_equal(confusion_matrix_4(y_true, y_pred), DOC_MATRIX)


def test_perfect_predictions_score_one():
    y = np.array([0, 1, 2, 3, 3, 0, 0, 1])
    for weights in ("quadratic", "linear", None):
        assert weighted_kappa(y, y, weights) == 1.0
    assert accuracy(y, y) == balanced_accuracy(y, y) == macro_f1(y, y) == 1.0
    assert binary_view(y, y) == {"sensitivity": 1.0, "specificity": 1.0, "kappa": 1.0}


def test_all_normal_predictions_on_the_dataset_test_mix():
    y_true = np.repeat(GRADES, TEST_MIX)
    y_pred = np.zeros_like(y_true)
    assert accuracy(y_true, y_pred) == pytest.approx(418 / 596)
    assert round(accuracy(y_true, y_pred), 3) == 0.701
    assert weighted_kappa(y_true, y_pred) == pytest.approx(0.0, abs=1e-12)
    assert weighted_kappa(y_true, y_pred, "linear") == pytest.approx(0.0, abs=1e-12)
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(0.25)
    # F1 of normal = 2*418 / (418 + 596); the other three grades score 0
    assert macro_f1(y_true, y_pred) == pytest.approx((2 * 418 / (418 + 596)) / 4)
    view = binary_view(y_true, y_pred)
    assert view["sensitivity"] == 0.0 and view["specificity"] == 1.0
    assert view["kappa"] == pytest.approx(0.0, abs=1e-12)


def test_undefined_kappa_is_one_for_single_grade_agreement_without_warning():
    y = np.zeros(7, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for weights in ("quadratic", "linear", None):
            assert weighted_kappa(y, y, weights) == 1.0
            assert weighted_kappa(y + 2, y + 2, weights) == 1.0
        view = binary_view(y, y)
    assert view == {"sensitivity": None, "specificity": 1.0, "kappa": 1.0}
    with pytest.warns(Warning):  # sklearn: NaN with a warning
        assert math.isnan(skm.cohen_kappa_score(y, y, labels=LABELS, weights="quadratic"))


def test_nothing_to_score_gives_none():
    y = np.array([0, 2, 3])
    zero = np.zeros(3)
    assert weighted_kappa(y, y, sample_weight=zero) is None
    assert accuracy(y, y, zero) is None
    assert macro_f1(y, y, zero) is None
    assert balanced_accuracy(y, y, zero) is None
    assert rsna_weighted_log_loss(y, np.full((3, 4), 0.25), zero) is None
    assert weighted_kappa([], []) is None


def test_sensitivity_specificity_none_without_positives_or_negatives():
    assert binary_view([0, 1, 1], [0, 2, 1])["sensitivity"] is None
    view = binary_view([2, 3, 3], [2, 1, 3])
    assert view["specificity"] is None
    assert view["sensitivity"] == pytest.approx(2 / 3)
    assert view["kappa"] == 0.0  # truth all positive, prediction mixed: no agreement beyond chance


def test_zero_weight_rows_are_ignored():
    y_true = np.array([0, 1, 2, 3, 3])
    y_pred = np.array([0, 1, 2, 3, 0])
    w = np.array([1, 1, 1, 1, 0])
    assert weighted_kappa(y_true, y_pred, sample_weight=w) == 1.0
    assert weighted_kappa(y_true[:4], y_pred[:4]) == 1.0


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(5)
    y_true, y_pred, _ = random_case(rng, n=50, weighted=False)
    w = rng.integers(0, 4, size=50)
    repeated = np.repeat(np.arange(50), w)
    assert weighted_kappa(y_true, y_pred, sample_weight=w) == pytest.approx(
        weighted_kappa(y_true[repeated], y_pred[repeated]), abs=1e-12)


def test_bad_grades_are_refused():
    with pytest.raises(ValueError, match="grade 4"):
        weighted_kappa([0, 4], [0, 1])
    with pytest.raises(ValueError, match="non-integer"):
        accuracy([0, 1.5], [0, 1])
    with pytest.raises(ValueError, match="length"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="weights must be"):
        weighted_kappa([0, 1], [0, 1], weights="cubic")
    with pytest.raises(ValueError, match="non-negative"):
        accuracy([0, 1], [0, 1], sample_weight=[1, -1])


# --- log loss -----------------------------------------------------------------------------

def test_rsna_log_loss_hand_case():
    y_true = np.array([0, 1, 2, 3])
    proba = np.array([
        [0.5, 0.3, 0.1, 0.1],  # normal/mild = 0.8, weight 1
        [0.1, 0.1, 0.4, 0.4],  # normal/mild = 0.2, weight 1
        [0.2, 0.2, 0.5, 0.1],  # moderate = 0.5, weight 2
        [0.1, 0.1, 0.2, 0.6],  # severe = 0.6, weight 4
    ])
    expected = (-math.log(0.8) - math.log(0.2) - 2 * math.log(0.5) - 4 * math.log(0.6)) / 8
    assert rsna_weighted_log_loss(y_true, proba) == pytest.approx(expected, abs=1e-14)
    # sample weights multiply the class weights
    w = np.array([2, 0, 1, 1])
    expected_w = (-2 * math.log(0.8) - 2 * math.log(0.5) - 4 * math.log(0.6)) / 8
    assert rsna_weighted_log_loss(y_true, proba, w) == pytest.approx(expected_w, abs=1e-14)


def test_rsna_log_loss_matches_sklearn_on_merged_classes():
    rng = np.random.default_rng(6)
    y_true = rng.choice(GRADES, size=200)
    proba = rng.random((200, 4))
    merged_true = np.maximum(y_true - 1, 0)
    p = proba / proba.sum(axis=1, keepdims=True)
    merged = np.column_stack([p[:, 0] + p[:, 1], p[:, 2], p[:, 3]])
    class_weight = np.array([1.0, 2.0, 4.0])[merged_true]
    expected = skm.log_loss(merged_true, merged, sample_weight=class_weight, labels=[0, 1, 2])
    assert rsna_weighted_log_loss(y_true, proba) == pytest.approx(expected, abs=1e-12)


def test_probabilities_are_normalized_and_clipped():
    y_true = np.array([3, 0])
    scaled = np.array([[2.0, 2.0, 2.0, 2.0], [5.0, 5.0, 0.0, 0.0]])  # -> 0.25 each; normal/mild 1.0
    assert rsna_weighted_log_loss(y_true, scaled) == pytest.approx(4 * -math.log(0.25) / 5 + -math.log(1 - 1e-15) / 5)
    zero_for_truth = np.array([[1.0, 0.0, 0.0, 0.0]])
    assert rsna_weighted_log_loss([3], zero_for_truth) == pytest.approx(-math.log(1e-15))
    np.testing.assert_allclose(normalize_probabilities(scaled).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="sums to zero"):
        normalize_probabilities([[0, 0, 0, 0]])
    with pytest.raises(ValueError, match="negative or non-finite"):
        normalize_probabilities([[0.5, np.nan, 0.2, 0.3]])
    with pytest.raises(ValueError, match="shape"):
        normalize_probabilities([[0.5, 0.5]])


def test_auroc_none_with_one_class():
    proba = np.full((3, 4), 0.25)
    aurocs = grading_aurocs([0, 1, 2], proba)
    assert aurocs["auroc_severe"] is None
    assert aurocs["auroc_moderate_plus"] == 0.5


# --- the table API ------------------------------------------------------------------------

def make_tables(seed=7, n_patients=30, with_proba=True):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_patients):
        pid = f"PATIENT{1000000 + k}"
        for level in LEVELS:
            for side in SIDES:
                if rng.random() < 0.6:
                    rows.append((pid, level, side, int(rng.choice(GRADES, p=[0.7, 0.15, 0.09, 0.06]))))
    truth = pd.DataFrame(rows, columns=["patient_id", "level", "side", "severity"])
    pred = truth.copy()
    flip = rng.random(len(pred)) < 0.3
    pred.loc[flip, "severity"] = np.clip(pred.loc[flip, "severity"] + rng.choice([-1, 1], flip.sum()), 0, 3)
    if with_proba:
        logits = rng.normal(size=(len(pred), 4))
        logits[np.arange(len(pred)), pred["severity"].to_numpy()] += 2
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for i, col in enumerate(PROBABILITY_COLUMNS):
            pred[col] = proba[:, i]
    return truth, pred


def test_evaluate_grading_keys_values_and_json():
    truth, pred = make_tables()
    # extra prediction rows (foramina without ground truth) are ignored; order does not matter
    extra = pd.DataFrame([("PATIENT9999999", "L1-L2", "left", 3, 0.1, 0.1, 0.1, 0.7)], columns=pred.columns)
    shuffled = pd.concat([pred.sample(frac=1.0, random_state=0), extra], ignore_index=True)
    out = evaluate_grading(truth, shuffled)
    assert set(out) == {"qwk", "linear_kappa", "accuracy", "balanced_accuracy", "macro_f1", "confusion_matrix",
                        "per_level", "per_side", "moderate_or_worse", "n", "weighted_log_loss",
                        "auroc_severe", "auroc_moderate_plus"}
    y_true, y_pred = truth["severity"].to_numpy(), pred["severity"].to_numpy()
    assert out["n"] == len(truth)
    assert out["qwk"] == pytest.approx(skm.cohen_kappa_score(y_true, y_pred, labels=LABELS, weights="quadratic"), abs=1e-12)
    assert out["linear_kappa"] == pytest.approx(skm.cohen_kappa_score(y_true, y_pred, labels=LABELS, weights="linear"), abs=1e-12)
    assert out["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred, labels=LABELS).tolist()
    assert all(type(v) is int for row in out["confusion_matrix"] for v in row)
    assert list(out["per_level"]) == list(LEVELS) and list(out["per_side"]) == list(SIDES)
    for level in LEVELS:
        mask = truth["level"].to_numpy() == level
        entry = out["per_level"][level]
        assert entry["n"] == int(mask.sum())
        assert entry["qwk"] == pytest.approx(weighted_kappa(y_true[mask], y_pred[mask]), abs=1e-12)
        assert entry["accuracy"] == pytest.approx(skm.accuracy_score(y_true[mask], y_pred[mask]))
    assert sum(out["per_side"][s]["n"] for s in SIDES) == out["n"]
    assert set(out["moderate_or_worse"]) == {"sensitivity", "specificity", "kappa"}
    assert out["auroc_severe"] == pytest.approx(
        skm.roc_auc_score(y_true == 3, pred["p_severe"].to_numpy()), abs=1e-12)
    text = json.dumps(out, allow_nan=False)  # plain Python types, no NaN
    assert json.loads(text)["n"] == len(truth)


def test_evaluate_grading_without_probabilities_and_empty_level():
    truth, pred = make_tables(with_proba=False)
    truth = truth[truth["level"] != "L5-S1"]
    out = evaluate_grading(truth, pred)
    assert "weighted_log_loss" not in out and "auroc_severe" not in out
    assert out["per_level"]["L5-S1"] == {"qwk": None, "accuracy": None, "n": 0}
    json.dumps(out, allow_nan=False)


def test_evaluate_grading_equals_array_metrics():
    truth, pred = make_tables(seed=8)
    out = evaluate_grading(truth, pred)
    arrays = grading_metrics(truth["severity"], pred["severity"], pred[list(PROBABILITY_COLUMNS)].to_numpy())
    for key in arrays:
        assert out[key] == arrays[key]


def test_missing_prediction_names_the_foramen():
    truth, pred = make_tables(with_proba=False)
    dropped = pred.iloc[1:]
    key = tuple(truth.iloc[0][["patient_id", "level", "side"]])
    with pytest.raises(ValueError, match="no prediction for foramen") as error:
        evaluate_grading(truth, dropped)
    assert str(key) in str(error.value)


def test_duplicate_and_partial_probability_columns_are_refused():
    truth, pred = make_tables()
    with pytest.raises(ValueError, match="more than once"):
        evaluate_grading(truth, pd.concat([pred, pred.iloc[:1]]))
    with pytest.raises(ValueError, match="but not p_severe"):
        evaluate_grading(truth, pred.drop(columns="p_severe"))
    with pytest.raises(ValueError, match="lacks column"):
        evaluate_grading(truth, pred.drop(columns="severity"))


def test_align_grades_sorts_in_domain_order():
    truth, pred = make_tables(with_proba=False)
    aligned = align_grades(truth.iloc[::-1], pred)
    keys = list(zip(aligned["patient_id"], aligned["level"].map(LEVELS.index), aligned["side"].map(SIDES.index)))
    assert keys == sorted(keys)
    assert list(aligned.columns) == ["patient_id", "level", "side", "severity_true", "severity_pred"]
