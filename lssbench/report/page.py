"""The leaderboard page: one self-contained HTML file (Jinja2 template, inline CSS and SVG).

Rows follow the board shown (:func:`lssbench.report.ranks.view_rows`: all test patients,
or the public / private board with its own scores, ranks and intervals, so a public page
never shows the private numbers). Per task: the entries in rank order with rank (``=2``
when shared, a dagger when statistically tied with the first), value and 95 % interval on
two lines, the rank interval and probability of ranking first, and a forest plot of each
headline. Per entry: team, method, description and an http(s) link. On the all-patient
board also the AP50 of every entry per level and side and per-class Dice and HD95. Reference
rows set apart, invalid and not-judged entries with their problems, and what the board was
built on (split, ground truth, versions, ranking scheme, build date).
"""

from __future__ import annotations

from lssbench.domain import (CATEGORIES, HEADLINE_SEGMENTATION_CLASSES, HEADLINES, RANKING, SEGMENTATION_CLASSES,
                             TASKS)
from lssbench.report.ranks import (TIED_MARK, legend, rank_text, shown_board, shown_stability, stability_text,
                                   view_rows)
from lssbench.report.text import clean_text

MAX_PROBLEMS_SHOWN = 20
#: Figures (forest plots, heatmaps) show the first this many submissions in rank order, and
#: the reference rows; the tables always hold every entry. Past a few dozen rows a figure is
#: no longer readable, and drawing it would dominate the time to build a large board's page.
FIGURE_ENTRIES = 30
_PLOT_LABEL_CHARS = 28
_CLASS_LABELS = {c.name: c.label for c in SEGMENTATION_CLASSES}


def _short(text: str, limit: int = _PLOT_LABEL_CHARS) -> str:
    """A plot label: clean text (matplotlib gets no control characters or lone surrogates), shortened."""
    text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(row, field: str, task: str):
    return (row.figures.get(field) or {}).get(task)


def _notes(row) -> list[str]:
    notes = []
    if row.figures.get("superseded_by"):
        notes.append(f"superseded by {row.figures['superseded_by']}")
    if row.entry.get("duplicate_of"):
        notes.append(f"duplicate of {row.entry['duplicate_of']}")
    return notes


def _has_task(row, task: str) -> bool:
    return any(row.values.get(h.name) is not None for h in HEADLINES if h.task == task) or \
        task in (row.entry.get("results") or {})


def _task_rows(rows: list, task: str) -> list[dict]:
    """Valid rows with ``task``: ranked submissions by rank (then board order), the others after."""
    scored = [r for r in rows if _has_task(r, task)]
    ranks = [_figure(r, "ranks", task) for r in scored]
    order = sorted(range(len(scored)), key=lambda i: (scored[i].entry["kind"] != "submission",
                                                      ranks[i] is None, ranks[i] or 0, i))
    headlines = [h for h in HEADLINES if h.task == task]
    out = []
    for i in order:
        row, rank = scored[i], ranks[i]
        tied = _figure(row, "tied_with_first", task)
        out.append({
            "row": row, "entry": row.entry, "reference": row.entry["kind"] != "submission", "notes": _notes(row),
            "rank": rank_text(rank, ranks), "tied": bool(tied) and rank is not None and rank != 1,
            "rank_ci95": _figure(row, "rank_ci95", task), "p_first": _figure(row, "p_first", task),
            "cells": [(row.values.get(h.name), row.ci95.get(h.name)) for h in headlines],
        })
    return _mark_best(out, headlines)


def _mark_best(rows: list[dict], headlines) -> list[dict]:
    """Give each row ``best``: per headline column, whether it holds the best submission's value
    (reference rows never do)."""
    for j, h in enumerate(headlines):
        values = [r["cells"][j][0] for r in rows if not r["reference"] and r["cells"][j][0] is not None]
        best = (max(values) if h.higher_is_better else min(values)) if values else None
        for r in rows:
            r.setdefault("best", []).append(not r["reference"] and best is not None and r["cells"][j][0] == best)
    return rows


