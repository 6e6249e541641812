"""Leaderboard tables: console, Markdown, LaTeX (booktabs) and HTML, one row per method.

Rows follow the board shown (all patients, or the public / private board: see
:mod:`lssbench.report.ranks`) and start with the overall rank (``=2`` when shared). Each
headline is shown as ``mean [95% CI]`` (just the mean with ``--bootstrap 0``); the best
value of each column (by that metric's direction) is bold; each task's rank column reads
``=2 (1-3)†``: the rank, its 95 % bootstrap interval, and a dagger when the entry is
statistically tied with the first. Invalid and not-judged entries are listed under the
table. Names, meta.json text and problem messages come from untrusted submissions: every dialect escapes them with its function in
:mod:`lssbench.report.tables`, which starts from :func:`lssbench.report.text.clean_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lssbench.domain import HEADLINES
from lssbench.report.ranks import TIED_MARK, legend, rank_text, stability_text, task_rank_text, view_rows
from lssbench.report.tables import (console_escape, console_table, fmt_ci, latex_escape, latex_table, markdown_escape,
                                    markdown_table)


@dataclass(frozen=True)
class Dialect:
    """How one output format escapes text and marks the best value."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    tied: str = TIED_MARK  # how the tied-with-first mark is written


CONSOLE = Dialect(escape=console_escape, bold=lambda text: text + " *")
MARKDOWN = Dialect(escape=markdown_escape, bold=lambda text: f"**{text}**")
LATEX = Dialect(escape=latex_escape, bold=lambda text: rf"\textbf{{{text}}}", tied=r"$^\dagger$")


def _best(values: list, headline):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return max(values) if headline.higher_is_better else min(values)


def _method(entry: dict, figures: dict) -> str:
    meta = entry.get("meta") or {}
    team = meta.get("team")
    text = f"{entry['name']} ({team})" if team else entry["name"]
    if figures.get("superseded_by"):
        text += f" [superseded by {figures['superseded_by']}]"
    if entry.get("duplicate_of"):
        text += f" [duplicate of {entry['duplicate_of']}]"
    return text


def _cells(board: dict, dialect: Dialect) -> tuple[list[str], list[list[str]]]:
    rows_shown = [r for r in view_rows(board) if r.entry["status"] == "ok"]
    tasks = list((board.get("ranking") or {}).get("headlines") or {})
    headers = [dialect.escape(h) for h in ["rank", "method"] + [h.label for h in HEADLINES]
               + [f"{task} rank" for task in tasks]]
    overall = [r.figures.get("overall_rank") for r in rows_shown]
    ranked = [r for r in rows_shown if r.entry["kind"] == "submission"]  # references are never "best"
    best = {h.name: _best([r.values.get(h.name) for r in ranked], h) for h in HEADLINES}
    rows = []
    for row in rows_shown:  # the board's order: overall rank, references last
        cells = [rank_text(row.figures.get("overall_rank"), overall), dialect.escape(_method(row.entry, row.figures))]
        for headline in HEADLINES:
            value = row.values.get(headline.name)
            text = fmt_ci(value, row.ci95.get(headline.name))
            is_best = row.entry["kind"] == "submission" and value is not None and value == best[headline.name]
            cells.append(dialect.bold(text) if is_best else text)
        for task in tasks:
            column = [r.figures.get("ranks", {}).get(task) for r in rows_shown]
            cells.append(task_rank_text(row.figures, task, column).replace(TIED_MARK, dialect.tied))
        rows.append(cells)
    return headers, rows


def _not_ranked_line(entry: dict) -> str:
    problems = entry.get("problems") or ["no reason recorded"]
    if entry["status"] == "error":
        return f"{entry['name']}: not judged ({problems[0]})"
    count = f"{len(problems)} problem{'s' * (len(problems) != 1)}"
    return f"{entry['name']}: invalid ({count}; first: {problems[0]})"


def _invalid_lines(board: dict, dialect: Dialect) -> list[str]:
    """One line per entry that is not on the table: invalid, or not judged (status error)."""
    return [dialect.escape(_not_ranked_line(e)) for e in board["entries"] if e["status"] != "ok"]


def _caption(board: dict) -> str:
    resamples = board["bootstrap"]["resamples"]
    spread = (f"mean [95% bootstrap CI over patients, {resamples} resamples]" if resamples
              else "mean over patients (no bootstrap: --bootstrap 0)")
    ranking = board.get("ranking") or {}
    headlines = ranking.get("headlines") or {}
    text = (f"lssbench {board['lssbench_version']}, {board['split']} split, "
            f"ground truth {board['gt_fingerprint'][:19]}; {spread}; rank per task by "
            + ", ".join(f"{task} {key}" for task, key in headlines.items()))
    if ranking.get("rank_by"):
        text += f"; overall rank by {ranking['rank_by']} alone"
    if ranking.get("best_per_team"):
        text += "; only each team's best entry is ranked"
    if "shown" in board:
        text += ". " + legend(board)
    stability = stability_text(board)
    return text + (" " + stability[0].upper() + stability[1:] + "." if stability else "")


def board_markdown(board: dict) -> str:
    headers, rows = _cells(board, MARKDOWN)
    text = markdown_table(headers, rows, text_columns=2) + "\n" + _caption(board) + "\n"
    invalid = _invalid_lines(board, MARKDOWN)
    if invalid:
        text += "\nNot ranked (invalid or not judged):\n" + "".join(f"- {line}\n" for line in invalid)
    return text


def board_latex(board: dict) -> str:
    headers, rows = _cells(board, LATEX)
    caption = latex_escape(_caption(board)).replace(TIED_MARK, LATEX.tied)
    return latex_table(headers, rows, caption=caption, text_columns=2)


def board_html(board: dict) -> str:
    """The leaderboard page: one self-contained HTML file (see :mod:`lssbench.report.page`)."""
    from lssbench.report.page import render_board_page

    return render_board_page(board)


def board_console(board: dict) -> str:
    headers, rows = _cells(board, CONSOLE)
    lines = [console_table(headers, rows, text_columns=2), "", _caption(board) + "  (* best)"]
    lines += _invalid_lines(board, CONSOLE)
    return "\n".join(lines) + "\n"
