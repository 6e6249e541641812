"""Leaderboard tables: console, Markdown, LaTeX (booktabs) and HTML, one row per method.

Each headline is shown as ``mean [95% CI]`` (just the mean with ``--bootstrap 0``); the
best value of each column (by that metric's direction) is bold. Invalid and not-judged
entries are listed under the table. Names, meta.json text and problem messages come from
untrusted submissions: every dialect escapes them with its function in
:mod:`lssbench.report.tables`, which starts from :func:`lssbench.report.text.clean_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lssbench.report.tables import (console_escape, console_table, fmt_ci, html_escape, html_table, latex_escape,
                                    latex_table, markdown_escape, markdown_table)


@dataclass(frozen=True)
class Dialect:
    """How one output format escapes text and marks the best value."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]


CONSOLE = Dialect(escape=console_escape, bold=lambda text: text + " *")
MARKDOWN = Dialect(escape=markdown_escape, bold=lambda text: f"**{text}**")
LATEX = Dialect(escape=latex_escape, bold=lambda text: rf"\textbf{{{text}}}")
HTML = Dialect(escape=html_escape, bold=lambda text: f"<strong>{text}</strong>")


def _headline_value(entry: dict, headline):
    results = entry.get("results") or {}
    return results.get(headline.task, {}).get(headline.key)


def _best(entries: list[dict], headline):
    values = [v for v in (_headline_value(e, headline) for e in entries) if v is not None]
    if not values:
        return None
    return max(values) if headline.higher_is_better else min(values)


def _method(entry: dict) -> str:
    meta = entry.get("meta") or {}
    team = meta.get("team")
    return f"{entry['name']} ({team})" if team else entry["name"]


def _cells(board: dict, dialect: Dialect) -> tuple[list[str], list[list[str]]]:
    from lssbench.scoring import HEADLINES  # lazy: scoring imports pandas and every metric
    valid = [e for e in board["entries"] if e["status"] == "ok"]
    headers = [dialect.escape(h) for h in ["#", "method"] + [h.label for h in HEADLINES]]
    rows = []
    for position, entry in enumerate(valid, start=1):  # the board's order: mean rank, references last
        row = [str(position) if entry["kind"] == "submission" else "", dialect.escape(_method(entry))]
        for headline in HEADLINES:
            value = _headline_value(entry, headline)
            ci = ((entry["results"] or {}).get("ci95") or {}).get(headline.name)
            text = fmt_ci(value, ci)
            row.append(dialect.bold(text) if value is not None and value == _best(valid, headline) else text)
        rows.append(row)
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
    return (f"lssbench {board['lssbench_version']}, {board['split']} split, "
            f"ground truth {board['gt_fingerprint'][:19]}; {spread}; rank per task by "
            + ", ".join(f"{task} {key}" for task, key in board["ranking"].items()))


def board_markdown(board: dict) -> str:
    headers, rows = _cells(board, MARKDOWN)
    text = markdown_table(headers, rows, text_columns=2) + "\n" + _caption(board) + "\n"
    invalid = _invalid_lines(board, MARKDOWN)
    if invalid:
        text += "\nNot ranked (invalid or not judged):\n" + "".join(f"- {line}\n" for line in invalid)
    return text


def board_latex(board: dict) -> str:
    headers, rows = _cells(board, LATEX)
    return latex_table(headers, rows, caption=latex_escape(_caption(board)), text_columns=2)


def board_html(board: dict) -> str:
    """A self-contained HTML page (no scripts, no external resources)."""
    headers, rows = _cells(board, HTML)
    invalid = "".join(f"<li>{line}</li>" for line in _invalid_lines(board, HTML))
    title = html_escape(f"lssbench leaderboard ({board['split']} split)")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "th,td{padding:.3em .8em;border-bottom:1px solid #ccc}td.num,th.num{text-align:right}"
             "caption{caption-side:bottom;text-align:left;color:#555;padding-top:.5em}")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{style}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
            + html_table(headers, rows, caption=html_escape(_caption(board)), text_columns=2)
            + (f"<h2>Not ranked (invalid or not judged)</h2>\n<ul>{invalid}</ul>\n" if invalid else "")
            + "</body>\n</html>\n")


def board_console(board: dict) -> str:
    headers, rows = _cells(board, CONSOLE)
    lines = [console_table(headers, rows, text_columns=2), "", _caption(board) + "  (* best)"]
    lines += _invalid_lines(board, CONSOLE)
    return "\n".join(lines) + "\n"
