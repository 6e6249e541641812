"""A board that grows: a cold board of N submissions, then the cost of adding one.

    python benchmarks/bench_board_growth.py [--submissions 100] [--patients 100] [--gt BUNDLE]
                                            [--resamples 1000] [--public-share F] [--jobs N]

The ground truth is the test split of ``synthesize(n_patients=--patients, seed=0)``; the
submissions are the demo's ``jittered`` and ``weak`` samples drawn with different seeds
(all distinct). Prints the wall time of: the cold board (every submission scored, results
cached), the same board again (nothing rescored), and the board with one submission
added (one scoring plus the ranking), with the scorings each run did and the size of the
board JSON and of the cache. The dataset is kept under $LSSBENCH_CACHE (or
~/.cache/lssbench) so only the first run pays for synthesis.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lssbench.sources import cache_dir


def bundle(n_patients: int) -> Path:
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import prepare_ground_truth
    from lssbench.synth import synthesize

    root = cache_dir() / f"bench-n{n_patients}"
    data, gt = root / "data", root / "gt-test"
    if not data.exists():
        synthesize(data, n_patients=n_patients, seed=0)
    if not gt.exists():
        prepare_ground_truth(read_dataset(data), "test", gt)
    return gt


def write_submissions(ground_truth, out: Path, count: int) -> list[Path]:
    from lssbench.demo import DEGRADATIONS, sample_detections, sample_grades, sample_mask
    from lssbench.submission import write_submission

    import numpy as np

    paths = []
    for k in range(count):
        name = ("jittered", "weak")[k % 2]
        d, rng = DEGRADATIONS[name], np.random.default_rng([k, 7])
        masks = {pid: sample_mask(m, d, rng) for pid, m in sorted(ground_truth.masks().items())}
        paths.append(write_submission(out / f"{name}-{k:03d}", detections=sample_detections(ground_truth, d, rng),
                                      grades=sample_grades(ground_truth, d, rng), masks=masks,
                                      meta={"team": f"team {k % 37}", "method": name}))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--gt", type=Path, default=None, help="an existing test bundle (instead of synthesizing)")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--public-share", type=float, default=None)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()

    from lssbench.cache import ResultsCache
    from lssbench.groundtruth import load_ground_truth
    from lssbench.jsonio import dumps
    from lssbench.board import leaderboard

    ground_truth = load_ground_truth(args.gt or bundle(args.patients))
    print(f"ground truth: {len(ground_truth.patients)} test patients, "
          f"{len(ground_truth.images)} slices; {args.resamples} resamples; public share {args.public_share}")
    with tempfile.TemporaryDirectory(prefix="lssbench-bench-board-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        paths = write_submissions(ground_truth, tmp / "subs", args.submissions + 1)
        print(f"wrote {len(paths)} submissions in {time.perf_counter() - started:.1f} s")
        folder = tmp / "cache"

        def run(label: str, subset: list[Path]) -> dict:
            cache = ResultsCache(folder)
            started = time.perf_counter()
            board = leaderboard(subset, ground_truth, n_bootstrap=args.resamples, seed=0, workers=args.jobs,
                                cache=cache, public_share=args.public_share)
            seconds = time.perf_counter() - started
            print(f"{label:<34} {seconds:8.2f} s   {len(subset)} uploads + the reference row: "
                  f"{cache.misses} scored, {cache.hits} from the cache; board JSON {len(dumps(board)) / 1e6:.2f} MB")
            return board

        run(f"cold board of {args.submissions}", paths[:-1])
        run("same board again (nothing new)", paths[:-1])
        run(f"board of {args.submissions} + 1 added", paths)
        size = sum(p.stat().st_size for p in folder.glob("*.json"))
        print(f"cache: {len(list(folder.glob('*.json')))} records, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
