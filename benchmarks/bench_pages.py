"""Time the leaderboard page and a submission report on the demo (100 synthetic patients).

    python benchmarks/bench_pages.py [DEMO_DIR] [--screenshots docs/screenshots]

DEMO_DIR (default: a temporary folder) is a `lssbench demo` folder, made when missing.
Prints the build time of the page (from the board JSON) and of the report of each sample
submission (scoring excluded), best of three, and the sizes. With --screenshots, also writes
the PNGs shown in the docs with headless Chromium (desktop 1,280 px and phone 390 px).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHOTS = {"leaderboard.png": ("leaderboard.html", 1280, 3300), "report.png": ("reports/jittered/index.html", 1280, 4200)}


def best_of(n, fn):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("demo", nargs="?", type=Path)
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    from lssbench.demo import run_demo
    from lssbench.groundtruth import load_ground_truth
    from lssbench.report.page import render_board_page
    from lssbench.report.submission import render_submission_report, write_submission_report
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    demo = args.demo or Path(tempfile.mkdtemp(prefix="lssbench-bench-pages-")) / "demo"
    if not (demo / "leaderboard.json").exists():
        start = time.perf_counter()
        run_demo(demo)
        print(f"demo built in {time.perf_counter() - start:.1f} s ({demo})")
    board = json.loads((demo / "leaderboard.json").read_text())
    cold = time.perf_counter()
    render_board_page(board)
    cold = time.perf_counter() - cold
    seconds, page = best_of(3, lambda: render_board_page(board))
    print(f"leaderboard page: {seconds:.2f} s (first call, matplotlib and Jinja2 imports included: {cold:.2f} s), "
          f"{len(page.encode()) / 1024:.0f} KiB, {len(board['entries'])} entries")
    (demo / "leaderboard.html").write_text(page, encoding="utf-8")
    ground_truth = load_ground_truth(demo / "gt")
    for name in ("perfect", "jittered", "weak"):
        submission = load_submission(demo / "submissions" / name, ground_truth)
        results = Evaluator(ground_truth).evaluate(submission, n_bootstrap=1000)
        seconds, report = best_of(3, lambda: render_submission_report(results, ground_truth, submission, name=name))
        write_submission_report(demo / "reports" / name, report)
        print(f"report '{name}': {seconds:.2f} s, {len(report.html.encode()) / 1024:.0f} KiB "
              f"({len(ground_truth.patients)} test patients, {len(report.figures)} figures)")
    if args.screenshots:
        browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not browser:
            sys.exit("no chromium for --screenshots")
        args.screenshots.mkdir(parents=True, exist_ok=True)
        for png, (page_name, width, height) in SHOTS.items():
            with tempfile.TemporaryDirectory() as profile:
                subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                f"--screenshot={(args.screenshots / png).resolve()}",
                                (demo / page_name).resolve().as_uri()], check=True, capture_output=True)
            from PIL import Image

            with Image.open(args.screenshots / png) as image:  # 256 colours: a third of the size, same look
                small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
            small.save(args.screenshots / png, optimize=True)
            print(f"screenshot {args.screenshots / png} ({(args.screenshots / png).stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
