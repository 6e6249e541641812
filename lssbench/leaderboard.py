"""Many submissions -> one ranked board (plain dict, written as leaderboard.json).

Each submission is validated and scored independently; an invalid one becomes an
entry with ``status: "invalid"`` and its problems, and never stops the others.
Reference rows (the template submission: no detections, all-normal grades,
background-only masks; optionally the reference baseline) give every number context.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lssbench import __version__
from lssbench.domain import DETECTIONS_FILE, GRADES_FILE, META_FILE, SEGMENTATION_DIR, TASKS
from lssbench.metrics import METRICS_VERSION
from lssbench.parallel import fork_map
from lssbench.problems import SubmissionError
from lssbench.scoring import DEFAULT_RESAMPLES, RANKING, Evaluator

LEADERBOARD_SCHEMA_VERSION = 1
TEMPLATE_REFERENCE = "reference: no detections, all normal, background masks"
_SUBMISSION_MARKERS = (DETECTIONS_FILE, GRADES_FILE, SEGMENTATION_DIR, META_FILE)


@dataclass
class Entry:
    """One row of the board: a scored submission, an invalid one, or a reference row."""

    name: str
    kind: str = "submission"  # or "reference"
    status: str = "ok"  # or "invalid"
    meta: dict = field(default_factory=dict)
    results: dict | None = None
    problems: list[str] = field(default_factory=list)
    ranks: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        results = None
        if self.results is not None:
            results = dict(self.results)
            if "segmentation" in results:  # per-case rows belong in the results JSON, not the board
                results["segmentation"] = {k: v for k, v in results["segmentation"].items() if k != "per_case"}
        return {"name": self.name, "kind": self.kind, "status": self.status, "meta": self.meta,
                "results": results, "problems": self.problems, "ranks": self.ranks}


def expand_submission_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Submission folders and zips; a folder holding no task files is a folder *of* submissions."""
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not any((path / marker).exists() for marker in _SUBMISSION_MARKERS):
            expanded.extend(sorted(p for p in path.iterdir()
                                   if (p.is_dir() or p.suffix.lower() == ".zip") and not p.name.startswith(".")))
        else:
            expanded.append(path)
    return expanded


def entry_names(paths: Sequence[Path]) -> list[str]:
    """Unique display names: the folder or zip name, disambiguated by its parent when needed."""
    stems = [p.name[:-4] if p.suffix.lower() == ".zip" else p.name for p in paths]
    return [f"{p.parent.name}/{stem}" if stems.count(stem) > 1 else stem for p, stem in zip(paths, stems)]


def score_entry(path: Path, name: str, evaluator: Evaluator, *, kind: str = "submission",
                n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0) -> Entry:
    """Validate and score one submission; an invalid one becomes an ``invalid`` entry."""
    from lssbench.submission import load_submission

    try:
        submission = load_submission(path, evaluator.ground_truth)
    except SubmissionError as error:
        problems = [str(p) for p in error.problems] or [str(error)]
        return Entry(name=name, kind=kind, status="invalid", problems=problems)
    results = evaluator.evaluate(submission, n_bootstrap=n_bootstrap, seed=seed)
    return Entry(name=name, kind=kind, meta=dict(submission.meta), results=results)


def reference_entries(evaluator: Evaluator, *, n_bootstrap: int, seed: int) -> list[Entry]:
    """The template submission scored on the same ground truth (the trivial reference)."""
    from lssbench.submission import write_template

    with tempfile.TemporaryDirectory(prefix="lssbench-ref-") as tmp:
        path = write_template(evaluator.ground_truth, Path(tmp) / "template")
        entry = score_entry(path, TEMPLATE_REFERENCE, evaluator, kind="reference",
                            n_bootstrap=n_bootstrap, seed=seed)
    entry.meta = {"method": "trivial reference",
                  "description": "no detections; every foramen graded normal (the majority class); "
                                 "every pixel background"}
    return [entry]


def assign_ranks(entries: Sequence[Entry]) -> None:
    """Competition ranking (1, 2, 2, 4) per task over valid submissions; references unranked."""
    for task, headline in RANKING.items():
        scored = [(e.results[task][headline.key], e) for e in entries
                  if e.kind == "submission" and e.status == "ok" and task in e.results]
        for entry in entries:
            entry.ranks[task] = None
        for value, entry in scored:
            better = sum(1 for other, _ in scored
                         if (other > value if headline.higher_is_better else other < value))
            entry.ranks[task] = better + 1


def _order_key(entry: Entry):
    ranks = [r for r in entry.ranks.values() if r is not None]
    mean_rank = sum(ranks) / len(ranks) if ranks else float("inf")
    return ({"submission": 0, "reference": 1}[entry.kind], entry.status != "ok", mean_rank, entry.name)


def build_leaderboard(entries: Sequence[Entry], ground_truth, *, n_bootstrap: int, seed: int) -> dict:
    """The leaderboard dict: settings, then entries ordered by mean rank (references last)."""
    entries = list(entries)
    assign_ranks(entries)
    return {
        "schema_version": LEADERBOARD_SCHEMA_VERSION,
        "lssbench_version": __version__,
        "metrics_version": METRICS_VERSION,
        "split": ground_truth.split,
        "gt_fingerprint": ground_truth.fingerprint,
        "ranking": {task: headline.key for task, headline in RANKING.items()},
        "tasks": list(TASKS),
        "bootstrap": {"resamples": n_bootstrap, "seed": seed, "unit": "patient"},
        "entries": [entry.as_dict() for entry in sorted(entries, key=_order_key)],
    }


# --- scoring many submissions in parallel ------------------------------------------------------
def score_many(jobs: Sequence[tuple[Path, str, str]], evaluator: Evaluator, *, n_bootstrap: int,
               seed: int, workers: int | None = None,
               on_done: Callable[[Entry], None] | None = None) -> list[Entry]:
    """Score ``(path, name, kind)`` jobs, in forked worker processes when there are several cores.

    Results come back in job order whatever the completion order, so the board is deterministic.
    """
    def score(job: tuple[Path, str, str]) -> Entry:
        path, name, kind = job
        return score_entry(path, name, evaluator, kind=kind, n_bootstrap=n_bootstrap, seed=seed)

    entries = []
    for entry in fork_map(score, jobs, workers=workers):
        entries.append(entry)
        if on_done:
            on_done(entry)
    return entries


def leaderboard(submissions: Iterable[str | os.PathLike], ground_truth, *, baseline=None,
                n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0, workers: int | None = None,
                on_done: Callable[[Entry], None] | None = None) -> dict:
    """Score every submission (and the reference rows) and build the board."""
    evaluator = Evaluator(ground_truth)
    paths = expand_submission_paths(submissions)
    jobs = [(path, name, "submission") for path, name in zip(paths, entry_names(paths))]
    if baseline is not None:
        jobs.append((Path(baseline), "reference: lssbench baseline", "reference"))
    entries = score_many(jobs, evaluator, n_bootstrap=n_bootstrap, seed=seed, workers=workers,
                         on_done=on_done)
    entries += reference_entries(evaluator, n_bootstrap=n_bootstrap, seed=seed)
    return build_leaderboard(entries, ground_truth, n_bootstrap=n_bootstrap, seed=seed)
