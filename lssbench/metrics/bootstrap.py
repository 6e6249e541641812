"""Patient-level bootstrap: seeded resample multiplicities and percentile CIs.

Patients are the unit of independence: a resample draws ``n_units`` patients with
replacement, and every row (foramen, box, image, case) of a drawn patient counts as
many times as the patient was drawn. A resample is represented by its integer
multiplicity vector over units, which statistics take as weights -- so one set of
resamples serves every statistic (paired across metrics) and nothing is copied.

Conventions (see docs/metrics.md):

* :func:`bootstrap_counts` uses ``np.random.default_rng(seed)``, draws an
  ``(n_resamples, n_units)`` matrix of unit indices with ``rng.integers`` and counts
  them per row. Same arguments, same matrix, bit for bit, on every platform numpy
  supports.
* A statistic may return ``None`` or NaN for a resample (e.g. sensitivity when no
  positive patient was drawn); that resample is skipped for that statistic only. If
  fewer than half of the resamples are valid the CI is ``None``.
* A *vectorised* statistic (:data:`BatchStatistic`, :func:`batch_values`) takes the whole
  ``(n_resamples, n_units)`` multiplicity matrix at once and returns one float per
  resample (NaN where undefined): what lssbench's scoring uses. :func:`bootstrap_values`
  takes per-resample statistics (one weight vector per call) and is the simple reference.
* The CI is the percentile interval: the ``(1 - confidence) / 2`` and
  ``(1 + confidence) / 2`` quantiles of the valid values (numpy's default linear
  interpolation). Floats are returned unrounded.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
#: A CI needs at least this share of valid resamples.
MIN_VALID_SHARE = 0.5

Statistic = Callable[[np.ndarray], "float | None"]
#: A statistic of many resamples at once: int64 ``(B, n_units)`` -> float ``(B,)``, NaN where undefined.
BatchStatistic = Callable[[np.ndarray], np.ndarray]


def bootstrap_counts(n_units: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Multiplicities of ``n_units`` units in ``n_resamples`` resamples with replacement.

    Returns an int64 array of shape ``(n_resamples, n_units)`` whose rows sum to
    ``n_units``: entry ``[b, u]`` is how often unit ``u`` was drawn in resample ``b``.
    """
    if int(n_units) < 1:
        raise ValueError(f"n_units must be at least 1, got {n_units}")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    n_units, n_resamples = int(n_units), int(n_resamples)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, n_units, size=(n_resamples, n_units), dtype=np.int64)
    offsets = np.arange(n_resamples, dtype=np.int64)[:, None] * n_units
    counts = np.bincount((drawn + offsets).ravel(), minlength=n_resamples * n_units)
    return counts.reshape(n_resamples, n_units).astype(np.int64)