def figure_subset(items: list, is_reference) -> list:
    """The first :data:`FIGURE_ENTRIES` submissions of ``items`` (in their order) and every reference."""
    shown, submissions = [], 0
    for item in items:
        if is_reference(item):
            shown.append(item)
        elif submissions < FIGURE_ENTRIES:
            shown.append(item)
            submissions += 1
    return shown


def _figure_note(n_submissions: int, what: str) -> str | None:
    if n_submissions <= FIGURE_ENTRIES:
        return None
    return (f"The {what} show the first {FIGURE_ENTRIES} of {n_submissions} submissions by rank, and the "
            "reference rows; the tables hold every entry.")


def _forest(task_rows: list[dict], headline) -> str:
    from lssbench.report import plots

    data = []
    for r in figure_subset(task_rows, lambda r: r["reference"]):
        value, ci = r["row"].values.get(headline.name), r["row"].ci95.get(headline.name)
        if value is not None:
            label = f"{r['rank'] or '-'}  {_short(r['entry']['name'])}"
            data.append((label, value, ci[0] if ci else None, ci[1] if ci else None, r["reference"]))
    suffix = "" if RANKING.get(headline.task) == headline else f"-{headline.key.lower()}"
    return plots.forest(data, xlabel=headline.label, name=f"forest-{headline.task}{suffix}",
                        higher_is_better=headline.higher_is_better)


def _heatmaps(entries: list[dict]) -> dict[str, str]:
    """Breakdowns of the all-patient results: AP50 per level and side, Dice and HD95 per class."""
    from lssbench.report import plots

    figures = {}
    entries = figure_subset(entries, lambda e: e["kind"] != "submission")
    with_detection = [e for e in entries if "detection" in (e.get("results") or {})]
    if with_detection:
        matrix = [[((e["results"]["detection"].get("per_class") or {}).get(c) or {}).get("AP50") for c in CATEGORIES]
                  for e in with_detection]
        figures["ap50-heatmap"] = plots.heatmap(matrix, rows=[_short(e["name"]) for e in with_detection],
                                                columns=list(CATEGORIES), title="AP50 per level and side",
                                                name="ap50-heatmap")
    with_segmentation = [e for e in entries if "segmentation" in (e.get("results") or {})]
    if with_segmentation:
        labels = [_CLASS_LABELS[c] for c in HEADLINE_SEGMENTATION_CLASSES]
        names = [_short(e["name"]) for e in with_segmentation]

        def matrix(key):
            return [[((e["results"]["segmentation"].get("per_class") or {}).get(c) or {}).get(key)
                     for c in HEADLINE_SEGMENTATION_CLASSES] for e in with_segmentation]

        figures["dice-per-class"] = plots.heatmap(matrix("dice"), rows=names, columns=labels,
                                                  title="Dice per class", name="dice-per-class")
        hd95 = matrix("hd95_mm")
        own = [v for e, row in zip(with_segmentation, hd95) if e["kind"] == "submission" for v in row if v is not None]
        top = max(own or [v for row in hd95 for v in row if v is not None] or [1.0]) or 1.0  # references clip
        figures["hd95-per-class"] = plots.heatmap(hd95, rows=names, columns=labels, vmin=0.0, vmax=top,
                                                  title="HD95 per class (mm, lower is better)",
                                                  name="hd95-per-class", reverse=True, digits=1)
    return figures


