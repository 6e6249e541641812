"""How much a folder takes: file count and bytes, and one way to print a size."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def folder_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(files, bytes)`` under ``path``: regular files only, their apparent sizes
    (``st_size``), symbolic links not followed; a missing folder is ``(0, 0)``."""
    files = size = 0
    for folder, _, names in os.walk(path):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            if stat.S_ISREG(info.st_mode):
                files += 1
                size += info.st_size
    return files, size


def format_size(n_bytes: int) -> str:
    """Decimal units, three significant digits at most: ``"812 B"``, ``"171 MB"``, ``"2.31 GB"``."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 999.5 or unit == "GB":
            break
        value /= 1000
    return f"{value:.0f} {unit}" if unit == "B" or value >= 99.5 else f"{value:.3g} {unit}"


def count_files(files: int) -> str:
    """``"1 file"``, ``"2,412 files"``."""
    return f"{files:,} file{'s' * (files != 1)}"


def describe_folder(path: str | os.PathLike) -> str:
    """``"<path>: 2,412 files, 171 MB"``."""
    files, size = folder_size(path)
    return f"{Path(path)}: {count_files(files)}, {format_size(size)}"
