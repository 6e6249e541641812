"""Ranking scored entries: competition ranks, rank-then-aggregate, and what the paired
patient bootstrap says about them. Pure functions: numbers in, numbers out, no file I/O.

Conventions (docs/results.md, "How the board ranks"):

* **Per task**: competition rank ("1224") on the task's headline among the entries that
  submitted the task: 1 + the number of strictly better values; equal values share a
  rank. An undefined headline (``None``/NaN) ranks behind every number, tied with the
  other undefined ones.
* **Overall**: rank-then-aggregate. An entry's score is the mean of its per-task ranks
  over the tasks anyone submitted, where a task it did not submit counts as
  (entries ranked in that task + 1): a missing task is never better than a submitted
  one. Lower mean is better; the overall rank is the competition rank of the means
  (ties share). ``rank_by=TASK`` ranks by that task alone (entries without it: ``None``).
* **Uncertainty** (paired bootstrap: every entry's headline on the same patient
  resamples, a ``(B, n)`` array): per resample, the competition ranks of the entries.
  ``rank_ci95`` = [lower, higher] empirical quantiles at 2.5 % / 97.5 % of an entry's
  bootstrap ranks (numpy's ``"lower"`` and ``"higher"`` methods, so both are ranks that
  occurred); ``p_first`` = the share of resamples in which the entry ranks first, a
  resample's first place split evenly among the entries tied on it (so ``p_first``
  sums to 1 over the ranked entries); ``tied_with_first`` = the entry is a point leader
  (rank 1), or the 95 % percentile CI of the paired difference (leader - entry) covers
  0 for some point leader. A resample where every entry's headline is undefined is
  skipped; undefined values in a resample rank last in it.
* **Stability**: Kendall's tau-b between each resample's ranking and the point ranking
  (over the ranked entries), its mean and 95 % percentile interval; ``None`` with fewer
  than 2 ranked entries or when every resample's tau is undefined (all tied).
* **Public / private**: a patient is public when ``sha256("lssbench-public-v1:" +
  patient_id)`` read as a big-endian integer, modulo 10 000, is below
  ``round(share * 10 000)``; the rest are private. Like the split rule, it depends on the
  patient ID alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy.stats import rankdata

from lssbench.metrics.bootstrap import percentile_ci, percentile_cis
from lssbench.problems import UsageError
from lssbench.splits import _patient_hash

RANK_CONFIDENCE = 0.95
PUBLIC_SALT = "lssbench-public-v1:"
PUBLIC_BUCKETS = 10_000


# --- point ranks ------------------------------------------------------------------------------
def _keys(values, higher_is_better: bool) -> np.ndarray:
    """Sort keys where smaller is better and undefined (None/NaN) is worst (+inf)."""
    if isinstance(values, np.ndarray):
        array = values.astype(np.float64)
    else:
        array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    keys = -array if higher_is_better else array
    keys[np.isnan(keys)] = np.inf
    return keys


def competition_ranks(values, higher_is_better: bool = True) -> np.ndarray:
    """Competition ranks (1, 2, 2, 4) of ``values`` along the last axis; None/NaN rank last, tied.

    ``values``: a sequence (one ranking) or a ``(B, n)`` array (one ranking per row).
    Returns int64 of the same shape.
    """
    keys = _keys(values, higher_is_better)
    if keys.size == 0:
        return keys.astype(np.int64)
    return rankdata(keys, method="min", axis=-1).astype(np.int64)


def overall_ranks(task_ranks: Mapping[str, Sequence[int | None]], rank_by: str | None = None) -> list[int | None]:
    """Overall ranks from per-task ranks ``{task: [rank or None per entry]}`` (same entry order).

    Rank-then-aggregate (see the module doc): a missing task counts as (ranked in it + 1);
    an entry ranked in no task gets ``None``; ties share. With ``rank_by`` the overall rank
    is that task's rank.
    """
    if rank_by is not None:
        if rank_by not in task_ranks:
            raise UsageError(f"cannot rank by {rank_by!r}: the tasks are {', '.join(task_ranks)}")
        return [None if r is None else int(r) for r in task_ranks[rank_by]]
    columns = [list(ranks) for ranks in task_ranks.values() if any(r is not None for r in ranks)]
    if not columns:
        return [None] * (len(next(iter(task_ranks.values()), [])))
    n = len(columns[0])
    totals: list[float | None] = []
    for i in range(n):
        if all(column[i] is None for column in columns):
            totals.append(None)
            continue
        # sums of integers: comparing sums is comparing means (every entry has the same tasks), exactly
        totals.append(sum(column[i] if column[i] is not None else sum(r is not None for r in column) + 1
                          for column in columns))
    ranked = [i for i, total in enumerate(totals) if total is not None]
    ranks = competition_ranks([totals[i] for i in ranked], higher_is_better=False)
    result: list[int | None] = [None] * n
    for i, rank in zip(ranked, ranks):
        result[i] = int(rank)
    return result


def mean_ranks(task_ranks: Mapping[str, Sequence[int | None]]) -> list[float | None]:
    """The aggregated score behind :func:`overall_ranks`: mean per-task rank, missing = ranked + 1."""
    columns = [list(ranks) for ranks in task_ranks.values() if any(r is not None for r in ranks)]
    n = len(next(iter(task_ranks.values()), []))
    out: list[float | None] = []
    for i in range(n):
        if not columns or all(column[i] is None for column in columns):
            out.append(None)
            continue
        filled = [column[i] if column[i] is not None else sum(r is not None for r in column) + 1
                  for column in columns]
        out.append(sum(filled) / len(filled))
    return out


# --- the paired bootstrap -----------------------------------------------------------------
@dataclass
class TaskUncertainty:
    """Per-entry rank uncertainty of one task (lists in entry order) and the task's stability."""

    rank_ci95: list = field(default_factory=list)  # [lo, hi] or None
    p_first: list = field(default_factory=list)  # float or None
    tied_with_first: list = field(default_factory=list)  # bool or None
    stability: dict | None = None  # {"kendall_tau", "kendall_tau_ci95"} or None

    @classmethod
    def unknown(cls, n: int) -> "TaskUncertainty":
        return cls([None] * n, [None] * n, [None] * n, None)


