"""Segmentation metrics: Dice, HD, HD95, ASSD and NSD per case and class, and their summaries.

Conventions (docs/metrics.md has the full text and a worked example):

* Masks are 2-D arrays of class indices (``domain.SEGMENTATION_CLASSES``, 0-5), truth and
  prediction of one shape. ``spacing_mm = (row_mm, col_mm)``, DICOM PixelSpacing order;
  all distances are in millimetres.
* Surfaces and surface distances are medpy's (``lssbench.metrics.surface``): ``hd_mm`` equals
  ``medpy.metric.binary.hd``, ``hd95_pooled_mm`` equals ``medpy.metric.binary.hd95``,
  ``assd_mm`` equals ``medpy.metric.binary.assd(prediction, truth)``, ``dice`` equals
  ``medpy.metric.binary.dc``, to the last digit.
* ``hd95_mm`` is the Metrics Reloaded / MONAI / DeepMind definition: the larger of the two
  *directed* 95th percentiles, ``max(P95(pred->truth), P95(truth->pred))``. medpy's pooled
  variant (95th percentile of both directions pooled) is kept as ``hd95_pooled_mm``; it can
  hide a far-away false island that the directed maximum reports.
* ``nsd_2mm`` is the normalized surface Dice at a 2 mm tolerance (DeepMind, counted in
  surface pixels): ``(#pred surface px within tol of truth surface + #truth surface px
  within tol of pred surface) / (#pred surface px + #truth surface px)``, "within" meaning
  distance <= tolerance.
* Empty masks: both empty -> Dice 1, NSD 1, every distance 0, ``empty="both"``; only the
  truth empty -> ``empty="truth"``, only the prediction empty -> ``empty="prediction"``,
  both with Dice 0, NSD 0 and every distance equal to the image diagonal
  ``sqrt((H*row_mm)**2 + (W*col_mm)**2)``; otherwise ``empty=None``. No NaN or infinity
  is ever produced.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from lssbench.domain import (HEADLINE_SEGMENTATION_CLASSES, NUM_SEGMENTATION_CLASSES, SEGMENTATION_CLASSES,
                             SegmentationClass)
from lssbench.metrics.surface import (check_spacing, class_surface_distances, label_image, label_surfaces,
                                      surface_distances, union_box)

DEFAULT_NSD_TOLERANCE_MM = 2.0
#: Values of the ``"empty"`` field of a class result.
EMPTY_BOTH, EMPTY_TRUTH, EMPTY_PREDICTION = "both", "truth", "prediction"


def nsd_key(tolerance_mm: float = DEFAULT_NSD_TOLERANCE_MM) -> str:
    """Result key of the NSD at ``tolerance_mm``: ``2.0 -> "nsd_2mm"``, ``1.5 -> "nsd_1.5mm"``."""
    return f"nsd_{float(tolerance_mm):g}mm"


def image_diagonal_mm(shape: Sequence[int], spacing_mm=(1.0, 1.0)) -> float:
    """``sqrt((H*row_mm)**2 + (W*col_mm)**2)``: the distance given when one mask is empty."""
    spacing = check_spacing(spacing_mm)
    height, width = shape
    return float(math.hypot(height * spacing[0], width * spacing[1]))


def _checked(truth, prediction, spacing_mm, nsd_tolerance_mm):
    """Arrays, spacing, tolerance and NSD key of a metric call; ValueError on bad input."""
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth and prediction shapes differ: {truth.shape} != {prediction.shape}")
    if truth.ndim != 2:
        raise ValueError(f"masks must be 2-D, got shape {truth.shape}")
    tolerance = float(nsd_tolerance_mm)
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"nsd_tolerance_mm must be a finite number >= 0, got {nsd_tolerance_mm!r}")
    return truth, prediction, check_spacing(spacing_mm), tolerance, nsd_key(tolerance)


def binary_metrics(truth: np.ndarray, prediction: np.ndarray, spacing_mm=(1.0, 1.0),
                   nsd_tolerance_mm: float = DEFAULT_NSD_TOLERANCE_MM) -> dict:
    """All metrics of one 2-D binary truth/prediction pair; see the module docstring.

    Returns ``{"dice", "hd_mm", "hd95_mm", "hd95_pooled_mm", "assd_mm", nsd_key(tol), "empty"}``
    with Python floats (distances in mm) and ``empty`` one of ``None``, ``"both"``,
    ``"truth"``, ``"prediction"``. ValueError on different shapes or a bad spacing.
    """
    truth, prediction, spacing, tolerance, nsd_name = _checked(truth, prediction, spacing_mm, nsd_tolerance_mm)
    truth, prediction = truth.astype(bool, copy=False), prediction.astype(bool, copy=False)

    box = union_box(truth, prediction)
    n_truth = int(np.count_nonzero(truth[box])) if box else 0
    n_pred = int(np.count_nonzero(prediction[box])) if box else 0
    if n_truth == 0 or n_pred == 0:
        return _empty_result(n_truth == 0, n_pred == 0, truth.shape, spacing, nsd_name)
    truth, prediction = truth[box], prediction[box]

    dice = 2.0 * int(np.count_nonzero(truth & prediction)) / float(n_pred + n_truth)  # medpy's dc
    pred_to_truth, truth_to_pred = surface_distances(truth, prediction, spacing, crop=False)  # cropped above
    return _result(dice, pred_to_truth, truth_to_pred, tolerance, nsd_name)


def _result(dice: float, pred_to_truth: np.ndarray, truth_to_pred: np.ndarray, tolerance: float,
            nsd_name: str) -> dict:
    """The metrics of one class from its two directed surface-distance arrays."""
    pooled = np.hstack((pred_to_truth, truth_to_pred))  # medpy's order: (result, reference)
    within = int(np.count_nonzero(pooled <= tolerance))
    return {
        "dice": float(dice),
        "hd_mm": float(pooled.max()),
        "hd95_mm": max(percentile(pred_to_truth, 95), percentile(truth_to_pred, 95)),
        "hd95_pooled_mm": percentile(pooled, 95),
        "assd_mm": float(pooled.mean()),
        nsd_name: within / float(pooled.size),
        "empty": None,
    }


def percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (its default ``"linear"`` method) bit for bit, without its overhead.

    numpy's rule: virtual index ``h = (n - 1) * (q / 100)``, the order statistics ``a``, ``b``
    at ``floor(h)`` and the next index, ``g = h - floor(h)``, then ``a + (b - a) * g`` when
    ``g < 0.5`` and ``b - (b - a) * (1 - g)`` otherwise. ``values`` must be non-empty and
    NaN-free; the tests compare with ``np.percentile`` on random arrays.
    """
    n = values.size
    index = (n - 1) * (q / 100)
    lower = min(int(math.floor(index)), n - 1)
    upper = min(lower + 1, n - 1)
    ranked = np.partition(values, (lower, upper) if upper != lower else lower)
    a, b = ranked[lower], ranked[upper]
    gamma = index - lower
    difference = b - a
    return float(b - difference * (1 - gamma)) if gamma >= 0.5 else float(a + difference * gamma)


