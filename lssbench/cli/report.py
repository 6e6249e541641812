"""Commands over results: report (HTML of one submission), table (paper breakdowns), aggregate (seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lssbench.cli.common import (BOOTSTRAP_OPTION, GT_OPTION, SEED_OPTION, SPLIT_OPTION, check_outputs, echo,
                                 handle_errors, main, require_exists)
from lssbench.problems import UsageError


def submission_name(path: Path) -> str:
    """What a submission is called in its report: its folder or zip name."""
    path = Path(path)
    return path.name[:-4] if path.suffix.lower() == ".zip" else (path.resolve().name or str(path))


def check_report_dir(report_dir: Path | None) -> None:
    """Refuse an unusable report folder before any scoring is done."""
    if report_dir is not None:
        from lssbench.report.submission import check_report_target

        check_report_target(report_dir)


def write_extras(results: dict, ground_truth, submission, *, name: str, report_dir: Path | None,
                 per_case: Path | None) -> None:
    """Write the HTML report and/or the per-case CSV of a scored submission, and say where."""
    if per_case is not None:
        from lssbench.jsonio import write_text_atomic
        from lssbench.report.cases import per_case_csv
        from lssbench.report.submission import aligned_grades

        aligned = aligned_grades(ground_truth, submission) if "grading" in results else None
        write_text_atomic(per_case, per_case_csv(results, aligned))
        echo(f"per-case rows written to {per_case}")
    if report_dir is not None:
        from lssbench.report.submission import submission_report

        index = submission_report(report_dir, results, ground_truth, submission, name=name)
        echo(f"report written to {index}")


@main.command("report")
@click.argument("submission_path", metavar="SUBMISSION", type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder to write: index.html (self-contained) and figures/*.svg.")
@BOOTSTRAP_OPTION
@SEED_OPTION
@handle_errors
def report_command(submission_path, gt, split, out, n_bootstrap, seed):
    """Score SUBMISSION and write its HTML report: precision-recall curves per level and side,
    the grade confusion matrix and reliability diagram, Dice and HD95 per class and case,
    the five worst segmentation cases, the per-case table."""
    from lssbench.scoring import Evaluator
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import load_submission

    require_exists(submission_path)
    check_report_dir(out)
    source = resolve_ground_truth(gt, split)
    echo(f"ground truth: {source.description}")
    submission = load_submission(submission_path, source.ground_truth)
    results = Evaluator(source.ground_truth).evaluate(submission, n_bootstrap=n_bootstrap, seed=seed)
    write_extras(results, source.ground_truth, submission, name=submission_name(submission_path),
                 report_dir=out, per_case=None)


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise UsageError(f"{path} does not exist or is not a file; expected a JSON written by lssbench")
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path}: expected a JSON object written by lssbench")
    return document


def _emit(text: str, out: Path | None, what: str) -> None:
    if out is None:
        echo(text, nl=False)
    else:
        from lssbench.jsonio import write_text_atomic

        write_text_atomic(out, text)
        echo(f"{what} written to {out}")


@main.command("table")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", type=click.Choice(["task", "level", "side", "grade", "class"]), default="task",
              show_default=True, help="Columns: headline per task, AP50 and QWK per level or side, "
                                      "recall and F1 per grade, Dice and HD95 per class.")
@click.option("--format", "fmt_name", type=click.Choice(["md", "latex", "csv"]), default="md", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write here instead of printing.")
@handle_errors
def table_command(files, by, fmt_name, out):
    """A breakdown table for papers, one row per FILES entry: results JSON (value [95% interval]),
    aggregate (mean ± std) or leaderboard JSON (one row per valid entry)."""
    from lssbench.report.breakdown import breakdown_table, collect_rows

    check_outputs(out=out)
    rows = collect_rows([(str(path), _load_json(path)) for path in files])
    _emit(breakdown_table(rows, by, fmt_name), out, "table")


@main.command("aggregate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Aggregate JSON to write.")
@handle_errors
def aggregate_command(files, out):
    """Mean, sample std (ddof 1) and values of every metric over several results JSON of one
    method (e.g. training seeds) on one ground truth; `lssbench table` prints it as mean ± std."""
    from lssbench.aggregate import aggregate_results, is_aggregate
    from lssbench.jsonio import write_json_atomic

    check_outputs(out=out)
    documents = [_load_json(path) for path in files]
    for path, document in zip(files, documents):
        if is_aggregate(document) or "entries" in document or "tasks" not in document:
            raise UsageError(f"{path}: not a results JSON (from `lssbench evaluate --out`)")
    aggregate = aggregate_results(documents, [str(p) for p in files])
    write_json_atomic(out, aggregate)
    echo(f"{aggregate['runs']} runs, {len(aggregate['metrics'])} metrics: aggregate written to {out}")
