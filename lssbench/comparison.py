"""Two submissions, one ground truth: the paired bootstrap difference B - A of every headline.

Both sides are scored on the same patient resamples (same ground truth, same bootstrap
settings), so each resample gives a difference ``b_r - a_r``; the CI is the percentile
interval of those differences and the two-sided p-value is
``min(1, 2 * min((#{d <= 0} + 1) / (n + 1), (#{d >= 0} + 1) / (n + 1)))`` over the ``n``
resamples where both sides are defined (the +1 keeps a finite bootstrap from claiming
p = 0: the smallest p-value is 2 / (n + 1)). Comparing a submission with itself gives difference 0, CI [0, 0] and p = 1.
Results JSON files, and baseline records (``baselines/results/*.json``), are accepted when
they carry their per-resample values (``lssbench evaluate --keep-resamples``); results from
different ground truths, splits, metrics versions or bootstrap settings are refused, naming
what differs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lssbench import __version__
from lssbench.jsonio import read_back
from lssbench.metrics.bootstrap import percentile_ci
from lssbench.problems import UsageError
from lssbench.domain import HEADLINES
from lssbench.scoring import CONFIDENCE, DEFAULT_RESAMPLES

COMPARE_SCHEMA_VERSION = 1


def paired_difference(a_point, b_point, a_values, b_values, confidence: float = CONFIDENCE) -> dict:
    """``{"a", "b", "difference", "ci95", "p_value"}`` for one headline (see the module doc).

    ``a_values`` / ``b_values``: per-resample values on the same resamples (None/NaN undefined).
    ``difference`` is ``b - a`` (None if either is undefined); ``ci95``/``p_value`` are None when
    fewer than half of the resamples have both values.
    """
    a_values = np.array([np.nan if v is None else v for v in a_values], dtype=np.float64)
    b_values = np.array([np.nan if v is None else v for v in b_values], dtype=np.float64)
    if a_values.shape != b_values.shape:
        raise ValueError(f"{a_values.size} and {b_values.size} resamples cannot be paired")
    d = b_values - a_values
    ci = percentile_ci(d, confidence) if d.size else None
    p_value = None
    if ci is not None:
        valid = d[np.isfinite(d)]
        n = valid.size
        p_value = min(1.0, 2.0 * min((np.sum(valid <= 0) + 1) / (n + 1), (np.sum(valid >= 0) + 1) / (n + 1)))
    difference = None if a_point is None or b_point is None else b_point - a_point
    return {"a": a_point, "b": b_point, "difference": difference,
            "ci95": list(ci) if ci is not None else None, "p_value": p_value}


SCORING_KEYS = (("gt_fingerprint", "ground truths"), ("split", "splits"), ("metrics_version", "metrics versions"))


def check_same_scoring(a: dict, b: dict, labels: tuple[str, str], action: str = "compare results",
                       need_resamples: bool = True) -> None:
    """UsageError naming the first thing that differs between the scoring of two results dicts:
    ground truth, split, metrics version, then (with ``need_resamples``, after checking that
    both carry per-resample values) the bootstrap settings. ``action`` opens the message."""
    for key, what in SCORING_KEYS:
        if a.get(key) != b.get(key):
            raise UsageError(f"cannot {action} from different {what}: {labels[0]} has {a.get(key)}, "
                             f"{labels[1]} has {b.get(key)}")
    if need_resamples:
        for label, results in zip(labels, (a, b)):
            if "resamples" not in results or "bootstrap" not in results:
                raise UsageError(f"{label} has no per-resample values to pair (scored with --bootstrap 0, or "
                                 "written without `lssbench evaluate --keep-resamples`)")
    settings = [results.get("bootstrap") or {"resamples": 0} for results in (a, b)]
    counts = [s.get("resamples") or 0 for s in settings]
    if counts[0] != counts[1]:
        said = [f"{label} was scored without bootstrap (--bootstrap 0)" if n == 0 else f"{label} with {n} resamples"
                for label, n in zip(labels, counts)]
        raise UsageError(f"cannot {action} with different bootstrap settings: {said[0]}, {said[1]}")
    for key in sorted(set(settings[0]) | set(settings[1])):
        if settings[0].get(key) != settings[1].get(key):
            raise UsageError(f"cannot {action} with different bootstrap settings: {key} is "
                             f"{settings[0].get(key)} for {labels[0]} but {settings[1].get(key)} for {labels[1]}")


def compare_results(a: dict, b: dict, labels: tuple[str, str] = ("A", "B")) -> dict:
    """The comparison of two results dicts (each with ``resamples``); see the module doc."""
    check_same_scoring(a, b, labels)
    differences = {}
    for headline in HEADLINES:
        if headline.task in a and headline.task in b and headline.name in a["resamples"] \
                and headline.name in b["resamples"]:
            found = paired_difference(a[headline.task][headline.key], b[headline.task][headline.key],
                                      a["resamples"][headline.name], b["resamples"][headline.name],
                                      a["bootstrap"].get("confidence", CONFIDENCE))
            found["higher_is_better"] = headline.higher_is_better
            differences[headline.name] = found

    def side(label, results):
        return {"name": label, "submission_fingerprint": results.get("submission_fingerprint"),
                "lssbench_version": results.get("lssbench_version"), "tasks": results.get("tasks", [])}

    return {"schema_version": COMPARE_SCHEMA_VERSION, "lssbench_version": __version__,
            "metrics_version": a["metrics_version"], "split": a["split"], "gt_fingerprint": a["gt_fingerprint"],
            "bootstrap": a["bootstrap"], "a": side(labels[0], a), "b": side(labels[1], b),
            "differences": differences}


def is_results_json(path: Path) -> bool:
    """A ``.json`` file: a results JSON or a baseline record, not a submission to score."""
    return path.is_file() and path.suffix.lower() == ".json"


def _is_record(data: dict) -> bool:
    """A baseline record (``python -m baselines bench``): its results are under ``scores``."""
    return isinstance(data.get("scores"), dict) or {"command", "device", "wall_s"} <= set(data)


#: What compare takes, named when something else is given.
COMPARE_INPUTS = "give the two submissions, or their results from `lssbench evaluate --keep-resamples --out`"


def read_results_file(path: str | os.PathLike, expected: str = COMPARE_INPUTS) -> tuple[dict, str]:
    """``(results, what)`` of a results JSON (``lssbench evaluate --out``; what = "results JSON")
    or of a baseline record (its ``scores``; what = "baseline record"). UsageError naming the
    file otherwise, ``expected`` saying what to give instead of a leaderboard JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise UsageError(f"{path}: not a readable results JSON ({error})") from None
    what = "results JSON"
    if isinstance(data, dict) and "entries" in data:
        raise UsageError(f"{path} is a leaderboard JSON, not a results JSON: {expected}")
    if isinstance(data, dict) and _is_record(data):
        if not isinstance(data.get("scores"), dict):
            raise UsageError(f"{path}: a baseline record without its scores (written before records held them); "
                             "give the baseline's predictions folder instead")
        data, what = data["scores"], "baseline record"
    if not isinstance(data, dict) or "gt_fingerprint" not in data or "submission_fingerprint" not in data:
        raise UsageError(f"{path}: not an lssbench results JSON (no gt_fingerprint or submission_fingerprint)")
    return data, what


