"""The results cache of a board that grows: one JSON file per scored upload and scoring setup.

A record is keyed by the upload's fingerprint (its bytes: the sha256 of a zip, or of every
file of a folder by relative path -- computed before anything is parsed, so a cache hit
costs one hash), the ground-truth fingerprint, the metrics version and the bootstrap
settings (resamples, seed, confidence, method, public share). A record from another
metrics version or other settings has another key: it is never mixed in, the upload is
rescored. Each record repeats its key fields and is checked against them on reading; a
damaged or foreign file is a miss. Only valid scored uploads are cached (with their
per-resample values, so a board is re-ranked without rescoring); invalid or failed ones
are examined again on every run.

Records are written atomically (temporary file and rename) under a per-record lock
(``filelock``), so processes sharing a cache never see half a record; :func:`board_lock`
serialises writers of one board's set of files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock

from lssbench.problems import LssbenchError
from lssbench.jsonio import dumps, fingerprint, sha256_bytes, sha256_file, write_json_atomic

CACHE_FORMAT = "lssbench-results-cache"
CACHE_SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 600


def upload_fingerprint(path: str | os.PathLike) -> str:
    """``sha256:...`` of an upload's bytes: a file's sha256, or a folder's files by relative path.

    Symbolic links count by their target text (never followed). OSError when unreadable.
    """
    path = Path(path)
    if not path.is_dir():
        return "sha256:" + sha256_file(path)
    hashes: dict[str, str] = {}
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            full = Path(root) / name
            relative = full.relative_to(path).as_posix()
            if full.is_symlink():
                hashes[relative] = "symlink:" + sha256_bytes(os.readlink(full).encode("utf-8", "surrogateescape"))
            elif full.is_file():
                hashes[relative] = sha256_file(full)
    return fingerprint(hashes)


def cache_identity(upload: str, gt_fingerprint: str, metrics_version: str, settings: dict) -> dict:
    """The key fields of a record (what must all match for a cached result to be reused)."""
    return {"upload_fingerprint": upload, "gt_fingerprint": gt_fingerprint,
            "metrics_version": metrics_version, "settings": dict(settings)}


class ResultsCache:
    """A folder of records ``<sha256 of the identity>.json``; safe to share between processes."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.failures: list[str] = []  # records that could not be written (the board goes on)

    def path(self, identity: dict) -> Path:
        return self.folder / f"{sha256_bytes(dumps(identity).encode('utf-8'))}.json"

    def load(self, identity: dict) -> dict | None:
        """The cached ``{"meta", "results"}`` for ``identity``, or None (missing, damaged, foreign)."""
        try:
            record = json.loads(self.path(identity).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            record = None
        if not (isinstance(record, dict) and record.get("format") == CACHE_FORMAT
                and record.get("schema_version") == CACHE_SCHEMA_VERSION
                and record.get("identity") == json.loads(dumps(identity))
                and isinstance(record.get("results"), dict)):
            self.misses += 1
            return None
        self.hits += 1
        return {"meta": record.get("meta") or {}, "results": record["results"]}

    def store(self, identity: dict, meta: dict, results: dict) -> None:
        """Write one record atomically under its lock; a failure to write is noted in ``failures``."""
        path = self.path(identity)
        record = {"format": CACHE_FORMAT, "schema_version": CACHE_SCHEMA_VERSION, "identity": identity,
                  "meta": meta, "results": results}
        try:
            with FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S):
                write_json_atomic(path, record)
        except (OSError, LssbenchError) as error:  # disk full, a folder in the way, ...: the board goes on
            self.failures.append(f"{path.name}: {error}")


def board_lock(out: str | os.PathLike) -> FileLock:
    """The lock held while a board's files (JSON, Markdown, LaTeX, HTML) are written as one set:
    the hidden file ``.NAME.lock`` beside ``out`` (filelock leaves it in place; it is empty)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(out.parent / f".{out.name}.lock"), timeout=LOCK_TIMEOUT_S)
