"""Benchmark: pycocotools COCOeval vs lssbench's vectorized detection metrics.

A full-size test split is built in memory (100 patients x 17 slices = 1,700 images,
6 annotated slices per patient with ~5 boxes each, ~30,000 detections), then timed:
COCOeval (evaluate + accumulate), ``match_detections`` once, one ``summary()``, and
1,000 patient-bootstrap re-weightings (``headline`` and ``summary``).

    python benchmarks/bench_detection.py [--patients 100] [--replicates 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
import pandas as pd
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lssbench.domain import CATEGORIES, LEVELS, SIDES, category_id
from lssbench.metrics.detection import match_detections


def make_split(n_patients: int = 100, slices: int = 17, annotated: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    image_ids, gt_rows, dt_rows = [], [], []
    for p in range(n_patients):
        pid = f"PATIENT{1000000 + p}"
        ids = [f"{pid}/IM{s:06d}" for s in range(1, slices + 1)]
        image_ids += ids
        for image in rng.choice(ids, annotated, replace=False):
            for li, level in enumerate(LEVELS):
                for side in SIDES:
                    if rng.random() < 0.5:  # ~5 boxes per annotated slice
                        continue
                    cx, cy = 150 + 25 * (side == "right") + rng.normal(0, 5), 80 + 40 * li + rng.normal(0, 5)
                    w, h = rng.uniform(15, 30, 2)
                    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
                    gt_rows.append([image, level, side, *box])
                    for _ in range(int(rng.integers(1, 4))):  # near hits, sometimes the wrong side
                        d = np.array(box) + rng.normal(0, 3, 4)
                        d[2:] = np.maximum(d[2:], d[:2] + 1)
                        s = side if rng.random() < 0.85 else SIDES[1 - SIDES.index(side)]
                        dt_rows.append([image, level, s, float(rng.beta(5, 2)), *d])
    n_fp = 30000 - len(dt_rows)
    for _ in range(max(n_fp, 0)):  # false positives on every slice
        image = image_ids[int(rng.integers(len(image_ids)))]
        level, side = CATEGORIES[int(rng.integers(10))].split("/")
        x, y = rng.uniform(100, 250), rng.uniform(50, 260)
        w, h = rng.uniform(10, 35, 2)
        dt_rows.append([image, level, side, float(rng.beta(1.5, 5)), x, y, x + w, y + h])
    gt = pd.DataFrame(gt_rows, columns=["image_id", "level", "side", "xmin", "ymin", "xmax", "ymax"])
    dt = pd.DataFrame(dt_rows, columns=["image_id", "level", "side", "score", "xmin", "ymin", "xmax", "ymax"])
    return gt, dt.sample(frac=1.0, random_state=seed).reset_index(drop=True), image_ids


def cocoeval(gt, dt, image_ids):
    ids = {image: i + 1 for i, image in enumerate(image_ids)}
    anns = [{"id": n + 1, "image_id": ids[r.image_id], "category_id": category_id(r.level, r.side),
             "bbox": [r.xmin, r.ymin, r.xmax - r.xmin, r.ymax - r.ymin],
             "area": (r.xmax - r.xmin) * (r.ymax - r.ymin), "iscrowd": 0}
            for n, r in enumerate(gt.itertuples(index=False))]
    res = [{"image_id": ids[r.image_id], "category_id": category_id(r.level, r.side),
            "bbox": [r.xmin, r.ymin, r.xmax - r.xmin, r.ymax - r.ymin], "score": r.score}
           for r in dt.itertuples(index=False)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": [{"id": i} for i in ids.values()], "annotations": anns,
                           "categories": [{"id": k + 1, "name": c} for k, c in enumerate(CATEGORIES)]}
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(res)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        t0 = time.perf_counter()
        ev.evaluate()
        ev.accumulate()
        elapsed = time.perf_counter() - t0
    p = ev.eval["precision"][:, :, :, 0, -1]
    return elapsed, float(p[p > -1].mean()), float(p[0][p[0] > -1].mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()

    gt, dt, image_ids = make_split(args.patients)
    print(f"split: {len(image_ids)} images, {gt.image_id.nunique()} with boxes, "
          f"{len(gt)} boxes, {len(dt)} detections")

    coco_s, coco_map, coco_ap50 = cocoeval(gt, dt, image_ids)
    print(f"pycocotools evaluate+accumulate: {coco_s:8.3f} s   mAP {coco_map:.6f} AP50 {coco_ap50:.6f}")

    t0 = time.perf_counter()
    matches = match_detections(gt, dt, image_ids)
    match_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = matches.summary()
    summary_s = time.perf_counter() - t0
    print(f"lssbench match_detections:       {match_s:8.3f} s")
    print(f"lssbench summary():              {summary_s:8.3f} s   mAP {summary['mAP']:.6f} AP50 {summary['AP50']:.6f}")
    print(f"  |difference| mAP {abs(summary['mAP'] - coco_map):.2e}  AP50 {abs(summary['AP50'] - coco_ap50):.2e}")

    rng = np.random.default_rng(1)
    patients = sorted({i.split("/")[0] for i in image_ids})
    owner = pd.Index(patients).get_indexer([i.split("/")[0] for i in image_ids])
    weights = [np.bincount(rng.integers(0, len(patients), len(patients)), minlength=len(patients))[owner]
               for _ in range(args.replicates)]
    t0 = time.perf_counter()
    for w in weights:
        matches.headline(w)
    headline_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for w in weights:
        matches.summary(w)
    full_s = time.perf_counter() - t0
    print(f"{args.replicates} bootstrap headline(w):     {headline_s:8.3f} s ({1e3 * headline_s / args.replicates:.2f} ms each)")
    print(f"{args.replicates} bootstrap summary(w):      {full_s:8.3f} s ({1e3 * full_s / args.replicates:.2f} ms each)")
    print(f"pycocotools x {args.replicates} (extrapolated):  {coco_s * args.replicates:8.0f} s")


if __name__ == "__main__":
    main()