def _constant_result(dice: float, distance: float, nsd_name: str, empty: str) -> dict:
    return {"dice": dice, "hd_mm": distance, "hd95_mm": distance, "hd95_pooled_mm": distance,
            "assd_mm": distance, nsd_name: dice, "empty": empty}


def _resolve_classes(classes) -> tuple[SegmentationClass, ...]:
    by_name = {c.name: c for c in SEGMENTATION_CLASSES}
    resolved = []
    for item in classes:
        if isinstance(item, SegmentationClass):
            resolved.append(item)
        elif item in by_name:
            resolved.append(by_name[item])
        else:
            raise ValueError(f"unknown segmentation class {item!r}; expected one of {sorted(by_name)}")
    return tuple(resolved)


class PreparedTruth(NamedTuple):
    """What scoring a prediction needs of its ground-truth mask alone (:func:`prepare_truth`):
    worked out once when many predictions are scored against one truth. Read-only arrays."""

    surface: tuple[np.ndarray, np.ndarray, np.ndarray]  # label_surfaces(truth): rows, cols, classes
    counts: np.ndarray  # pixels of each class index, at least NUM_SEGMENTATION_CLASSES entries


def prepare_truth(truth: np.ndarray) -> PreparedTruth:
    """:class:`PreparedTruth` of a 2-D class-index mask (non-negative integers, or booleans)."""
    truth = np.asarray(truth)
    if truth.ndim != 2 or truth.size == 0 or not (np.issubdtype(truth.dtype, np.integer) or truth.dtype == bool):
        raise ValueError(f"a truth mask is a non-empty 2-D array of class indices, got shape {truth.shape}, "
                         f"dtype {truth.dtype}")
    truth = label_image(truth, "truth")
    n_labels = max(int(truth.max(initial=0)) + 1, NUM_SEGMENTATION_CLASSES)
    rows, cols, labels = label_surfaces(truth)
    # kept for the whole board: rows and columns in 32 bits (about half the memory of 64)
    prepared = PreparedTruth((rows.astype(np.int32), cols.astype(np.int32), labels), _pixel_counts(truth, n_labels))
    for array in (*prepared.surface, prepared.counts):
        array.flags.writeable = False
    return prepared


