"""Severity-grading metrics: weighted kappa, accuracy, F1, the binary view, log loss, AUROC.

The unit is one foramen (patient, level, side) with a ground-truth grade in
:data:`~lssbench.domain.GRADES` (0 normal, 1 mild, 2 moderate, 3 severe; one grade per
foramen by the worst-grade rule, already applied in the ground truth).

Conventions (see docs/metrics.md):

* Every core function takes arrays and ``sample_weight=None`` (non-negative per-row
  weights; the bootstrap passes resample multiplicities). Everything is computed from
  the weighted 4x4 confusion matrix over the *fixed* label set 0-3, so a grade missing
  from a resample never changes the kappa weights.
* Kappa is undefined when the expected disagreement is zero. With positive total
  weight that happens only when truth and prediction are one and the same grade,
  i.e. perfect agreement, and :func:`weighted_kappa` returns ``1.0``.
* Nothing to score (zero total weight), sensitivity without positives, specificity
  without negatives, AUROC with one class: ``None``. No NaN is ever returned.
* Macro F1 averages F1 = 2TP / (2TP + FP + FN) over the four grades, leaving out a
  grade absent from both truth and prediction (its F1 is 0/0).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lssbench.domain import GRADES, LEVELS, MODERATE_OR_WORSE, PROBABILITY_COLUMNS, SEVERE, SIDES

N_GRADES = len(GRADES)
#: Clipping bound of the weighted log loss (as in the RSNA 2024 scorer).
LOG_LOSS_EPS = 1e-15
#: RSNA 2024 row weights by true merged class: normal/mild, moderate, severe.
RSNA_CLASS_WEIGHTS: tuple[float, float, float] = (1.0, 2.0, 4.0)
KAPPA_WEIGHTS = ("quadratic", "linear", None)

_KEYS = ["patient_id", "level", "side"]


# --- input checks ------------------------------------------------------------------------

def _grades(values, name: str) -> np.ndarray:
    """Integer grades 0-3 as int64; ValueError naming the first bad value."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind in "iub":
        out = array.astype(np.int64)
    else:
        try:
            numeric = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must hold integer grades {GRADES}") from None
        bad = ~np.isfinite(numeric) | (numeric != np.round(numeric))
        if bad.any():
            raise ValueError(f"{name} holds a non-integer grade {array[np.argmax(bad)]!r}")
        out = numeric.astype(np.int64)
    bad = (out < GRADES[0]) | (out > GRADES[-1])
    if bad.any():
        raise ValueError(f"{name} holds grade {out[np.argmax(bad)]}; expected one of {GRADES}")
    return out


