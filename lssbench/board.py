"""Many submissions -> one ranked board (plain dict, written as leaderboard.json).

Four steps, each its own function: :func:`collect_uploads` (what the paths hold),
:func:`score_cached` / :func:`score_many` / :func:`score_entry` (one entry per upload, from
the results cache when it holds one), :func:`build_leaderboard` (ranks and order; the
maths is :mod:`lssbench.ranking`) and :func:`write_outputs` (JSON and views, each
independently, as one set under the board's lock).

Every upload appears on the board. An invalid one becomes an entry with
``status: "invalid"`` and its problems; one whose scoring failed because of the scoring
machine (no disk space, out of memory, a worker killed) or of a bug becomes
``status: "error"`` with ``fault`` ``"scoring-machine"`` or ``"internal"``: it was not
judged. Neither stops the others. Reference rows (the template submission: no
detections, all-normal grades, background-only masks; optionally the reference
baseline) give every number context.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from lssbench import __version__
from lssbench.domain import SUBMISSION_NAMES, TASKS
from lssbench.metrics import METRICS_VERSION
from lssbench.parallel import WorkerLost, fork_map
from lssbench.problems import ScoringMachineError, SubmissionError, UsageError, machine_fault
from lssbench.report.text import clean_text
from lssbench.scoring import CONFIDENCE, DEFAULT_RESAMPLES, RANKING, Evaluator, bootstrap_settings

LEADERBOARD_SCHEMA_VERSION = 2
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


def without_per_case(results: dict) -> dict:
    """``results`` without the per-case segmentation rows (a results JSON has them, a board not)."""
    if not isinstance(results.get("segmentation"), dict) or "per_case" not in results["segmentation"]:
        return results
    segmentation = {k: v for k, v in results["segmentation"].items() if k != "per_case"}
    return {**results, "segmentation": segmentation}


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
    figures: dict = field(default_factory=dict)  # rank fields beyond ``ranks`` (lssbench.ranking)

    def as_dict(self) -> dict:
        results = None
        if self.results is not None:
            # per-case rows belong in the results JSON; per-resample values and parts in the cache
            results = without_per_case({k: v for k, v in self.results.items() if k not in ("resamples", "parts")})
        row = {"name": self.name, "kind": self.kind, "status": self.status, "meta": self.meta,
               "results": results, "problems": self.problems, "ranks": self.ranks}
        row.update(self.figures)
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


#: What the trivial reference row says it is.
REFERENCE_META = {"method": "trivial reference",
                  "description": "no detections; every foramen graded normal (the majority class); "
                                 "every pixel background"}


@contextlib.contextmanager
def template_upload(ground_truth) -> Iterator[Upload | Entry]:
    """The template submission (the trivial reference) written to a temporary folder, as an
    upload to score with the others; a failed entry when it cannot be written (e.g. no space).
    The folder is removed afterwards, and a failure to remove it never costs the board."""
    from lssbench.submission import write_template

    folder = None
    try:
        folder = tempfile.TemporaryDirectory(prefix="lssbench-ref-", ignore_cleanup_errors=True)
        path = write_template(ground_truth, Path(folder.name) / "template")
    except Exception as error:  # noqa: BLE001 - the board goes on without it
        if folder is not None:
            folder.cleanup()
        yield failed_entry(TEMPLATE_REFERENCE, "reference", error)
        return
    with folder:
        yield Upload(path, TEMPLATE_REFERENCE, kind="reference")


def as_template_entry(entry: Entry) -> Entry:
    """The trivial reference's row: its scores (or failure) with the meta that says what it is."""
    entry.meta = dict(REFERENCE_META)
    return entry


#: What ``--baseline`` takes, named when something else is given.
BASELINE_INPUTS = ("give the baseline's predictions (a folder or zip), its record (baselines/results/*.json) "
                   "or its results JSON")


