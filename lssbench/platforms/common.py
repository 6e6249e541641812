"""What both platform adapters share: finding mounted folders, scoring, the headline numbers,
the detailed-results page, and turning errors into a participant-readable last line and an exit code.

Exit codes follow the CLI: 0 scored, 1 invalid submission, 2 a folder missing (the platform's
layout is not what the program expects), 3 a bug or a fault of the scoring machine.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lssbench.groundtruth import MANIFEST_FILE
from lssbench.problems import (DataError, LssbenchError, ScoringMachineError, SubmissionError, UsageError,
                               machine_fault)
from lssbench.domain import HEADLINES
from lssbench.submission.archive import JUNK_NAMES as JUNK

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def find_bundle(folder: str | os.PathLike, what: str = "reference data") -> Path:
    """The ground-truth bundle in a mounted folder: the folder itself, or its single subfolder
    (archives often wrap their files in one top folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{what}: {folder} is not a folder")
    if (folder / MANIFEST_FILE).is_file():
        return folder
    inner = [p for p in folder.iterdir() if p.name not in JUNK]
    if len(inner) == 1 and inner[0].is_dir() and (inner[0] / MANIFEST_FILE).is_file():
        return inner[0]
    raise UsageError(f"{what}: no ground-truth bundle ({MANIFEST_FILE}) in {folder}; "
                     "expected the folder written by `lssbench prepare`")


def find_submission(folder: str | os.PathLike) -> Path:
    """The submission in a mounted folder: the folder itself, or the single .zip inside it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"submission folder {folder} does not exist")
    entries = [p for p in folder.iterdir() if p.name not in JUNK]
    if len(entries) == 1 and entries[0].is_file() and entries[0].suffix.lower() == ".zip":
        return entries[0]  # a damaged zip too: the validator then says what is wrong with it
    return folder


def load_reference(folder: str | os.PathLike):
    """The labelled ground truth of a mounted reference folder (or a manifest.json)."""
    from lssbench.groundtruth import load_ground_truth

    path = Path(folder)
    gt = load_ground_truth(path if path.is_file() else find_bundle(path))
    if not gt.has_labels:
        raise UsageError(f"{path} is a public.json, not the private ground truth (the folder written by "
                         "`lssbench prepare`)")
    return gt


@dataclass
class Scored:
    results: dict
    warnings: list[str]


def score(submission: str | os.PathLike, gt, *, n_bootstrap: int, seed: int = 0) -> Scored:
    """Validate and score; :class:`SubmissionError` (every problem) when invalid."""
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    sub = load_submission(submission, gt)
    results = Evaluator(gt).evaluate(sub, n_bootstrap=n_bootstrap, seed=seed)
    return Scored(results, list(results.get("warnings", [])))


def headline_values(results: dict) -> dict[str, float]:
    """``{"detection.AP50": value, ...}`` for every headline of the tasks scored (None left out)."""
    out = {}
    for headline in HEADLINES:
        value = (results.get(headline.task) or {}).get(headline.key)
        if value is not None:
            out[headline.name] = float(value)
    return out


def tasks_line(results: dict) -> str:
    """The "tasks submitted / not submitted" line of a results dict."""
    from lssbench.report import tasks_line as line

    return line(results.get("tasks", []))


def detailed_results_html(results: dict) -> str:
    """A self-contained page: the headline numbers, then the console summary of every task."""
    from lssbench.report import format_results
    from lssbench.report.tables import fmt_ci, html_escape, html_table

    cis = results.get("ci95", {})
    rows = [[html_escape(h.label), html_escape(fmt_ci(results[h.task][h.key], cis.get(h.name)))]
            for h in HEADLINES if h.task in results]
    title = html_escape(f"lssbench {results['lssbench_version']}: {results['split']} split")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "th,td{padding:.3em .8em;border-bottom:1px solid #ccc}td.num,th.num{text-align:right}")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{style}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
            f"<p>{html_escape(tasks_line(results))}</p>\n"
            + html_table(["headline", "value [95% CI]" if cis else "value"], rows)
            + f"<pre>{html_escape(format_results(results))}</pre>\n</body>\n</html>\n")


def run_guarded(body: Callable[[], None], *, err=None) -> int:
    """Run ``body``; map errors to an exit code, the last stderr line saying what went wrong.

    An invalid submission lists every problem, then ends with one line a participant can act on
    (Grand Challenge shows the last non-empty stderr line; Codabench shows the whole log).
    """
    err = err or sys.stderr

    def say(text: str) -> None:
        print(text, file=err, flush=True)

    try:
        body()
        return EXIT_OK
    except SubmissionError as error:
        problems = error.problems
        for problem in problems:
            say(f"  - {problem}")
        first = f": {problems[0]}" if problems else ""
        more = f" (and {len(problems) - 1} more problems listed above)" if len(problems) > 1 else ""
        say(f"invalid submission{first}{more}")
        return EXIT_INVALID
    except UsageError as error:
        say(f"error: {error}")
        return EXIT_USAGE
    except DataError as error:
        say(f"error: the organizers' ground truth cannot be read, the submission was not judged: {error}")
        return EXIT_INTERNAL
    except ScoringMachineError as error:
        return _machine_failed(error, say)
    except LssbenchError as error:
        say(f"error: {error}")
        return EXIT_INVALID
    except Exception as error:  # noqa: BLE001 -- the machine's fault or a bug: never blame the participant
        fault = machine_fault(error, "scoring the submission")
        if fault is not None:
            return _machine_failed(fault, say)
        traceback.print_exc(file=err)
        say(f"internal error of the lssbench scoring program ({type(error).__name__}: {error}); "
            "the submission was not judged")
        return EXIT_INTERNAL


def _machine_failed(fault: ScoringMachineError, say: Callable[[str], None]) -> int:
    say(f"error: the scoring machine failed, the submission was not judged: {fault}")
    return EXIT_INTERNAL
