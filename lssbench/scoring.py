"""Submission + ground truth -> results dict. No printing, no files written here.

:class:`Evaluator` follows OGB's shape: built once from a ground truth, then
``evaluate(submission)`` takes one submission and returns one plain dict whose keys
are documented in docs/results.md and stable across releases.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from lssbench import __version__
from lssbench.domain import HEADLINES, RANKING, TASKS, Headline  # noqa: F401  (re-exported)
from lssbench.metrics import METRICS_VERSION
from lssbench.metrics.bootstrap import BatchStatistic, batch_values, bootstrap_counts, percentile_ci, subset_counts
from lssbench.metrics.detection import match_detections
from lssbench.metrics.grading import align_grades, evaluate_aligned_grades, unit_confusions, weighted_kappas
from lssbench.metrics.segmentation import (case_metrics, headline_arrays, headline_from_weights, prepare_truth,
                                           summarize_cases)
from lssbench.parallel import fork_map
from lssbench.problems import DataError, UsageError

RESULTS_SCHEMA_VERSION = 1
DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95


class Evaluator:
    """Scores submissions against one labelled ground truth (a test or val bundle)."""

    def __init__(self, ground_truth, *, keep_resamples: bool = False,
                 parts: Mapping[str, Sequence[str]] | None = None):
        """``keep_resamples`` and ``parts``: the defaults of :meth:`evaluate` (a board sets them once)."""
        if not ground_truth.has_labels:
            raise UsageError(
                f"the {ground_truth.split} ground truth has no labels (a public.json?): "
                "it can validate submissions but not score them; give the private bundle with --gt"
            )
        self.ground_truth = ground_truth
        self.patients: list[str] = list(ground_truth.patients)
        self._patient_index = {pid: i for i, pid in enumerate(self.patients)}
        self.keep_resamples = keep_resamples
        self.parts = dict(parts) if parts else None
        self._counts: dict = {}
        self._prepared: dict = {}

    def prepare(self, *, n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0) -> "Evaluator":
        """Do the ground-truth work every submission shares now (decode the masks, find their
        surface pixels and class counts, draw the resamples of these settings and of the
        parts), so that workers forked afterwards inherit it instead of each doing it again.
        Optional: :meth:`evaluate` does what is missing. Returns the evaluator."""
        if self.ground_truth.cases:
            for patient_id in sorted(self.ground_truth.cases):
                self._prepared_truth(patient_id)
        if n_bootstrap > 0:
            self._resamples(None, n_bootstrap, seed)
            for patients in (self.parts or {}).values():
                self._resamples(self._members(patients), n_bootstrap, seed)
        return self

    def _prepared_truth(self, patient_id: str):
        """What every prediction needs of a ground-truth mask (:func:`prepare_truth`), worked out once."""
        if patient_id not in self._prepared:
            self._prepared[patient_id] = prepare_truth(self.ground_truth.mask(patient_id))
        return self._prepared[patient_id]

    def _resamples(self, members: np.ndarray | None, n_bootstrap: int, seed: int) -> np.ndarray:
        """Patient multiplicities of the resamples (all patients, or drawn within ``members``), kept."""
        key = (None if members is None else members.tobytes(), n_bootstrap, seed)
        if key not in self._counts:
            n = len(self.patients)
            self._counts[key] = (bootstrap_counts(n, n_bootstrap, seed) if members is None
                                 else subset_counts(n, members, n_bootstrap, seed))
            self._counts[key].flags.writeable = False
        return self._counts[key]

    def _members(self, patients: Sequence[str]) -> np.ndarray:
        unknown = sorted(set(patients) - set(self._patient_index))
        if unknown:
            raise UsageError(f"patient {unknown[0]} of a board part is not in the {self.ground_truth.split} "
                             "ground truth")
        if not patients:
            raise UsageError("a board part needs at least one patient")
        return np.array(sorted(self._patient_index[pid] for pid in set(patients)), dtype=np.int64)

    def evaluate(self, submission, *, n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0,
                 keep_resamples: bool | None = None, parts: Mapping[str, Sequence[str]] | None = None) -> dict:
        """Results dict for every task present in ``submission`` (a validated Submission).

        ``keep_resamples`` (default: the evaluator's) adds ``results["resamples"]``: each
        headline's value on every bootstrap resample (``None`` where undefined), in order.
        The draws depend on ``seed``, ``n_bootstrap`` and the ground truth's patients only,
        so two submissions scored with the same settings are paired resample by resample.

        ``parts`` (default: the evaluator's; ``{name: patient IDs}``, e.g. the public and
        private patients of a board) adds ``results["parts"][name]``: the headlines on those
        patients alone (a re-weighting: weight 1 on the part's patients, 0 elsewhere), their
        CIs from resamples drawn within the part (:func:`subset_counts`, same seed), and
        with ``keep_resamples`` their per-resample values.
        """
        keep_resamples = self.keep_resamples if keep_resamples is None else keep_resamples
        parts = self.parts if parts is None else parts
        results: dict = self._header(submission)
        statistics: dict[str, BatchStatistic] = {}
        warnings: list[str] = list(getattr(submission, "warnings", []))
        for task in TASKS:
            if task in submission.tasks:
                scorer = getattr(self, f"_score_{task}")
                results[task], task_statistics, task_warnings = scorer(submission)
                statistics.update({f"{task}.{key}": fn for key, fn in task_statistics.items()})
                warnings.extend(task_warnings)
        if n_bootstrap > 0 and statistics:
            values = batch_values(statistics, self._resamples(None, n_bootstrap, seed))
            results["ci95"] = _cis(values)
            results["bootstrap"] = bootstrap_settings(n_bootstrap, seed)
            if keep_resamples:
                results["resamples"] = _lists(values)
        if parts:
            results["parts"] = {name: self._part(statistics, patients, n_bootstrap, seed, keep_resamples)
                                for name, patients in parts.items()}
        results["warnings"] = warnings
        return results

    def _part(self, statistics: Mapping[str, BatchStatistic], patients: Sequence[str], n_bootstrap: int,
              seed: int, keep_resamples: bool) -> dict:
        members = self._members(patients)
        weights = np.zeros((1, len(self.patients)), dtype=np.int64)
        weights[0, members] = 1
        part: dict = {"patients": int(members.size),
                      "headlines": {name: _float_or_none(_finite_or_none(value[0]))
                                    for name, value in batch_values(statistics, weights).items()}}
        if n_bootstrap > 0 and statistics:
            values = batch_values(statistics, self._resamples(members, n_bootstrap, seed))
            part["ci95"] = _cis(values)
            if keep_resamples:
                part["resamples"] = _lists(values)
        return part

    def _header(self, submission) -> dict:
        return {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "lssbench_version": __version__,
            "metrics_version": METRICS_VERSION,
            "split": self.ground_truth.split,
            "gt_fingerprint": self.ground_truth.fingerprint,
            "submission_fingerprint": submission.fingerprint,
            "meta": dict(getattr(submission, "meta", None) or {}),  # team, method, ...: names the run in tables
            "tasks": [task for task in TASKS if task in submission.tasks],
        }

    def _unit_weights(self, patient_ids) -> Callable[[np.ndarray], np.ndarray]:
        """Maps patient multiplicities ``(B, n_patients)`` to those of the rows owned by
        ``patient_ids`` ``(B, n_rows)``."""
        index = self._unit_positions(patient_ids)
        return lambda patient_weights: patient_weights[:, index]

    def _unit_positions(self, patient_ids) -> np.ndarray:
        return np.array([self._patient_index[pid] for pid in patient_ids], dtype=np.int64)

    # --- tasks -----------------------------------------------------------------------------
    def _score_detection(self, submission):
        gt = self.ground_truth
        image_ids = list(gt.images["image_id"])
        matches = match_detections(gt.boxes, submission.detections, image_ids)
        summary = matches.summary()
        warnings = summary.pop("warnings", [])
        to_images = self._unit_weights(gt.images["patient_id"])
        headline = _once_per_resample(lambda w: matches.headlines(to_images(w)))
        statistics = {"mAP": lambda w: headline(w)["mAP"], "AP50": lambda w: headline(w)["AP50"]}
        return summary, statistics, [f"detections.csv: {message}" for message in warnings]

    def _score_grading(self, submission):
        truth = self.ground_truth.grades
        aligned = align_grades(truth, submission.grades)
        summary = evaluate_aligned_grades(aligned)
        y_true = aligned["severity_true"].to_numpy(dtype=np.int64)
        y_pred = aligned["severity_pred"].to_numpy(dtype=np.int64)
        per_patient = unit_confusions(y_true, y_pred, self._unit_positions(aligned["patient_id"]), len(self.patients))
        statistics = {"qwk": lambda w: weighted_kappas(per_patient, w, weights="quadratic")}
        return summary, statistics, []

    def _score_segmentation(self, submission):
        gt = self.ground_truth
        missing = [pid for pid, case in gt.cases.items() if not case.get("spacing_mm")]
        if missing:
            raise DataError(f"the ground truth has no pixel spacing for {len(missing)} segmentation cases "
                            f"(e.g. {sorted(missing)[0]}): distances in mm cannot be computed")
        case_ids = sorted(gt.cases)

        def metrics_of(pid):  # in a worker, unless prepare() has done the ground-truth part before forking
            return case_metrics(gt.mask(pid), submission.masks[pid], tuple(gt.cases[pid]["spacing_mm"]),
                                prepared_truth=self._prepared_truth(pid))

        per_case = dict(zip(case_ids, fork_map(metrics_of, case_ids, min_items=16)))
        summary = summarize_cases(per_case)
        summary["per_case"] = [{"patient_id": pid, "metrics": per_case[pid]} for pid in sorted(per_case)]
        case_ids, dice, hd95 = headline_arrays(per_case)
        to_cases = self._unit_weights(case_ids)

        def weighted_headline(w):  # NaN where a resample drew no segmentation case
            case_weights = to_cases(w)
            drawn = case_weights.any(axis=1)
            mean_dice, mean_hd95 = np.full(len(w), np.nan), np.full(len(w), np.nan)
            if drawn.any():
                mean_dice[drawn], mean_hd95[drawn] = headline_from_weights(dice, hd95, case_weights[drawn])
            return mean_dice, mean_hd95

        headline = _once_per_resample(weighted_headline)
        statistics = {"mean_dice": lambda w: headline(w)[0], "mean_hd95_mm": lambda w: headline(w)[1]}
        return summary, statistics, []


def bootstrap_settings(n_bootstrap: int, seed: int) -> dict:
    """The settings that make two results' resamples the same draws (compared before pairing)."""
    return {"resamples": n_bootstrap, "seed": seed, "unit": "patient", "confidence": CONFIDENCE,
            "method": "percentile"}


def _cis(values: Mapping[str, np.ndarray]) -> dict:
    cis = {name: percentile_ci(v, CONFIDENCE) for name, v in values.items()}
    return {name: (list(ci) if ci is not None else None) for name, ci in cis.items()}


def _lists(values: Mapping[str, np.ndarray]) -> dict:
    """Per-resample values as JSON lists, NaN (undefined) as ``None``."""
    return {name: [None if np.isnan(x) else float(x) for x in v] for name, v in values.items()}


def _finite_or_none(value):
    return None if value is None or not np.isfinite(value) else value


def _float_or_none(value):
    return None if value is None else float(value)


def _once_per_resample(compute: Callable[[np.ndarray], object]) -> Callable[[np.ndarray], object]:
    """Memoize ``compute`` on the last weight matrix, so statistics sharing it run it once."""
    last: dict = {}

    def cached(weights: np.ndarray):
        key = weights.tobytes()
        if last.get("key") != key:
            last.update(key=key, value=compute(weights))
        return last["value"]

    return cached


def evaluate(submission_path, gt=None, *, split: str | None = None,
             n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0, keep_resamples: bool = False) -> dict:
    """One call: resolve the ground truth, validate the submission, score it.

    Raises :class:`~lssbench.problems.SubmissionError` listing every problem when the
    submission is invalid.
    """
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import load_submission

    ground_truth = resolve_ground_truth(gt, split).ground_truth
    submission = load_submission(submission_path, ground_truth)
    return Evaluator(ground_truth).evaluate(submission, n_bootstrap=n_bootstrap, seed=seed,
                                            keep_resamples=keep_resamples)
