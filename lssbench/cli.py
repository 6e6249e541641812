"""The ``lssbench`` command: a thin click layer over the Python API.

Exit codes: 0 success (a valid submission), 1 invalid submission or dataset,
2 usage error (missing files or flags), 3 internal error (a bug: please report it).
No command prints a Python traceback unless ``LSSBENCH_DEBUG=1``.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import click

from lssbench import __version__
from lssbench.problems import LssbenchError, UsageError

EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3


def _fail(message: str, code: int):
    click.echo(message, err=True)
    sys.exit(code)


def handle_errors(command):
    """Turn lssbench errors into messages and exit codes; never show a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UsageError as error:
            _fail(f"error: {error}", EXIT_USAGE)
        except LssbenchError as error:
            _fail(f"error: {error}", EXIT_INVALID)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:  # e.g. `lssbench check-data DIR | head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_INVALID)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # a bug of ours, not the user's input
            if os.environ.get("LSSBENCH_DEBUG"):
                traceback.print_exc()
            _fail(f"internal error: {type(error).__name__}: {error}\n"
                  "This is a bug in lssbench; rerun with LSSBENCH_DEBUG=1 and report the traceback.",
                  EXIT_INTERNAL)

    return wrapper


def _echo_problems(problems, limit: int = 200) -> None:
    for problem in problems[:limit]:
        click.echo(f"  - {problem}")
    if len(problems) > limit:
        click.echo(f"  ... and {len(problems) - limit} more")


GT_OPTION = click.option(
    "--gt", "gt", type=click.Path(path_type=Path), default=None,
    help="Ground truth: a bundle folder (from `prepare`), its manifest.json, a public.json, or a raw "
         "dataset folder with --split. Default: $LSSBENCH_GT, else the embedded synthetic test split.")
SPLIT_OPTION = click.option("--split", type=click.Choice(["train", "val", "test"]), default=None,
                            help="Which split, when --gt is a raw dataset folder.")
BOOTSTRAP_OPTION = click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=1000,
                                show_default=True, help="Bootstrap resamples over patients for 95% CIs (0: none).")
SEED_OPTION = click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lssbench")
def main():
    """lssbench: benchmark, evaluation suite and leaderboard for the LSS-MRI-AISSLab
    lumbar spine MRI dataset (foramen detection, stenosis grading, segmentation).

    Start with `lssbench demo`. Exit codes: 0 ok, 1 invalid input, 2 usage error, 3 bug.
    """


# --- data -------------------------------------------------------------------------------------
@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--patients", type=click.IntRange(min=1), default=None,
              help="Number of patients (default: the embedded default size).")
@click.option("--seed", type=int, default=0, show_default=True)
@handle_errors
def synth(out, patients, seed):
    """Write the synthetic LSS dataset to OUT, in the published layout."""
    from lssbench.synth import DEFAULT_PATIENTS, synthesize

    path = synthesize(out, n_patients=patients or DEFAULT_PATIENTS, seed=seed)
    click.echo(f"wrote a synthetic dataset of {patients or DEFAULT_PATIENTS} patients (seed {seed}) to {path}")


@main.command("check-data")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the counts and problems as JSON.")
@handle_errors
def check_data(data, json_out):
    """Read dataset folder DATA (decoding every mask), print its counts and every problem found."""
    from lssbench.dataset import read_dataset, summarize_dataset
    from lssbench.jsonio import dumps, write_json_atomic

    dataset = read_dataset(data, strict=False, check_masks=True)
    summary = summarize_dataset(dataset)
    click.echo(dumps(summary), nl=False)
    if json_out:
        write_json_atomic(json_out, {"schema_version": 1, "lssbench_version": __version__, "dataset": str(data),
                                     "summary": summary, "problems": [p.as_dict() for p in dataset.problems]})
    if dataset.problems:
        click.echo(f"{len(dataset.problems)} problem{'s' * (len(dataset.problems) != 1)}:")
        _echo_problems(dataset.problems)
        sys.exit(EXIT_INVALID)
    click.echo("no problems found")


@main.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["train", "val", "test"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Bundle folder to write.")
@click.option("--split-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A frozen split (from `splits freeze`) instead of the lssbench-v1 rule.")
@handle_errors
def prepare(data, split, out, split_file):
    """Write the ground-truth bundle of one split of DATA (detection.json, grades.csv,
    segmentation/, manifest.json, and public.json for participants)."""
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import load_ground_truth, prepare_ground_truth
    from lssbench.splits import load_split_definition

    definition = load_split_definition(split_file) if split_file else None
    path = prepare_ground_truth(read_dataset(data), split, out, definition=definition)
    gt = load_ground_truth(path)
    click.echo(f"wrote the {split} bundle to {path}: {len(gt.patients)} patients, {len(gt.images)} annotated "
               f"slices, {len(gt.boxes)} boxes, {len(gt.grades)} graded foramina, {len(gt.cases)} masks; "
               f"fingerprint {gt.fingerprint}")
    click.echo(f"publish {path / 'public.json'} to participants; keep the rest private")


@main.group()
def splits():
    """Patient-level splits: show them, or freeze them for a copy of the data."""


@splits.command("show")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@handle_errors
def splits_show(data, split_file):
    """Print split sizes and grade mix per split of dataset DATA."""
    from lssbench.dataset import read_dataset
    from lssbench.jsonio import dumps
    from lssbench.splits import load_split_definition, split_summary

    definition = load_split_definition(split_file) if split_file else None
    click.echo(dumps(split_summary(read_dataset(data), definition)), nl=False)


@splits.command("freeze")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True)
@handle_errors
def splits_freeze(data, out):
    """Write the explicit patient lists of DATA's splits, with the dataset fingerprint."""
    from lssbench.dataset import read_dataset
    from lssbench.splits import freeze_split

    path = freeze_split(read_dataset(data), out)
    click.echo(f"wrote {path}")


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

    _require_exists(preds)
    source = resolve_ground_truth(gt, split)
    report = validate_submission(preds, source.ground_truth)
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    if not report.ok:
        count = len(report.problems)
        click.echo(f"{preds}: INVALID for the {source.description}: {count} problem{'s' * (count != 1)}")
        _echo_problems(report.problems)
        sys.exit(EXIT_INVALID)
    tasks = ", ".join(report.submission.tasks)
    click.echo(f"{preds}: valid for the {source.description} (tasks: {tasks})")


