"""The leaderboard page: one self-contained HTML file (Jinja2 template, inline CSS and SVG).

Per task: the entries in rank order with rank (``=2`` when shared), value and 95 % interval
on two lines, and a forest plot of each headline; the rank interval, probability of
ranking first and "tied with the first" mark when the board has them (schema 2). Per
entry: team, method, description and an http(s) link. The AP50 of every entry per level
and side, per-class Dice and HD95, reference rows set apart, invalid entries with their
problems, and what the board was built on (split, ground truth, versions, build date).
"""

from __future__ import annotations

from lssbench.domain import CATEGORIES, HEADLINE_SEGMENTATION_CLASSES, SEGMENTATION_CLASSES, TASKS
from lssbench.scoring import HEADLINES, RANKING

MAX_PROBLEMS_SHOWN = 20
_PLOT_LABEL_CHARS = 28
_CLASS_LABELS = {c.name: c.label for c in SEGMENTATION_CLASSES}


def _short(text: str, limit: int = _PLOT_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(entry: dict, headline):
    return ((entry.get("results") or {}).get(headline.task) or {}).get(headline.key)


def _ci(entry: dict, headline):
    return ((entry.get("results") or {}).get("ci95") or {}).get(headline.name)


def _per_task(entry: dict, field: str, task: str):
    return (entry.get(field) or {}).get(task)


def _rank_text(rank, shared: bool) -> str:
    if rank is None:
        return ""
    return f"={rank}" if shared else str(rank)


def _task_rows(entries: list[dict], task: str) -> list[dict]:
    """Valid entries with ``task``: submissions by rank (then board order), references after."""
    scored = [e for e in entries if e["status"] == "ok" and task in (e.get("results") or {})]
    ranks = [_per_task(e, "ranks", task) for e in scored]
    order = sorted(range(len(scored)), key=lambda i: (scored[i]["kind"] != "submission",
                                                      ranks[i] is None, ranks[i] or 0, i))
    headlines = [h for h in HEADLINES if h.task == task]
    rows = []
    for i in order:
        entry, rank = scored[i], ranks[i]
        rows.append({
            "entry": entry, "reference": entry["kind"] != "submission",
            "rank": _rank_text(rank, rank is not None and ranks.count(rank) > 1),
            "rank_ci95": _per_task(entry, "rank_ci95", task), "p_first": _per_task(entry, "p_first", task),
            "tied_with_first": _per_task(entry, "tied_with_first", task),
            "cells": [(_value(entry, h), _ci(entry, h)) for h in headlines],
        })
    best = {}
    for j, h in enumerate(headlines):
        values = [r["cells"][j][0] for r in rows if not r["reference"] and r["cells"][j][0] is not None]
        best[j] = (max(values) if h.higher_is_better else min(values)) if values else None
    for r in rows:
        r["best"] = [not r["reference"] and r["cells"][j][0] is not None and r["cells"][j][0] == best[j]
                     for j in range(len(headlines))]
    return rows


def _forest(rows: list[dict], headline) -> str:
    from lssbench.report import plots

    data = []
    for r in rows:
        value, ci = _value(r["entry"], headline), _ci(r["entry"], headline)
        if value is not None:
            label = f"{r['rank'] or '-'}  {_short(r['entry']['name'])}"
            data.append((label, value, ci[0] if ci else None, ci[1] if ci else None, r["reference"]))
    return plots.forest(data, xlabel=headline.label, name=f"forest-{headline.task}"
                        + ("" if RANKING[headline.task] == headline else f"-{headline.key.lower()}"),
                        higher_is_better=headline.higher_is_better)


def _heatmaps(entries: list[dict]) -> dict[str, str]:
    from lssbench.report import plots

    figures = {}
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
    ranking = board.get("ranking")
    if isinstance(ranking, dict):
        ranking = ", ".join(f"{task} {key}" for task, key in ranking.items())
    intervals = (f"95 % percentile bootstrap over {boot.get('unit', 'patient')}s, {boot.get('resamples')} resamples, "
                 f"seed {boot.get('seed')}" if boot.get("resamples") else "none (no bootstrap)")
    versions = f"lssbench {board.get('lssbench_version')}" + (
        f", metrics v{board['metrics_version']}" if board.get("metrics_version") else "")
    return [("split", board.get("split")), ("ground truth", board.get("gt_fingerprint")), ("versions", versions),
            ("intervals", intervals), ("ranked by", ranking)]


def board_page_context(board: dict) -> dict:
    """Everything the template shows, figures drawn (SVG strings marked safe)."""
    from lssbench.report import html

    entries = board["entries"]
    valid = [e for e in entries if e["status"] == "ok"]
    tasks = [t for t in board.get("tasks", TASKS) if any(t in (e.get("results") or {}) for e in valid)]
    sections = []
    for task in tasks:
        rows = _task_rows(valid, task)
        if not rows:
            continue
        headlines = [h for h in HEADLINES if h.task == task]
        sections.append({
            "task": task, "ranked_by": RANKING[task].label if task in RANKING else task, "headlines": headlines, "rows": rows,
            "has_rank_ci": any(r["rank_ci95"] is not None for r in rows),
            "has_p_first": any(r["p_first"] is not None for r in rows),
            "has_tied": any(r["tied_with_first"] is not None for r in rows),
            "stability": (board.get("stability") or {}).get(task),
            "forests": [html.svg(_forest(rows, h)) for h in headlines],
        })
    figures = {k: html.svg(v) for k, v in _heatmaps(valid).items()}
    invalid = [{"name": e["name"], "status": e.get("status"), "fault": e.get("fault"),
                "problems": e.get("problems", [])[:MAX_PROBLEMS_SHOWN],
                "more": max(0, len(e.get("problems", [])) - MAX_PROBLEMS_SHOWN)}
               for e in entries if e["status"] != "ok"]
    overall = [{"entry": e, "overall_rank": e.get("overall_rank"), "reference": e["kind"] != "submission",
                "ranks": [_per_task(e, "ranks", t) for t in tasks],
                "cells": [(_value(e, h), _ci(e, h)) for h in HEADLINES if h.task in tasks]} for e in valid]
    return {"board": board, "board_facts": _facts(board), "skipped": board.get("skipped") or [], "sections": sections, "figures": figures, "invalid": invalid, "overall": overall,
            "headlines": [h for h in HEADLINES if h.task in tasks], "tasks": tasks,
            "has_overall_rank": any(e.get("overall_rank") is not None for e in valid),
            "entries": [e for e in entries if e["status"] == "ok"]}


def render_board_page(board: dict) -> str:
    """The leaderboard page of a board dict (schema 1, or 2 with rank intervals)."""
    from lssbench.report import html

    return html.render("board.html.j2", **board_page_context(board))