def _facts(board: dict) -> list[tuple[str, str | None]]:
    """What the board was built on, tolerant of fields a board may lack."""
    boot = board.get("bootstrap") or {}
    ranking = board.get("ranking") or {}
    headlines = ranking.get("headlines") if isinstance(ranking.get("headlines"), dict) else \
        {k: v for k, v in ranking.items() if isinstance(v, str) and k in TASKS}
    ranked_by = ", ".join(f"{task} {key}" for task, key in headlines.items())
    if ranking.get("scheme"):
        ranked_by += f"; overall: {ranking['rank_by'] + ' alone' if ranking.get('rank_by') else ranking['scheme']}"
    if ranking.get("best_per_team"):
        ranked_by += "; only each team's best entry is ranked"
    intervals = (f"95 % percentile bootstrap over {boot.get('unit', 'patient')}s, {boot.get('resamples')} resamples, "
                 f"seed {boot.get('seed')}" if boot.get("resamples") else "none (no bootstrap)")
    versions = f"lssbench {board.get('lssbench_version')}" + (
        f", metrics v{board['metrics_version']}" if board.get("metrics_version") else "")
    shown = shown_board(board)
    patients = len(((board.get("boards") or {}).get(shown) or {}).get("patients") or []) if shown != "all" else None
    which = {"all": "all test patients", "public": f"public board ({patients} test patients; the private "
             "ranking is not shown)", "private": f"private board ({patients} test patients, final)"}.get(shown, shown)
    return [("split", board.get("split")), ("board", which), ("ground truth", board.get("gt_fingerprint")),
            ("versions", versions), ("intervals", intervals), ("ranked by", ranked_by or None)]


def board_page_context(board: dict) -> dict:
    """Everything the template shows, figures drawn (SVG strings marked safe)."""
    from lssbench.report import html

    rows = [r for r in view_rows(board) if r.entry["status"] == "ok"]
    tasks = [t for t in board.get("tasks", TASKS) if any(_has_task(r, t) for r in rows)]
    stability = shown_stability(board)
    sections = []
    for task in tasks:
        task_rows = _task_rows(rows, task)
        headlines = [h for h in HEADLINES if h.task == task]
        sections.append({
            "task": task, "ranked_by": RANKING[task].label if task in RANKING else task, "headlines": headlines,
            "rows": task_rows, "has_rank_ci": any(r["rank_ci95"] is not None for r in task_rows),
            "has_p_first": any(r["p_first"] is not None for r in task_rows),
            "has_tied": any(r["tied"] for r in task_rows), "stability": stability.get(task),
            "forests": [html.svg(_forest(task_rows, h)) for h in headlines],
            "figure_note": _figure_note(sum(not r["reference"] for r in task_rows), "forest plots"),
        })
    all_patients = shown_board(board) == "all"
    figures = {k: html.svg(v) for k, v in _heatmaps([r.entry for r in rows]).items()} if all_patients else {}
    invalid = [{"name": e["name"], "status": e.get("status"), "fault": e.get("fault"),
                "problems": (e.get("problems") or [])[:MAX_PROBLEMS_SHOWN],
                "more": max(0, len(e.get("problems") or []) - MAX_PROBLEMS_SHOWN)}
               for e in board["entries"] if e["status"] != "ok"]
    shown_headlines = [h for h in HEADLINES if h.task in tasks]
    overall_ranks = [r.figures.get("overall_rank") for r in rows]
    overall = [{"entry": r.entry, "reference": r.entry["kind"] != "submission", "notes": _notes(r),
                "overall_rank": rank_text(r.figures.get("overall_rank"), overall_ranks),
                "ranks": [rank_text(_figure(r, "ranks", t), [_figure(o, "ranks", t) for o in rows]) for t in tasks],
                "cells": [(r.values.get(h.name), r.ci95.get(h.name)) for h in shown_headlines]} for r in rows]
    _mark_best(overall, shown_headlines)
    stability_line = stability_text(board)
    return {"board": board, "board_facts": _facts(board), "legend": legend(board) if "shown" in board else None,
            "stability_line": stability_line[:1].upper() + stability_line[1:] if stability_line else None,
            "tied_mark": TIED_MARK, "skipped": board.get("skipped") or [], "sections": sections,
            "figures": figures, "all_patients": all_patients,
            "figure_note": _figure_note(sum(r.entry["kind"] == "submission" for r in rows), "maps"),
            "invalid": invalid, "overall": overall, "headlines": shown_headlines, "tasks": tasks,
            "has_overall_rank": any(r.figures.get("overall_rank") is not None for r in rows),
            "entries": [r.entry for r in rows]}


def render_board_page(board: dict) -> str:
    """The leaderboard page of a board dict (schema 2; a schema-1 board renders without rank intervals)."""
    from lssbench.report import html

    return html.render("board.html.j2", **board_page_context(board))
