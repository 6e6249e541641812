"""Time `lssbench evaluate` against a plain script, cold and warm, and how it scales with the split.

The reference size is the test split of `lssbench synth --patients 500 --seed 11` (100
patients, 294 annotated slices, 100 masks) with a submission of about 43 detections per
annotated slice (12.7k), every grade and every mask. The plain script is what a user would
write by hand: pycocotools' COCOeval, scikit-learn's cohen_kappa_score and medpy's
dc/hd/hd95/assd per case and class (point estimates only).

    python benchmarks/bench_evaluate.py                       # the 500-patient figures
    python benchmarks/bench_evaluate.py --sizes 100,500,2000  # + the scaling table (2,000 is heavy:
                                                              #   its synthesis writes about 15 GB once)

Every run is a fresh interpreter (`python -m lssbench evaluate ...`, start-up included), timed
by wall clock, with its CPU time beside it (it and its workers); its peak memory is the
largest resident set of it and its workers. "warm" is `Evaluator.evaluate` in this process
with the modules imported and the ground truth loaded. Each figure is printed with the 1-minute load average when it was taken. Datasets
and submissions are cached under $LSSBENCH_CACHE (or ~/.cache/lssbench).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lssbench.demo import Degradation, sample_detections, sample_grades, sample_mask
from lssbench.sources import cache_dir
from lssbench.submission import write_submission

DETECTIONS_PER_IMAGE = 43  # 12.7k detections on the 294 annotated slices of the reference split
REPO = Path(__file__).resolve().parent.parent


def bench_root(n_patients: int, seed: int) -> Path:
    return cache_dir() / f"bench-n{n_patients}-seed{seed}"


def full_size_bundle(n_patients: int, seed: int = 11) -> Path:
    """The test-split ground-truth bundle of `synth --patients N --seed S` (made once, cached)."""
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import prepare_ground_truth
    from lssbench.synth import synthesize

    root = bench_root(n_patients, seed)
    data, gt = root / "data", root / "gt-test"
    if not (gt / "manifest.json").exists():
        if not data.exists():
            started = time.perf_counter()
            synthesize(data, n_patients=n_patients, seed=seed)
            print(f"synthesized {n_patients} patients in {time.perf_counter() - started:.1f} s", flush=True)
        prepare_ground_truth(read_dataset(data), "test", gt)
    return gt


def degradation(fp_per_image: float, rng: np.random.Generator | None = None) -> Degradation:
    """A fair submission: jittered boxes, some misses and false positives, some regrades, shifted masks."""
    if rng is None:
        return Degradation(box_jitter_px=2.0, miss_rate=0.1, false_positives_per_image=fp_per_image,
                           regrade_rate=0.25, random_grades=False, mask_shift_px=2, mask_block_px=1)
    return Degradation(box_jitter_px=float(rng.uniform(0.5, 4.0)), miss_rate=float(rng.uniform(0.0, 0.3)),
                       false_positives_per_image=fp_per_image, regrade_rate=float(rng.uniform(0.0, 0.5)),
                       random_grades=False, mask_shift_px=int(rng.integers(0, 4)), mask_block_px=1)


def make_submission(ground_truth, out: Path, n_detections: int, seed: int = 0, varied: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    fp_per_image = max(0.0, (n_detections - 0.9 * len(ground_truth.boxes)) / len(ground_truth.images))
    d = degradation(fp_per_image, rng if varied else None)
    masks = {pid: sample_mask(m, d, rng) for pid, m in ground_truth.masks().items()}
    return write_submission(out, detections=sample_detections(ground_truth, d, rng),
                            grades=sample_grades(ground_truth, d, rng), masks=masks)


def cached_submission(gt_dir: Path, ground_truth) -> Path:
    preds = gt_dir.parent / "preds"
    if not (preds / "detections.csv").exists():
        make_submission(ground_truth, preds, DETECTIONS_PER_IMAGE * len(ground_truth.images))
    return preds


def plain_script(gt_dir: Path, preds: Path) -> dict:
    """Scoring as a user would write it with the reference libraries (point estimates only)."""
    from medpy.metric import binary
    from PIL import Image
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    from sklearn.metrics import cohen_kappa_score

    from lssbench.domain import CATEGORIES, category_name

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_dir / "detection.json"))
        ids = {img["file_name"]: img["id"] for img in coco.dataset["images"]}
        dets = pd.read_csv(preds / "detections.csv")
        results = [{"image_id": ids[r.image_id], "category_id": CATEGORIES.index(category_name(r.level, r.side)) + 1,
                    "bbox": [r.xmin, r.ymin, r.xmax - r.xmin, r.ymax - r.ymin], "score": r.score}
                   for r in dets.itertuples() if r.image_id in ids]
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    truth = pd.read_csv(gt_dir / "grades.csv")
    pred = truth[["patient_id", "level", "side"]].merge(pd.read_csv(preds / "grades.csv"))
    qwk = cohen_kappa_score(truth["severity"], pred["severity"], labels=[0, 1, 2, 3], weights="quadratic")
    manifest = json.loads((gt_dir / "manifest.json").read_text())
    dice = []
    for pid, case in manifest["cases"].items():
        reference = np.asarray(Image.open(gt_dir / "segmentation" / f"{pid}.png"))
        result = np.asarray(Image.open(preds / "segmentation" / f"{pid}.png"))
        for cls in range(1, 6):
            r, g = result == cls, reference == cls
            if r.any() and g.any():
                dice.append(binary.dc(r, g))
                binary.hd(r, g, case["spacing_mm"])
                binary.hd95(r, g, case["spacing_mm"])
                binary.assd(r, g, case["spacing_mm"])
    return {"AP50": float(evaluator.stats[1]), "qwk": float(qwk), "mean_dice": float(np.mean(dice))}


def load() -> float:
    """The 1-minute load average now."""
    return os.getloadavg()[0]


def run_cold(args: list[str]) -> dict:
    """Run ``python ARGS`` in a fresh interpreter: wall seconds, peak MiB (it and its workers), load."""
    import tempfile

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        before = load()
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of it and its waited-for workers
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise SystemExit(f"{' '.join(args)} failed ({process.returncode}):\n{err.read().decode()[-2000:]}")
        return {"s": seconds, "cpu": usage.ru_utime + usage.ru_stime, "mib": usage.ru_maxrss / 1024,
                "load": max(before, load()), "stdout": out.read().decode()}


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["s"])


def fmt(run: dict) -> str:
    cpu = f"  cpu {run['cpu']:6.2f} s" if "cpu" in run else " " * 16
    return f"{run['s']:7.2f} s wall{cpu}  peak {run['mib']:6.0f} MiB  (load {run['load']:.1f})"


def measure(n_patients: int, seed: int, resamples: int, repeat: int, plain: bool) -> dict:
    from lssbench.groundtruth import load_ground_truth
    from lssbench.scoring import Evaluator
    from lssbench.submission import load_submission

    gt_dir = full_size_bundle(n_patients, seed)
    ground_truth = load_ground_truth(gt_dir)
    preds = cached_submission(gt_dir, ground_truth)
    n_dets = sum(1 for _ in open(preds / "detections.csv")) - 1
    print(f"\n== synth --patients {n_patients} --seed {seed}, test split: {len(ground_truth.patients)} patients, "
          f"{len(ground_truth.images)} annotated slices, {len(ground_truth.boxes)} boxes, "
          f"{len(ground_truth.cases)} masks; submission: {n_dets} detections", flush=True)
    evaluate = ["-m", "lssbench", "evaluate", str(preds), "--gt", str(gt_dir), "--quiet"]
    figures = {"patients": len(ground_truth.patients), "detections": n_dets}
    if plain:
        figures["plain"] = run_cold([__file__, "--plain", str(gt_dir), str(preds)])
        print(f"plain script (pycocotools + scikit-learn + medpy)  {fmt(figures['plain'])}", flush=True)
    cold = [run_cold([*evaluate, "--bootstrap", "0"]) for _ in range(repeat)]
    figures["cold_first"], figures["cold"] = cold[0], best(cold)
    print(f"evaluate --bootstrap 0, cold, first run              {fmt(cold[0])}")
    print(f"evaluate --bootstrap 0, cold, best of {repeat}              {fmt(figures['cold'])}", flush=True)
    figures["boot"] = best([run_cold([*evaluate, "--bootstrap", str(resamples)]) for _ in range(repeat)])
    print(f"evaluate --bootstrap {resamples}, cold, best of {repeat}           {fmt(figures['boot'])}", flush=True)
    evaluator = Evaluator(ground_truth)
    ground_truth.masks()  # warm: decoded once, as a scoring service would hold them
    for label, n in (("warm", 0), ("warm_boot", resamples)):
        runs = []
        for _ in range(repeat):
            before, started, cpu = load(), time.perf_counter(), time.process_time()
            evaluator.evaluate(load_submission(preds, ground_truth), n_bootstrap=n)
            runs.append({"s": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                         "mib": _self_peak_mib(), "load": max(before, load())})
        figures[label] = best(runs)
        print(f"evaluate in-process, warm, {n:4d} resamples, best of {repeat}{fmt(figures[label])}", flush=True)
    if plain:
        print(f"speed-up over the plain script: cold {figures['plain']['s'] / figures['cold']['s']:.1f}x, "
              f"warm {figures['plain']['s'] / figures['warm']['s']:.1f}x; {resamples} resamples add "
              f"{figures['boot']['s'] - figures['cold']['s']:.2f} s cold, "
              f"{figures['warm_boot']['s'] - figures['warm']['s']:.2f} s warm")
    return figures


def _self_peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scaling_table(rows: list[tuple[int, dict]], resamples: int) -> None:
    """One row per size; the last two columns are the increments per added test patient over the
    previous row, of CPU time (steadier than wall time on a shared machine) and of peak memory
    (constant increments = linear growth; the first row holds the fixed start-up)."""
    print("\n| synth patients | test patients | detections | evaluate cold wall (s) | CPU (s) | peak (MiB) | "
          f"{resamples} resamples wall (s) | CPU (s) | peak (MiB) | load | +CPU ms per added patient | "
          "+MiB per added patient |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    previous = None
    for n, f in rows:
        cold, boot = f["cold"], f["boot"]
        if previous is None:
            step = "| - | - |"
        else:
            added = f["patients"] - previous["patients"]
            step = (f"| {1000 * (cold['cpu'] - previous['cold']['cpu']) / added:.1f} | "
                    f"{(cold['mib'] - previous['cold']['mib']) / added:.2f} |")
        print(f"| {n} | {f['patients']} | {f['detections']} | {cold['s']:.2f} | {cold['cpu']:.2f} | {cold['mib']:.0f} | "
              f"{boot['s']:.2f} | {boot['cpu']:.2f} | {boot['mib']:.0f} | {max(cold['load'], boot['load']):.1f} {step}")
        previous = f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500", help="comma-separated `synth --patients` sizes (default 500)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each figure; the best is printed")
    parser.add_argument("--plain-sizes", default="500",
                        help="sizes at which the plain script runs too (comma-separated; '' for none)")
    parser.add_argument("--plain", nargs=2, metavar=("GT", "PREDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:  # the plain script in its own interpreter, imports included
        print(json.dumps(plain_script(Path(args.plain[0]), Path(args.plain[1]))))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    plain_sizes = {int(s) for s in args.plain_sizes.split(",") if s}
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, numpy {np.__version__}; "
          f"load average now {load():.1f}")
    rows = [(n, measure(n, args.seed, args.resamples, args.repeat if n <= 500 else 1, n in plain_sizes))
            for n in sizes]
    if len(rows) > 1:
        scaling_table(rows, args.resamples)


if __name__ == "__main__":
    main()
