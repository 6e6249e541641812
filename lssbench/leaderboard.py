"""Many submissions -> one ranked board (plain dict, written as leaderboard.json).

Four steps, each its own function: :func:`collect_uploads` (what the paths hold),
:func:`score_many` / :func:`score_entry` (one entry per upload), :func:`build_leaderboard`
(ranks and order) and :func:`write_outputs` (JSON and views, each independently).

Every upload appears on the board. An invalid one becomes an entry with
``status: "invalid"`` and its problems; one whose scoring failed because of the scoring
machine (no disk space, out of memory, a worker killed) or of a bug becomes
``status: "error"`` with ``fault`` ``"scoring-machine"`` or ``"internal"``: it was not
judged. Neither stops the others. Reference rows (the template submission: no
detections, all-normal grades, background-only masks; optionally the reference
baseline) give every number context.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lssbench import __version__
from lssbench.domain import SUBMISSION_NAMES, TASKS
from lssbench.metrics import METRICS_VERSION
from lssbench.parallel import WorkerLost, fork_map
from lssbench.problems import ScoringMachineError, SubmissionError, machine_fault
from lssbench.report.text import clean_text
from lssbench.scoring import DEFAULT_RESAMPLES, RANKING, Evaluator

LEADERBOARD_SCHEMA_VERSION = 1
TEMPLATE_REFERENCE = "reference: no detections, all normal, background masks"
BASELINE_REFERENCE = "reference: lssbench baseline"
_SUBMISSION_MARKERS = SUBMISSION_NAMES
#: Archive forms that are not accepted: such an upload is listed invalid, naming the forms that are.
UNSUPPORTED_ARCHIVES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tgz", ".tbz2", ".txz", ".tar", ".gz",
                        ".bz2", ".xz", ".zst", ".7z", ".rar", ".zipx", ".lz", ".lzma", ".z", ".cab", ".arj")
SUPPORTED_FORMS = "a folder or a .zip of one"
#: Names in an uploads folder that are never uploads (operating-system litter).
SKIPPED_NAMES = ("__MACOSX", "Thumbs.db", "desktop.ini")
FAULT_MACHINE, FAULT_INTERNAL = "scoring-machine", "internal"


@dataclass
class Entry:
    """One row of the board: a scored submission, an invalid one, a failed one or a reference row."""

    name: str
    kind: str = "submission"  # or "reference"
    status: str = "ok"  # or "invalid", or "error" (not judged: see ``fault``)
    meta: dict = field(default_factory=dict)
    results: dict | None = None
    problems: list[str] = field(default_factory=list)
    ranks: dict = field(default_factory=dict)
    fault: str | None = None  # with status "error": FAULT_MACHINE or FAULT_INTERNAL
    seconds: float = 0.0  # time spent on this entry (for progress lines; not on the board)

    def as_dict(self) -> dict:
        results = None
        if self.results is not None:
            results = dict(self.results)
            if "segmentation" in results:  # per-case rows belong in the results JSON, not the board
                results["segmentation"] = {k: v for k, v in results["segmentation"].items() if k != "per_case"}
        row = {"name": self.name, "kind": self.kind, "status": self.status, "meta": self.meta,
               "results": results, "problems": self.problems, "ranks": self.ranks}
        if self.status == "error":
            row["fault"] = self.fault
        return row


# --- collecting uploads ------------------------------------------------------------------------
@dataclass(frozen=True)
class Upload:
    """One thing to put on the board: ``path`` to score, or ``refused`` (why it is invalid unopened)."""

    path: Path
    name: str
    kind: str = "submission"
    refused: str | None = None


@dataclass
class Uploads:
    """What the given paths hold: the uploads, and the names left out (``{"name", "reason"}``)."""

    uploads: list[Upload] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [u.path for u in self.uploads]


def _unsupported_archive(path: Path) -> str | None:
    name = path.name.lower()
    return next((suffix for suffix in UNSUPPORTED_ARCHIVES if name.endswith(suffix) and name != suffix), None)


def _looks_like_submission(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in _SUBMISSION_MARKERS)


def _is_upload_candidate(path: Path) -> bool:
    """A zip, an unsupported archive or a folder holding task files: something meant as an upload."""
    if path.is_dir():
        return path.name not in _SUBMISSION_MARKERS and _looks_like_submission(path)
    return path.suffix.lower() == ".zip" or _unsupported_archive(path) is not None


def _is_folder_of_uploads(folder: Path, children: list[Path]) -> bool:
    """A folder of uploads holds upload candidates, or no task files of its own."""
    return any(_is_upload_candidate(c) for c in children if not c.name.startswith(".")) \
        or not _looks_like_submission(folder)


def collect_uploads(paths: Iterable[str | os.PathLike]) -> Uploads:
    """The uploads in ``paths``: each a submission (folder or zip), or a folder *of* them.

    A folder is one submission when it holds task files (``detections.csv``, ``grades.csv``,
    ``segmentation/``, ``meta.json``) and no uploads; otherwise each of its entries is an
    upload: folders, ``.zip`` files, and unsupported archives (listed invalid). Stray files
    (a task file beside uploads, a README) and hidden names (``.x``) are skipped, each with
    a reason. Paths given explicitly always become uploads.
    """
    collected = Uploads()
    found: list[Path] = []
    for path in map(Path, paths):
        children = sorted(path.iterdir()) if path.is_dir() else []
        if not path.is_dir() or not _is_folder_of_uploads(path, children):
            found.append(path)
            continue
        for child in children:
            if child.name.startswith(".") or child.name in SKIPPED_NAMES:
                collected.skipped.append({"name": clean_text(child.name), "reason": "hidden or system name"})
            elif child.is_dir() and child.name not in _SUBMISSION_MARKERS:
                found.append(child)
            elif _is_upload_candidate(child):
                found.append(child)
            else:
                what = "a task file beside the uploads" if child.name in _SUBMISSION_MARKERS else "not an upload"
                collected.skipped.append({"name": clean_text(child.name),
                                          "reason": f"{what}; an upload is {SUPPORTED_FORMS}"})
    for path, name in zip(found, entry_names(found)):
        suffix = _unsupported_archive(path) if not path.is_dir() else None
        refused = None
        if suffix:
            refused = f"{path.name}: unsupported archive format ({suffix}); upload {SUPPORTED_FORMS}"
        collected.uploads.append(Upload(path, name, refused=clean_text(refused) if refused else None))
    return collected


def expand_submission_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The upload paths of :func:`collect_uploads` (kept for callers that need paths only)."""
    return collect_uploads(paths).paths


