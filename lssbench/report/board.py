"""Leaderboard tables: console, Markdown and LaTeX (booktabs), one row per method.

Each headline is shown as ``mean [95% CI]``; the best value of each column (by that
metric's direction) is bold. Invalid submissions are listed under the table.
"""

from __future__ import annotations

from lssbench.report.tables import console_table, fmt_ci, latex_escape, latex_table, markdown_table
from lssbench.scoring import HEADLINES


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


def _cells(board: dict, bold) -> tuple[list[str], list[list[str]]]:
    valid = [e for e in board["entries"] if e["status"] == "ok"]
    headers = ["#", "method"] + [h.label for h in HEADLINES]
    rows = []
    for position, entry in enumerate(valid, start=1):  # the board's order: mean rank, references last
        row = [str(position) if entry["kind"] == "submission" else "", _method(entry)]
        for headline in HEADLINES:
            value = _headline_value(entry, headline)
            ci = ((entry["results"] or {}).get("ci95") or {}).get(headline.name)
            text = fmt_ci(value, ci)
            row.append(bold(text) if value is not None and value == _best(valid, headline) else text)
        rows.append(row)
    return headers, rows


def _invalid_lines(board: dict) -> list[str]:
    return [f"{e['name']}: invalid ({len(e['problems'])} problems; first: {e['problems'][0]})"
            for e in board["entries"] if e["status"] != "ok"]


def _caption(board: dict) -> str:
    return (f"lssbench {board['lssbench_version']}, {board['split']} split, "
            f"ground truth {board['gt_fingerprint'][:19]}; mean [95% bootstrap CI over patients, "
            f"{board['bootstrap']['resamples']} resamples]; rank per task by "
            + ", ".join(f"{task} {key}" for task, key in board["ranking"].items()))


def board_markdown(board: dict) -> str:
    headers, rows = _cells(board, lambda text: f"**{text}**")
    text = markdown_table(headers, rows, text_columns=2) + "\n" + _caption(board) + "\n"
    invalid = _invalid_lines(board)
    if invalid:
        text += "\nInvalid submissions:\n" + "".join(f"- {line}\n" for line in invalid)
    return text


def board_latex(board: dict) -> str:
    headers, rows = _cells(board, lambda text: rf"\textbf{{{text}}}")
    rows = [[latex_escape(cell) if i < 2 else cell for i, cell in enumerate(row)] for row in rows]
    return latex_table([latex_escape(h) for h in headers], rows, caption=latex_escape(_caption(board)),
                       text_columns=2)


def board_console(board: dict) -> str:
    headers, rows = _cells(board, lambda text: text + " *")
    lines = [console_table(headers, rows, text_columns=2), "", _caption(board) + "  (* best)"]
    lines += _invalid_lines(board)
    return "\n".join(lines) + "\n"

