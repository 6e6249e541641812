"""Time lssbench's segmentation metrics against medpy on a realistic 512x512 six-class case.

    python benchmarks/bench_segmentation.py [--repeats 20]

The synthetic case mimics a middle sagittal slice: two large posterior regions, five
vertebral bodies with discs between them, a sacrum, the rest anterior/background. The
prediction is the truth perturbed (boundary noise, a shift, a false island). medpy is
timed computing hd, hd95, assd and dc separately per class, the way it is usually called.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from medpy.metric import binary as medpy_binary
from scipy import ndimage

from lssbench.domain import SEGMENTATION_CLASSES
from lssbench.metrics.segmentation import case_metrics

SPACING_MM = (0.6875, 0.6875)


def synthetic_case(seed: int = 0, size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.zeros((size, size), dtype=np.uint8)
    rows, cols = np.mgrid[0:size, 0:size]
    # posterior regions: wide bands behind the vertebral column
    truth[40:470, 300:420] = 1
    truth[40:470, 420:500] = 2
    # five vertebral bodies (~45x70 px) with discs (~12 px) between them, then the sacrum
    top = 60
    for _ in range(5):
        body = ((rows - (top + 22)) / 24.0) ** 2 + ((cols - 230) / 38.0) ** 2 <= 1
        truth[body] = 3
        disc = ((rows - (top + 53)) / 7.0) ** 2 + ((cols - 232) / 36.0) ** 2 <= 1
        truth[disc] = 4
        top += 62
    sacrum = ((rows - (top + 35)) / 35.0) ** 2 + ((cols - 245) / 45.0) ** 2 <= 1
    truth[sacrum & (truth == 0)] = 5

    # prediction: smoothed noisy labels (boundary errors), a small shift and a false island
    onehot = np.stack([(truth == k).astype(float) for k in range(6)])
    noisy = np.stack([ndimage.gaussian_filter(o + 0.6 * rng.standard_normal(o.shape), 2.0) for o in onehot])
    prediction = np.argmax(noisy, axis=0).astype(np.uint8)
    prediction = np.roll(prediction, (2, -1), axis=(0, 1))
    prediction[480:488, 100:110] = 3  # a false vertebra island far from the spine
    return truth, prediction


def medpy_case(truth: np.ndarray, prediction: np.ndarray, spacing=SPACING_MM) -> dict:
    out = {}
    for cls in SEGMENTATION_CLASSES:
        t, p = truth == cls.index, prediction == cls.index
        if t.any() and p.any():
            out[cls.name] = (medpy_binary.dc(p, t), medpy_binary.hd(p, t, spacing),
                             medpy_binary.hd95(p, t, spacing), medpy_binary.assd(p, t, spacing))
    return out


def best_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    truth, prediction = synthetic_case()

    ours = case_metrics(truth, prediction, SPACING_MM)
    theirs = medpy_case(truth, prediction)
    for name, (dc, hd, hd95, assd) in theirs.items():  # sanity: identical numbers
        got = ours[name]
        assert (got["dice"], got["hd_mm"], got["hd95_pooled_mm"], got["assd_mm"]) == (dc, hd, hd95, assd), name

    print(f"512x512 six-class case, spacing {SPACING_MM} mm, best of {args.repeats}")
    print(f"{'class':<12} {'pixels':>7} {'lssbench ms':>12} {'medpy ms':>9}")
    for cls in SEGMENTATION_CLASSES:
        ms = best_ms(lambda: case_metrics(truth, prediction, SPACING_MM, classes=[cls]), args.repeats)
        t, p = truth == cls.index, prediction == cls.index
        mp = best_ms(lambda: (medpy_binary.dc(p, t), medpy_binary.hd(p, t, SPACING_MM),
                              medpy_binary.hd95(p, t, SPACING_MM), medpy_binary.assd(p, t, SPACING_MM)),
                     max(3, args.repeats // 4))
        print(f"{cls.name:<12} {int(t.sum()):>7} {ms:>12.2f} {mp:>9.1f}")
    total = best_ms(lambda: case_metrics(truth, prediction, SPACING_MM), args.repeats)
    medpy_total = best_ms(lambda: medpy_case(truth, prediction), max(3, args.repeats // 4))
    print(f"{'case (all 6)':<12} {'':>7} {total:>12.2f} {medpy_total:>9.1f}   speed-up x{medpy_total / total:.1f}")
    print("lssbench also gives hd95 (directed max) and nsd_2mm; medpy column = dc + hd + hd95 + assd")
    for name in ("vertebra", "disc", "posterior_a"):
        m = ours[name]
        print(f"  {name}: dice {m['dice']:.4f}  hd {m['hd_mm']:.2f}  hd95 {m['hd95_mm']:.2f} "
              f"(pooled {m['hd95_pooled_mm']:.2f})  assd {m['assd_mm']:.3f}  nsd_2mm {m['nsd_2mm']:.3f}")


if __name__ == "__main__":
    main()