def recorded_baseline_entry(path: Path, ground_truth, *, n_bootstrap: int, seed: int,
                            public_share: float | None = None) -> Entry:
    """The reference row of a baseline record or results JSON, as scored when it was written.

    It must have been scored on this ground truth and split, with these metrics and
    bootstrap settings (UsageError naming what differs); a record holds scores of the whole
    split, so a board with a public share needs the baseline's predictions instead. Its
    ``meta`` must follow the meta.json schema, as a submission's does.
    """
    from lssbench.comparison import check_same_scoring, read_results_file
    from lssbench.submission.parse import meta_problems

    results, what = read_results_file(path, expected=BASELINE_INPUTS)
    if public_share is not None:
        raise UsageError(f"{path}: a {what} holds scores of the whole split, not of a public share; "
                         "with --public-share give the baseline's predictions folder")
    board = {"gt_fingerprint": ground_truth.fingerprint, "split": ground_truth.split,
             "metrics_version": METRICS_VERSION, "bootstrap": bootstrap_settings(n_bootstrap, seed)}
    check_same_scoring(results, board, (str(path), "this board"), action=f"show a {what}", need_resamples=False)
    meta = results.get("meta") or {}
    problems = meta_problems(meta)
    if problems:
        raise UsageError(f"{path}: its meta does not follow meta.json's schema: {clean_text(problems[0])}")
    return Entry(name=BASELINE_REFERENCE, kind="reference", meta=dict(meta), results=results)


def score_many(jobs: Sequence[Upload], evaluator: Evaluator, *, n_bootstrap: int,
               seed: int, workers: int | None = None,
               on_done: Callable[[Entry], None] | None = None, per_case: bool = False) -> list[Entry]:
    """Score uploads in forked workers (one upload at a time each) when there are several cores.

    The ground-truth work every upload shares is done first, here (:meth:`Evaluator.prepare`),
    and inherited by the workers. Results come back in job order whatever the completion
    order, so the board is deterministic. A worker that dies (killed, out of memory) makes
    its upload an ``error`` entry.
    """
    def score(job: Upload) -> Entry:  # in a worker: the entry comes back as the board keeps it
        return _board_results(score_entry(job.path, job.name, evaluator, kind=job.kind, n_bootstrap=n_bootstrap,
                                          seed=seed, refused=job.refused), per_case)

    def lost(job: Upload, error: WorkerLost) -> Entry:
        return failed_entry(job.name, job.kind, ScoringMachineError(str(error)))

    if jobs:  # ground-truth masks and resamples made once here, inherited by every forked worker
        evaluator.prepare(n_bootstrap=n_bootstrap, seed=seed)
    entries = []
    for entry in fork_map(score, list(jobs), workers=workers, chunksize=1, on_lost=lost):
        entries.append(entry)
        if on_done:
            on_done(entry)
    return entries


# --- the results cache ----------------------------------------------------------------------------
def board_settings(n_bootstrap: int, seed: int, public_share: float | None = None) -> dict:
    """The scoring settings of a board: bootstrap settings and the public share (a cache key part)."""
    return dict(bootstrap_settings(n_bootstrap, seed), public_share=public_share)


def board_parts(ground_truth, public_share: float | None) -> dict | None:
    """``{"public": [...], "private": [...]}`` patient IDs for a public share, else None."""
    from lssbench.ranking import public_private

    if public_share is None:
        return None
    public, private = public_private(ground_truth.patients, public_share)
    return {"public": public, "private": private}


def _board_results(entry: Entry, per_case: bool = False) -> Entry:
    """Results as the board keeps them: as the JSON holds them (floats rounded), so a fresh and a
    cached entry rank alike, and without the per-case segmentation rows (never on a board)
    unless ``per_case`` (for reports written beside the board)."""
    from lssbench.jsonio import read_back

    if entry.results is not None:
        entry.results = read_back(entry.results if per_case else without_per_case(entry.results))
    return entry


