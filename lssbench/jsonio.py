"""Canonical JSON, atomic writes and fingerprints: the one place outputs are written.

Every output is written to a temporary file in the target folder and renamed into
place, so a crash never leaves half a file. JSON is canonical: sorted keys, floats
rounded to :data:`FLOAT_DIGITS` significant decimals, NaN/inf refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FLOAT_DIGITS = 6


def canonical(obj: Any, digits: int = FLOAT_DIGITS) -> Any:
    """A JSON-ready copy: numpy scalars/arrays to Python, floats rounded, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): canonical(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return canonical(obj.tolist(), digits)
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
        return obj.as_posix()
    return obj


def dumps(obj: Any, digits: int = FLOAT_DIGITS) -> str:
    """Canonical JSON text (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(canonical(obj, digits), sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
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
