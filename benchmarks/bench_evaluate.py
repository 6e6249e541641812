"""Time `lssbench evaluate` against a plain script on a full-size synthetic test split.

The full-size split is the test split of `lssbench synth --patients 500` (about 100
patients), with a submission of about 30,000 detections, all grades and 100 masks.
The plain script is what a user would write by hand: pycocotools' COCOeval, scikit-
learn's cohen_kappa_score and medpy's dc/hd/hd95/assd per case and class.

    python benchmarks/bench_evaluate.py [--patients 500] [--detections 30000] [--resamples 1000] [--repeat 3]

Prints wall times and the ratio. The dataset is cached under $LSSBENCH_CACHE (or
~/.cache/lssbench) so only the first run pays for synthesis.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lssbench.demo import Degradation, sample_detections, sample_grades, sample_mask
from lssbench.sources import cache_dir
from lssbench.submission import write_submission


def full_size_bundle(n_patients: int) -> Path:
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import prepare_ground_truth
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


def make_submission(ground_truth, out: Path, n_detections: int) -> Path:
    rng = np.random.default_rng(0)
    fp_per_image = max(0.0, (n_detections - 0.9 * len(ground_truth.boxes)) / len(ground_truth.images))
    d = Degradation(box_jitter_px=2.0, miss_rate=0.1, false_positives_per_image=fp_per_image,
                    regrade_rate=0.25, random_grades=False, mask_shift_px=2, mask_block_px=1)
    masks = {pid: sample_mask(m, d, rng) for pid, m in ground_truth.masks().items()}
    return write_submission(out, detections=sample_detections(ground_truth, d, rng),
                            grades=sample_grades(ground_truth, d, rng), masks=masks)


def plain_script(gt_dir: Path, preds: Path) -> dict:
    """Scoring as a user would write it with the reference libraries (point estimates only)."""
    from medpy.metric import binary
    from PIL import Image
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    from sklearn.metrics import cohen_kappa_score

    from lssbench.domain import CATEGORIES, category_name
    import json

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
    return {"AP50": evaluator.stats[1], "qwk": qwk, "mean_dice": float(np.mean(dice))}


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--detections", type=int, default=30000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of evaluate; the best is printed")
    args = parser.parse_args()

    from lssbench.groundtruth import load_ground_truth
    from lssbench.scoring import evaluate

    gt_dir = full_size_bundle(args.patients)
    ground_truth = load_ground_truth(gt_dir)
    preds = make_submission(ground_truth, cache_dir() / f"bench-n{args.patients}" / "preds", args.detections)
    n_dets = sum(1 for _ in open(preds / "detections.csv")) - 1
    print(f"test split: {len(ground_truth.patients)} patients, {len(ground_truth.images)} annotated slices, "
          f"{len(ground_truth.boxes)} boxes, {len(ground_truth.cases)} masks; submission: {n_dets} detections")

    plain, t_plain = timed(plain_script, gt_dir, preds)
    runs = [timed(evaluate, preds, gt_dir, n_bootstrap=0) for _ in range(args.repeat)]
    ours, t_ours = runs[0][0], min(t for _, t in runs)
    t_boot = min(timed(evaluate, preds, gt_dir, n_bootstrap=args.resamples)[1] for _ in range(args.repeat))
    print(f"plain script (pycocotools + scikit-learn + medpy): {t_plain:7.2f} s  "
          f"AP50 {plain['AP50']:.4f}  QWK {plain['qwk']:.4f}")
    print(f"lssbench evaluate, no bootstrap (best of {args.repeat}):     {t_ours:7.2f} s  "
          f"AP50 {ours['detection']['AP50']:.4f}  QWK {ours['grading']['qwk']:.4f}  ({t_plain / t_ours:.1f}x faster)")
    print(f"lssbench evaluate, {args.resamples} resamples (best of {args.repeat}):  {t_boot:7.2f} s")


if __name__ == "__main__":
    main()
