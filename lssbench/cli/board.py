"""Commands over many submissions: leaderboard, demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lssbench import __version__
from lssbench.cli.common import BOOTSTRAP_OPTION, GT_OPTION, SEED_OPTION, SPLIT_OPTION, handle_errors, main
from lssbench.problems import UsageError


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
    (perfect, jittered, weak) into a leaderboard, and say where everything is.

    The data is the compact synthetic variant (DICOM at half the PNG matrix; about 190 MB for
    100 patients); the folder's size is printed at the end."""
    from lssbench.demo import footprint_text, run_demo

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
    click.echo(footprint_text(out))
