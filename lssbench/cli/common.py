"""What every command shares: the ``main`` group, error handling and exit codes, common options."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import click

from lssbench import __version__
from lssbench.problems import LssbenchError, ScoringMachineError, UsageError, machine_fault
from lssbench.report.text import clean_text

EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3
BUG_NOTE = "This is a bug in lssbench; rerun with LSSBENCH_DEBUG=1 and report the traceback."
MACHINE_FAILED = "the scoring machine failed, the input was not judged"


def echo(message="", *, err: bool = False, nl: bool = True) -> None:
    """Print clean text (no raw control characters, see clean_text); a closed stdout
    (``lssbench demo | head``) silences the rest of the output, the work goes on."""
    text = clean_text(message, keep="\n\t")
    try:
        click.echo(text, err=err, nl=nl)
    except BrokenPipeError:
        _silence(sys.stderr if err else sys.stdout)


def _silence(stream) -> None:
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. under a test runner)
        pass


def _fail(message: str, code: int):
    echo(message, err=True)
    sys.exit(code)


def handle_errors(command):
    """Turn lssbench errors into messages and exit codes; never show a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from lssbench.tempdirs import run_temp_area

        try:
            with run_temp_area():
                return command(*args, **kwargs)
        except UsageError as error:
            _fail(f"error: {error}", EXIT_USAGE)
        except ScoringMachineError as error:
            _fail(f"error: {MACHINE_FAILED}: {error}", EXIT_INTERNAL)
        except LssbenchError as error:
            _fail(f"error: {error}", EXIT_INVALID)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:  # a pipe closed outside echo(): stop quietly
            _silence(sys.stdout)
            sys.exit(0)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # a fault of the machine, or a bug of ours; not the user's input
            fault = machine_fault(error, f"running `lssbench {click.get_current_context().info_name}`")
            if fault is not None:
                _fail(f"error: {MACHINE_FAILED}: {fault}", EXIT_INTERNAL)
            if os.environ.get("LSSBENCH_DEBUG"):
                traceback.print_exc()
            _fail(f"internal error: {type(error).__name__}: {error}\n{BUG_NOTE}", EXIT_INTERNAL)

    return wrapper


def echo_problems(problems, limit: int = 200) -> None:
    for problem in problems[:limit]:
        echo(f"  - {clean_text(problem)}")
    if len(problems) > limit:
        echo(f"  ... and {len(problems) - limit} more")


#: A file name to suggest when an output option names a folder (options whose file varies get none).
_EXAMPLE_NAMES = {"markdown": "leaderboard.md", "latex": "leaderboard.tex", "html": "leaderboard.html",
                  "per_case": "cases.csv", "json": "check-data.json"}


def check_outputs(**paths) -> None:
    """Refuse unwritable output paths before any work: ``check_outputs(out=path, markdown=None, ...)``
    (option names with ``_`` for ``-``). Two options naming the same file are refused too."""
    from lssbench.jsonio import check_output_path

    seen: dict[Path, str] = {}
    for name, path in paths.items():
        if path is None:
            continue
        option = "--" + name.replace("_", "-")
        check_output_path(path, option, _EXAMPLE_NAMES.get(name))
        key = Path(os.path.abspath(path))
        if key in seen:
            raise UsageError(f"{seen[key]} and {option} name the same file {path}")
        seen[key] = option


class DefaultHelpOption(click.Option):
    """An option whose help ends with ``(default: N)``, N read only when help is shown
    (``default_of`` a callable), so that ``lssbench`` starts without importing heavy modules."""

    def __init__(self, *args, default_of=None, **kwargs):
        self.default_of = default_of
        super().__init__(*args, **kwargs)

    def get_help_record(self, ctx):
        record = super().get_help_record(ctx)
        if record and self.default_of is not None:
            return record[0], f"{record[1]} (default: {self.default_of()})"
        return record


def default_patients() -> int:
    from lssbench.synth.core import DEFAULT_PATIENTS

    return DEFAULT_PATIENTS


def patients_option(minimum: int, text: str):
    return click.option("--patients", type=click.IntRange(min=minimum), default=None, cls=DefaultHelpOption,
                        default_of=default_patients, help=text)


def progress():
    """The progress display of a command (stderr; live on a terminal, log lines otherwise)."""
    from lssbench.progress import Progress

    return Progress()


GT_OPTION = click.option(
    "--gt", "gt", type=click.Path(path_type=Path), default=None,
    help="Ground truth: a bundle folder (from `prepare`), its manifest.json, a public.json, or a raw "
         "dataset folder with --split. Default: $LSSBENCH_GT, else the embedded synthetic test split.")
SPLIT_OPTION = click.option("--split", type=click.Choice(["train", "val", "test"]), default=None,
                            help="Which split, when --gt is a raw dataset folder.")
BOOTSTRAP_OPTION = click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=1000,
                                show_default=True, help="Bootstrap resamples over patients for 95% CIs (0: none).")
SEED_OPTION = click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")


class _CleanWriter:
    """A text stream that writes clean text only (see clean_text): for click's own messages,
    which quote the arguments as given (a folder name with escape sequences, say)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(clean_text(text, keep="\n\t"))

    def __getattr__(self, name):
        return getattr(self._stream, name)


class CleanGroup(click.Group):
    """The ``main`` group: click's usage errors are printed as clean text too."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as error:
            error.show(file=_CleanWriter(sys.stderr))
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=CleanGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