def _valid_resamples(samples: np.ndarray) -> np.ndarray:
    """Rows where at least one entry's value is defined."""
    return samples[~np.all(np.isnan(samples), axis=1)]


def kendall_tau_b(reference, samples) -> np.ndarray:
    """Kendall's tau-b between ``reference`` (n,) and each row of ``samples`` (B, n).

    Computed from the signs of all pairwise differences: sum(sign_ref * sign_row) /
    sqrt(untied pairs of ref * untied pairs of row), which is tau-b with ties. NaN where a
    side is constant. Values are compared as given (pass ranks to get "undefined last").
    """
    reference = np.asarray(reference, dtype=np.float64)
    samples = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    n = reference.size
    i, j = np.triu_indices(n, k=1)
    sign_ref = np.sign(reference[j] - reference[i])
    ref_untied = float(np.sum(sign_ref != 0))
    taus = np.empty(samples.shape[0], dtype=np.float64)
    step = max(1, 2_000_000 // max(1, i.size))  # bound the (rows, pairs) temporaries: 16 MB each
    for start in range(0, samples.shape[0], step):
        block = samples[start:start + step]
        signs = np.sign(block[:, j] - block[:, i])
        untied = np.sum(signs != 0, axis=1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            taus[start:start + step] = (signs @ sign_ref) / np.sqrt(ref_untied * untied)
    taus[~np.isfinite(taus)] = np.nan
    return taus


def stability(point, samples, higher_is_better: bool = True, confidence: float = RANK_CONFIDENCE) -> dict | None:
    """``{"kendall_tau": mean, "kendall_tau_ci95": [lo, hi] or None}`` of the resampled rankings."""
    point_ranks = competition_ranks(point, higher_is_better)
    if point_ranks.size < 2 or samples is None:
        return None
    valid = _valid_resamples(np.asarray(samples, dtype=np.float64))
    taus = kendall_tau_b(point_ranks, competition_ranks(valid, higher_is_better)) if valid.size else np.array([])
    finite = taus[np.isfinite(taus)]
    if finite.size == 0:
        return None
    ci = percentile_ci(taus, confidence)
    return {"kendall_tau": float(finite.mean()), "kendall_tau_ci95": list(ci) if ci else None}


def rank_uncertainty(point, samples, higher_is_better: bool = True,
                     confidence: float = RANK_CONFIDENCE) -> TaskUncertainty:
    """Rank intervals, ``p_first``, ``tied_with_first`` and stability of one task.

    ``point``: the entries' headline values (n,); ``samples``: their values on the same
    resamples, ``(B, n)`` with NaN where undefined, or ``None`` (no bootstrap: all unknown).
    """
    point = np.array([np.nan if v is None else v for v in point], dtype=np.float64)
    n = point.size
    if samples is None or n == 0:
        return TaskUncertainty.unknown(n)
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, n)
    valid = _valid_resamples(samples)
    if valid.shape[0] == 0:
        return TaskUncertainty.unknown(n)
    ranks = competition_ranks(valid, higher_is_better)
    alpha = (1.0 - confidence) / 2.0
    lower = np.quantile(ranks, alpha, axis=0, method="lower")
    upper = np.quantile(ranks, 1.0 - alpha, axis=0, method="higher")
    rank_ci = [[int(lo), int(hi)] for lo, hi in zip(lower.tolist(), upper.tolist())]
    first = (ranks == 1).astype(np.float64)
    p_first = (first / first.sum(axis=1, keepdims=True)).mean(axis=0)
    point_ranks = competition_ranks(point, higher_is_better)
    leaders = np.flatnonzero(point_ranks == 1)
    sign = 1.0 if higher_is_better else -1.0
    # per leader, the interval of its lead over each entry: does it hold 0?
    verdicts = [[None if ci is None else bool(ci[0] <= 0.0 <= ci[1])
                 for ci in percentile_cis(sign * (samples[:, [leader]] - samples), confidence)] for leader in leaders]
    tied: list = []
    for k in range(n):
        known = [by_leader[k] for by_leader in verdicts if by_leader[k] is not None]
        tied.append(True if point_ranks[k] == 1 else (any(known) if known else None))
    return TaskUncertainty(rank_ci, [float(p) for p in p_first], tied,
                           stability(point, samples, higher_is_better, confidence))


# --- a whole board ------------------------------------------------------------------------
@dataclass
class TaskColumn:
    """One task's inputs: per entry (board order) the headline or ``MISSING`` when not submitted."""

    values: list  # float | None (undefined) per entry; entries without the task: see ``present``
    present: list  # bool per entry: did it submit (and is it ranked in) the task
    samples: np.ndarray | None = None  # (B, n_entries) per-resample values, or None
    higher_is_better: bool = True


@dataclass
class BoardRanking:
    """Everything the board prints about ranks, per entry (lists in entry order) and per task."""

    ranks: dict  # task -> [int | None]
    rank_ci95: dict
    p_first: dict
    tied_with_first: dict
    overall_rank: list
    mean_rank: list
    stability: dict  # task -> dict | None


def rank_board(columns: Mapping[str, TaskColumn], n_entries: int, *, rank_by: str | None = None,
               confidence: float = RANK_CONFIDENCE) -> BoardRanking:
    """Per-task ranks and their uncertainty over the entries present in each task, then the overall rank."""
    ranks, ci, p_first, tied, stab = {}, {}, {}, {}, {}
    for task, column in columns.items():
        members = [k for k in range(n_entries) if column.present[k]]
        ranks[task], ci[task], p_first[task], tied[task] = ([None] * n_entries for _ in range(4))
        stab[task] = None
        if not members:
            continue
        point = [column.values[k] for k in members]
        for k, rank in zip(members, competition_ranks(point, column.higher_is_better)):
            ranks[task][k] = int(rank)
        samples = None if column.samples is None else np.asarray(column.samples, dtype=np.float64)[:, members]
        found = rank_uncertainty(point, samples, column.higher_is_better, confidence)
        for position, k in enumerate(members):
            ci[task][k] = found.rank_ci95[position]
            p_first[task][k] = found.p_first[position]
            tied[task][k] = found.tied_with_first[position]
        stab[task] = found.stability
    return BoardRanking(ranks, ci, p_first, tied, overall_ranks(ranks, rank_by), mean_ranks(ranks), stab)


# --- public / private -----------------------------------------------------------------------
def public_bucket(patient_id: str) -> int:
    """The patient's bucket 0-9999 under the public/private rule (see the module doc)."""
    return _patient_hash(patient_id, PUBLIC_SALT) % PUBLIC_BUCKETS


def public_private(patients: Iterable[str], share: float) -> tuple[list[str], list[str]]:
    """``(public, private)`` sorted patient IDs for a public share ``0 < share < 1``.

    UsageError when the share is out of range or leaves one part empty.
    """
    if not 0.0 < float(share) < 1.0:
        raise UsageError(f"the public share must lie strictly between 0 and 1, got {share}")
    patients = sorted(set(patients))
    cut = round(float(share) * PUBLIC_BUCKETS)
    public = [pid for pid in patients if public_bucket(pid) < cut]
    private = [pid for pid in patients if public_bucket(pid) >= cut]
    for name, part in (("public", public), ("private", private)):
        if not part:
            raise UsageError(f"a public share of {share} leaves no {name} patient among the {len(patients)} "
                             "patients of the ground truth; choose another share")
    return public, private


# --- a board's entries (dicts as on the board, results with resamples) ----------------------------
def _headline_value(results: dict, headline, part: str | None):
    if part is None:
        return (results.get(headline.task) or {}).get(headline.key)
    return results["parts"][part]["headlines"].get(headline.name)


def _headline_resamples(results: dict, headline, part: str | None):
    holder = results if part is None else results["parts"][part]
    values = (holder.get("resamples") or {}).get(headline.name)
    return None if values is None else [np.nan if v is None else v for v in values]


def is_rankable(entry: Mapping) -> bool:
    """Valid submissions are ranked; reference rows, invalid or failed entries are not."""
    return entry.get("kind") == "submission" and entry.get("status") == "ok"


def duplicates(entries: Sequence[Mapping]) -> list[str | None]:
    """Per entry, the name of the first earlier valid submission with the same submission fingerprint."""
    first: dict[str, str] = {}
    out: list[str | None] = []
    for entry in entries:
        fingerprint = (entry.get("results") or {}).get("submission_fingerprint") if is_rankable(entry) else None
        out.append(first.get(fingerprint) if fingerprint else None)
        if fingerprint and fingerprint not in first:
            first[fingerprint] = entry["name"]
    return out


def team_of(entry: Mapping) -> str:
    """The team of an entry: meta.json's ``team`` (trimmed), else the upload name."""
    team = (entry.get("meta") or {}).get("team")
    return team.strip() if isinstance(team, str) and team.strip() else entry["name"]


def rank_entries(entries: Sequence[Mapping], *, part: str | None = None, rank_by: str | None = None,
                 ranked: Sequence[bool] | None = None, confidence: float = RANK_CONFIDENCE) -> BoardRanking:
    """:func:`rank_board` over board entries: the headlines of ``scoring.RANKING`` (of ``part``'s
    re-weighted scores when given), the entries where ``ranked`` (default :func:`is_rankable`).

    Per-resample values come from ``results["resamples"]`` (or the part's); when a ranked entry
    lacks them the task's uncertainty is unknown (``None``).
    """
    from lssbench.scoring import RANKING

    ranked = [is_rankable(e) for e in entries] if ranked is None else list(ranked)
    columns = {}
    for task, headline in RANKING.items():
        present = [bool(r and task in (e.get("results") or {}).get("tasks", ())) for e, r in zip(entries, ranked)]
        values = [_headline_value(e["results"], headline, part) if p else None for e, p in zip(entries, present)]
        rows = [_headline_resamples(e["results"], headline, part) if p else None for e, p in zip(entries, present)]
        samples = None
        needed = [row for row, p in zip(rows, present) if p]
        if needed and all(row is not None for row in needed) and len({len(row) for row in needed}) == 1:
            width = len(needed[0])
            samples = np.column_stack([np.asarray(row, dtype=np.float64) if row is not None
                                       else np.full(width, np.nan) for row in rows])
        columns[task] = TaskColumn(values, present, samples, headline.higher_is_better)
    return rank_board(columns, len(entries), rank_by=rank_by, confidence=confidence)


def best_per_team(entries: Sequence[Mapping], ranking: BoardRanking) -> list[str | None]:
    """Per entry, ``None`` if it is its team's best ranked entry (or unranked), else the best one's name.

    Best = the lowest overall rank, then the name; ``ranking`` is the board's ranking of all entries.
    """
    best: dict[str, int] = {}
    for k, entry in enumerate(entries):
        if ranking.overall_rank[k] is None:
            continue
        team = team_of(entry)
        current = best.get(team)
        if current is None or (ranking.overall_rank[k], entry["name"]) < (ranking.overall_rank[current],
                                                                          entries[current]["name"]):
            best[team] = k
    out: list[str | None] = []
    for k, entry in enumerate(entries):
        winner = best.get(team_of(entry)) if ranking.overall_rank[k] is not None else None
        out.append(None if winner is None or winner == k else entries[winner]["name"])
    return out


def entry_figures(ranking: BoardRanking, k: int) -> dict:
    """The rank fields of entry ``k`` as the board JSON holds them."""
    return {"ranks": {t: r[k] for t, r in ranking.ranks.items()},
            "rank_ci95": {t: r[k] for t, r in ranking.rank_ci95.items()},
            "p_first": {t: r[k] for t, r in ranking.p_first.items()},
            "tied_with_first": {t: r[k] for t, r in ranking.tied_with_first.items()},
            "overall_rank": ranking.overall_rank[k], "mean_rank": ranking.mean_rank[k]}


def _one_board(entries, part, rank_by, team_best, confidence):
    ranking = rank_entries(entries, part=part, rank_by=rank_by, confidence=confidence)
    superseded = [None] * len(entries)
    if team_best:  # each team's best on this board's own ranking, then only those are ranked
        superseded = best_per_team(entries, ranking)
        ranked = [is_rankable(e) and s is None for e, s in zip(entries, superseded)]
        ranking = rank_entries(entries, part=part, rank_by=rank_by, ranked=ranked, confidence=confidence)
    rows = [dict(entry_figures(ranking, k), superseded_by=superseded[k]) for k in range(len(entries))]
    return rows, ranking.stability


def rank_board_entries(entries: Sequence[Mapping], *, rank_by: str | None = None, team_best: bool = False,
                       parts: Sequence[str] = (), confidence: float = RANK_CONFIDENCE) -> dict:
    """Everything a board adds to its entries, in entry order.

    Returns ``{"entries": [{rank fields, "duplicate_of", "superseded_by"}], "stability": {task: ...},
    "parts": {part: {"entries": [{rank fields, "superseded_by"}], "stability": {...}}}}``. With
    ``team_best`` only each team's best entry (by that board's ranking) is ranked; the team's
    other entries are superseded by it.
    """
    rows, stab = _one_board(entries, None, rank_by, team_best, confidence)
    for row, duplicate in zip(rows, duplicates(entries)):
        row["duplicate_of"] = duplicate
    found = {"entries": rows, "stability": stab, "parts": {}}
    for part in parts:
        part_rows, part_stab = _one_board(entries, part, rank_by, team_best, confidence)
        found["parts"][part] = {"entries": part_rows, "stability": part_stab}
    return found