def case_metrics(truth: np.ndarray, prediction: np.ndarray, spacing_mm=(1.0, 1.0), *,
                 classes=SEGMENTATION_CLASSES, nsd_tolerance_mm: float = DEFAULT_NSD_TOLERANCE_MM,
                 prepared_truth: PreparedTruth | None = None) -> dict[str, dict]:
    """Metrics of every class of one case (one patient's middle-slice mask).

    ``truth`` and ``prediction`` are 2-D class-index masks (uint8, values 0-5) of one shape;
    ``spacing_mm = (row_mm, col_mm)``. ``classes`` are :class:`SegmentationClass` items or
    their names. Returns exactly ``{class_name: binary_metrics(truth == index, prediction == index)}``
    (computed from one surface pass over each image and one nearest-neighbour query for
    every class and both directions, not one per class),
    i.e. per class ``{"dice", "hd_mm", "hd95_mm", "hd95_pooled_mm", "assd_mm", "nsd_2mm",
    "empty"}`` (the NSD key follows :func:`nsd_key`). ValueError on a shape mismatch.
    ``prepared_truth``: :func:`prepare_truth` ``(truth)``, when known (the same numbers, sooner).
    """
    truth, prediction, spacing, tolerance, nsd_name = _checked(truth, prediction, spacing_mm, nsd_tolerance_mm)
    prediction = label_image(prediction, "prediction")
    wanted = _resolve_classes(classes)
    # one pass serves every class: one confusion count (pixel counts, overlaps) and one
    # surface-distance pass for every class in both directions
    truth_labels = len(prepared_truth.counts) if prepared_truth else int(truth.max(initial=0)) + 1
    n_labels = max(truth_labels, int(prediction.max(initial=0)) + 1, NUM_SEGMENTATION_CLASSES)
    n_truth, n_pred, overlap = _class_counts(truth, prediction, n_labels,
                                             prepared_truth.counts if prepared_truth else None)
    distances = class_surface_distances(truth, prediction, spacing, classes=[cls.index for cls in wanted],
                                        truth_surface=prepared_truth.surface if prepared_truth else None)
    results = {}
    for cls in wanted:
        c = cls.index
        if n_truth[c] == 0 or n_pred[c] == 0:
            results[cls.name] = _empty_result(n_truth[c] == 0, n_pred[c] == 0, truth.shape, spacing, nsd_name)
            continue
        dice = 2.0 * int(overlap[c]) / float(n_pred[c] + n_truth[c])  # medpy's dc
        results[cls.name] = _result(dice, *distances[c], tolerance, nsd_name)
    return results


#: Up to this many labels, class pixels are counted with one comparison per class (vectorised,
#: several times faster than a bincount over every pixel); beyond, with one confusion count.
_COMPARE_LABELS = 16