def _stem(path: Path) -> str:
    suffix = ".zip" if path.suffix.lower() == ".zip" else _unsupported_archive(path)
    return path.name[:-len(suffix)] if suffix and not path.is_dir() else path.name


def entry_names(paths: Sequence[Path]) -> list[str]:
    """Unique display names (clean text): the folder or archive name without its extension;
    when two clash, the full file name, then the parent folder too, then a counter."""
    names = [_stem(p) for p in paths]
    for widen in (lambda p: p.name, lambda p: f"{p.parent.name}/{p.name}"):
        names = [widen(p) if names.count(n) > 1 else n for p, n in zip(paths, names)]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return [clean_text(n) for n in unique]


# --- scoring entries -----------------------------------------------------------------------------
def failed_entry(name: str, kind: str, error: BaseException) -> Entry:
    """The ``error`` entry of an upload whose scoring failed: a machine fault or a bug of ours."""
    fault = error if isinstance(error, ScoringMachineError) else machine_fault(error, "scoring the submission")
    if fault is not None:
        return Entry(name=name, kind=kind, status="error", fault=FAULT_MACHINE,
                     problems=[clean_text(f"the scoring machine failed, the submission was not judged: {fault}")])
    return Entry(name=name, kind=kind, status="error", fault=FAULT_INTERNAL,
                 problems=[clean_text(f"internal error (a bug in lssbench), the submission was not judged: "
                                      f"{type(error).__name__}: {error}")])


def score_entry(path: Path, name: str, evaluator: Evaluator, *, kind: str = "submission",
                n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0, refused: str | None = None) -> Entry:
    """Validate and score one submission; an invalid one becomes an ``invalid`` entry, one whose
    scoring failed an ``error`` entry. Never raises for one upload (only KeyboardInterrupt)."""
    from lssbench.submission import load_submission

    started = time.perf_counter()
    if refused:
        entry = Entry(name=name, kind=kind, status="invalid", problems=[refused])
    else:
        try:
            submission = load_submission(path, evaluator.ground_truth)
            results = evaluator.evaluate(submission, n_bootstrap=n_bootstrap, seed=seed)
            entry = Entry(name=name, kind=kind, meta=dict(submission.meta), results=results)
        except SubmissionError as error:
            problems = [clean_text(p) for p in error.problems] or [clean_text(error)]
            entry = Entry(name=name, kind=kind, status="invalid", problems=problems)
        except Exception as error:  # noqa: BLE001 - one upload never stops the board
            entry = failed_entry(name, kind, error)
    entry.seconds = time.perf_counter() - started
    return entry


