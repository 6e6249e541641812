"""Commands over many submissions: leaderboard, demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lssbench import __version__
from lssbench.domain import TASKS
from lssbench.cli.common import (BOOTSTRAP_OPTION, BUG_NOTE, EXIT_INTERNAL, GT_OPTION, MACHINE_FAILED, SEED_OPTION,
                                 SPLIT_OPTION, check_outputs, echo, handle_errors, main, patients_option, progress)
from lssbench.problems import UsageError


@main.command("leaderboard")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="leaderboard.json to write (a regular file in an existing folder).")
@click.option("--markdown", type=click.Path(path_type=Path), default=None, help="Also write a Markdown table.")
@click.option("--latex", type=click.Path(path_type=Path), default=None, help="Also write a LaTeX (booktabs) table.")
@click.option("--html", type=click.Path(path_type=Path), default=None, help="Also write a static HTML page.")
@click.option("--baseline", type=click.Path(exists=True, path_type=Path), default=None,
              help="The reference baseline, shown as a reference row: its predictions (folder or zip, "
                   "scored here), or its record (baselines/results/*.json) or results JSON, scored on this "
                   "ground truth with these bootstrap settings.")
@BOOTSTRAP_OPTION
@SEED_OPTION
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results cache folder: uploads scored before (same bytes, ground truth, metrics version and "
                   "settings) are not rescored. Safe to share between processes.")
@click.option("--rank-by", type=click.Choice(list(TASKS)), default=None,
              help="Rank overall by one task alone (default: the mean of the per-task ranks).")
@click.option("--best-per-team", is_flag=True,
              help="Rank only each team's best entry (team from meta.json, else the upload name).")
@click.option("--public-share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Split the test patients into a public board (this share, by a hash of the patient ID) "
                   "and a private one; the tables show the public board.")
@click.option("--final", is_flag=True, help="With --public-share: the tables show the private (final) board.")
@handle_errors
def leaderboard_command(submissions, gt, split, out, markdown, latex, html, baseline, n_bootstrap, seed, jobs,
                        cache_dir, rank_by, best_per_team, public_share, final):
    """Score SUBMISSIONS (folders, zips, or a folder of them) into a ranked leaderboard.

    Every upload appears: an invalid one is listed with its reason, one whose scoring failed
    on the scoring machine is listed as not judged (status "error"); neither stops the others.
    Hidden names and stray files in a folder of uploads are skipped with a warning.
    Output paths are checked before any work; each output is written even if another fails,
    and the set (JSON, Markdown, LaTeX, HTML) is written under one lock, so two builders of
    one board never mix their files. Ranks: docs/results.md, "How the board ranks".
    Exit code 0 when every output was written and every entry judged, 3 otherwise.
    """
    from lssbench.cache import ResultsCache, board_lock
    from lssbench.board import board_outputs, collect_uploads, leaderboard, write_outputs
    from lssbench.sources import resolve_ground_truth

    check_outputs(out=out, markdown=markdown, latex=latex, html=html)
    if final and public_share is None:
        raise UsageError("--final shows the private board: give --public-share too")
    missing = [str(p) for p in submissions if not os.path.lexists(p)]
    if missing:
        raise UsageError(f"not found: {', '.join(missing)}")
    shown = progress()
    with shown.step("loading the ground truth"):
        source = resolve_ground_truth(gt, split, progress=shown)
    echo(f"ground truth: {source.description}")
    uploads = collect_uploads(submissions)
    for skipped in uploads.skipped:
        echo(f"warning: skipped {skipped['name']}: {skipped['reason']}", err=True)
    cache = ResultsCache(cache_dir) if cache_dir else None
    board = leaderboard(uploads, source.ground_truth, baseline=baseline, n_bootstrap=n_bootstrap, seed=seed,
                        workers=jobs, on_done=_item_counter(shown, len(uploads.uploads) + (baseline is not None)),
                        cache=cache, rank_by=rank_by, best_per_team=best_per_team, public_share=public_share,
                        final=final)
    if cache is not None:
        echo(f"results cache {cache_dir}: {cache.hits} reused, {cache.misses} scored", err=True)
        for failure in cache.failures:
            echo(f"warning: the results cache could not keep {failure}", err=True)
    with board_lock(out):
        written = write_outputs(board, board_outputs(out, markdown, latex, html))
    exit_on(show_board(board, written))


def _item_counter(shown, total: int):
    done = [0]
    shown.start_items(total, "scoring")

    def on_done(entry) -> None:
        done[0] += 1
        shown.item(done[0], total, entry.name, entry.status, entry.seconds)

    return on_done


def show_board(board: dict, written) -> list[str]:
    """Say what was written and print the board; return the failures (outputs, entries) to report."""
    from lssbench import report
    from lssbench.board import FAULT_MACHINE, failed_entries

    failures = []
    for result in written:
        if result.error is None:
            echo(f"{result.output.label} written to {result.output.path}")
        elif result.fault == FAULT_MACHINE:
            failures.append(f"error: the {result.output.label} was not written to {result.output.path}: "
                            f"{result.error} (a fault of the scoring machine; the other outputs were written)")
        else:
            failures.append(f"internal error: the {result.output.label} was not written to {result.output.path}: "
                            f"{type(result.error).__name__}: {result.error}\n{BUG_NOTE}")
    try:
        echo(report.board_console(board), nl=False)
    except Exception as error:  # noqa: BLE001 - the files are written; say so and go on
        failures.append(f"internal error: the board could not be printed ({type(error).__name__}: {error}); "
                        f"the files above were written\n{BUG_NOTE}")
    for fault, names in sorted(failed_entries(board).items()):
        count = f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}"
        listed = ", ".join(names)
        if fault == FAULT_MACHINE:
            failures.append(f"error: {MACHINE_FAILED} for {count} (status \"error\" on the board): {listed}")
        else:
            failures.append(f"internal error while scoring {count}, not judged (status \"error\" on the board): "
                            f"{listed}\n{BUG_NOTE}")
    return failures


def exit_on(failures: list[str]) -> None:
    """Print each failure on stderr and exit 3 if there is any."""
    for message in failures:
        echo(message, err=True)
    if failures:
        sys.exit(EXIT_INTERNAL)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("lssbench-demo"), show_default=True)
@patients_option(5, "Patients in the synthetic dataset; a different number than the one in OUT rebuilds it.")
@BOOTSTRAP_OPTION
@handle_errors
def demo(out, patients, n_bootstrap):
    """Synthesize data, prepare the test bundle, score three sample submissions
    (perfect, jittered, weak) into a leaderboard, and say where everything is.

    The data is the compact synthetic variant (DICOM at half the PNG matrix; about 190 MB for
    100 patients); the folder's size is printed at the end. A second run in the same OUT reuses
    its dataset and bundle when they have the asked number of patients, and rebuilds them
    otherwise (it says which).
    """
    from lssbench.demo import demo_outputs, footprint_text, run_demo

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} is not a folder")
    if out.is_dir():
        check_outputs(**demo_outputs(out))
    echo(f"lssbench {__version__} demo in {out} ...")
    shown = progress()
    outputs = run_demo(out, n_patients=patients, n_bootstrap=n_bootstrap, progress=shown,
                       on_done=_item_counter(shown, 3))
    failures = show_board(outputs.board, outputs.written)
    echo("\nwhere things are:")
    for label, path in [("synthetic dataset", outputs.data), ("test ground truth", outputs.gt),
                        *[(f"submission '{k}'", v) for k, v in outputs.submissions.items()],
                        *[(r.output.label, r.output.path) for r in outputs.written if r.error is None]]:
        echo(f"  {label:<22} {path}")
    echo(f"\nnext: lssbench evaluate {outputs.submissions['jittered']} --gt {outputs.gt}")
    echo(footprint_text(out))
    exit_on(failures)
