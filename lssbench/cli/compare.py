"""``lssbench compare A B``: the paired bootstrap difference of two submissions."""

from __future__ import annotations

from pathlib import Path

import click

from lssbench.cli.common import GT_OPTION, SPLIT_OPTION, handle_errors, main


@main.command("compare")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the comparison JSON here.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=1), default=None,
              help="Bootstrap resamples over patients (default: a results JSON's own, else 1000).")
@click.option("--seed", type=int, default=None, help="Bootstrap seed (default: a results JSON's own, else 0).")
@handle_errors
def compare_command(a, b, gt, split, out, n_bootstrap, seed):
    """Paired bootstrap difference B - A of every headline, with its 95% CI and p-value.

    A and B are submission folders, zips, results JSON files written by `lssbench evaluate
    --keep-resamples`, or baseline records (baselines/results/*.json); both must be scored on
    the same ground truth with the same bootstrap settings (the same patient resamples), or
    they are refused.
    """
    from lssbench.comparison import compare
    from lssbench.jsonio import write_json_atomic
    from lssbench.report.tables import console_table, fmt, fmt_ci

    found = compare(a, b, gt, split=split, n_bootstrap=n_bootstrap, seed=seed)
    rows = [[name, fmt(d["a"]), fmt(d["b"]), fmt_ci(d["difference"], d["ci95"]), fmt(d["p_value"])]
            for name, d in found["differences"].items()]
    click.echo(f"A = {a}\nB = {b}\n{found['split']} split, ground truth {found['gt_fingerprint'][:19]}, "
               f"{found['bootstrap']['resamples']} paired patient resamples (seed {found['bootstrap']['seed']})\n")
    if rows:
        click.echo(console_table(["headline", "A", "B", "B - A [95% CI]", "p"], rows))
    else:
        click.echo("no headline in common: A and B submitted no task in common")
    if out:
        write_json_atomic(out, found)
        click.echo(f"comparison written to {out}")
