"""Patient-level bootstrap: determinism, pairing, skipped resamples, CIs around the estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lssbench.domain import GRADES
from lssbench.metrics.bootstrap import (
    bootstrap_cis,
    bootstrap_counts,
    bootstrap_values,
    percentile_ci,
    unit_index,
    unit_weights_for,
)
from lssbench.metrics.grading import accuracy, binary_view, weighted_kappa


def test_counts_shape_sums_and_determinism():
    counts = bootstrap_counts(37, n_resamples=200, seed=5)
    assert counts.shape == (200, 37) and counts.dtype == np.int64
    assert np.all(counts.sum(axis=1) == 37) and counts.min() >= 0
    np.testing.assert_array_equal(counts, bootstrap_counts(37, n_resamples=200, seed=5))
    assert not np.array_equal(counts, bootstrap_counts(37, n_resamples=200, seed=6))


def test_counts_are_the_documented_draws():
    rng = np.random.default_rng(11)
    drawn = rng.integers(0, 9, size=(4, 9), dtype=np.int64)
    expected = np.stack([np.bincount(row, minlength=9) for row in drawn])
    np.testing.assert_array_equal(bootstrap_counts(9, n_resamples=4, seed=11), expected)


def test_counts_refuse_empty():
    with pytest.raises(ValueError):
        bootstrap_counts(0)
    with pytest.raises(ValueError):
        bootstrap_counts(5, n_resamples=0)


def test_every_statistic_sees_the_same_resamples():
    seen: dict[str, list] = {"a": [], "b": []}

    def recorder(name):
        def statistic(w):
            seen[name].append(w.copy())
            return float(w[0])
        return statistic

    values = bootstrap_values({"a": recorder("a"), "b": recorder("b")}, 6, n_resamples=50, seed=1)
    np.testing.assert_array_equal(np.array(seen["a"]), np.array(seen["b"]))
    np.testing.assert_array_equal(np.array(seen["a"]), bootstrap_counts(6, 50, seed=1))
    np.testing.assert_array_equal(values["a"], values["b"])


def _grading_case(seed=0, n_patients=60):
    rng = np.random.default_rng(seed)
    rows_per_patient = rng.integers(3, 9, size=n_patients)
    patients = [f"PATIENT{100000 + k}" for k in range(n_patients)]
    row_units = np.repeat(patients, rows_per_patient)
    y_true = rng.choice(GRADES, size=row_units.size, p=[0.6, 0.2, 0.12, 0.08])
    y_pred = np.where(rng.random(row_units.size) < 0.75, y_true, np.clip(y_true + rng.choice([-1, 1], row_units.size), 0, 3))
    return patients, row_units, y_true, y_pred


def test_cis_deterministic_paired_and_contain_the_estimate():
    patients, row_units, y_true, y_pred = _grading_case()
    index = unit_index(row_units, patients)
    statistics = {
        "qwk": lambda w: weighted_kappa(y_true, y_pred, sample_weight=w[index]),
        "accuracy": lambda w: accuracy(y_true, y_pred, w[index]),
        "sensitivity": lambda w: binary_view(y_true, y_pred, sample_weight=w[index])["sensitivity"],
    }
    cis = bootstrap_cis(statistics, len(patients), n_resamples=300, seed=3)
    assert cis == bootstrap_cis(statistics, len(patients), n_resamples=300, seed=3)  # bit for bit
    assert cis != bootstrap_cis(statistics, len(patients), n_resamples=300, seed=4)
    point = {"qwk": weighted_kappa(y_true, y_pred), "accuracy": accuracy(y_true, y_pred),
             "sensitivity": binary_view(y_true, y_pred)["sensitivity"]}
    for name, (low, high) in cis.items():
        assert type(low) is float and type(high) is float
        assert low < point[name] < high
        assert high - low < 0.3


def test_all_ones_weights_reproduce_the_point_estimate():
    patients, row_units, y_true, y_pred = _grading_case(seed=1)
    ones = np.ones(len(patients), dtype=np.int64)
    row_w = unit_weights_for(row_units, patients, ones)
    assert weighted_kappa(y_true, y_pred, sample_weight=row_w) == weighted_kappa(y_true, y_pred)
    assert accuracy(y_true, y_pred, row_w) == accuracy(y_true, y_pred)


def test_none_and_nan_resamples_are_skipped_and_counted():
    # statistic undefined when unit 0 is not drawn (about (1-1/5)^5 = 33 % of resamples)
    def statistic(w):
        return None if w[0] == 0 else float(w[1])

    values = bootstrap_values({"s": statistic}, 5, n_resamples=400, seed=2)["s"]
    counts = bootstrap_counts(5, 400, seed=2)
    assert np.isnan(values).sum() == (counts[:, 0] == 0).sum() > 0
    ci = bootstrap_cis({"s": statistic}, 5, n_resamples=400, seed=2)["s"]
    assert ci == percentile_ci(values[~np.isnan(values)])

    # valid on fewer than half of the resamples -> None; NaN/inf count as invalid too
    assert bootstrap_cis({"s": lambda w: math.nan if w[0] < 2 else 1.0}, 5, 400, seed=2)["s"] is None
    assert bootstrap_cis({"s": lambda w: math.inf}, 5, 50)["s"] is None


def test_percentile_ci_values():
    values = np.arange(101, dtype=float)  # quantiles 2.5 and 97.5 by linear interpolation
    assert percentile_ci(values) == pytest.approx((2.5, 97.5), abs=1e-12)
    assert percentile_ci(values, confidence=0.9) == pytest.approx((5.0, 95.0), abs=1e-12)
    assert percentile_ci(np.append(values, [np.nan] * 100)) == pytest.approx((2.5, 97.5), abs=1e-12)  # exactly half valid: kept
    assert percentile_ci(np.append(values, [np.nan] * 102)) is None
    with pytest.raises(ValueError):
        percentile_ci(values, confidence=1.0)


def test_unit_weights_for_maps_rows_to_their_patient():
    weights = np.array([2, 0, 1])
    row_w = unit_weights_for(["P2", "P0", "P0", "P1"], ["P0", "P1", "P2"], weights)
    np.testing.assert_array_equal(row_w, [1.0, 2.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="P9"):
        unit_weights_for(["P9"], ["P0", "P1", "P2"], weights)
    with pytest.raises(ValueError, match="unique"):
        unit_index(["P0"], ["P0", "P0"])


def test_percentile_cis_equal_percentile_ci_column_by_column():
    from lssbench.metrics.bootstrap import percentile_cis

    rng = np.random.default_rng(5)
    values = rng.normal(size=(400, 9))
    values[:, 3] = np.round(values[:, 3])  # ties
    values[::3, 5] = np.nan  # a third undefined: still an interval
    values[::2, 6] = np.nan  # half undefined
    values[1::2, 7] = np.nan
    values[:300, 7] = np.nan  # mostly undefined: None
    values[:, 8] = np.nan
    for confidence in (0.95, 0.5):
        expected = [percentile_ci(values[:, k], confidence) for k in range(values.shape[1])]
        assert percentile_cis(values, confidence) == expected
        assert expected[7] is None and expected[8] is None and expected[5] is not None
    assert percentile_cis(np.zeros((0, 2))) == [None, None]
    with pytest.raises(ValueError, match="confidence"):
        percentile_cis(values, 1.5)
