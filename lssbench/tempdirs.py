"""One temporary folder per run, and the cleaning of those that killed runs left behind.

Each command runs with Python's temporary folder pointed at its own
``$TMPDIR/lssbench-run-PID-XXXXXXXX`` (extracted zips, the reference template, a bundle
prepared from a dataset folder all go there), removed when the command ends. A run
killed with ``kill -9`` cannot remove it; the next run removes every
``lssbench-run-PID-*`` folder in the same temporary area whose process no longer
exists, that is owned by the same user and that was last changed before this run began.
The first build of the default ground truth cleans its own ``.synth-PID-*`` folders in
the cache the same way. Nothing else is ever removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

RUN_PREFIX = "lssbench-run-"
_RUN_NAME = re.compile(rf"^{re.escape(RUN_PREFIX)}\d+-[A-Za-z0-9_]{{8}}$")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_folders(base: str | os.PathLike, prefix: str, before: float | None = None) -> list[Path]:
    """Remove the folders ``PREFIXPID-XXXXXXXX`` in ``base`` left by processes that no longer
    exist: owned by this user, last changed before ``before`` (default: now). Returns them."""
    before = time.time() if before is None else before
    pattern = re.compile(rf"^{re.escape(prefix)}(?P<pid>\d+)-[A-Za-z0-9_]{{8}}$")
    removed = []
    try:
        candidates = list(Path(base).iterdir())
    except OSError:
        return removed
    for folder in candidates:
        match = pattern.match(folder.name)
        if not match or int(match["pid"]) == os.getpid() or process_alive(int(match["pid"])):
            continue
        try:
            info = folder.lstat()
        except OSError:
            continue
        if folder.is_symlink() or not folder.is_dir() or info.st_uid != os.getuid() or info.st_mtime >= before:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def remove_stale_run_areas(base: str | os.PathLike, before: float | None = None) -> list[Path]:
    """Remove the run folders of dead processes in ``base`` (see the module doc); return them."""
    return remove_stale_folders(base, RUN_PREFIX, before)


def private_prefix(prefix: str) -> str:
    """``prefix`` + this process's id + ``-``: a temporary folder name that
    :func:`remove_stale_folders` can clean once this process is gone."""
    return f"{prefix}{os.getpid()}-"


@contextlib.contextmanager
def run_temp_area() -> Iterator[Path | None]:
    """Point :mod:`tempfile` at a fresh run folder for the block; clean stale ones first.

    Nested use (a command calling another) keeps the outer folder. If no folder can be
    made (a full or read-only temporary area), the block runs with the default one.
    """
    current = tempfile.gettempdir()
    if _RUN_NAME.match(Path(current).name):
        yield Path(current)
        return
    started = time.time()
    remove_stale_run_areas(current, before=started)
    try:
        area = Path(tempfile.mkdtemp(prefix=private_prefix(RUN_PREFIX), dir=current))
    except OSError:
        yield None
        return
    previous = tempfile.tempdir
    tempfile.tempdir = str(area)
    try:
        yield area
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(area, ignore_errors=True)