def score_cached(jobs: Sequence[Upload], evaluator: Evaluator, *, cache=None, n_bootstrap: int, seed: int,
                 settings: dict, workers: int | None = None,
                 on_done: Callable[[Entry], None] | None = None, per_case: bool = False) -> list[Entry]:
    """:func:`score_many` for the uploads the results cache (a :class:`~lssbench.cache.ResultsCache`
    or None) does not hold; valid new results are stored in it. Entries in job order."""
    from lssbench.cache import cache_identity, upload_fingerprint

    identities: list[dict | None] = []
    found: dict[int, Entry] = {}
    for k, job in enumerate(jobs):
        identity = None
        if cache is not None and not job.refused:
            try:
                identity = cache_identity(upload_fingerprint(job.path), evaluator.ground_truth.fingerprint,
                                          METRICS_VERSION, settings)
            except OSError:  # unreadable: scoring will say what is wrong with it
                identity = None
        identities.append(identity)
        record = cache.load(identity) if identity is not None else None
        if record is not None:
            found[k] = Entry(name=job.name, kind=job.kind, meta=record["meta"], results=record["results"])
            if on_done:
                on_done(found[k])
    misses = [job for k, job in enumerate(jobs) if k not in found]
    scored = iter(score_many(misses, evaluator, n_bootstrap=n_bootstrap, seed=seed, workers=workers,
                             on_done=on_done, per_case=per_case))
    entries = []
    for k in range(len(jobs)):
        if k in found:
            entries.append(found[k])
            continue
        entry = next(scored)
        if identities[k] is not None and entry.status == "ok":
            cache.store(identities[k], entry.meta, entry.results)
        entries.append(entry)
    return entries


# --- building the board -------------------------------------------------------------------------
def assign_ranks(entries: Sequence[Entry]) -> None:
    """Competition ranking (1, 2, 2, 4) per task over valid submissions; references unranked."""
    from lssbench.ranking import competition_ranks

    for task, headline in RANKING.items():
        scored = [e for e in entries if e.kind == "submission" and e.status == "ok" and task in e.results]
        for entry in entries:
            entry.ranks[task] = None
        values = [e.results[task][headline.key] for e in scored]
        for entry, rank in zip(scored, competition_ranks(values, headline.higher_is_better)):
            entry.ranks[task] = int(rank)


def _order_key(kind: str, status: str, overall_rank, name: str):
    """Submissions, then references; valid first; by overall rank (none last), then name."""
    return ({"submission": 0, "reference": 1}[kind], status != "ok", overall_rank is None, overall_rank or 0, name)


def _ranking_scheme(rank_by: str | None, team_best: bool) -> dict:
    return {"scheme": "rank-by" if rank_by else "rank-then-aggregate", "rank_by": rank_by,
            "headlines": {task: headline.key for task, headline in RANKING.items()},
            "ties": "competition ranks (1, 2, 2, 4)",
            "missing_task": "counts as (entries ranked in the task + 1)",
            "uncertainty": "paired patient bootstrap: the same resamples for every entry",
            "confidence": CONFIDENCE, "best_per_team": team_best}


def _part_board(entries: Sequence[Entry], part: str, patients: Sequence[str], found: dict) -> dict:
    rows = []
    for entry, figures in zip(entries, found["entries"]):
        scored = (entry.results or {}).get("parts", {}).get(part) if entry.status == "ok" else None
        rows.append(dict(figures, name=entry.name, kind=entry.kind, status=entry.status,
                         headlines=scored["headlines"] if scored else None,
                         ci95=scored.get("ci95") if scored else None))
    rows.sort(key=lambda r: _order_key(r["kind"], r["status"], r["overall_rank"], r["name"]))
    return {"patients": list(patients), "stability": found["stability"], "entries": rows}


