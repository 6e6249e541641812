"""Canonical JSON, atomic writes and fingerprints: the one place outputs are written.

Every output is written to a temporary file in the target folder
(``.NAME.PID.XXXXXXXX.tmp``) and renamed into place, so a crash never leaves half a file;
:func:`check_output_path` (run before any work) refuses paths that cannot be written and
removes the temporaries of killed runs. JSON is canonical: sorted keys, floats
rounded to :data:`FLOAT_DIGITS` significant decimals, NaN/inf refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lssbench.tempdirs import process_alive

FLOAT_DIGITS = 6


def canonical(obj: Any, digits: int = FLOAT_DIGITS, sort_keys: bool = False) -> Any:
    """A JSON-ready copy: numpy scalars/arrays to Python, floats rounded, tuples to lists,
    lone surrogates in strings shown as escapes (JSON text is always valid Unicode);
    with ``sort_keys`` every dict in key order."""
    if isinstance(obj, dict):
        items = [(_clean_json_text(str(k)), canonical(v, digits, sort_keys)) for k, v in obj.items()]
        return dict(sorted(items, key=lambda item: item[0]) if sort_keys else items)
    if isinstance(obj, (list, tuple)):
        return [canonical(v, digits, sort_keys) for v in obj]
    if isinstance(obj, np.ndarray):
        return canonical(obj.tolist(), digits, sort_keys)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} cannot be written to JSON")
        value = round(value, digits)
        return 0.0 if value == 0 else value  # no "-0.0"
    if isinstance(obj, Path):
        return _clean_json_text(obj.as_posix())
    if isinstance(obj, str):
        return _clean_json_text(obj)
    return obj


def _clean_json_text(text: str) -> str:
    """Strings without lone surrogates (undecodable file-name bytes), which are not Unicode:
    they are written as visible escapes (``\\xff``, see lssbench.report.text.clean_text)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        from lssbench.report.text import clean_text

        return "".join(clean_text(ch) if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def read_back(obj: Any, digits: int = FLOAT_DIGITS) -> Any:
    """What ``json.loads(dumps(obj))`` gives -- the values a written JSON file holds, keys in
    order -- without writing and parsing the text."""
    return canonical(obj, digits, sort_keys=True)


def dumps(obj: Any, digits: int = FLOAT_DIGITS) -> str:
    """Canonical JSON text (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(canonical(obj, digits), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _tmp_prefix(path: Path, pid: int | None = None) -> str:
    """Hidden temporary files beside ``path`` are named ``.NAME.PID.XXXXXXXX.tmp``."""
    return f".{path.name}.{os.getpid() if pid is None else pid}."


_TMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]{8}\.tmp$")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the hidden ``.NAME.PID.XXXXXXXX.tmp`` files that a killed run left beside ``path``.

    Only our own leftovers go: files named like that, for ``path``'s name, whose writing
    process no longer exists. Returns what was removed.
    """
    path = Path(path)
    removed = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return removed
    for sibling in siblings:
        match = _TMP_NAME.match(sibling.name)
        if (match and match["name"] == path.name and not process_alive(int(match["pid"]))
                and sibling.is_file() and not sibling.is_symlink()):
            try:
                sibling.unlink()
                removed.append(sibling)
            except OSError:
                pass
    return removed


def check_output_path(path: str | os.PathLike, option: str = "--out", example: str | None = None) -> Path:
    """Refuse, before any work, an output path that cannot be written as a regular file.

    Raises UsageError when ``path`` is a folder, a symbolic link, a device or another
    special file (``/dev/stdout`` included: outputs are files, written atomically), or when
    its folder is missing, not a folder or not writable (probed by creating a temporary file).
    """
    from lssbench.problems import UsageError

    path = Path(path)
    if path.is_symlink():
        raise UsageError(f"{option}: {path} is a symbolic link; lssbench writes regular files only and never "
                         "replaces a link: give the path of a file")
    if path.is_dir():
        hint = f", e.g. {path / example}" if example else " inside it"
        raise UsageError(f"{option}: {path} is a folder; give a file name{hint}")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option}: {path} is not a regular file (a device, pipe or socket); lssbench writes "
                         "its outputs atomically to regular files only")
    folder = path.parent
    if not folder.exists():
        raise UsageError(f"{option}: the folder {folder} does not exist; create it first")
    if not folder.is_dir():
        raise UsageError(f"{option}: {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"{option}: cannot write in the folder {folder} ({error.strerror})") from None
    remove_stale_temporaries(path)
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A symbolic link, device or other special file at ``path`` is never replaced
    (UsageError). A full disk raises ScoringMachineError; the target is left as it was.
    """
    from lssbench.problems import ScoringMachineError, UsageError, machine_fault

    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UsageError(f"{path} is not a regular file; lssbench does not replace links, devices or folders")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException as error:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        fault = machine_fault(error, f"writing {path}") if isinstance(error, OSError) else None
        if fault is not None and not isinstance(error, ScoringMachineError):
            raise fault from error
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, digits: int = FLOAT_DIGITS) -> Path:
    return write_text_atomic(path, dumps(obj, digits))


def replaceable_folder(out: Path, is_ours) -> bool:
    """Whether a folder may be written at ``out``: nothing is there, an empty folder, or a folder
    that ``is_ours(out)`` recognises as an earlier output of the same kind."""
    return not out.exists() or (out.is_dir() and (not any(out.iterdir()) or is_ours(out)))


def replace_folder(tmp: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Rename the finished folder ``tmp`` to ``out``, replacing an existing ``out`` (same parent)."""
    import shutil

    tmp, out = Path(tmp), Path(out)
    if not out.exists():
        os.replace(tmp, out)
        return out
    old = tmp.with_name(tmp.name + ".old")
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old)
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(file_hashes: dict[str, str]) -> str:
    """One ``sha256:...`` over ``{relative path: sha256}``, independent of order."""
    lines = "".join(f"{name}\t{digest}\n" for name, digest in sorted(file_hashes.items()))
    return "sha256:" + sha256_bytes(lines.encode("utf-8"))