def _pixel_counts(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Pixels of each class index below ``n_labels`` (the indices of ``labels``)."""
    if n_labels <= _COMPARE_LABELS:
        return np.array([np.count_nonzero(labels == c) for c in range(n_labels)], dtype=np.int64)
    return np.bincount(labels.ravel(), minlength=n_labels)


def _class_counts(truth: np.ndarray, prediction: np.ndarray, n_labels: int, truth_counts: np.ndarray | None = None):
    """Pixels of each class in the truth, in the prediction, and in both.

    With the truth's counts known, only the pixels where the masks differ are counted (a
    fair prediction differs on a few percent of them): what the truth loses and the
    prediction gains there."""
    if truth_counts is not None:
        differ = np.flatnonzero(truth.ravel() != prediction.ravel())
        if len(differ) <= truth.size // 4:
            n_truth = np.zeros(n_labels, dtype=np.int64)
            n_truth[:len(truth_counts)] = truth_counts
            overlap = n_truth - np.bincount(truth.ravel()[differ], minlength=n_labels)
            return n_truth, overlap + np.bincount(prediction.ravel()[differ], minlength=n_labels), overlap
    if n_labels <= _COMPARE_LABELS:
        same = truth == prediction
        counts = np.array([[np.count_nonzero(truth == c), np.count_nonzero(prediction == c),
                            np.count_nonzero(same & (truth == c))] for c in range(n_labels)], dtype=np.int64)
        return counts[:, 0], counts[:, 1], counts[:, 2]
    code = truth.astype(np.intp) * n_labels + prediction
    confusion = np.bincount(code.ravel(), minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    return confusion.sum(axis=1), confusion.sum(axis=0), np.diagonal(confusion)


def _empty_result(truth_empty: bool, prediction_empty: bool, shape, spacing, nsd_name: str) -> dict:
    """Both empty: perfect; one empty: Dice 0 and every distance the image diagonal."""
    if truth_empty and prediction_empty:
        return _constant_result(1.0, 0.0, nsd_name, EMPTY_BOTH)
    return _constant_result(0.0, image_diagonal_mm(shape, spacing), nsd_name,
                            EMPTY_TRUTH if truth_empty else EMPTY_PREDICTION)


def _check_weights(case_weights, n_cases: int) -> np.ndarray:
    if case_weights is None:
        return np.ones(n_cases, dtype=np.float64)
    weights = np.asarray(case_weights, dtype=np.float64)
    if weights.ndim != 1 or weights.size != n_cases:
        raise ValueError(f"case_weights must hold one weight per case ({n_cases}), got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("case_weights must be finite and >= 0")
    if weights.sum() <= 0:
        raise ValueError("case_weights are all zero")
    return weights


def _class_order(per_case: Mapping[str, Mapping]) -> list[str]:
    names = {name for classes in per_case.values() for name in classes}
    known = [c.name for c in SEGMENTATION_CLASSES if c.name in names]
    return known + sorted(names - set(known))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Median of ``values`` with each repeated ``weights`` times (integer multiplicities).

    Equals ``np.median(np.repeat(values, weights))`` without building the repeated array.
    """
    counts = np.rint(weights).astype(np.int64)
    order = np.argsort(values, kind="stable")
    ranked, cumulative = values[order], np.cumsum(counts[order])
    n = int(cumulative[-1])
    upper = ranked[np.searchsorted(cumulative, n // 2, side="right")]
    if n % 2:
        return float(upper)
    lower = ranked[np.searchsorted(cumulative, n // 2 - 1, side="right")]
    return float((lower + upper) / 2)


def summarize_cases(per_case: Mapping[str, Mapping[str, Mapping]], case_weights=None) -> dict:
    """Per-class means/medians over cases and the headline numbers.

    ``per_case`` maps case (patient) IDs to :func:`case_metrics` results. ``case_weights``
    (optional) gives one non-negative integer multiplicity per case **in sorted case-ID
    order** (``sorted(per_case)``), as drawn by a patient bootstrap; ``None`` weighs every
    case once. Returns::

        {"mean_dice", "mean_hd95_mm",
         "per_class": {class_name: {"dice", "dice_median", "hd_mm", "hd95_mm", "hd95_median_mm",
                                    "hd95_pooled_mm", "assd_mm", "nsd_2mm", "n_cases",
                                    "n_empty_truth", "n_empty_prediction", "n_empty_both"}}}

    Per-class values are (weighted) means over the cases holding the class, medians where
    named so; ``n_*`` count cases with their multiplicity. ``mean_dice`` / ``mean_hd95_mm``
    are the unweighted means over ``domain.HEADLINE_SEGMENTATION_CLASSES`` (all but
    ``anterior``) of the per-class means (``None`` when no headline class is present).
    ValueError when there are no cases or the weights are invalid.
    """
    case_ids = sorted(per_case)
    if not case_ids:
        raise ValueError("no cases to summarize")
    weights = _check_weights(case_weights, len(case_ids))
    per_class: dict[str, dict] = {}
    for name in _class_order(per_case):
        rows = [(w, per_case[cid][name]) for cid, w in zip(case_ids, weights) if name in per_case[cid]]
        w = np.array([row[0] for row in rows], dtype=np.float64)
        total = float(w.sum())
        if total <= 0:
            continue
        results = [row[1] for row in rows]
        keys = [key for key, value in results[0].items() if key != "empty" and not isinstance(value, (str, type(None)))]
        table = np.array([[r[key] for key in keys] for r in results], dtype=np.float64).reshape(len(results), len(keys))
        means = (w @ table) / total
        summary = {key: float(mean) for key, mean in zip(keys, means)}
        summary["dice_median"] = _weighted_median(table[:, keys.index("dice")], w)
        summary["hd95_median_mm"] = _weighted_median(table[:, keys.index("hd95_mm")], w)
        summary["n_cases"] = int(round(total))
        empties = np.array([r.get("empty") or "" for r in results])
        for kind in (EMPTY_TRUTH, EMPTY_PREDICTION, EMPTY_BOTH):
            summary[f"n_empty_{kind}"] = int(round(float(w[empties == kind].sum())))
        per_class[name] = summary
    headline = [name for name in HEADLINE_SEGMENTATION_CLASSES if name in per_class]

    def mean_over_headline(key):
        return float(np.mean([per_class[name][key] for name in headline])) if headline else None

    return {"mean_dice": mean_over_headline("dice"), "mean_hd95_mm": mean_over_headline("hd95_mm"),
            "per_class": per_class}


def headline_arrays(per_case: Mapping[str, Mapping[str, Mapping]],
                    classes: Sequence[str] = HEADLINE_SEGMENTATION_CLASSES):
    """Case-by-class tables of Dice and HD95 for a cheap weighted (bootstrap) headline.

    Returns ``(case_ids, dice, hd95)``: ``case_ids`` sorted, ``dice`` and ``hd95_mm`` float
    arrays of shape ``(n_cases, len(classes))``. Every case must hold every class
    (ValueError otherwise) -- then :func:`headline_from_weights` equals
    :func:`summarize_cases` with the same weights.
    """
    case_ids = sorted(per_case)
    if not case_ids:
        raise ValueError("no cases")
    missing = [(cid, name) for cid in case_ids for name in classes if name not in per_case[cid]]
    if missing:
        raise ValueError(f"case {missing[0][0]!r} lacks class {missing[0][1]!r}")
    dice = np.array([[per_case[cid][name]["dice"] for name in classes] for cid in case_ids], dtype=np.float64)
    hd95 = np.array([[per_case[cid][name]["hd95_mm"] for name in classes] for cid in case_ids], dtype=np.float64)
    return case_ids, dice.reshape(len(case_ids), len(classes)), hd95.reshape(len(case_ids), len(classes))


def headline_from_weights(dice: np.ndarray, hd95: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray]:
    """Headline ``(mean_dice, mean_hd95_mm)`` for one weight vector ``(n_cases,)`` or many ``(B, n_cases)``.

    Weights are case multiplicities in :func:`headline_arrays` (sorted case-ID) order. The
    result is the mean over classes of the weighted per-class means, as in
    :func:`summarize_cases`; returns scalars (0-d arrays) for 1-D weights, ``(B,)`` arrays
    for 2-D weights.
    """
    w = np.asarray(weights, dtype=np.float64)
    totals = w.sum(axis=-1)
    if np.any(totals <= 0) or np.any(w < 0):
        raise ValueError("every weight vector needs non-negative weights with a positive sum")
    per_class_dice = (w @ dice) / totals[..., None]
    per_class_hd95 = (w @ hd95) / totals[..., None]
    return per_class_dice.mean(axis=-1), per_class_hd95.mean(axis=-1)
