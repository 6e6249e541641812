"""The report of one scored submission: ``DIR/index.html`` plus ``DIR/figures/*.svg``.

Built from the results dict of :class:`lssbench.scoring.Evaluator` and the submission and
ground truth it was scored on (for what the results JSON does not hold: the precision-
recall curves, the grade probabilities and the masks). Figures are drawn once and both
inlined in the page (self-contained) and written beside it (for papers and slides).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lssbench.domain import (CATEGORIES, GRADE_NAMES, HEADLINE_SEGMENTATION_CLASSES, HEADLINES, LEVELS,
                             PROBABILITY_COLUMNS, SEGMENTATION_CLASSES, SIDES, category_name)
from lssbench.jsonio import replaceable_folder
from lssbench.problems import UsageError

WORST_CASES = 5
INDEX_FILE = "index.html"
FIGURES_DIR = "figures"
_CLASS_LABELS = {c.name: c.label for c in SEGMENTATION_CLASSES}


@dataclass
class Report:
    """A rendered report: the page and its figures ``{file stem: svg}``."""

    html: str
    figures: dict[str, str] = field(default_factory=dict)


# --- what the results JSON does not hold ------------------------------------------------------
def detection_curves(ground_truth, submission) -> dict[tuple[str, str], np.ndarray]:
    """Interpolated precision at the 101 COCO recall points, IoU 0.5, per group:
    ``("overall", "all")``, ``("level", L)`` and ``("side", S)``; groups without ground
    truth are left out.  Each curve's mean is that group's AP50 in the results."""
    from lssbench.metrics.detection import match_detections

    matches = match_detections(ground_truth.boxes, submission.detections, list(ground_truth.images["image_id"]))
    groups = {("overall", "all"): CATEGORIES}
    groups.update({("level", lv): [category_name(lv, s) for s in SIDES] for lv in LEVELS})
    groups.update({("side", s): [category_name(lv, s) for lv in LEVELS] for s in SIDES})
    curves = {}
    for key, categories in groups.items():
        _, precision = matches.precision_curve(categories, iou_threshold=0.5)
        if precision is not None:
            curves[key] = precision
    return curves


def aligned_grades(ground_truth, submission):
    """Truth and prediction per graded foramen (:func:`lssbench.metrics.grading.align_grades`)."""
    from lssbench.metrics.grading import align_grades

    return align_grades(ground_truth.grades, submission.grades)


def worst_cases(per_case: list[dict], n: int = WORST_CASES) -> list[tuple[str, float]]:
    """The ``n`` cases of lowest mean Dice over the headline classes, worst first
    (ties by patient id): ``[(patient_id, mean Dice)]``."""
    scored = [(float(np.mean([case["metrics"][c]["dice"] for c in HEADLINE_SEGMENTATION_CLASSES])),
               case["patient_id"]) for case in per_case]
    return [(pid, dice) for dice, pid in sorted(scored)[:n]]


# --- page -------------------------------------------------------------------------------------
def _headline_rows(results: dict) -> list[dict]:
    cis = results.get("ci95") or {}
    return [{"label": h.label, "task": h.task, "value": results[h.task][h.key], "ci": cis.get(h.name),
             "better": "higher" if h.higher_is_better else "lower"} for h in HEADLINES if h.task in results]


def _detection_context(results, ground_truth, submission, figures) -> dict:
    from lssbench.metrics.detection import RECALL_THRESHOLDS
    from lssbench.report import plots

    detection = results["detection"]
    curves = detection_curves(ground_truth, submission)
    overall = {"all": curves[("overall", "all")]} if ("overall", "all") in curves else {}
    for kind, names in (("level", LEVELS), ("side", SIDES)):
        figures[f"pr-per-{kind}"] = plots.pr_curves(
            RECALL_THRESHOLDS, {n: curves[(kind, n)] for n in names if (kind, n) in curves},
            reference=overall, title=f"precision-recall per {kind}, IoU 0.5 (COCO 101-point)",
            name=f"pr-per-{kind}")
    groups = [("overall", "all", detection)]
    groups += [("level", lv, detection["per_level"][lv]) for lv in LEVELS]
    groups += [("side", s, detection["per_side"][s]) for s in SIDES]
    return {"groups": groups, "authors": detection.get("authors_protocol"),
            "counts": {k: detection.get(k) for k in ("num_detections", "num_ground_truth",
                                                     "num_ignored_detections")}}


def _grading_context(results, ground_truth, submission, figures) -> dict:
    from lssbench.metrics.grading import reliability_curves
    from lssbench.report import plots

    grading = results["grading"]
    figures["confusion"] = plots.confusion_matrices(grading["confusion_matrix"])
    aligned = aligned_grades(ground_truth, submission)
    calibration = None
    if all(c in aligned.columns for c in PROBABILITY_COLUMNS):
        calibration = reliability_curves(aligned["severity_true"].to_numpy(),
                                         aligned[list(PROBABILITY_COLUMNS)].to_numpy(float))
        panels = [(f"{title} (ECE {calibration[key]['ece']:.3f})", calibration[key]["predicted"],
                   calibration[key]["observed"], calibration[key]["count"])
                  for key, title in (("top_label", "most likely grade"),
                                     ("moderate_or_worse", "moderate or worse"))]
        figures["reliability"] = plots.reliability(panels)
    foramina = [{"patient_id": r.patient_id, "level": r.level, "side": r.side,
                 "truth": GRADE_NAMES[int(r.severity_true)], "pred": GRADE_NAMES[int(r.severity_pred)],
                 "wrong": int(r.severity_true) != int(r.severity_pred)}
                for r in aligned.itertuples(index=False)]
    extra = [(label, grading.get(key)) for key, label in (
        ("linear_kappa", "linear kappa"), ("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"),
        ("macro_f1", "macro F1"), ("weighted_log_loss", "weighted log loss (RSNA)"),
        ("auroc_severe", "AUROC severe"), ("auroc_moderate_plus", "AUROC moderate or worse"))
        if key in grading]
    groups = [("level", lv, grading["per_level"][lv]) for lv in LEVELS]
    groups += [("side", s, grading["per_side"][s]) for s in SIDES]
    return {"n": grading["n"], "qwk": grading["qwk"], "extra": extra, "groups": groups,
            "calibration": calibration, "foramina": foramina,
            "misgraded": sum(f["wrong"] for f in foramina)}


def _segmentation_context(results, ground_truth, submission, figures) -> dict:
    from lssbench.report import plots

    segmentation = results["segmentation"]
    per_case = segmentation["per_case"]
    classes = [c for c in segmentation["per_class"]]
    labels = {c: _CLASS_LABELS.get(c, c) for c in classes}
    shown = [c for c in HEADLINE_SEGMENTATION_CLASSES if c in classes]
    figures["dice-per-class"] = plots.distributions(
        {labels[c]: [case["metrics"][c]["dice"] for case in per_case] for c in shown},
        xlabel="Dice per case", name="dice-per-class")
    figures["hd95-per-class"] = plots.distributions(
        {labels[c]: [case["metrics"][c]["hd95_mm"] for case in per_case] for c in shown},
        xlabel="HD95 per case (mm, symmetric log scale)", name="hd95-per-class", log=True)
    worst = worst_cases(per_case)
    if worst:
        figures["worst-cases"] = plots.overlays(
            [(f"{pid}  mean Dice {dice:.3f}", ground_truth.mask(pid), submission.masks[pid]) for pid, dice in worst])
    by_pid = {case["patient_id"]: case for case in per_case}
    cases = [{"patient_id": pid, "mean_dice": dice, "metrics": by_pid[pid]["metrics"]}
             for pid, dice in worst_cases(per_case, n=len(per_case))]
    return {"classes": [(c, labels[c], segmentation["per_class"][c]) for c in classes], "shown": shown,
            "labels": labels, "cases": cases, "worst": worst}


_TASK_CONTEXT = {"detection": _detection_context, "grading": _grading_context,
                 "segmentation": _segmentation_context}


def render_submission_report(results: dict, ground_truth, submission, *, name: str) -> Report:
    """The report page of one submission and its figures (nothing written)."""
    from lssbench.report import html

    figures: dict[str, str] = {}
    tasks = {task: _TASK_CONTEXT[task](results, ground_truth, submission, figures)
             for task in _TASK_CONTEXT if task in results}
    page = html.render("report.html.j2", name=name, meta=dict(submission.meta or {}), results=results,
                       headlines=_headline_rows(results), tasks=tasks,
                       figures={k: html.svg(v) for k, v in figures.items()},
                       figure_dir=FIGURES_DIR, grade_names=GRADE_NAMES)
    return Report(page, figures)


def _is_report(folder: Path) -> bool:
    from lssbench.report.html import GENERATOR

    index = folder / INDEX_FILE
    try:
        head = index.read_text("utf-8", errors="replace")[:2000]
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR.split()[0]}' in head


def check_report_target(out: str | os.PathLike) -> None:
    """UsageError unless ``out`` is new, an empty folder or an earlier lssbench report."""
    out = Path(out)
    if not replaceable_folder(out, _is_report):
        raise UsageError(f"refusing to overwrite {out}: it exists and is not an lssbench report "
                         "(give a new or empty folder)")


def write_submission_report(out: str | os.PathLike, report: Report) -> Path:
    """Write ``out/index.html`` and ``out/figures/<name>.svg`` as one folder renamed into place.

    An existing ``out`` is replaced only when it is empty or an earlier lssbench report.
    """
    from lssbench.jsonio import replace_folder

    out = Path(out)
    check_report_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)
        (tmp / FIGURES_DIR).mkdir()
        (tmp / INDEX_FILE).write_text(report.html, encoding="utf-8")
        for stem, svg in report.figures.items():
            (tmp / FIGURES_DIR / f"{stem}.svg").write_text(
                svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
                if 'xmlns="http://www.w3.org/2000/svg"' not in svg else svg, encoding="utf-8")
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / INDEX_FILE


def submission_report(out, results: dict, ground_truth, submission, *, name: str) -> Path:
    """Render and write the report of one scored submission; returns the path of index.html."""
    return write_submission_report(out, render_submission_report(results, ground_truth, submission, name=name))
