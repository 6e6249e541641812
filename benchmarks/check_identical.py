"""Check that this checkout writes the same results as another git revision, byte for byte.

Runs the same commands twice in fresh interpreters, once with this checkout's lssbench and
once with REF's (exported with `git archive` into a temporary folder), and compares every
file they write:

* `lssbench evaluate --bootstrap 1000 --out` (and with `--keep-resamples --seed 7`) on the
  reference split (test split of `synth --patients 500 --seed 11`, as in bench_evaluate.py)
  and on the 100-patient one;
* `lssbench leaderboard --public-share 0.3 --out --markdown` on the first N seeded uploads
  of bench_leaderboard.py;
* the results of ``Evaluator(..., keep_resamples=True, parts=public/private)`` written with
  17 decimals instead of the JSON's 6 (so a difference in the last bits shows, and the
  largest absolute difference between the two is printed).

    python benchmarks/check_identical.py [--ref REV] [--uploads 6]   # REV: default where this branch left main

Exit status 0 when every file is identical (the 17-decimal dumps may differ by rounding in
the last bits: they are reported, not judged), 1 otherwise. Datasets and uploads are made
once and cached under $LSSBENCH_CACHE (or ~/.cache/lssbench), like the benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_evaluate import REPO, cached_submission, full_size_bundle
from bench_leaderboard import cached_uploads

_EXACT = """
import sys
from lssbench.groundtruth import load_ground_truth
from lssbench.jsonio import dumps
try:
    from lssbench.board import board_parts
except ImportError:  # before the module was renamed
    from lssbench.leaderboard import board_parts
from lssbench.scoring import Evaluator
from lssbench.submission import load_submission
gt = load_ground_truth(sys.argv[1])
results = Evaluator(gt, keep_resamples=True, parts=board_parts(gt, 0.3)).evaluate(
    load_submission(sys.argv[2], gt), n_bootstrap=1000, seed=3)
open(sys.argv[3], "w").write(dumps(results, digits=17))
"""


def export(ref: str, into: Path) -> Path:
    """REF's lssbench package, unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "lssbench"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_all(source: Path, out: Path, jobs: list[tuple[str, list[str]]]) -> None:
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(source))
    where = subprocess.run([sys.executable, "-c", "import lssbench; print(lssbench.__file__)"], env=env, cwd=out,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).is_relative_to(source):
        raise SystemExit(f"{source}'s lssbench is not the one imported ({where})")
    for name, args in jobs:
        args = [a.replace("{out}", str(out)) for a in args]
        done = subprocess.run([sys.executable, *args], env=env, cwd=out, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed with {source}'s lssbench (exit {done.returncode}):\n{done.stderr}")


def numbers(obj, path=""):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from numbers(value, f"{path}.{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from numbers(value, f"{path}[{i}]")
    elif isinstance(obj, float):
        yield path, obj


def largest_difference(a: Path, b: Path) -> tuple[float, str, int, list[str]]:
    """Largest |difference| between the floats of two JSON files of the same shape, where it is,
    how many differ and in which fields (list indices left out)."""
    left, right = dict(numbers(json.loads(a.read_text()))), dict(numbers(json.loads(b.read_text())))
    if left.keys() != right.keys():
        return float("inf"), "different keys", 0, []
    diffs = [(abs(left[k] - right[k]), k) for k in left]
    worst = max(diffs, default=(0.0, ""))
    fields = sorted({re.sub(r"\[\d+\]", "[]", k) for d, k in diffs if d > 0})
    return worst[0], worst[1], sum(d > 0 for d, _ in diffs), fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default=None,
                        help="git revision to compare with (default: where this branch left main)")
    parser.add_argument("--uploads", type=int, default=6, help="leaderboard uploads (default: 6)")
    args = parser.parse_args()
    if args.ref is None:
        args.ref = subprocess.run(["git", "-C", str(REPO), "merge-base", "HEAD", "main"], check=True,
                                  capture_output=True, text=True).stdout.strip()
    print(f"comparing with {args.ref}", flush=True)

    from lssbench.groundtruth import load_ground_truth

    gt500, gt100 = full_size_bundle(500, 11), full_size_bundle(100, 11)
    sub500 = cached_submission(gt500, load_ground_truth(gt500))
    sub100 = cached_submission(gt100, load_ground_truth(gt100))
    uploads = sorted(p for p in cached_uploads(gt500, load_ground_truth(gt500), 200).iterdir()
                     if not p.name.startswith("."))[:args.uploads]
    cli = ["-m", "lssbench"]
    jobs = [
        ("evaluate", cli + ["evaluate", str(sub500), "--gt", str(gt500), "--bootstrap", "1000", "--quiet",
                            "--out", "{out}/evaluate.json"]),
        ("evaluate --keep-resamples", cli + ["evaluate", str(sub500), "--gt", str(gt500), "--bootstrap", "1000",
                                             "--seed", "7", "--keep-resamples", "--quiet",
                                             "--out", "{out}/evaluate-resamples.json"]),
        ("evaluate 100", cli + ["evaluate", str(sub100), "--gt", str(gt100), "--keep-resamples", "--quiet",
                                "--out", "{out}/evaluate-100.json"]),
        ("leaderboard", cli + ["leaderboard", *map(str, uploads), "--gt", str(gt500), "--public-share", "0.3",
                               "--out", "{out}/leaderboard.json", "--markdown", "{out}/leaderboard.md"]),
        ("exact", ["-c", _EXACT, str(gt500), str(sub500), "{out}/exact17.json"]),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "ref").mkdir()
        run_all(export(args.ref, scratch / "ref"), scratch / "before", jobs)
        run_all(REPO, scratch / "after", jobs)
        same = True
        for before in sorted((scratch / "before").iterdir()):
            after = scratch / "after" / before.name
            identical = after.exists() and after.read_bytes() == before.read_bytes()
            line = f"{before.name}: {'identical' if identical else 'DIFFERENT'} ({before.stat().st_size} bytes)"
            if before.name.startswith("exact"):
                worst, where, count, fields = largest_difference(before, after)
                line += (f"; 17 decimals: {count} numbers differ, largest |difference| {worst:.3g} at {where or '-'}"
                         + (f", in {', '.join(fields)}" if fields else ""))
            else:
                same &= identical
            print(line, flush=True)
    print("all identical" if same else "SOME FILES DIFFER")
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
