"""A readable console summary of one results dict: a table per task."""

from __future__ import annotations

from lssbench.domain import CATEGORIES, GRADE_NAMES, HEADLINES, LEVELS, SIDES, TASKS
from lssbench.report.tables import console_table, fmt, fmt_ci

DETECTION_KEYS = ("mAP", "AP50", "AP75", "AR100")
SEGMENTATION_KEYS = ("dice", "hd_mm", "hd95_mm", "assd_mm", "nsd_2mm")


def _rows(groups: dict, names, keys) -> list[list[str]]:
    return [[name] + [fmt((groups.get(name) or {}).get(k)) for k in keys] for name in names]


def detection_table(detection: dict) -> str:
    rows = [["overall"] + [fmt(detection.get(k)) for k in DETECTION_KEYS]]
    rows += _rows(detection["per_level"], LEVELS, DETECTION_KEYS)
    rows += _rows(detection["per_side"], SIDES, DETECTION_KEYS)
    rows += _rows(detection["per_class"], CATEGORIES, DETECTION_KEYS)
    table = console_table(["detection"] + list(DETECTION_KEYS), rows)
    authors = detection.get("authors_protocol")
    if authors:
        table += ("\nauthors' protocol (levels only, IoU >= 0.45, score >= 0.10): "
                  f"precision {fmt(authors['precision'])}, recall {fmt(authors['recall'])}, "
                  f"F1 {fmt(authors['f1'])}")
    return table


def grading_table(grading: dict) -> str:
    keys = ("qwk", "accuracy", "n")
    rows = [["overall"] + [fmt(grading.get(k)) for k in keys]]
    rows += _rows(grading["per_level"], LEVELS, keys)
    rows += _rows(grading["per_side"], SIDES, keys)
    table = console_table(["grading", "QWK", "accuracy", "n"], rows)
    extra = [f"linear kappa {fmt(grading['linear_kappa'])}", f"macro F1 {fmt(grading['macro_f1'])}"]
    for key in ("weighted_log_loss", "auroc_severe", "auroc_moderate_plus"):
        if key in grading:
            extra.append(f"{key.replace('_', ' ')} {fmt(grading[key])}")
    matrix = console_table(["truth \\ predicted"] + list(GRADE_NAMES),
                           [[name] + [str(c) for c in row] for name, row in zip(GRADE_NAMES, grading["confusion_matrix"])])
    return table + "\n" + ", ".join(extra) + "\n\n" + matrix


def segmentation_table(segmentation: dict) -> str:
    per_class = segmentation["per_class"]
    table = console_table(["segmentation"] + list(SEGMENTATION_KEYS), _rows(per_class, list(per_class), SEGMENTATION_KEYS))
    return table + (f"\nmean over the five structures: Dice {fmt(segmentation['mean_dice'])}, "
                    f"HD95 {fmt(segmentation['mean_hd95_mm'])} mm")


_TABLES = {"detection": detection_table, "grading": grading_table, "segmentation": segmentation_table}


def tasks_line(tasks) -> str:
    """``tasks submitted: detection, grading; not submitted: segmentation`` (TASKS order)."""
    done = [t for t in TASKS if t in tasks]
    missing = [t for t in TASKS if t not in done]
    return f"tasks submitted: {', '.join(done) or 'none'}; not submitted: {', '.join(missing) or 'none'}"


def format_results(results: dict, *, warnings: bool = True) -> str:
    """Headline numbers with CIs, then one table per task present (then the warnings, unless
    ``warnings=False``: the caller printed them first)."""
    cis = results.get("ci95", {})
    lines = [f"lssbench {results['lssbench_version']} (metrics v{results['metrics_version']}), "
             f"{results['split']} split, ground truth {results['gt_fingerprint'][:19]}..."]
    headline_rows = [[h.name, fmt_ci(results[h.task][h.key], cis.get(h.name))]
                     for h in HEADLINES if h.task in results]
    ci_note = "value [95% CI]" if cis else "value"
    lines += ["", console_table(["headline", ci_note], headline_rows)]
    for task, render in _TABLES.items():
        if task in results:
            lines += ["", render(results[task])]
    for warning in results.get("warnings", []) if warnings else ():
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"