def _weights(sample_weight, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(f"sample_weight has shape {weight.shape}, expected ({n},)")
    if not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    return weight


def _pair(y_true, y_pred):
    t = _grades(y_true, "y_true")
    p = _grades(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    return t, p


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


# --- confusion matrix and what follows from it --------------------------------------------

def confusion_matrix_4(y_true, y_pred, sample_weight=None) -> np.ndarray:
    """4x4 confusion matrix over grades 0-3, rows truth, columns prediction.

    ``C[i, j]`` is the (weighted) number of foramina of true grade ``i`` predicted ``j``.
    Integer counts (int64) without ``sample_weight``, float64 sums of weights with it.
    Equals ``sklearn.metrics.confusion_matrix(..., labels=[0, 1, 2, 3])``.
    """
    t, p = _pair(y_true, y_pred)
    flat = t * N_GRADES + p
    if sample_weight is None:
        counts = np.bincount(flat, minlength=N_GRADES * N_GRADES)
    else:
        counts = np.bincount(flat, weights=_weights(sample_weight, t.size), minlength=N_GRADES * N_GRADES)
    return counts.reshape(N_GRADES, N_GRADES)


def _disagreement_weights(weights, n_classes: int) -> np.ndarray:
    i, j = np.indices((n_classes, n_classes))
    if weights == "quadratic":
        return ((i - j) ** 2).astype(np.float64)
    if weights == "linear":
        return np.abs(i - j).astype(np.float64)
    if weights is None:
        return (i != j).astype(np.float64)
    raise ValueError(f"weights must be one of {KAPPA_WEIGHTS}, got {weights!r}")


def kappa_from_confusion(confusion: np.ndarray, weights: str | None = "quadratic") -> float | None:
    """Cohen's kappa of a square confusion matrix: ``1 - sum(W*O) / sum(W*E)``.

    ``O`` is the matrix, ``E = outer(row sums, column sums) / total`` the agreement
    expected by chance, ``W`` the disagreement weights ``(i-j)^2`` (quadratic),
    ``|i-j|`` (linear) or ``i != j`` (None). Returns ``None`` for an empty matrix and
    ``1.0`` when the expected disagreement is zero (one grade, perfect agreement).
    """
    kappa = kappas_from_confusions(np.asarray(confusion)[None], weights)[0]
    return None if np.isnan(kappa) else float(kappa)


def kappas_from_confusions(confusions: np.ndarray, weights: str | None = "quadratic") -> np.ndarray:
    """:func:`kappa_from_confusion` of each of ``B`` square matrices ``(B, n, n)`` at once:
    float ``(B,)``, NaN for an empty matrix (the same floats, bit for bit, as one at a time)."""
    observed = np.asarray(confusions, dtype=np.float64)
    if observed.ndim != 3 or observed.shape[1] != observed.shape[2]:
        raise ValueError(f"confusions must be (B, n, n) square matrices, got shape {observed.shape}")
    total = observed.sum(axis=(1, 2))
    w = _disagreement_weights(weights, observed.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = observed.sum(axis=2)[:, :, None] * observed.sum(axis=1)[:, None, :] / total[:, None, None]
        expected_disagreement = (w * expected).sum(axis=(1, 2))
        observed_disagreement = (w * observed).sum(axis=(1, 2))
        kappa = 1.0 - observed_disagreement / expected_disagreement
    # zero expected disagreement only when truth and prediction are the same single class
    kappa = np.where(expected_disagreement <= 0, np.where(observed_disagreement <= 0, 1.0, 0.0), kappa)
    return np.where(total > 0, kappa, np.nan)


def unit_confusions(y_true, y_pred, row_units, n_units: int) -> np.ndarray:
    """Unweighted 4x4 confusion counts of each unit's rows: int64 ``(n_units, 4, 4)``.

    ``row_units`` gives each row's unit position (``0 <= u < n_units``). For unit
    multiplicities ``W (B, n_units)`` (bootstrap resamples), ``np.tensordot(W, C, 1)`` is
    each resample's :func:`confusion_matrix_4` with ``sample_weight = W[b][row_units]``.
    """
    t, p = _pair(y_true, y_pred)
    units = np.asarray(row_units, dtype=np.int64)
    if units.shape != t.shape:
        raise ValueError(f"row_units has shape {units.shape}, expected ({t.size},)")
    if units.size and (units.min() < 0 or units.max() >= n_units):
        raise ValueError(f"row_units must lie in 0..{n_units - 1}")
    flat = (units * N_GRADES + t) * N_GRADES + p
    counts = np.bincount(flat, minlength=n_units * N_GRADES * N_GRADES)
    return counts.reshape(n_units, N_GRADES, N_GRADES)


def weighted_kappas(unit_confusion: np.ndarray, unit_weights, weights: str | None = "quadratic") -> np.ndarray:
    """:func:`weighted_kappa` for many unit weightings at once (the bootstrap's kappa).

    ``unit_confusion`` from :func:`unit_confusions`; ``unit_weights`` non-negative integer
    multiplicities ``(B, n_units)``. Returns float ``(B,)``, NaN where the total weight is
    zero; equal, bit for bit, to ``weighted_kappa(..., sample_weight=unit_weights[b][row_units])``.
    """
    w = np.asarray(unit_weights)
    if w.dtype.kind not in "iub" or w.ndim != 2 or w.shape[1] != unit_confusion.shape[0]:
        raise ValueError(f"unit_weights must be integer (B, {unit_confusion.shape[0]}), got {w.dtype} {w.shape}")
    confusions = np.tensordot(w.astype(np.int64), unit_confusion.astype(np.int64), axes=1)  # exact integers
    return kappas_from_confusions(confusions, weights)


def weighted_kappa(y_true, y_pred, weights: str | None = "quadratic", sample_weight=None) -> float | None:
    """Cohen's kappa over the fixed grades 0-3 (quadratic, linear or unweighted).

    Equals ``sklearn.metrics.cohen_kappa_score(y_true, y_pred, labels=[0, 1, 2, 3],
    weights=weights, sample_weight=sample_weight)`` wherever that is defined; where
    sklearn gives NaN (one grade in both truth and prediction) this returns ``1.0``.
    ``None`` when the total weight is zero.
    """
    return kappa_from_confusion(confusion_matrix_4(y_true, y_pred, sample_weight), weights)


def accuracy(y_true, y_pred, sample_weight=None) -> float | None:
    """(Weighted) share of exactly right grades; ``None`` when the total weight is zero."""
    confusion = confusion_matrix_4(y_true, y_pred, sample_weight)
    return _ratio(np.trace(confusion), confusion.sum())


def _per_class_recall(confusion: np.ndarray) -> np.ndarray:
    support = confusion.sum(axis=1)
    present = support > 0
    return np.diag(confusion)[present] / support[present]


def balanced_accuracy(y_true, y_pred, sample_weight=None) -> float | None:
    """Mean recall over the grades present in the truth (== sklearn's balanced_accuracy_score)."""
    recall = _per_class_recall(confusion_matrix_4(y_true, y_pred, sample_weight))
    return float(recall.mean()) if recall.size else None


def _per_class_f1(confusion: np.ndarray) -> np.ndarray:
    """F1 = 2TP / (2TP + FP + FN) per grade; NaN where the grade is absent from both sides."""
    tp = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=1) + confusion.sum(axis=0)  # 2TP + FN + FP
    out = np.full(tp.shape, np.nan)
    np.divide(2 * tp, denominator, out=out, where=denominator > 0)
    return out


def macro_f1(y_true, y_pred, sample_weight=None) -> float | None:
    """Mean F1 over grades 0-3, leaving out grades absent from both truth and prediction.

    Equals ``f1_score(..., labels=[0, 1, 2, 3], average="macro", zero_division=np.nan)``.
    A grade that is predicted but never true (or true but never predicted) scores 0.
    """
    f1 = _per_class_f1(confusion_matrix_4(y_true, y_pred, sample_weight))
    f1 = f1[~np.isnan(f1)]
    return float(f1.mean()) if f1.size else None


def _binary_from_confusion(confusion: np.ndarray, threshold: int) -> dict[str, float | None]:
    tp = confusion[threshold:, threshold:].sum()
    fn = confusion[threshold:, :threshold].sum()
    fp = confusion[:threshold, threshold:].sum()
    tn = confusion[:threshold, :threshold].sum()
    binary = np.array([[tn, fp], [fn, tp]], dtype=np.float64)
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "kappa": kappa_from_confusion(binary, None),
    }


def binary_view(y_true, y_pred, threshold: int = MODERATE_OR_WORSE, sample_weight=None) -> dict[str, float | None]:
    """Grade >= ``threshold`` (default moderate-or-worse) as positive vs the rest.

    ``{"sensitivity", "specificity", "kappa"}``: sensitivity is ``None`` without true
    positives-class foramina, specificity ``None`` without negatives; kappa is the
    unweighted Cohen's kappa of the 2x2 table (``1.0`` when undefined, see module doc).
    """
    if threshold not in GRADES[1:]:
        raise ValueError(f"threshold must be one of {GRADES[1:]}, got {threshold!r}")
    return _binary_from_confusion(confusion_matrix_4(y_true, y_pred, sample_weight), threshold)


# --- probabilities ------------------------------------------------------------------------

def normalize_probabilities(proba) -> np.ndarray:
    """Rows of (n, 4) grade probabilities scaled to sum 1; ValueError on bad rows.

    Entries must be finite and non-negative and every row must have a positive sum.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != N_GRADES:
        raise ValueError(f"proba must have shape (n, {N_GRADES}), got {p.shape}")
    bad = ~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1)
    if bad.any():
        raise ValueError(f"proba row {int(np.argmax(bad))} holds a negative or non-finite value")
    sums = p.sum(axis=1)
    if (sums <= 0).any():
        raise ValueError(f"proba row {int(np.argmax(sums <= 0))} sums to zero")
    return p / sums[:, None]


def rsna_weighted_log_loss(y_true, proba, sample_weight=None) -> float | None:
    """Weighted log loss of the RSNA 2024 lumbar spine scorer's foraminal term.

    Grades 0 and 1 merge into normal/mild (``p_normal + p_mild``); rows are first
    normalized to sum 1, the true class's probability clipped to
    ``[1e-15, 1 - 1e-15]``; each row weighs 1, 2 or 4 for a true normal/mild, moderate
    or severe grade (times ``sample_weight``). ``loss = sum(w * -log p_true) / sum(w)``;
    ``None`` when the total weight is zero.
    """
    t = _grades(y_true, "y_true")
    p = normalize_probabilities(proba)
    if p.shape[0] != t.size:
        raise ValueError(f"y_true and proba differ in length: {t.size} vs {p.shape[0]}")
    merged = np.column_stack([p[:, 0] + p[:, 1], p[:, 2], p[:, 3]])
    merged_true = np.maximum(t - 1, 0)  # 0,1 -> 0; 2 -> 1; 3 -> 2
    p_true = np.clip(merged[np.arange(t.size), merged_true], LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    w = np.asarray(RSNA_CLASS_WEIGHTS)[merged_true] * _weights(sample_weight, t.size)
    return _ratio(float((w * -np.log(p_true)).sum()), float(w.sum()))


def roc_auc(y_binary, score, sample_weight=None) -> float | None:
    """Area under the ROC curve (ties count one half); ``None`` unless both classes have weight.

    Equals ``sklearn.metrics.roc_auc_score(y_binary, score, sample_weight=...)``.
    """
    y = np.asarray(y_binary).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("y_binary and score must be one-dimensional and of equal length")
    w = _weights(sample_weight, y.size)
    positive_total = w[y].sum()
    negative_total = w[~y].sum()
    if not (positive_total > 0 and negative_total > 0):
        return None
    unique, inverse = np.unique(s, return_inverse=True)
    positive = np.bincount(inverse, weights=w * y, minlength=unique.size)
    negative = np.bincount(inverse, weights=w * ~y, minlength=unique.size)
    negative_below = np.cumsum(negative) - negative
    area = (positive * (negative_below + 0.5 * negative)).sum()
    return float(area / (positive_total * negative_total))


def grading_aurocs(y_true, proba, sample_weight=None) -> dict[str, float | None]:
    """``{"auroc_severe", "auroc_moderate_plus"}`` from (n, 4) probabilities (normalized first).

    Severe vs rest scores ``p_severe``; moderate-or-worse vs rest scores
    ``p_moderate + p_severe``.
    """
    t = _grades(y_true, "y_true")
    p = normalize_probabilities(proba)
    if p.shape[0] != t.size:
        raise ValueError(f"y_true and proba differ in length: {t.size} vs {p.shape[0]}")
    return {
        "auroc_severe": roc_auc(t >= SEVERE, p[:, SEVERE], sample_weight),
        "auroc_moderate_plus": roc_auc(t >= MODERATE_OR_WORSE, p[:, MODERATE_OR_WORSE:].sum(axis=1), sample_weight),
    }


# --- all of it from arrays, and from tables -----------------------------------------------

def grading_metrics(y_true, y_pred, proba=None, sample_weight=None) -> dict:
    """The overall grading metrics of one set of foramina (no per-level/side breakdown).

    Keys: ``qwk, linear_kappa, accuracy, balanced_accuracy, macro_f1, confusion_matrix,
    moderate_or_worse, n`` and, with ``proba``, ``weighted_log_loss, auroc_severe,
    auroc_moderate_plus``. ``n`` is the number of rows (not the weight).
    """
    confusion = confusion_matrix_4(y_true, y_pred, sample_weight)
    recall = _per_class_recall(confusion)
    f1 = _per_class_f1(confusion)
    f1 = f1[~np.isnan(f1)]
    out = {
        "qwk": kappa_from_confusion(confusion, "quadratic"),
        "linear_kappa": kappa_from_confusion(confusion, "linear"),
        "accuracy": _ratio(np.trace(confusion), confusion.sum()),
        "balanced_accuracy": float(recall.mean()) if recall.size else None,
        "macro_f1": float(f1.mean()) if f1.size else None,
        "confusion_matrix": confusion.tolist(),
        "moderate_or_worse": _binary_from_confusion(confusion, MODERATE_OR_WORSE),
        "n": int(len(y_true)),
    }
    if proba is not None:
        out["weighted_log_loss"] = rsna_weighted_log_loss(y_true, proba, sample_weight)
        out.update(grading_aurocs(y_true, proba, sample_weight))
    return out


def align_grades(truth: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Truth rows joined to their predictions on (patient_id, level, side).

    Returns columns ``patient_id, level, side, severity_true, severity_pred`` (+ the
    probability columns when ``predictions`` has all four), sorted by patient, level
    and side in domain order. Prediction rows without a truth row are ignored; a truth
    row without a prediction, duplicate keys, or only some probability columns raise
    ValueError.
    """
    for name, table in (("truth", truth), ("predictions", predictions)):
        missing = [c for c in _KEYS + ["severity"] if c not in table.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {', '.join(missing)}")
        duplicated = table.duplicated(_KEYS)
        if duplicated.any():
            key = tuple(table.loc[duplicated.idxmax(), _KEYS])
            raise ValueError(f"{name} holds foramen {key} more than once")
    present = [c for c in PROBABILITY_COLUMNS if c in predictions.columns]
    if present and len(present) != len(PROBABILITY_COLUMNS):
        absent = [c for c in PROBABILITY_COLUMNS if c not in present]
        raise ValueError(f"predictions give {', '.join(present)} but not {', '.join(absent)}")
    columns = _KEYS + ["severity"] + present
    aligned = truth[_KEYS + ["severity"]].merge(
        predictions[columns], on=_KEYS, how="left", suffixes=("_true", "_pred"), indicator=True
    )
    unmatched = aligned["_merge"] == "left_only"
    if unmatched.any():
        key = tuple(aligned.loc[unmatched.idxmax(), _KEYS])
        raise ValueError(f"no prediction for foramen {key} (patient_id, level, side)")
    aligned = aligned.drop(columns="_merge")
    if present and aligned[present].isna().any().any():
        row = aligned[present].isna().any(axis=1).idxmax()
        raise ValueError(f"missing probability for foramen {tuple(aligned.loc[row, _KEYS])}")
    order = (
        aligned["patient_id"].astype(str),
        aligned["level"].map({level: i for i, level in enumerate(LEVELS)}),
        aligned["side"].map({side: i for i, side in enumerate(SIDES)}),
    )
    aligned = aligned.assign(_p=order[0], _l=order[1], _s=order[2])
    return aligned.sort_values(["_p", "_l", "_s"], kind="mergesort").drop(columns=["_p", "_l", "_s"]).reset_index(drop=True)


def _subset(y_true: np.ndarray, y_pred: np.ndarray, mask: np.ndarray) -> dict:
    confusion = confusion_matrix_4(y_true[mask], y_pred[mask])
    return {
        "qwk": kappa_from_confusion(confusion, "quadratic"),
        "accuracy": _ratio(np.trace(confusion), confusion.sum()),
        "n": int(mask.sum()),
    }


def evaluate_grading(truth: pd.DataFrame, predictions: pd.DataFrame) -> dict:
    """All grading metrics of a submission's grades table against the ground truth.

    ``truth``: ``patient_id, level, side, severity``; ``predictions``: the same plus
    optional ``p_normal, p_mild, p_moderate, p_severe``. Joined as in
    :func:`align_grades`. Returns the keys of :func:`grading_metrics` plus
    ``per_level`` and ``per_side`` (``{name: {"qwk", "accuracy", "n"}}`` for every
    level / side of the domain; ``None`` values where ``n`` is 0). JSON-ready, no NaN.
    """
    return evaluate_aligned_grades(align_grades(truth, predictions))


def evaluate_aligned_grades(aligned: pd.DataFrame) -> dict:
    """:func:`evaluate_grading` on a table already joined by :func:`align_grades`."""
    y_true = _grades(aligned["severity_true"].to_numpy(), "truth severity")
    y_pred = _grades(aligned["severity_pred"].to_numpy(), "predicted severity")
    has_proba = all(c in aligned.columns for c in PROBABILITY_COLUMNS)
    proba = aligned[list(PROBABILITY_COLUMNS)].to_numpy(dtype=np.float64) if has_proba else None
    out = grading_metrics(y_true, y_pred, proba)
    levels = aligned["level"].to_numpy()
    sides = aligned["side"].to_numpy()
    out["per_level"] = {level: _subset(y_true, y_pred, levels == level) for level in LEVELS}
    out["per_side"] = {side: _subset(y_true, y_pred, sides == side) for side in SIDES}
    return out


__all__: Sequence[str] = (
    "confusion_matrix_4", "kappa_from_confusion", "kappas_from_confusions", "unit_confusions", "weighted_kappas",
    "weighted_kappa", "accuracy", "balanced_accuracy",
    "macro_f1", "binary_view", "normalize_probabilities", "rsna_weighted_log_loss", "roc_auc",
    "grading_aurocs", "grading_metrics", "align_grades", "evaluate_grading", "evaluate_aligned_grades",
    "reliability_curves", "per_grade_metrics",
)


# --- calibration ---------------------------------------------------------------------------

def _reliability_bins(hit: np.ndarray, confidence: np.ndarray, n_bins: int) -> dict:
    """Uniform bins on [0, 1] as sklearn's ``calibration_curve``; empty bins left out."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges[1:-1], confidence, side="right")
    count = np.bincount(index, minlength=n_bins)
    total = np.bincount(index, weights=confidence, minlength=n_bins)
    hits = np.bincount(index, weights=hit.astype(np.float64), minlength=n_bins)
    keep = count > 0
    ece = float(np.abs(hits[keep] - total[keep]).sum() / len(hit)) if len(hit) else None
    return {"predicted": (total[keep] / count[keep]).tolist(), "observed": (hits[keep] / count[keep]).tolist(),
            "count": count[keep].astype(int).tolist(), "ece": ece}


def reliability_curves(y_true, proba, n_bins: int = 10) -> dict:
    """Reliability-diagram bins of grade probabilities (rows normalised to sum 1).

    ``"top_label"``: the probability of the most likely grade against how often that grade
    is the true one; ``"moderate_or_worse"``: ``p_moderate + p_severe`` against how often
    the truth is moderate or worse.  Each: per non-empty uniform bin the mean predicted
    probability, the observed frequency and the count (as sklearn's ``calibration_curve``),
    plus the expected calibration error ``ece`` (count-weighted mean gap; None if no rows).
    """
    t = _grades(y_true, "y_true")
    p = normalize_probabilities(proba)
    if len(p) != len(t):
        raise ValueError(f"y_true and proba differ in length: {t.size} vs {len(p)}")
    top = np.argmax(p, axis=1) if len(p) else np.zeros(0, np.int64)
    return {
        "top_label": _reliability_bins(top == t, p.max(axis=1) if len(p) else np.zeros(0), n_bins),
        "moderate_or_worse": _reliability_bins(t >= MODERATE_OR_WORSE, p[:, MODERATE_OR_WORSE:].sum(axis=1), n_bins),
    }


def per_grade_metrics(confusion) -> dict[str, dict[str, float | None]]:
    """Recall, precision and F1 of each grade from a 4x4 confusion matrix (rows truth).

    ``{grade name: {"recall", "precision", "f1"}}``; a ratio with a zero denominator is None
    (recall of a grade absent from the truth, precision of a grade never predicted, F1 of a
    grade absent from both).
    """
    from lssbench.domain import GRADE_NAMES

    c = np.asarray(confusion, dtype=np.float64)
    if c.shape != (N_GRADES, N_GRADES):
        raise ValueError(f"confusion must be {N_GRADES}x{N_GRADES}, got shape {c.shape}")
    truth, predicted, hit = c.sum(axis=1), c.sum(axis=0), np.diag(c)
    return {name: {"recall": _ratio(hit[g], truth[g]), "precision": _ratio(hit[g], predicted[g]),
                   "f1": _ratio(2 * hit[g], truth[g] + predicted[g])} for g, name in enumerate(GRADE_NAMES)}
