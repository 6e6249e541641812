"""Breakdown tables for papers: one row per results file, columns by task, level, side,
grade or class, in Markdown, LaTeX (booktabs) or CSV.

A row comes from a results JSON (cells ``value [lo, hi]`` where the results hold a 95 %
interval, ``value`` otherwise), an aggregate of several runs (``mean ± std``), or a
leaderboard JSON (one row per valid entry). CSV cells are numbers in separate columns
(``X``, ``X lo``, ``X hi`` or ``X mean``, ``X std``) for spreadsheets and pandas.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from lssbench.aggregate import is_aggregate, metric_values
from lssbench.domain import (GRADE_NAMES, HEADLINE_SEGMENTATION_CLASSES, HEADLINES, LEVELS, SEGMENTATION_CLASSES,
                             SIDES)
from lssbench.problems import UsageError
from lssbench.report.tables import fmt, fmt_ci, latex_escape, latex_table, markdown_escape, markdown_table

BREAKDOWNS = ("task", "level", "side", "grade", "class")
FORMATS = ("md", "latex", "csv")
_CLASS_LABELS = {c.name: c.label for c in SEGMENTATION_CLASSES}


@dataclass(frozen=True)
class Column:
    label: str
    metric: str  # dotted name (lssbench.aggregate.metric_values)
    ci: str | None = None  # key in results["ci95"]


@dataclass
class Row:
    """One table row: a name, the metric values, and intervals or standard deviations."""

    name: str
    values: dict  # metric -> value (or mean)
    cis: dict  # ci key -> [lo, hi]
    stds: dict | None = None  # metric -> std, for an aggregate
    split: str | None = None
    gt_fingerprint: str | None = None


def columns(by: str) -> list[Column]:
    """The columns of a ``--by`` breakdown."""
    if by == "task":
        return [Column(h.label, h.name, h.name) for h in HEADLINES]
    if by in ("level", "side"):
        names = LEVELS if by == "level" else SIDES
        return ([Column(f"AP50 {n}", f"detection.per_{by}.{n}.AP50") for n in names]
                + [Column(f"QWK {n}", f"grading.per_{by}.{n}.qwk") for n in names])
    if by == "grade":
        return ([Column(f"recall {g}", f"grading.per_grade.{g}.recall") for g in GRADE_NAMES]
                + [Column(f"F1 {g}", f"grading.per_grade.{g}.f1") for g in GRADE_NAMES])
    if by == "class":
        return ([Column(f"Dice {_CLASS_LABELS[c]}", f"segmentation.per_class.{c}.dice")
                 for c in HEADLINE_SEGMENTATION_CLASSES]
                + [Column(f"HD95 {_CLASS_LABELS[c]} (mm)", f"segmentation.per_class.{c}.hd95_mm")
                   for c in HEADLINE_SEGMENTATION_CLASSES])
    raise UsageError(f"unknown breakdown {by!r}; expected one of {', '.join(BREAKDOWNS)}")


def _display_name(meta: Mapping | None, fallback: str) -> str:
    meta = meta or {}
    method, team = meta.get("method"), meta.get("team")
    if method and team:
        return f"{method} ({team})"
    return str(method or team or fallback)


def rows_of(document: Mapping, source: str) -> list[Row]:
    """The rows a results, aggregate or leaderboard dict gives (``source``: its file path;
    a row is named by its meta.json, else by the file name)."""
    fallback_name = Path(source).name
    if is_aggregate(document):
        metrics = document.get("metrics") or {}
        return [Row(_display_name(document.get("meta"), fallback_name) + f" ({document.get('runs')} runs)",
                    {k: v.get("mean") for k, v in metrics.items()}, {},
                    {k: v.get("std") for k, v in metrics.items()},
                    document.get("split"), document.get("gt_fingerprint"))]
    if isinstance(document.get("entries"), list):  # a leaderboard
        return [Row(_display_name(e.get("meta"), e.get("name", fallback_name)) if e.get("kind") == "submission"
                    else str(e.get("name")), metric_values(e["results"]), e["results"].get("ci95") or {},
                    None, document.get("split"), document.get("gt_fingerprint"))
                for e in document["entries"] if e.get("status") == "ok" and e.get("results")]
    if "tasks" in document and "gt_fingerprint" in document:
        return [Row(_display_name(document.get("meta"), fallback_name), metric_values(document),
                    document.get("ci95") or {}, None, document.get("split"), document.get("gt_fingerprint"))]
    raise UsageError(f"{source}: not a results, aggregate or leaderboard JSON of lssbench")


def _unique_names(rows: list[Row], sources: list[str]) -> None:
    names = [r.name for r in rows]
    for row, source in zip(rows, sources):
        if names.count(row.name) > 1:
            row.name = f"{row.name} [{Path(source).name}]"


def collect_rows(documents: Sequence[tuple[str, Mapping]]) -> list[Row]:
    """Rows of ``[(file name, loaded JSON)]``; refuses rows on different ground truths."""
    rows, sources = [], []
    for name, document in documents:
        found = rows_of(document, name)
        rows += found
        sources += [name] * len(found)
    truths = {(r.split, r.gt_fingerprint) for r in rows}
    if len(truths) > 1:
        listing = "; ".join(f"{s}: {r.split} split, {r.gt_fingerprint}" for r, s in zip(rows, sources))
        raise UsageError(f"the files were scored on different ground truths; a table compares one ({listing})")
    _unique_names(rows, sources)
    return rows


def _present(rows: list[Row], cols: list[Column]) -> list[Column]:
    """Columns that at least one row has a value for."""
    return [c for c in cols if any(r.values.get(c.metric) is not None for r in rows)]


def _cell(row: Row, col: Column, pm: str) -> str:
    value = row.values.get(col.metric)
    if row.stds is not None:
        std = row.stds.get(col.metric)
        return fmt(value) if value is None or std is None else f"{fmt(value)}{pm}{fmt(std)}"
    return fmt_ci(value, row.cis.get(col.ci) if col.ci else None)


def _caption(by: str, rows: list[Row], cols: list[Column]) -> str:
    split, fingerprint = (rows[0].split, rows[0].gt_fingerprint) if rows else (None, None)
    kinds = []
    if any(r.stds is None and c.ci and r.cis.get(c.ci) for r in rows for c in cols):
        kinds.append("value [95% bootstrap interval over patients] where the results hold one")
    elif any(r.stds is None for r in rows):
        kinds.append("point values (these results hold no interval for this breakdown)")
    if any(r.stds is not None for r in rows):
        kinds.append("mean ± sample std over runs")
    return (f"lssbench breakdown by {by}; {split} split, ground truth {str(fingerprint)[:19]}; "
            + "; ".join(kinds))


def breakdown_table(rows: list[Row], by: str, fmt_name: str = "md") -> str:
    """The table of ``rows`` broken down ``by`` in ``fmt_name`` (md, latex or csv)."""
    if fmt_name not in FORMATS:
        raise UsageError(f"unknown format {fmt_name!r}; expected one of {', '.join(FORMATS)}")
    cols = _present(rows, columns(by))
    if not cols:
        raise UsageError(f"no file holds a metric of the {by} breakdown (tasks missing?)")
    if fmt_name == "csv":
        return _csv(rows, cols)
    if fmt_name == "md":
        headers = ["method"] + [markdown_escape(c.label) for c in cols]
        body = [[markdown_escape(r.name)] + [_cell(r, c, " ± ") for c in cols] for r in rows]
        return markdown_table(headers, body, text_columns=1) + "\n" + markdown_escape(_caption(by, rows, cols)) + "\n"
    headers = ["method"] + [latex_escape(c.label) for c in cols]
    body = [[latex_escape(r.name)] + [_cell(r, c, r" $\pm$ ") for c in cols] for r in rows]
    caption = latex_escape(_caption(by, rows, cols)).replace("±", r"$\pm$")
    return ("% lssbench table: booktabs (\\usepackage{booktabs}); " + f"breakdown by {by}\n"
            + latex_table(headers, body, caption=caption, text_columns=1))


def csv_text(text: str) -> str:
    """A CSV text cell that a spreadsheet will not run as a formula (a leading ' added)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: list[Row], cols: list[Column]) -> str:
    aggregate = any(r.stds is not None for r in rows)
    header = ["method"]
    for c in cols:
        header += [c.label, f"{c.label} std"] if aggregate else [c.label, f"{c.label} lo", f"{c.label} hi"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)

    def number(value):
        return "" if value is None else f"{value:.6g}"

    for r in rows:
        line = [csv_text(r.name)]
        for c in cols:
            value = r.values.get(c.metric)
            if aggregate:
                line += [number(value), number((r.stds or {}).get(c.metric))]
            else:
                ci = r.cis.get(c.ci) if c.ci else None
                line += [number(value), number(ci[0] if ci else None), number(ci[1] if ci else None)]
        writer.writerow(line)
    return buffer.getvalue()
