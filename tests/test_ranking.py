"""Ranking rules and paired-bootstrap rank uncertainty, checked on hand-computed cases and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau

from lssbench.problems import UsageError
from lssbench.ranking import (TaskColumn, competition_ranks, kendall_tau_b, mean_ranks, overall_ranks,
                              public_bucket, public_private, rank_board, rank_uncertainty, stability)


def test_competition_ranks_share_ties_and_put_undefined_last():
    assert competition_ranks([0.9, 0.8, 0.9, 0.7]).tolist() == [1, 3, 1, 4]
    assert competition_ranks([0.5, None, 0.7, float("nan")]).tolist() == [2, 3, 1, 3]
    assert competition_ranks([3.0, 1.0, 2.0, 1.0], higher_is_better=False).tolist() == [4, 1, 3, 1]
    rows = np.array([[0.9, 0.8, 0.1], [0.9, 0.9, 0.2], [np.nan, 0.6, 0.3]])
    assert competition_ranks(rows).tolist() == [[1, 2, 3], [1, 1, 3], [3, 1, 2]]
    assert competition_ranks([]).tolist() == []


def test_a_missing_task_ranks_behind_a_submitted_one():
    # the case: "skip" has no detections, "zero" has AP50 0.000; equal grading
    ranks = {"detection": [1, None], "grading": [1, 1], "segmentation": [None, None]}
    assert overall_ranks(ranks) == [1, 2]
    assert mean_ranks(ranks) == [1.0, 1.5]  # missing detection counts as 1 ranked + 1 = 2


def test_overall_ranks_share_ties_and_rank_by_one_task():
    ranks = {"detection": [1, 2, 2, None], "grading": [2, 1, 3, 4], "segmentation": [None, None, None, None]}
    # sums: a 1+2=3, b 2+1=3, c 2+3=5, d (3+1)+4=8
    assert overall_ranks(ranks) == [1, 1, 3, 4]
    assert overall_ranks(ranks, rank_by="detection") == [1, 2, 2, None]
    assert overall_ranks({"detection": [None, 1]}) == [None, 1]
    with pytest.raises(UsageError, match="cannot rank by 'typo': the tasks are detection, grading"):
        overall_ranks({"detection": [1], "grading": [1]}, rank_by="typo")


# three entries on four resamples, worked by hand:
#   resample ranks [1,2,3] [1,1,3] [2,1,3] [1,2,3]
SAMPLES = np.array([[0.9, 0.8, 0.1], [0.9, 0.9, 0.2], [0.5, 0.6, 0.3], [0.9, 0.7, 0.4]])
POINT = [0.9, 0.8, 0.3]


def test_rank_uncertainty_by_hand():
    found = rank_uncertainty(POINT, SAMPLES)
    assert found.p_first == pytest.approx([2.5 / 4, 1.5 / 4, 0.0])  # the tie of resample 2 split evenly
    assert found.rank_ci95 == [[1, 2], [1, 2], [3, 3]]
    # leader - second: [0.1, 0, -0.1, 0.2] -> CI covers 0; leader - third: [0.8, 0.7, 0.2, 0.5] -> it does not
    assert found.tied_with_first == [True, True, False]
    tau_mean = (1 + 2 / math.sqrt(6) + 1 / 3 + 1) / 4
    assert found.stability["kendall_tau"] == pytest.approx(tau_mean)


def test_identical_entries_get_identical_figures_and_p_first_sums_to_one():
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.05, size=(200, 4))
    samples = np.column_stack([base, base[:, 1]])  # entry 4 is a copy of entry 1
    point = [0.5, 0.52, 0.49, 0.47, 0.52]
    found = rank_uncertainty(point, samples)
    assert found.rank_ci95[1] == found.rank_ci95[4]
    assert found.p_first[1] == found.p_first[4] and found.tied_with_first[1] == found.tied_with_first[4]
    assert sum(found.p_first) == pytest.approx(1.0)
    assert competition_ranks(point).tolist()[1] == competition_ranks(point).tolist()[4] == 1


def test_an_entry_best_on_every_resample_is_certain():
    samples = np.array([[0.9, 0.5, 0.4], [0.8, 0.7, 0.1], [0.95, 0.2, 0.3]])
    found = rank_uncertainty([0.9, 0.5, 0.3], samples)
    assert found.rank_ci95[0] == [1, 1] and found.p_first[0] == 1.0
    assert found.p_first[1:] == [0.0, 0.0]


def test_undefined_resamples_are_skipped_or_rank_last():
    samples = np.array([[np.nan, np.nan], [0.2, 0.1], [np.nan, 0.3]])
    found = rank_uncertainty([0.5, 0.4], samples)
    # row 0 skipped; row 1: [1, 2]; row 2: entry 0 undefined -> last
    assert found.p_first == [0.5, 0.5] and found.rank_ci95 == [[1, 2], [1, 2]]
    assert rank_uncertainty([0.5, 0.4], None).p_first == [None, None]
    assert rank_uncertainty([0.5], np.array([[0.1], [0.2]])).stability is None  # one entry: no ranking


def test_kendall_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(3)
    reference = np.array([1, 2, 2, 4, 5, 5, 7, 8], dtype=float)
    samples = rng.integers(0, 5, size=(50, reference.size)).astype(float)
    ours = kendall_tau_b(reference, samples)
    for row, tau in zip(samples, ours):
        expected = kendalltau(reference, row, variant="b").statistic
        if np.isnan(expected):
            assert np.isnan(tau)
        else:
            assert tau == pytest.approx(expected, abs=1e-12)
    assert np.isnan(kendall_tau_b(reference, np.ones((1, reference.size))))[0]


def test_stability_mean_and_interval_from_the_resampled_taus():
    rng = np.random.default_rng(5)
    point = np.linspace(0.4, 0.8, 6)
    samples = point + rng.normal(0, 0.08, size=(300, 6))
    found = stability(point, samples)
    taus = np.array([kendalltau(point, row).statistic for row in samples])
    assert found["kendall_tau"] == pytest.approx(taus.mean(), abs=1e-12)
    assert found["kendall_tau_ci95"] == pytest.approx(list(np.quantile(taus, [0.025, 0.975])), abs=1e-12)
    assert stability([0.5], samples[:, :1]) is None
    assert stability([0.5, 0.5], np.full((10, 2), 0.5)) is None  # every tau undefined


def test_rank_board_ranks_only_present_entries():
    column = TaskColumn(values=[0.9, None, 0.5], present=[True, False, True], samples=SAMPLES[:, [0, 1, 2]])
    board = rank_board({"detection": column, "grading": TaskColumn([0.3, 0.4, None], [True, True, False])}, 3)
    assert board.ranks == {"detection": [1, None, 2], "grading": [2, 1, None]}
    assert board.rank_ci95["detection"][1] is None and board.p_first["detection"][0] == 1.0
    assert board.p_first["grading"] == [None, None, None]  # no resamples given
    # b misses detection (2 ranked + 1 = 3), c misses grading (3): sums 1+2, 3+1, 2+3
    assert board.mean_rank == [1.5, 2.0, 2.5] and board.overall_rank == [1, 2, 3]


def test_public_private_rule():
    patients = [f"PATIENT{1000000 + k}" for k in range(400)]
    public, private = public_private(patients, 0.3)
    assert sorted(public + private) == sorted(patients) and not set(public) & set(private)
    assert 0.23 < len(public) / len(patients) < 0.37
    assert public_private(patients[:200], 0.3)[0] == [p for p in public if p in patients[:200]]  # moves no one
    import hashlib
    pid = patients[0]
    assert public_bucket(pid) == int.from_bytes(hashlib.sha256(b"lssbench-public-v1:" + pid.encode()).digest(),
                                                "big") % 10_000
    with pytest.raises(UsageError, match="strictly between 0 and 1, got 1.0"):
        public_private(patients, 1.0)
    with pytest.raises(UsageError, match="leaves no public patient among the 1 patients"):
        public_private([p for p in patients if public_bucket(p) >= 3000][:1], 0.3)


def _board_entry(name, fingerprint, ap50, resamples, team=None, kind="submission", status="ok"):
    results = {"tasks": ["detection"], "submission_fingerprint": fingerprint, "detection": {"AP50": ap50},
               "resamples": {"detection.AP50": resamples}}
    return {"name": name, "kind": kind, "status": status, "meta": {"team": team} if team else {},
            "results": results if status == "ok" else None}


def test_board_entries_duplicates_and_best_per_team():
    from lssbench.ranking import rank_board_entries

    entries = [_board_entry("a1", "sha256:a", 0.9, [0.9, 0.8, 0.7], team="A"),
               _board_entry("a2", "sha256:b", 0.5, [0.5, 0.6, 0.4], team="A"),
               _board_entry("copy", "sha256:a", 0.9, [0.9, 0.8, 0.7]),
               _board_entry("b", "sha256:c", 0.7, [0.7, 0.9, 0.2], team="B"),
               _board_entry("ref", "sha256:a", 0.0, [0.0, 0.0, 0.0], kind="reference"),
               _board_entry("bad", None, None, None, status="invalid")]
    found = rank_board_entries(entries)
    rows = found["entries"]
    assert [r["duplicate_of"] for r in rows] == [None, None, "a1", None, None, None]
    assert [r["ranks"]["detection"] for r in rows] == [1, 4, 1, 3, None, None]
    assert rows[0]["rank_ci95"] == rows[2]["rank_ci95"] and rows[0]["p_first"] == rows[2]["p_first"]
    # resample 2: b (0.9) first; resamples 1 and 3: a1 and copy tie -> half each
    assert rows[0]["p_first"]["detection"] == pytest.approx(1 / 3)
    assert rows[3]["p_first"]["detection"] == pytest.approx(1 / 3)
    assert [r["overall_rank"] for r in rows] == [1, 4, 1, 3, None, None]
    best = rank_board_entries(entries, team_best=True)["entries"]
    assert [r["superseded_by"] for r in best] == [None, "a1", None, None, None, None]
    assert [r["overall_rank"] for r in best] == [1, None, 1, 3, None, None]  # "copy" is its own team
    assert best[0]["p_first"]["detection"] == pytest.approx(1 / 3)