def reference_entries(evaluator: Evaluator, *, n_bootstrap: int, seed: int) -> list[Entry]:
    """The template submission scored on the same ground truth (the trivial reference)."""
    from lssbench.submission import write_template

    try:
        with tempfile.TemporaryDirectory(prefix="lssbench-ref-") as tmp:
            path = write_template(evaluator.ground_truth, Path(tmp) / "template")
            entry = score_entry(path, TEMPLATE_REFERENCE, evaluator, kind="reference",
                                n_bootstrap=n_bootstrap, seed=seed)
    except Exception as error:  # noqa: BLE001 - e.g. no space for the template: the board goes on
        entry = failed_entry(TEMPLATE_REFERENCE, "reference", error)
    entry.meta = {"method": "trivial reference",
                  "description": "no detections; every foramen graded normal (the majority class); "
                                 "every pixel background"}
    return [entry]


def score_many(jobs: Sequence[Upload], evaluator: Evaluator, *, n_bootstrap: int,
               seed: int, workers: int | None = None,
               on_done: Callable[[Entry], None] | None = None) -> list[Entry]:
    """Score uploads, one forked worker process each when there are several cores.

    Results come back in job order whatever the completion order, so the board is
    deterministic. A worker that dies (killed, out of memory) makes its upload an ``error`` entry.
    """
    def score(job: Upload) -> Entry:
        return score_entry(job.path, job.name, evaluator, kind=job.kind, n_bootstrap=n_bootstrap, seed=seed,
                           refused=job.refused)

    def lost(job: Upload, error: WorkerLost) -> Entry:
        return failed_entry(job.name, job.kind, ScoringMachineError(str(error)))

    entries = []
    for entry in fork_map(score, list(jobs), workers=workers, chunksize=1, on_lost=lost):
        entries.append(entry)
        if on_done:
            on_done(entry)
    return entries


# --- building the board -------------------------------------------------------------------------
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


def build_leaderboard(entries: Sequence[Entry], ground_truth, *, n_bootstrap: int, seed: int,
                      skipped: Sequence[dict] = ()) -> dict:
    """The leaderboard dict: settings, then entries ordered by mean rank (references last),
    then the names in the uploads folders that were skipped and why."""
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
        "skipped": list(skipped),
    }


def leaderboard(submissions: Iterable[str | os.PathLike] | Uploads, ground_truth, *, baseline=None,
                n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0, workers: int | None = None,
                on_done: Callable[[Entry], None] | None = None) -> dict:
    """Score every upload (and the reference rows) and build the board."""
    evaluator = Evaluator(ground_truth)
    uploads = submissions if isinstance(submissions, Uploads) else collect_uploads(submissions)
    jobs = list(uploads.uploads)
    if baseline is not None:
        jobs.append(Upload(Path(baseline), BASELINE_REFERENCE, kind="reference"))
    entries = score_many(jobs, evaluator, n_bootstrap=n_bootstrap, seed=seed, workers=workers, on_done=on_done)
    entries += reference_entries(evaluator, n_bootstrap=n_bootstrap, seed=seed)
    return build_leaderboard(entries, ground_truth, n_bootstrap=n_bootstrap, seed=seed, skipped=uploads.skipped)


def failed_entries(board: dict) -> dict[str, list[str]]:
    """Names of the entries not judged, by fault (``scoring-machine``, ``internal``)."""
    failed: dict[str, list[str]] = {}
    for entry in board["entries"]:
        if entry["status"] == "error":
            failed.setdefault(entry.get("fault") or FAULT_INTERNAL, []).append(entry["name"])
    return failed


# --- writing outputs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Output:
    """One file to write from a board: what it is, where, and how to render it."""

    label: str
    path: Path
    render: Callable[[dict], str]


@dataclass(frozen=True)
class OutputResult:
    output: Output
    error: BaseException | None = None  # None: written

    @property
    def fault(self) -> str | None:
        """None when written; else FAULT_MACHINE (disk full, ...) or FAULT_INTERNAL (a bug)."""
        if self.error is None:
            return None
        if isinstance(self.error, ScoringMachineError) or machine_fault(self.error, "writing") is not None:
            return FAULT_MACHINE
        return FAULT_INTERNAL


def board_outputs(json_path=None, markdown=None, latex=None, html=None) -> list[Output]:
    """The board's files, JSON first: each given path with its renderer."""
    from lssbench import report
    from lssbench.jsonio import dumps

    table = [("leaderboard JSON", json_path, dumps), ("Markdown table", markdown, report.board_markdown),
             ("LaTeX table", latex, report.board_latex), ("HTML page", html, report.board_html)]
    return [Output(label, Path(path), render) for label, path, render in table if path]


def write_outputs(board: dict, outputs: Sequence[Output]) -> list[OutputResult]:
    """Render and write each output atomically; a failure in one never stops the others."""
    from lssbench.jsonio import write_text_atomic

    results = []
    for output in outputs:
        try:
            write_text_atomic(output.path, output.render(board))
            results.append(OutputResult(output))
        except Exception as error:  # noqa: BLE001 - reported by the caller, the next output goes on
            results.append(OutputResult(output, error))
    return results
