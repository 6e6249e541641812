"""Commands over one submission: template, validate, evaluate."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lssbench.cli.common import (EXIT_INVALID, GT_OPTION, SEED_OPTION, SPLIT_OPTION, BOOTSTRAP_OPTION,
                                 echo_problems, handle_errors, main, require_exists)


# --- submissions ------------------------------------------------------------------------------
@main.command()
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder (or .zip) to write.")
@handle_errors
def template(gt, split, out):
    """Write a valid starting submission: header-only detections, all-normal grades, all-zero masks."""
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import write_template

    source = resolve_ground_truth(gt, split)
    path = write_template(source.ground_truth, out)
    click.echo(f"wrote a template submission for the {source.description} to {path}")


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
    source = resolve_ground_truth(gt, split)
    report = validate_submission(preds, source.ground_truth)
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    if not report.ok:
        count = len(report.problems)
        click.echo(f"{preds}: INVALID for the {source.description}: {count} problem{'s' * (count != 1)}")
        echo_problems(report.problems)
        sys.exit(EXIT_INVALID)
    tasks = ", ".join(report.submission.tasks)
    click.echo(f"{preds}: valid for the {source.description} (tasks: {tasks})")


@main.command()
@click.argument("preds", type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the results JSON here.")
@BOOTSTRAP_OPTION
@SEED_OPTION
@click.option("--report", "report_dir", type=click.Path(path_type=Path), default=None,
              help="Also write the HTML report of the submission to this folder (index.html, figures/).")
@click.option("--per-case", "per_case", type=click.Path(path_type=Path), default=None,
              help="Also write a CSV with one row per segmentation case and class and per graded foramen.")
@click.option("--quiet", is_flag=True, help="Print only where the results went.")
@handle_errors
def evaluate(preds, gt, split, out, n_bootstrap, seed, report_dir, per_case, quiet):
    """Validate and score submission PREDS; print a summary and write the results JSON."""
    from lssbench.jsonio import write_json_atomic
    from lssbench.report import format_results
    from lssbench.scoring import Evaluator
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import load_submission

    from lssbench.cli.report import check_outputs, submission_name, write_extras

    require_exists(preds)
    check_outputs(report_dir, per_case)
    source = resolve_ground_truth(gt, split)
    click.echo(f"ground truth: {source.description}", err=quiet)
    submission = load_submission(preds, source.ground_truth)
    results = Evaluator(source.ground_truth).evaluate(submission, n_bootstrap=n_bootstrap, seed=seed)
    if not quiet:
        click.echo(format_results(results), nl=False)
    if out:
        write_json_atomic(out, results)
        click.echo(f"results written to {out}")
    write_extras(results, source.ground_truth, submission, name=submission_name(preds),
                 report_dir=report_dir, per_case=per_case)
