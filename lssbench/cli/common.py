"""What every command shares: the ``main`` group, error handling and exit codes, common options."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import click

from lssbench import __version__
from lssbench.problems import LssbenchError, ScoringMachineError, UsageError

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
        except ScoringMachineError as error:
            _fail(f"error: the scoring machine failed, the input was not judged: {error}", EXIT_INTERNAL)
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


def echo_problems(problems, limit: int = 200) -> None:
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

    Start with `lssbench demo`. Exit codes: 0 ok, 1 invalid input, 2 usage error,
    3 a bug or a fault of the scoring machine (input not judged).
    """


def require_exists(path: Path) -> None:
    if not path.exists():
        raise UsageError(f"{path} does not exist; expected a submission folder or .zip")