def _require_exists(path: Path) -> None:
    if not path.exists():
        raise UsageError(f"{path} does not exist; expected a submission folder or .zip")


@main.command()
@click.argument("preds", type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the results JSON here.")
@BOOTSTRAP_OPTION
@SEED_OPTION
@click.option("--quiet", is_flag=True, help="Print only where the results went.")
@handle_errors
def evaluate(preds, gt, split, out, n_bootstrap, seed, quiet):
    """Validate and score submission PREDS; print a summary and write the results JSON."""
    from lssbench.jsonio import write_json_atomic
    from lssbench.report import format_results
    from lssbench.scoring import Evaluator
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import load_submission

    _require_exists(preds)
    source = resolve_ground_truth(gt, split)
    click.echo(f"ground truth: {source.description}", err=quiet)
    submission = load_submission(preds, source.ground_truth)
    results = Evaluator(source.ground_truth).evaluate(submission, n_bootstrap=n_bootstrap, seed=seed)
    if not quiet:
        click.echo(format_results(results), nl=False)
    if out:
        write_json_atomic(out, results)
        click.echo(f"results written to {out}")


@main.command("leaderboard")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), required=True, help="leaderboard.json to write.")
@click.option("--markdown", type=click.Path(path_type=Path), default=None, help="Also write a Markdown table.")
@click.option("--latex", type=click.Path(path_type=Path), default=None, help="Also write a LaTeX (booktabs) table.")
@click.option("--html", type=click.Path(path_type=Path), default=None, help="Also write a static HTML page.")
@click.option("--baseline", type=click.Path(exists=True, path_type=Path), default=None,
              help="Predictions of the reference baseline, shown as a reference row.")
@BOOTSTRAP_OPTION
@SEED_OPTION
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@handle_errors
def leaderboard_command(submissions, gt, split, out, markdown, latex, html, baseline, n_bootstrap, seed, jobs):
    """Score SUBMISSIONS (folders, zips, or a folder of them) into a ranked leaderboard.

    An invalid submission is listed with its reason and does not stop the others.
    """
    from lssbench.leaderboard import expand_submission_paths, leaderboard
    from lssbench.sources import resolve_ground_truth

    missing = [str(p) for p in submissions if not p.exists()]
    if missing:
        raise UsageError(f"not found: {', '.join(missing)}")
    source = resolve_ground_truth(gt, split)
    click.echo(f"ground truth: {source.description}")
    total = len(expand_submission_paths(submissions)) + (baseline is not None)
    with click.progressbar(length=total, label="scoring", file=sys.stderr) as bar:
        board = leaderboard(submissions, source.ground_truth, baseline=baseline, n_bootstrap=n_bootstrap,
                            seed=seed, workers=jobs, on_done=lambda entry: bar.update(1))
    _write_board(board, out, {"Markdown table": (markdown, "board_markdown"),
                              "LaTeX table": (latex, "board_latex"), "HTML page": (html, "board_html")})


def _write_board(board: dict, out: Path | None, views: dict) -> None:
    """Print the board, write its JSON to ``out`` (if given) and each view ``{label: (path, renderer)}``."""
    from lssbench import report
    from lssbench.jsonio import write_json_atomic, write_text_atomic

    click.echo(report.board_console(board), nl=False)
    if out:
        write_json_atomic(out, board)
        click.echo(f"leaderboard written to {out}")
    for label, (path, renderer) in views.items():
        if path:
            write_text_atomic(path, getattr(report, renderer)(board))
            click.echo(f"{label} written to {path}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("lssbench-demo"), show_default=True)
@click.option("--patients", type=click.IntRange(min=5), default=None,
              help="Patients in the synthetic dataset (default: the embedded default size).")
@BOOTSTRAP_OPTION
@handle_errors
def demo(out, patients, n_bootstrap):
    """Synthesize data, prepare the test bundle, score three sample submissions
    (perfect, jittered, weak) into a leaderboard, and say where everything is."""
    from lssbench.demo import run_demo

    click.echo(f"lssbench {__version__} demo in {out} ...")
    outputs = run_demo(out, n_patients=patients, n_bootstrap=n_bootstrap)
    views = {"leaderboard Markdown": (out / "leaderboard.md", "board_markdown"),
             "leaderboard HTML": (out / "leaderboard.html", "board_html")}
    _write_board(outputs.board, None, views)  # run_demo wrote the JSON
    click.echo("\nwhere things are:")
    for label, path in [("synthetic dataset", outputs.data), ("test ground truth", outputs.gt),
                        *[(f"submission '{k}'", v) for k, v in outputs.submissions.items()],
                        ("leaderboard JSON", outputs.leaderboard), *[(k, p) for k, (p, _) in views.items()]]:
        click.echo(f"  {label:<22} {path}")
    click.echo(f"\nnext: lssbench evaluate {outputs.submissions['jittered']} --gt {outputs.gt}")


if __name__ == "__main__":  # pragma: no cover
    main()