def read_results(path: str | os.PathLike) -> dict:
    """The results dict of a results JSON or a baseline record (see :func:`read_results_file`)."""
    return read_results_file(path)[0]


def compare(a: str | os.PathLike, b: str | os.PathLike, gt=None, *, split: str | None = None,
            n_bootstrap: int | None = None, seed: int | None = None) -> dict:
    """Paired bootstrap comparison B - A of two submissions (folders, zips, results JSON files or
    baseline records).

    Folders and zips are validated and scored on ``gt`` (resolved like ``evaluate``) with
    ``n_bootstrap``/``seed``; when these are not given they are taken from a results JSON
    among the two, else the defaults (1000 resamples, seed 0). A results JSON given with
    ``gt`` must have been scored on it. Raises UsageError when the two cannot be paired.
    """
    paths = (Path(a), Path(b))
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} does not exist; expected a submission folder, .zip or results JSON")
    loaded = [read_results(path) if is_results_json(path) else None for path in paths]
    reference = next((found for found in loaded if found is not None), {}).get("bootstrap", {})
    n_bootstrap = reference.get("resamples", DEFAULT_RESAMPLES) if n_bootstrap is None else n_bootstrap
    seed = reference.get("seed", 0) if seed is None else seed
    if n_bootstrap < 1:
        raise UsageError("compare needs bootstrap resamples (--bootstrap 1 or more)")
    ground_truth = None
    if gt is not None or None in loaded:
        from lssbench.sources import resolve_ground_truth

        ground_truth = resolve_ground_truth(gt, split).ground_truth
    results = []
    for path, found in zip(paths, loaded):
        if found is not None:
            if ground_truth is not None and found.get("gt_fingerprint") != ground_truth.fingerprint:
                raise UsageError(f"{path} was scored on another ground truth ({found.get('gt_fingerprint')}) "
                                 f"than the one given ({ground_truth.fingerprint})")
        else:
            from lssbench.scoring import Evaluator
            from lssbench.submission import load_submission

            submission = load_submission(path, ground_truth)
            scored = Evaluator(ground_truth).evaluate(submission, n_bootstrap=n_bootstrap, seed=seed,
                                                      keep_resamples=True)
            found = read_back(scored)  # the values a results JSON would hold, to the digit
        results.append(found)
    return compare_results(results[0], results[1], labels=(str(paths[0]), str(paths[1])))

