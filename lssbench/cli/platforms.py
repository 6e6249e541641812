"""Commands for challenge platforms: a Codabench bundle, the Grand Challenge evaluation."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lssbench.cli.common import BOOTSTRAP_OPTION, SEED_OPTION, check_outputs, echo, handle_errors, main


@main.group()
def codabench():
    """Codabench: a competition bundle with lssbench as its scoring program."""


@codabench.command("bundle")
@click.option("--gt", "gt", type=click.Path(exists=True, path_type=Path), required=True,
              help="The private ground-truth bundle (from `prepare`) the competition scores against.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="competition.zip to write.")
@click.option("--docker-image", default=None,
              help="Image the scoring program runs in (built from lssbench's Dockerfile and pushed). "
                   "Default: lssbench-eval:<version>.")
@click.option("--title", default=None, help="Competition title.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Start date of the phase, YYYY-MM-DD (default: today).")
@BOOTSTRAP_OPTION
@handle_errors
def codabench_bundle(gt, out, docker_image, title, start, n_bootstrap):
    """Write a Codabench competition bundle: competition.yaml, scoring program, reference data,
    public data (public.json, template.zip), starting kit and an organizer README."""
    from lssbench.platforms import codabench as cb

    check_outputs(out=out)
    path = cb.build_bundle(gt, out, docker_image=docker_image or cb.DEFAULT_IMAGE, title=title or cb.DEFAULT_TITLE,
                           start=start.strftime("%Y-%m-%d") if start else None, n_bootstrap=n_bootstrap)
    echo(f"wrote the Codabench bundle to {path} (docker image {docker_image or cb.DEFAULT_IMAGE}); "
               "it holds the private ground truth: keep it private. See README.md inside.")


@main.group("grand-challenge")
def grand_challenge():
    """Grand Challenge: the evaluation container's command."""


@grand_challenge.command("evaluate")
@click.option("--input", "input_dir", type=click.Path(path_type=Path), default=Path("/input"), show_default=True,
              help="The extracted prediction submission (a folder, or a folder holding one zip).")
@click.option("--output", "output_dir", type=click.Path(path_type=Path), default=Path("/output"),
              show_default=True, help="Where metrics.json is written.")
@click.option("--gt", "gt_dir", type=click.Path(path_type=Path), default=Path("/opt/ml/input/data/ground_truth"),
              show_default=True, help="The ground-truth bundle (from `prepare`), uploaded with the phase.")
@BOOTSTRAP_OPTION
@SEED_OPTION
def grand_challenge_evaluate(input_dir, output_dir, gt_dir, n_bootstrap, seed):
    """Score the submission in INPUT against GT and write OUTPUT/metrics.json
    ({"case": ..., "aggregates": ...}). An invalid submission exits 1; the last stderr line says why."""
    from lssbench.platforms.grand_challenge import evaluate_main

    sys.exit(evaluate_main(input_dir, output_dir, gt_dir, n_bootstrap=n_bootstrap, seed=seed))