def build_leaderboard(entries: Sequence[Entry], ground_truth, *, n_bootstrap: int, seed: int,
                      skipped: Sequence[dict] = (), rank_by: str | None = None, best_per_team: bool = False,
                      parts: dict | None = None, public_share: float | None = None, final: bool = False) -> dict:
    """The leaderboard dict (schema_version 2): settings, the ranking scheme, then entries ordered
    by overall rank (references last) with their rank fields (docs/results.md), the names in the
    uploads folders that were skipped and why; with ``parts`` also ``boards.public``/``.private``."""
    from lssbench.ranking import rank_board_entries

    entries = list(entries)
    if rank_by is not None and rank_by not in RANKING:
        raise UsageError(f"cannot rank by {rank_by!r}: the tasks are {', '.join(RANKING)}")
    found = rank_board_entries([{"name": e.name, "kind": e.kind, "status": e.status, "meta": e.meta,
                                 "results": e.results} for e in entries],
                               rank_by=rank_by, team_best=best_per_team, parts=list(parts or ()))
    for entry, figures in zip(entries, found["entries"]):
        entry.ranks = figures["ranks"]
        entry.figures = {k: v for k, v in figures.items() if k != "ranks"}
    order = sorted(entries, key=lambda e: _order_key(e.kind, e.status, e.figures["overall_rank"], e.name))
    board = {
        "schema_version": LEADERBOARD_SCHEMA_VERSION,
        "lssbench_version": __version__,
        "metrics_version": METRICS_VERSION,
        "split": ground_truth.split,
        "gt_fingerprint": ground_truth.fingerprint,
        "ranking": _ranking_scheme(rank_by, best_per_team),
        "tasks": list(TASKS),
        "bootstrap": bootstrap_settings(n_bootstrap, seed),
        "stability": found["stability"],
        "entries": [entry.as_dict() for entry in order],
        "skipped": list(skipped),
        "public_share": public_share if parts else None,
        "shown": ("private" if final else "public") if parts else "all",
    }
    if parts:
        board["boards"] = {part: _part_board(entries, part, patients, found["parts"][part])
                           for part, patients in parts.items()}
    return board


def leaderboard(submissions: Iterable[str | os.PathLike] | Uploads, ground_truth, *, baseline=None,
                n_bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0, workers: int | None = None,
                on_done: Callable[[Entry], None] | None = None, cache=None, rank_by: str | None = None,
                best_per_team: bool = False, public_share: float | None = None, final: bool = False,
                per_case: bool = False) -> dict:
    """Score every upload (and the reference rows) and build the board.

    ``cache``: a results-cache folder or :class:`~lssbench.cache.ResultsCache`; uploads it
    holds (same bytes, ground truth, metrics version and settings) are not rescored.
    ``public_share``: split the patients into public and private boards (``final`` shows the
    private one). ``rank_by``/``best_per_team``: see docs/results.md, "How the board ranks".
    ``per_case``: the entries given to ``on_done`` keep their per-case segmentation rows (the
    board never shows them; reports written beside it do).
    """
    from lssbench.cache import ResultsCache
    from lssbench.comparison import is_results_json

    if final and public_share is None:
        raise UsageError("--final shows the private board: give --public-share too")
    if rank_by is not None and rank_by not in RANKING:
        raise UsageError(f"cannot rank by {rank_by!r}: the tasks are {', '.join(RANKING)}")
    parts = board_parts(ground_truth, public_share)
    evaluator = Evaluator(ground_truth, keep_resamples=True, parts=parts)
    if cache is not None and not isinstance(cache, ResultsCache):
        cache = ResultsCache(cache)
    settings = board_settings(n_bootstrap, seed, public_share)
    uploads = submissions if isinstance(submissions, Uploads) else collect_uploads(submissions)
    jobs = list(uploads.uploads)
    recorded = None
    if baseline is not None and is_results_json(Path(baseline)):
        recorded = recorded_baseline_entry(Path(baseline), ground_truth, n_bootstrap=n_bootstrap, seed=seed,
                                           public_share=public_share)
    elif baseline is not None:
        jobs.append(Upload(Path(baseline), BASELINE_REFERENCE, kind="reference"))

    def report(entry: Entry) -> None:  # the template row is not one of the uploads counted
        if on_done is not None and not (entry.kind == "reference" and entry.name == TEMPLATE_REFERENCE):
            on_done(entry)

    with template_upload(ground_truth) as template:  # scored beside the uploads, not after them
        batch = jobs + ([template] if isinstance(template, Upload) else [])
        scored = score_cached(batch, evaluator, cache=cache, n_bootstrap=n_bootstrap, seed=seed, settings=settings,
                              workers=workers, on_done=report, per_case=per_case)
    reference = scored.pop() if isinstance(template, Upload) else template
    entries = scored + ([recorded] if recorded is not None else []) + [as_template_entry(reference)]
    return build_leaderboard(entries, ground_truth, n_bootstrap=n_bootstrap, seed=seed, skipped=uploads.skipped,
                             rank_by=rank_by, best_per_team=best_per_team, parts=parts,
                             public_share=public_share, final=final)


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
