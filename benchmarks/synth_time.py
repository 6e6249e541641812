"""Time ``lssbench.synth.synthesize`` for N patients (default 500) into a temporary folder.

Usage: python benchmarks/synth_time.py [N] [SEED]
Prints the wall time, files written and disk size.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from lssbench.synth import synthesize


def disk_usage(root: Path) -> tuple[int, int]:
    """(number of files, total bytes) under ``root``."""
    sizes = [p.stat().st_size for p in root.rglob("*") if p.is_file()]
    return len(sizes), sum(sizes)


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 500
    seed = int(argv[2]) if len(argv) > 2 else 0
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        start = time.perf_counter()
        out = synthesize(Path(tmp) / "data", n_patients=n, seed=seed)
        seconds = time.perf_counter() - start
        files, size = disk_usage(out)
    print(f"patients: {n}  seed: {seed}")
    print(f"wall time: {seconds:.1f} s ({seconds / n:.3f} s per patient)")
    print(f"files: {files}  disk size: {size / 2**20:.1f} MiB ({size / n / 2**20:.2f} MiB per patient)")


if __name__ == "__main__":
    main(sys.argv)
