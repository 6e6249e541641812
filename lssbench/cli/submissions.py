"""Commands over one submission: template, validate, evaluate."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lssbench.cli.common import (EXIT_INVALID, GT_OPTION, SEED_OPTION, SPLIT_OPTION, BOOTSTRAP_OPTION,
                                 check_outputs, echo, echo_problems, handle_errors, main, progress, require_exists)
from lssbench.progress import QUIET
from lssbench.problems import UsageError


# --- submissions ------------------------------------------------------------------------------
@main.command()
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder (or .zip) to write.")
@click.option("--force", is_flag=True, help="Replace the submission files already in OUT.")
@handle_errors
def template(gt, split, out, force):
    """Write a valid starting submission: header-only detections, all-normal grades, all-zero masks.

    An existing OUT (a submission you may have worked on) is refused unless --force is given.
    """
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import write_template

    if out.is_symlink() or (out.exists() and not out.is_dir() and not out.is_file()):
        raise UsageError(f"--out: {out} is a symbolic link or a special file; give a folder or a .zip path")
    if out.exists() and not force and (out.is_file() or any(out.iterdir())):
        raise UsageError(f"refusing to overwrite {out}: it exists and may hold your submission; "
                         "pass --force to replace its submission files, or choose another --out")
    if out.suffix.lower() == ".zip" or out.is_file():
        check_outputs(out=out)
    source = resolve_ground_truth(gt, split, progress=progress())
    path = write_template(source.ground_truth, out)
    echo(f"wrote a template submission for the {source.description} to {path}")


@main.command()
@click.argument("preds", type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@handle_errors
def validate(preds, gt, split):
    """Check submission PREDS (folder or .zip) without scoring it; list every problem.

    Exit code 0 when valid, 1 when invalid, 2 on a usage error.
    """
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import validate_submission

    require_exists(preds)
    source = resolve_ground_truth(gt, split, progress=progress())
    report = validate_submission(preds, source.ground_truth)
    for warning in report.warnings:
        echo(f"warning: {warning}")
    if not report.ok:
        count = len(report.problems)
        echo(f"{preds}: INVALID for the {source.description}: {count} problem{'s' * (count != 1)}")
        echo_problems(report.problems)
        sys.exit(EXIT_INVALID)
    from lssbench.report import tasks_line

    echo(tasks_line(report.submission.tasks))
    tasks = ", ".join(report.submission.tasks)
    echo(f"{preds}: valid for the {source.description} (tasks: {tasks})")


@main.command()
@click.argument("preds", type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write the results JSON here (a regular file in an existing folder); without --out no file "
                   "is written.")
@BOOTSTRAP_OPTION
@SEED_OPTION
@click.option("--report", "report_dir", type=click.Path(path_type=Path), default=None,
              help="Also write the HTML report of the submission to this folder (index.html, figures/).")
@click.option("--per-case", "per_case", type=click.Path(path_type=Path), default=None,
              help="Also write a CSV with one row per segmentation case and class and per graded foramen.")
@click.option("--quiet", is_flag=True, help="Print only where the results went.")
@click.option("--keep-resamples", is_flag=True,
              help="Keep each headline's value on every bootstrap resample in the JSON (for `lssbench compare`).")
@handle_errors
def evaluate(preds, gt, split, out, n_bootstrap, seed, report_dir, per_case, quiet, keep_resamples):
    """Validate and score submission PREDS and print a summary; with --out, also write the results JSON
    (--report: the HTML report; --per-case: a CSV of every case and graded foramen)."""
    from lssbench.jsonio import write_json_atomic
    from lssbench.report import format_results, tasks_line
    from lssbench.scoring import Evaluator
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import load_submission

    from lssbench.cli.report import check_report_dir, submission_name, write_extras

    require_exists(preds)
    check_outputs(out=out, per_case=per_case)
    check_report_dir(report_dir)
    shown = QUIET if quiet else progress()
    source = resolve_ground_truth(gt, split, progress=shown)
    echo(f"ground truth: {source.description}", err=quiet)
    submission = load_submission(preds, source.ground_truth)
    with shown.step("scoring"):
        results = Evaluator(source.ground_truth).evaluate(submission, n_bootstrap=n_bootstrap, seed=seed,
                                                          keep_resamples=keep_resamples)
    if out:
        write_json_atomic(out, results)
    if not quiet:  # warnings and the tasks first: a skipped task is never news after the tables
        for warning in results["warnings"]:
            echo(f"warning: {warning}")
        echo(tasks_line(results["tasks"]))
        echo(format_results(results, warnings=False), nl=False)
    if out:
        echo(f"results written to {out}")
    write_extras(results, source.ground_truth, submission, name=submission_name(preds),
                 report_dir=report_dir, per_case=per_case)
