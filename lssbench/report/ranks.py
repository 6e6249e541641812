"""What the tables print about ranks: the board shown (all patients, public or private), tie marks
(``=2``), rank intervals (``1-3``) and the tied-with-first mark. Plain text; each dialect escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lssbench.domain import HEADLINES

#: Marks an entry statistically tied with the first of a task (its paired CI of the difference covers 0).
TIED_MARK = "\u2020"  # dagger


@dataclass
class Row:
    """One entry as a table shows it: values, CIs and rank fields of the board shown."""

    entry: dict
    values: dict  # headline name -> value
    ci95: dict  # headline name -> [lo, hi] or None
    figures: dict  # ranks, rank_ci95, p_first, tied_with_first, overall_rank, superseded_by


def shown_board(board: dict) -> str:
    """``"all"`` (every test patient), ``"public"`` or ``"private"`` (with ``--final``)."""
    return board.get("shown", "all")


def _all_patients_values(entry: dict) -> tuple[dict, dict]:
    results = entry.get("results") or {}
    values = {h.name: (results.get(h.task) or {}).get(h.key) for h in HEADLINES}
    return values, dict(results.get("ci95") or {})


def view_rows(board: dict) -> list[Row]:
    """The entries in the order of the board shown, with that board's numbers.

    For a public or private board the values, CIs and ranks are the part's own (the
    all-patient scores are not shown, so the page never leaks the private ranking).
    """
    shown = shown_board(board)
    entries = board["entries"]
    if shown == "all":
        rows = []
        for entry in entries:
            values, cis = _all_patients_values(entry)
            rows.append(Row(entry, values, cis, entry))
        return rows
    part = board["boards"][shown]
    by_name = {e["name"]: e for e in entries}
    return [Row(by_name[p["name"]], dict(p.get("headlines") or {}), dict(p.get("ci95") or {}), p)
            for p in part["entries"]]


def rank_text(rank, ranks_in_column) -> str:
    """``"2"``, ``"=2"`` when another entry shares it, ``""`` for no rank."""
    if rank is None:
        return ""
    return f"={rank}" if list(ranks_in_column).count(rank) > 1 else str(rank)


def task_rank_text(figures: dict, task: str, column_ranks) -> str:
    """``"=1 (1-2)\u2020"``: the rank (tie mark), its 95 % bootstrap interval, the tied-with-first mark."""
    rank = (figures.get("ranks") or {}).get(task)
    if rank is None:
        return "-"
    text = rank_text(rank, column_ranks)
    interval = (figures.get("rank_ci95") or {}).get(task)
    if interval:
        text += f" ({interval[0]}-{interval[1]})" if interval[0] != interval[1] else f" ({interval[0]})"
    if (figures.get("tied_with_first") or {}).get(task) and rank != 1:
        text += TIED_MARK
    return text


def shown_stability(board: dict) -> dict:
    """``{task: {"kendall_tau", "kendall_tau_ci95"} | None}`` of the board shown."""
    shown = shown_board(board)
    return (board.get("stability") if shown == "all" else board["boards"][shown].get("stability")) or {}


def stability_text(board: dict) -> str:
    """``"rank stability (Kendall tau-b ...): detection 0.87 [0.67, 1.00]; ..."`` or ``""``."""
    stability = shown_stability(board)
    parts = []
    for task, found in (stability or {}).items():
        if found:
            ci = found.get("kendall_tau_ci95")
            parts.append(f"{task} {found['kendall_tau']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""))
    if not parts:
        return ""
    return ("rank stability (mean Kendall tau-b of the bootstrap rankings with the board's, 95% interval): "
            + "; ".join(parts))


def legend(board: dict) -> str:
    """What the rank marks mean, and which board is shown."""
    shown = shown_board(board)
    if shown == "all":
        which = "all test patients"
    elif shown == "public":
        which = (f"the public board ({len(board['boards']['public']['patients'])} of the test patients; "
                 "the private ranking is not shown)")
    else:
        which = f"the private board ({len(board['boards']['private']['patients'])} test patients, final)"
    ranking = board.get("ranking") or {}
    overall = (f"Overall: the rank in {ranking['rank_by']} alone." if ranking.get("rank_by") else
               "Overall: by the mean of the task ranks, a task not submitted counted as (entries ranked in it + 1).")
    if not (board.get("bootstrap") or {}).get("resamples"):  # --bootstrap 0: no intervals, no ties tested
        return f"Scores and ranks on {which}. Rank per task: =n shares the rank (no bootstrap). {overall}"
    return (f"Scores and ranks on {which}. Rank per task: =n shares the rank; (lo-hi) its 95% "
            f"bootstrap interval; {TIED_MARK} statistically tied with the first (the paired 95% CI of the "
            f"difference covers 0). {overall}")
