"""Named metrics of a results dict, and several runs of one method aggregated (seeds).

Every number of a results dict has a dotted name: the headlines ``detection.AP50`` ...,
and every breakdown ``detection.per_level.L3-L4.AP50``, ``grading.per_side.left.qwk``,
``grading.per_grade.severe.recall`` (derived from the confusion matrix),
``segmentation.per_class.disc.hd95_mm``. Counts (``n``, ``num_*``, ``tp``, ...), the
confusion matrix itself, per-case rows and warnings are not metrics and have no name.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from lssbench import __version__
from lssbench.domain import TASKS
from lssbench.problems import UsageError

AGGREGATE_FORMAT = "lssbench-aggregate"
AGGREGATE_SCHEMA_VERSION = 1
_NOT_METRICS = {"per_case", "confusion_matrix", "warnings", "n", "tp", "fp", "fn"}


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _NOT_METRICS or key.startswith(("n_", "num_")):
                continue
            _flatten(f"{prefix}.{key}", item, out)
    elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        out[prefix] = None if value is None else float(value)


def metric_values(results: Mapping) -> dict[str, float | None]:
    """``{dotted name: value}`` of every metric of ``results`` (None where undefined)."""
    from lssbench.metrics.grading import per_grade_metrics

    out: dict[str, float | None] = {}
    for task in TASKS:
        if task in results:
            _flatten(task, results[task], out)
    grading = results.get("grading")
    if grading and "confusion_matrix" in grading:
        _flatten("grading.per_grade", per_grade_metrics(grading["confusion_matrix"]), out)
    return dict(sorted(out.items()))


def _summary(values: Sequence[float | None]) -> dict:
    present = np.array([v for v in values if v is not None], dtype=float)
    return {"mean": float(present.mean()) if len(present) else None,
            "std": float(present.std(ddof=1)) if len(present) > 1 else None,
            "values": list(values)}


def aggregate_results(runs: Sequence[Mapping], names: Sequence[str] | None = None) -> dict:
    """Mean, sample standard deviation (ddof 1) and the values of every metric over ``runs``.

    ``runs`` are results dicts of one method (e.g. training seeds) on one ground truth:
    different ground-truth fingerprints, splits, metrics versions or task sets are refused
    (:class:`~lssbench.problems.UsageError` naming the runs, ``names`` or their positions).
    A metric undefined in some runs keeps ``null`` in ``values`` and is averaged over the
    others; ``mean`` is null when no run defines it, ``std`` when fewer than two do.
    """
    names = list(names) if names is not None else [f"run {i + 1}" for i in range(len(runs))]
    if len(runs) < 2:
        raise UsageError(f"aggregate needs the results of at least two runs, got {len(runs)}")
    for field, what in (("gt_fingerprint", "ground truths"), ("split", "splits"),
                        ("metrics_version", "metrics versions"), ("tasks", "task sets")):
        seen = {}
        for name, run in zip(names, runs):
            seen.setdefault(str(run.get(field)), name)
        if len(seen) > 1:
            listing = "; ".join(f"{name}: {value}" for value, name in seen.items())
            raise UsageError(f"the runs were scored on different {what} and cannot be aggregated ({listing})")
    _refuse_mixed_runs(runs, names)
    values = [metric_values(run) for run in runs]
    metrics = sorted(set().union(*values))
    first = runs[0]
    return {
        "format": AGGREGATE_FORMAT,
        "schema_version": AGGREGATE_SCHEMA_VERSION,
        "lssbench_version": __version__,
        "metrics_version": first.get("metrics_version"),
        "split": first.get("split"),
        "gt_fingerprint": first.get("gt_fingerprint"),
        "tasks": list(first.get("tasks", [])),
        "meta": dict(first.get("meta") or {}),
        "runs": len(runs),
        "sources": [{"name": name, "submission_fingerprint": run.get("submission_fingerprint")}
                    for name, run in zip(names, runs)],
        "metrics": {m: _summary([v.get(m) for v in values]) for m in metrics},
    }


def _refuse_mixed_runs(runs: Sequence[Mapping], names: Sequence[str]) -> None:
    """Runs of one method: no predictions given twice (the same submission fingerprint), and
    no two runs whose ``meta`` names a different team or method."""
    first_with: dict[str, str] = {}
    for name, run in zip(names, runs):
        fingerprint = run.get("submission_fingerprint")
        if fingerprint and fingerprint in first_with:
            raise UsageError(f"{first_with[fingerprint]} and {name} score the same predictions "
                             f"(submission fingerprint {fingerprint[:19]}...); aggregate runs of different seeds")
        first_with.setdefault(fingerprint, name)
    for key in ("team", "method"):
        seen: dict[str, str] = {}
        for name, run in zip(names, runs):
            value = (run.get("meta") or {}).get(key)
            if value is not None:
                seen.setdefault(str(value), name)
        if len(seen) > 1:
            listing = "; ".join(f"{name}: {value!r}" for value, name in seen.items())
            raise UsageError(f"the runs are of different {key}s and cannot be aggregated as seeds of one "
                             f"method ({listing})")


def is_aggregate(document: Mapping) -> bool:
    return isinstance(document, Mapping) and document.get("format") == AGGREGATE_FORMAT
