"""Time `lssbench leaderboard` on 200 submissions of the reference test split.

The split is the test split of `lssbench synth --patients 500 --seed 11` (as in
bench_evaluate.py); each submission has its own seeded degradation (box jitter, misses,
false positives to about 43 detections per slice, regrades, shifted masks), so the board
holds 200 different results plus the reference row. The board runs in a fresh
interpreter with its default 1,000 bootstrap resamples per entry on all cores:

    python benchmarks/bench_leaderboard.py [--patients 500] [--submissions 200] [--bootstrap 1000] [--jobs N]
                                           [--pages]

``--pages`` also writes the Markdown table and the HTML page, as an organizer publishing the board would.

Prints the wall time, CPU time, peak memory (the largest resident set of it and its
workers) and the load average. The uploads are written once and cached under
$LSSBENCH_CACHE (or ~/.cache/lssbench).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_evaluate import DETECTIONS_PER_IMAGE, fmt, full_size_bundle, load, make_submission, run_cold


def cached_uploads(gt_dir: Path, ground_truth, count: int) -> Path:
    """``count`` submissions, each seeded by its number, in one uploads folder (made once)."""
    uploads = gt_dir.parent / f"uploads-{count}"
    done = uploads / ".complete"
    if not done.exists():
        started = time.perf_counter()
        for i in range(count):
            target = uploads / f"team{i:03d}"
            if not (target / "detections.csv").exists():
                make_submission(ground_truth, target, DETECTIONS_PER_IMAGE * len(ground_truth.images), seed=1000 + i,
                                varied=True)
        done.write_text("")
        print(f"wrote {count} submissions in {time.perf_counter() - started:.1f} s", flush=True)
    return uploads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--pages", action="store_true", help="also write the Markdown table and the HTML page")
    args = parser.parse_args()

    from lssbench.groundtruth import load_ground_truth

    gt_dir = full_size_bundle(args.patients, args.seed)
    ground_truth = load_ground_truth(gt_dir)
    uploads = cached_uploads(gt_dir, ground_truth, args.submissions)
    print(f"test split of synth --patients {args.patients} --seed {args.seed}: {len(ground_truth.patients)} patients, "
          f"{len(ground_truth.images)} slices, {len(ground_truth.cases)} masks; {args.submissions} submissions; "
          f"load average now {load():.1f}", flush=True)
    with tempfile.TemporaryDirectory() as out:
        command = ["-m", "lssbench", "leaderboard", str(uploads), "--gt", str(gt_dir), "--out",
                   str(Path(out) / "leaderboard.json"), "--bootstrap", str(args.bootstrap)]
        if args.jobs:
            command += ["--jobs", str(args.jobs)]
        if args.pages:
            command += ["--markdown", str(Path(out) / "leaderboard.md"), "--html", str(Path(out) / "leaderboard.html")]
        run = run_cold(command)
    what = "JSON, Markdown and HTML" if args.pages else "JSON"
    print(f"leaderboard of {args.submissions} submissions ({what}), {args.bootstrap} resamples: {fmt(run)}; "
          f"{run['s'] / args.submissions:.2f} s per submission")


if __name__ == "__main__":
    main()