def subset_counts(n_units: int, members, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Multiplicities over all ``n_units`` units of resamples drawn from ``members`` only.

    ``members`` are unit positions (a subset, e.g. the public patients); each resample draws
    ``len(members)`` of them with replacement (:func:`bootstrap_counts` over the subset, same
    seed), and every unit outside the subset gets 0. With every unit a member this equals
    :func:`bootstrap_counts`. Returns int64 ``(n_resamples, n_units)``.
    """
    members = np.asarray(members, dtype=np.int64)
    if members.size and (members.min() < 0 or members.max() >= n_units or np.unique(members).size != members.size):
        raise ValueError("members must be distinct unit positions below n_units")
    sub = bootstrap_counts(members.size, n_resamples, seed)
    counts = np.zeros((sub.shape[0], int(n_units)), dtype=np.int64)
    counts[:, members] = sub
    return counts


def _value(result) -> float:
    if result is None:
        return math.nan
    value = float(result)
    return value if math.isfinite(value) else math.nan


def bootstrap_values(
    statistics: Mapping[str, Statistic],
    n_units: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Each statistic evaluated on every resample: ``{name: float array (n_resamples,)}``.

    Statistics are called with the resample's int64 multiplicity vector over units;
    ``None``/NaN/inf results are stored as NaN (``np.isnan(values).sum()`` counts the
    skipped resamples). All statistics see the same resamples.
    """
    return values_on_counts(statistics, bootstrap_counts(n_units, n_resamples, seed))


def values_on_counts(statistics: Mapping[str, Statistic], counts: np.ndarray) -> dict[str, np.ndarray]:
    """Each statistic on each row of a multiplicity matrix ``counts`` (``(B, n_units)``), NaN when
    undefined: the engine of :func:`bootstrap_values`, for resamples drawn otherwise
    (:func:`subset_counts`)."""
    values = {name: np.empty(counts.shape[0], dtype=np.float64) for name in statistics}
    for b, weights in enumerate(counts):
        for name, statistic in statistics.items():
            values[name][b] = _value(statistic(weights))
    return values


def batch_values(statistics: Mapping[str, BatchStatistic], counts: np.ndarray) -> dict[str, np.ndarray]:
    """Each vectorised statistic on a whole multiplicity matrix ``counts`` (``(B, n_units)``) at once.

    Returns ``{name: float array (B,)}`` with every non-finite value (undefined resample)
    stored as NaN, like :func:`values_on_counts` does for per-resample statistics.
    """
    counts = np.asarray(counts)
    values = {}
    for name, statistic in statistics.items():
        value = np.asarray(statistic(counts), dtype=np.float64)
        if value.shape != (counts.shape[0],):
            raise ValueError(f"statistic {name!r} returned shape {value.shape}, expected ({counts.shape[0]},)")
        values[name] = np.where(np.isfinite(value), value, np.nan)
    return values


def percentile_ci(values, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float] | None:
    """Percentile interval of the finite ``values``; ``None`` if fewer than half are finite."""
    _check_confidence(confidence)
    array = np.asarray(values, dtype=np.float64)
    valid = array[np.isfinite(array)]
    if valid.size == 0 or valid.size < MIN_VALID_SHARE * array.size:
        return None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(valid, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def percentile_cis(values, confidence: float = DEFAULT_CONFIDENCE) -> list[tuple[float, float] | None]:
    """:func:`percentile_ci` of each column of ``values (B, n)``, the columns with every value
    finite in one vectorised call (the same floats)."""
    _check_confidence(confidence)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"values must be 2-D (resamples, columns), got shape {array.shape}")
    complete = np.isfinite(array).all(axis=0) if array.shape[0] else np.zeros(array.shape[1], dtype=bool)
    cis: list = [None] * array.shape[1]
    if complete.any():
        alpha = (1.0 - confidence) / 2.0
        low, high = np.quantile(array[:, complete], [alpha, 1.0 - alpha], axis=0)
        for k, lo, hi in zip(np.flatnonzero(complete).tolist(), low.tolist(), high.tolist()):
            cis[k] = (lo, hi)
    for k in np.flatnonzero(~complete).tolist():
        cis[k] = percentile_ci(array[:, k], confidence)
    return cis


def bootstrap_cis(
    statistics: Mapping[str, Statistic],
    n_units: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, tuple[float, float] | None]:
    """Paired percentile CIs of several statistics over patient resamples.

    ``statistics`` maps a name to a function of the per-unit weight vector (int64
    multiplicities, length ``n_units``). Returns ``{name: (low, high)}``, or ``None``
    for a statistic valid on fewer than half of the resamples.
    """
    values = bootstrap_values(statistics, n_units, n_resamples, seed)
    return {name: percentile_ci(v, confidence) for name, v in values.items()}


def unit_index(row_units: Sequence, units: Sequence) -> np.ndarray:
    """Position in ``units`` of each row's unit (int64); ValueError naming an unknown unit."""
    position = {unit: i for i, unit in enumerate(units)}
    if len(position) != len(units):
        raise ValueError("units must be unique")
    try:
        return np.fromiter((position[u] for u in row_units), dtype=np.int64, count=len(row_units))
    except KeyError as error:
        raise ValueError(f"row unit {error.args[0]!r} is not among the resampled units") from None


def unit_weights_for(row_units: Sequence, units: Sequence, weights) -> np.ndarray:
    """Per-row weights from per-unit ``weights``: row ``r`` gets the weight of its unit.

    For repeated calls (the bootstrap), compute ``index = unit_index(row_units, units)``
    once and use ``weights[index]``.
    """
    weights = np.asarray(weights)
    if weights.shape != (len(units),):
        raise ValueError(f"weights has shape {weights.shape}, expected ({len(units)},)")
    return weights[unit_index(row_units, units)].astype(np.float64)
