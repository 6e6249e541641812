"""Hostile inputs too big for a unit test: time and peak memory until each is refused.

    python benchmarks/bench_hostile.py [--keep DIR]

Cases: a detections.csv of 99 MB of bare ``\\r`` (under the 100 MB size cap), 1.4 million
rows ended by ``\\r``, a zip of one million folder entries whose end record says 1, and a
zip of one million empty files. Each is validated in a fresh child process (its peak RSS
is the figure) against a small synthetic reference, and the problem printed.
"""

from __future__ import annotations

import argparse
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

CHILD = r"""
import sys, time
from lssbench.submission import validate_submission, Reference
import pandas as pd
reference = Reference("test", ["PATIENT10010"], pd.DataFrame(
    [("PATIENT10010/IM000005", "PATIENT10010", 64, 48)], columns=["image_id", "patient_id", "width", "height"]), {})
start = time.perf_counter()
report = validate_submission(sys.argv[1], reference)
elapsed = time.perf_counter() - start
# VmHWM: this process image's peak RSS (ru_maxrss would keep the parent's across exec)
peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
print(f"{elapsed:.2f}\t{peak:.0f}\t{report.problems[0] if report.problems else 'VALID'}")
"""
HEADER = b"image_id,level,side,score,xmin,ymin,xmax,ymax\n"


def cr_bytes(folder: Path) -> Path:
    sub = folder / "cr99"
    sub.mkdir()
    (sub / "detections.csv").write_bytes(HEADER + b"\r" * (99 << 20))
    return sub


def cr_rows(folder: Path) -> Path:
    sub = folder / "cr_rows"
    sub.mkdir()
    row = b"PATIENT10010/IM000005,L3-L4,left,0.5,10,10,20,20\r"
    (sub / "detections.csv").write_bytes(HEADER + row * 1_400_000)
    return sub


def million_entries(folder: Path, directories: bool) -> Path:
    """One million entries written raw (zipfile would take minutes); the end record says 1."""
    path = folder / ("dirs.zip" if directories else "files.zip")
    local, central = bytearray(), bytearray()
    for i in range(1_000_000):
        name = (f"d{i}/" if directories else f"f{i}.txt").encode()
        offset = len(local)
        local += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        attributes = (0o40755 << 16 | 0x10) if directories else (0o100644 << 16)
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0,
                               len(name), 0, 0, 0, 0, attributes, offset) + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))
    with zipfile.ZipFile(path) as check:  # a well-formed zip: zipfile itself reads it
        assert len(check.infolist()) == 1_000_000
    return path


def measure(path: Path) -> tuple[float, float, str]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
    seconds, peak, problem = out.stdout.strip().split("\t", 2)
    return float(seconds), float(peak), problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the inputs here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="lssbench-bench-hostile-"))
    folder.mkdir(parents=True, exist_ok=True)
    baseline = measure_baseline()
    print(f"baseline: an interpreter with lssbench imported peaks at {baseline:.0f} MiB")
    print("case\tseconds\tpeak MiB\tproblem")
    for name, build in (("99 MB of bare \\r", cr_bytes), ("1.4 million \\r-ended rows", cr_rows),
                        ("1,000,000 folder entries, end record says 1", lambda f: million_entries(f, True)),
                        ("1,000,000 empty files", lambda f: million_entries(f, False))):
        start = time.perf_counter()
        path = build(folder)
        built = time.perf_counter() - start
        seconds, peak, problem = measure(path)
        print(f"{name}\t{seconds:.2f}\t{peak:.0f}\t{problem}   (input built in {built:.1f} s)")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def measure_baseline() -> float:
    code = ("import lssbench.submission, pandas; print(int(next(l for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')).split()[1]) / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
