"""A board of many uploads, and a kill -9 in the middle of one: time, memory, entries lost.

Builds (once, cached under $LSSBENCH_CACHE or ~/.cache/lssbench) a synthetic dataset and
its test bundle, writes the three sample submissions, copies them into a folder of N
uploads, adds hostile extras (a stray meta.json and grades.csv, a .tar.gz, a .7z, a
hidden folder, a README), then:

1. runs ``lssbench leaderboard UPLOADS --out ... --markdown --latex --html`` in a
   subprocess and prints its wall time, its peak memory (the largest process, and the
   peak of the summed proportional set size of the run and its workers), and the
   entries lost (uploads expected minus entries on the board: must be 0);
2. starts the same board again, kills the parent with SIGKILL once workers run, and
   prints how long its workers outlived it and whether the next run removed the leftovers.

    python benchmarks/bench_board.py [--uploads 200] [--patients 100] [--resamples 200] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bundle(n_patients: int) -> Path:
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import prepare_ground_truth
    from lssbench.sources import cache_dir
    from lssbench.synth import synthesize

    root = cache_dir() / f"bench-n{n_patients}"
    data, gt = root / "data", root / "gt-test"
    if not data.exists():
        started = time.perf_counter()
        synthesize(data, n_patients=n_patients, seed=0)
        print(f"synthesized {n_patients} patients in {time.perf_counter() - started:.1f} s")
    if not gt.exists():
        prepare_ground_truth(read_dataset(data), "test", gt)
    return gt


def make_uploads(gt: Path, folder: Path, count: int) -> int:
    """``count`` submission folders plus hostile extras; returns the entries expected."""
    from lssbench.demo import write_sample_submissions
    from lssbench.groundtruth import load_ground_truth

    samples = write_sample_submissions(load_ground_truth(gt), folder.parent / "samples")
    folder.mkdir()
    names = list(samples)
    for i in range(count):
        shutil.copytree(samples[names[i % 3]], folder / f"team{i:03d}-{names[i % 3]}")
    (folder / "meta.json").write_text('{"team": "stray"}')
    (folder / "grades.csv").write_text("patient_id,level,side,severity\n")
    (folder / "README.txt").write_text("uploads")
    (folder / "late.tar.gz").write_bytes(b"\x1f\x8b")
    (folder / "other.7z").write_bytes(b"7z")
    (folder / ".hidden").mkdir()
    return count + 2 + 1  # the uploads, the two archives (invalid), the template reference row


def _tree(pid: int) -> set[int]:
    """``pid`` and its descendants (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in found]
        found.update(children)
        frontier.extend(children)
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def board_run(uploads: Path, gt: Path, out: Path, resamples: int, jobs: int, env: dict) -> dict:
    args = [sys.executable, "-m", "lssbench", "leaderboard", str(uploads), "--gt", str(gt),
            "--out", str(out / "lb.json"), "--markdown", str(out / "lb.md"), "--latex", str(out / "lb.tex"),
            "--html", str(out / "lb.html"), "--bootstrap", str(resamples), "--jobs", str(jobs)]
    peak = [0]
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], sum(_pss_kib(p) for p in _tree(process.pid)))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    largest = usage.ru_maxrss  # KiB, the largest process waited for
    return {"returncode": process.returncode, "seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_pss_mib": peak[0] / 1024,
            "largest_rss_mib": largest / 1024, "stderr": stderr}


def kill_run(uploads: Path, gt: Path, out: Path, jobs: int, env: dict) -> dict:
    args = [sys.executable, "-m", "lssbench", "leaderboard", str(uploads), "--gt", str(gt),
            "--out", str(out / "killed.json"), "--bootstrap", "1000", "--jobs", str(jobs)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while len(workers) < jobs and time.monotonic() < deadline:
        workers = _tree(process.pid) - {process.pid}
        time.sleep(0.05)
    seen = set(workers)
    process.send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    process.wait()
    alive = seen
    while alive and time.perf_counter() - killed < 30:
        alive = {p for p in alive if Path(f"/proc/{p}").exists()
                 and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")}
        time.sleep(0.01)
    outlived = time.perf_counter() - killed
    return {"workers_seen": len(seen), "alive_after_s": outlived, "still_alive": len(alive), "pid": process.pid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    options = parser.parse_args()
    gt = bundle(options.patients)
    with tempfile.TemporaryDirectory(prefix="lssbench-bench-board-") as tmp:
        tmp = Path(tmp)
        expected = make_uploads(gt, tmp / "uploads", options.uploads)
        (tmp / "out").mkdir()
        (tmp / "tmpdir").mkdir()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp / "tmpdir")}
        result = board_run(tmp / "uploads", gt, tmp / "out", options.resamples, options.jobs, env)
        board = json.loads((tmp / "out" / "lb.json").read_text())
        statuses = {}
        for entry in board["entries"]:
            statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
        print(f"board of {options.uploads} uploads (+ 2 unsupported archives, 4 strays), test split of "
              f"{options.patients} patients, {options.resamples} resamples, {options.jobs} workers:")
        print(f"  exit {result['returncode']}, {result['seconds']:.1f} s wall "
              f"({result['seconds'] / options.uploads:.2f} s per upload), {result['cpu_seconds']:.0f} CPU seconds "
              f"({result['cpu_seconds'] / options.uploads:.2f} per upload)")
        print(f"  peak memory: {result['peak_pss_mib']:.0f} MiB summed PSS of the run and its workers, "
              f"{result['largest_rss_mib']:.0f} MiB RSS of the largest process")
        print(f"  entries {len(board['entries'])} of {expected} expected: lost {expected - len(board['entries'])}; "
              f"statuses {statuses}; skipped {len(board['skipped'])}")
        print(f"  outputs: {sorted(p.name for p in (tmp / 'out').iterdir())}")
        killed = kill_run(tmp / "uploads", gt, tmp / "out", options.jobs, env)
        leftovers = sorted(p.name for p in (tmp / "tmpdir").iterdir())
        print(f"kill -9 of a board with {killed['workers_seen']} workers running: all workers gone "
              f"{killed['alive_after_s'] * 1000:.0f} ms after the kill ({killed['still_alive']} still alive); "
              f"left behind: {leftovers}")
        again = subprocess.run([sys.executable, "-m", "lssbench", "validate", str(tmp / "samples" / "weak"),
                                "--gt", str(gt)], env=env, capture_output=True, text=True)
        print(f"  the next run (validate, exit {again.returncode}) left: "
              f"{sorted(p.name for p in (tmp / 'tmpdir').iterdir())}")


if __name__ == "__main__":
    main()
