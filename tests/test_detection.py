"""Detection metrics: vectorized COCO AP against pycocotools, hand cases, the authors' protocol."""

from __future__ import annotations

import contextlib
import functools
import io
import json

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lssbench.domain import CATEGORIES, LEVELS, SIDES, category_id, split_category
from lssbench.metrics.detection import (
    AUTHORS_IOU_THRESHOLD,
    AUTHORS_SCORE_THRESHOLD,
    IOU_THRESHOLDS,
    MAX_DETECTIONS,
    box_iou,
    evaluate_detection,
    match_detections,
)

GT_COLS = ["image_id", "level", "side", "xmin", "ymin", "xmax", "ymax"]
DT_COLS = ["image_id", "level", "side", "score", "xmin", "ymin", "xmax", "ymax"]
KEYS = ("mAP", "AP50", "AP75", "AR100")


# --- pycocotools driver ------------------------------------------------------------------------


def coco_dicts(gt: pd.DataFrame, dt: pd.DataFrame, image_ids, first_ann_id=1):
    """COCO GT dataset and results list; COCO image id = position in image_ids + 1."""
    ids = {image: i + 1 for i, image in enumerate(image_ids)}
    anns = []
    for n, row in enumerate(gt.itertuples(index=False)):
        w, h = row.xmax - row.xmin, row.ymax - row.ymin
        anns.append({"id": n + first_ann_id, "image_id": ids[row.image_id],
                     "category_id": category_id(row.level, row.side),
                     "bbox": [row.xmin, row.ymin, w, h], "area": w * h, "iscrowd": 0})
    dataset = {"images": [{"id": i} for i in ids.values()], "annotations": anns,
               "categories": [{"id": k + 1, "name": name} for k, name in enumerate(CATEGORIES)]}
    results = [{"image_id": ids[r.image_id], "category_id": category_id(r.level, r.side),
                "bbox": [r.xmin, r.ymin, r.xmax - r.xmin, r.ymax - r.ymin], "score": r.score}
               for r in dt.itertuples(index=False) if r.image_id in ids]
    return dataset, results


def run_cocoeval(dataset, results, max_dets=(1, 10, 100)):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.maxDets = list(max_dets)
        ev.evaluate()
        ev.accumulate()
    return ev


def coco_reference(gt, dt, image_ids):
    """Overall and per-category mAP/AP50/AP75/AR100 read from eval['precision'/'recall']."""
    dataset, results = coco_dicts(gt, dt, image_ids)
    if not results:  # loadRes([]) raises: an empty submission scores 0 on categories with GT
        has = {CATEGORIES[a["category_id"] - 1] for a in dataset["annotations"]}
        per = {c: (dict.fromkeys(KEYS, 0.0) if c in has else None) for c in CATEGORIES}
        overall = dict.fromkeys(KEYS, 0.0 if has else None)
        return overall, per
    ev = run_cocoeval(dataset, results)
    p = ev.eval["precision"][:, :, :, 0, -1]  # T, R, K (area all, maxDets 100)
    r = ev.eval["recall"][:, :, 0, -1]  # T, K
    t50 = int(np.flatnonzero(ev.params.iouThrs == 0.5)[0])
    t75 = int(np.flatnonzero(ev.params.iouThrs == 0.75)[0])
    per = {}
    for k, name in enumerate(CATEGORIES):
        if p[0, 0, k] == -1:
            per[name] = None
        else:
            per[name] = {"mAP": p[:, :, k].mean(), "AP50": p[t50, :, k].mean(),
                         "AP75": p[t75, :, k].mean(), "AR100": r[:, k].mean()}

    def valid_mean(a):
        return float(np.mean(a[a > -1])) if (a > -1).any() else None

    overall = {"mAP": valid_mean(p), "AP50": valid_mean(p[t50]), "AP75": valid_mean(p[t75]),
               "AR100": valid_mean(r)}
    return overall, per


def assert_matches_coco(result, gt, dt, image_ids, tol=1e-9):
    overall, per = coco_reference(gt, dt, image_ids)
    for key in KEYS:
        if overall[key] is None:
            assert result[key] is None
        else:
            assert result[key] == pytest.approx(overall[key], abs=tol), key
    for name in CATEGORIES:
        if per[name] is None:
            assert result["per_class"][name] is None, name
        else:
            for key in KEYS:
                assert result["per_class"][name][key] == pytest.approx(per[name][key], abs=tol), (name, key)


# --- random cases ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def random_case(seed: int):
    """Small random split (cached: callers must not modify the frames)."""
    rng = np.random.default_rng(seed)
    n_images = int(rng.integers(1, 9))
    image_ids = [f"PATIENT{10000 + int(rng.integers(0, 5))}/IM{i:06d}" for i in range(n_images)]
    image_ids = list(dict.fromkeys(image_ids + [f"PATIENT2{i:04d}/IM000001" for i in range(n_images)]))
    rng.shuffle(image_ids)
    image_ids = image_ids[:n_images]
    cats = [c for c in CATEGORIES if rng.random() < 0.6] or [CATEGORIES[0]]
    grid = rng.random() < 0.5  # integer grid: exact IoU ties and IoUs on thresholds
    many = rng.random() < 0.15  # > 100 detections in an image-category

    def box(center=None, size=20.0):
        if center is None:
            center = rng.uniform(0, 60, 2)
        wh = rng.uniform(2, size, 2)
        b = np.r_[center - wh / 2, center + wh / 2]
        return np.round(b) if grid else b

    gt_rows, dt_rows = [], []
    for image in image_ids:
        if rng.random() < 0.2:
            continue  # image without boxes
        for cat in cats:
            level, side = split_category(cat)
            for _ in range(int(rng.integers(0, 4))):
                b = box()
                if b[2] <= b[0] or b[3] <= b[1]:
                    b[2:] = b[:2] + 1
                gt_rows.append([image, level, side, *b])
                for _ in range(int(rng.integers(0, 3))):  # near-hits
                    jitter = rng.normal(0, 3, 4)
                    d = np.round(b + jitter) if grid else b + jitter
                    d[2:] = np.maximum(d[2:], d[:2])
                    dt_rows.append([image, level, side, float(rng.integers(0, 8)) / 8, *d])
    for _ in range(int(rng.integers(0, 25))):  # false positives, also on categories without GT
        level, side = split_category(CATEGORIES[int(rng.integers(0, 10))])
        image = image_ids[int(rng.integers(0, len(image_ids)))]
        dt_rows.append([image, level, side, float(rng.integers(0, 8)) / 8, *box()])
    if many:
        level, side = split_category(cats[0])
        image = image_ids[0]
        gt_rows.append([image, level, side, 10.0, 10.0, 30.0, 30.0])
        for _ in range(int(rng.integers(101, 140))):
            d = np.array([10, 10, 30, 30]) + rng.normal(0, 4, 4)
            d[2:] = np.maximum(d[2:], d[:2])
            dt_rows.append([image, level, side, float(rng.integers(0, 20)) / 20, *d])
    if rng.random() < 0.3:  # detections on an image that is not evaluated
        dt_rows.append(["PATIENT99999/IM000001", "L3-L4", "left", 0.9, 0.0, 0.0, 5.0, 5.0])
    order = rng.permutation(len(dt_rows))
    gt = pd.DataFrame(gt_rows, columns=GT_COLS)
    dt = pd.DataFrame([dt_rows[i] for i in order], columns=DT_COLS)
    return gt, dt, image_ids


@pytest.mark.parametrize("seed", range(220))
def test_random_cases_equal_cocoeval(seed):
    gt, dt, image_ids = random_case(seed)
    result = evaluate_detection(gt, dt, image_ids)
    assert_matches_coco(result, gt, dt, image_ids)
    json.dumps(result, allow_nan=False)


def test_random_suite_covers_the_traps():
    """The randomized cases include ties, > 100 detections, empty images, missing categories."""
    flags = {"ties": 0, "maxdets": 0, "no_gt_category": 0, "unknown": 0, "empty_image": 0}
    for seed in range(220):
        gt, dt, image_ids = random_case(seed)
        known = dt[dt.image_id.isin(image_ids)]
        flags["ties"] += bool(known.duplicated(["level", "side", "score"]).any())
        flags["maxdets"] += bool((known.groupby(["image_id", "level", "side"]).size() > 100).any())
        flags["no_gt_category"] += len(gt.groupby(["level", "side"])) < len(CATEGORIES)
        flags["unknown"] += len(known) < len(dt)
        flags["empty_image"] += len(set(image_ids) - set(gt["image_id"])) > 0
    assert all(count >= 10 for count in flags.values()), flags


# --- hand cases ---------------------------------------------------------------------------------


def frame(rows, cols):
    return pd.DataFrame(rows, columns=cols)


IMAGES = ["PATIENT10001/IM000001", "PATIENT10001/IM000002", "PATIENT10002/IM000001"]


def all_categories_gt():
    rows = []
    for i, image in enumerate(IMAGES[:2]):
        for k, name in enumerate(CATEGORIES):
            level, side = split_category(name)
            rows.append([image, level, side, 10.0 * k, 5.0 * i, 10.0 * k + 8, 5.0 * i + 20])
    return frame(rows, GT_COLS)


def test_perfect_submission_scores_one_everywhere():
    gt = all_categories_gt()
    dt = gt.assign(score=0.9)[DT_COLS]
    result = evaluate_detection(gt, dt, IMAGES)
    for key in KEYS:
        assert result[key] == 1.0
        assert all(v[key] == 1.0 for v in result["per_class"].values())
        assert all(v[key] == 1.0 for v in result["per_level"].values())
        assert all(v[key] == 1.0 for v in result["per_side"].values())
    ap = result["authors_protocol"]
    assert (ap["precision"], ap["recall"], ap["f1"]) == (1.0, 1.0, 1.0)
    assert ap["per_level"]["L1-L2"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 4, "fp": 0, "fn": 0}
    assert result["num_detections"] == result["num_ground_truth"] == 20
    assert result["num_ignored_detections"] == 0
    assert len(result["warnings"]) == 1 and "share their score" in result["warnings"][0]  # all 0.9
    assert_matches_coco(result, gt, dt, IMAGES)


def test_iou_06_box_scores_ap50_one_and_ap75_zero():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.8, 0.0, 0.0, 10.0, 6.2]], DT_COLS)  # IoU 0.62
    assert box_iou(dt[["xmin", "ymin", "xmax", "ymax"]], gt[["xmin", "ymin", "xmax", "ymax"]])[0, 0] == pytest.approx(0.62)
    result = evaluate_detection(gt, dt, IMAGES)
    assert result["AP50"] == pytest.approx(1.0) and result["AP75"] == 0.0
    assert result["mAP"] == pytest.approx(0.3) and result["AR100"] == pytest.approx(0.3)  # 0.50, 0.55, 0.60
    assert result["per_class"]["L3-L4/left"]["AP50"] == pytest.approx(1.0)
    assert result["per_level"]["L3-L4"]["AP50"] == pytest.approx(1.0)
    assert result["per_side"] == {"left": result["per_class"]["L3-L4/left"], "right": None}
    assert_matches_coco(result, gt, dt, IMAGES)


def test_empty_submission_scores_zero_where_loadres_raises():
    gt = all_categories_gt()
    empty = frame([], DT_COLS)
    dataset, results = coco_dicts(gt, empty, IMAGES)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        with pytest.raises(IndexError):
            coco_gt.loadRes(results)  # pycocotools cannot score an empty submission
    for dt in (empty, pd.DataFrame()):
        result = evaluate_detection(gt, dt, IMAGES)
        assert [result[k] for k in KEYS] == [0.0] * 4
        assert all(v == dict.fromkeys(KEYS, 0.0) for v in result["per_class"].values())
        ap = result["authors_protocol"]
        assert (ap["precision"], ap["recall"], ap["f1"]) == (0.0, 0.0, 0.0)
        assert ap["per_level"]["L5-S1"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 4}
        assert result["num_detections"] == 0


def test_category_without_ground_truth_is_none_and_left_out_of_means():
    gt = frame([[IMAGES[0], "L4-L5", "right", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L4-L5", "right", 0.9, 0.0, 0.0, 10.0, 10.0],
                [IMAGES[0], "L4-L5", "left", 0.8, 0.0, 0.0, 10.0, 10.0],  # no GT: ignored by COCO AP
                [IMAGES[1], "L1-L2", "left", 0.7, 5.0, 5.0, 9.0, 9.0]], DT_COLS)
    result = evaluate_detection(gt, dt, IMAGES)
    assert result["mAP"] == pytest.approx(1.0) and result["AP50"] == pytest.approx(1.0)
    assert result["per_class"]["L4-L5/left"] is None
    assert result["per_class"]["L1-L2/left"] is None
    assert result["per_level"]["L4-L5"]["mAP"] == pytest.approx(1.0)  # mean over the one side with GT
    assert result["per_level"]["L1-L2"] is None
    assert result["per_side"]["left"] is None and result["per_side"]["right"]["AP50"] == pytest.approx(1.0)
    assert any("no ground truth" in w for w in result["warnings"])
    assert "null" in json.dumps(result, allow_nan=False)
    assert_matches_coco(result, gt, dt, IMAGES)
    # the authors' protocol ignores side: the left box is an extra (false) positive at L4-L5
    assert result["authors_protocol"]["per_level"]["L4-L5"] == {
        "precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "tp": 1, "fp": 1, "fn": 0}
    assert result["authors_protocol"]["per_level"]["L1-L2"] == {
        "precision": None, "recall": None, "f1": None, "tp": 0, "fp": 1, "fn": 0}
    assert result["authors_protocol"]["precision"] == 0.5


def test_no_ground_truth_at_all_gives_none_overall():
    dt = frame([[IMAGES[0], "L4-L5", "right", 0.9, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    result = evaluate_detection(frame([], GT_COLS), dt, IMAGES)
    assert [result[k] for k in KEYS] == [None] * 4
    assert result["authors_protocol"]["precision"] is None
    m = match_detections(frame([], GT_COLS), dt, IMAGES)
    assert m.headline() == {"mAP": None, "AP50": None}


def test_detections_on_unknown_images_are_ignored_and_warned():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.5, 0.0, 0.0, 10.0, 10.0],
                ["PATIENT77777/IM000001", "L3-L4", "left", 0.9, 0.0, 0.0, 10.0, 10.0],
                ["PATIENT77777/IM000002", "L3-L4", "left", 0.9, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    result = evaluate_detection(gt, dt, IMAGES)
    assert result["num_ignored_detections"] == 2 and result["num_detections"] == 1
    assert any(w.startswith("2 detection(s) on images outside") for w in result["warnings"])
    assert result["mAP"] == pytest.approx(1.0)


def test_tied_scores_warn_and_follow_image_order():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0],
                [IMAGES[1], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    # same score: a miss on image 0 and a hit on image 1; pycocotools orders ties by image id
    dt = frame([[IMAGES[1], "L3-L4", "left", 0.5, 0.0, 0.0, 10.0, 10.0],
                [IMAGES[0], "L3-L4", "left", 0.5, 50.0, 50.0, 60.0, 60.0]], DT_COLS)
    first = evaluate_detection(gt, dt, IMAGES)
    assert any("share their score" in w for w in first["warnings"])
    assert first["AP50"] == pytest.approx(0.5 * 51 / 101)  # FP first: precision 1/2 up to recall 0.5
    swapped = evaluate_detection(gt, dt, [IMAGES[1], IMAGES[0], IMAGES[2]])
    assert swapped["AP50"] == pytest.approx(51 / 101)  # TP first: precision 1 up to recall 0.5
    assert_matches_coco(first, gt, dt, IMAGES)
    assert_matches_coco(swapped, gt, dt, [IMAGES[1], IMAGES[0], IMAGES[2]])


def test_max_detections_keeps_the_100_best_per_image_and_category():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    misses = [[IMAGES[0], "L3-L4", "left", 0.9 - i * 1e-4, 50.0, 50.0, 60.0, 60.0] for i in range(100)]
    dt = frame(misses + [[IMAGES[0], "L3-L4", "left", 0.1, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    result = evaluate_detection(gt, dt, IMAGES)
    assert result["AP50"] == 0.0 and result["AR100"] == 0.0  # the hit is the 101st
    assert any("beyond the 100" in w for w in result["warnings"])
    assert result["authors_protocol"]["recall"] == 1.0  # the authors did not cap
    assert_matches_coco(result, gt, dt, IMAGES)
    assert MAX_DETECTIONS == 100


# --- pycocotools traps ---------------------------------------------------------------------


def test_iou_has_no_plus_one_like_pycocotools():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[0.0, 0.0, 10.0, 5.0], [10.0, 0.0, 20.0, 10.0], [2.5, 1.0, 7.25, 13.0]])
    ours = box_iou(a, b)
    ref = mask_utils.iou([[0.0, 0.0, 10.0, 5.0], [10.0, 0.0, 10.0, 10.0], [2.5, 1.0, 4.75, 12.0]],
                         [[0.0, 0.0, 10.0, 10.0]], [0]).T
    assert ours[0, 0] == 0.5  # 50 / 100: with +1 it would be 66/121
    assert ours[0, 1] == 0.0  # touching boxes
    np.testing.assert_array_equal(ours, ref)


def test_annotation_id_zero_trap():
    """pycocotools treats a match to annotation id 0 as no match; we never use ids."""
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.9, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    dataset, results = coco_dicts(gt, dt, IMAGES, first_ann_id=0)
    ev = run_cocoeval(dataset, results)
    k = category_id("L3-L4", "left") - 1
    assert ev.eval["precision"][0, :, k, 0, -1].mean() == 0.0  # the perfect hit became a miss
    dataset, results = coco_dicts(gt, dt, IMAGES, first_ann_id=1)
    assert run_cocoeval(dataset, results).eval["precision"][0, :, k, 0, -1].mean() == pytest.approx(1.0)
    assert evaluate_detection(gt, dt, IMAGES)["AP50"] == pytest.approx(1.0)


def test_summarize_breaks_with_non_default_max_dets():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.9, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    dataset, results = coco_dicts(gt, dt, IMAGES)
    ev = run_cocoeval(dataset, results, max_dets=(100,))
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(IndexError):
        ev.summarize()
    assert ev.eval["precision"][0, :, category_id("L3-L4", "left") - 1, 0, 0].mean() == pytest.approx(1.0)


def test_area_comes_from_the_gt_area_field():
    """pycocotools reads the area range from the ``area`` field, not the box: a wrong value
    turns a box into an ignored one.  Our COCO export writes w*h; the metric uses corners."""
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.9, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    dataset, results = coco_dicts(gt, dt, IMAGES)
    assert dataset["annotations"][0]["area"] == 100.0
    dataset["annotations"][0]["area"] = -1.0
    ev = run_cocoeval(dataset, results)
    assert ev.eval["precision"][0, 0, category_id("L3-L4", "left") - 1, 0, -1] == -1  # no valid GT left
    assert evaluate_detection(gt, dt, IMAGES)["AP50"] == pytest.approx(1.0)


def test_iou_thresholds_are_cocoevals():
    from pycocotools.cocoeval import Params

    params = Params(iouType="bbox")
    np.testing.assert_array_equal(IOU_THRESHOLDS, params.iouThrs)
    assert params.maxDets[-1] == MAX_DETECTIONS


# --- weights --------------------------------------------------------------------------------


def distinct_score_case(seed):
    gt, dt, image_ids = random_case(seed)
    rng = np.random.default_rng(1000 + seed)
    dt = dt.assign(score=rng.permutation(len(dt)) / max(len(dt), 1) + 1e-3)
    return gt, dt, image_ids


@pytest.mark.parametrize("seed", range(25))
def test_weights_equal_duplicated_images(seed):
    gt, dt, image_ids = distinct_score_case(seed)
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 4, len(image_ids))
    weights[0] = max(weights[0], 1)
    gt_rows, dt_rows, images = [gt.iloc[:0]], [dt.iloc[:0]], []
    for image, w in zip(image_ids, weights):
        for copy in range(int(w)):
            new = f"{image}#{copy}"
            images.append(new)
            gt_rows.append(gt[gt.image_id == image].assign(image_id=new))
            dt_rows.append(dt[dt.image_id == image].assign(image_id=new))
    gt2, dt2 = pd.concat(gt_rows, ignore_index=True), pd.concat(dt_rows, ignore_index=True)
    weighted = match_detections(gt, dt, image_ids).summary(weights)
    expanded = evaluate_detection(gt2, dt2, images)
    for key in KEYS:
        assert weighted[key] == pytest.approx(expanded[key], abs=1e-12) if expanded[key] is not None \
            else weighted[key] is None
    for name in CATEGORIES:
        a, b = weighted["per_class"][name], expanded["per_class"][name]
        assert (a is None) == (b is None)
        if a is not None:
            assert a == pytest.approx(b, abs=1e-12)
    assert weighted["authors_protocol"] == expanded["authors_protocol"]
    assert weighted["num_ground_truth"] == expanded["num_ground_truth"]
    assert weighted["num_detections"] == expanded["num_detections"]
    assert_matches_coco(weighted, gt2, dt2, images)


def test_headline_equals_summary_and_unit_weights_equal_none():
    gt, dt, image_ids = random_case(3)
    m = match_detections(gt, dt, image_ids)
    base = m.summary()
    assert m.summary(np.ones(len(image_ids), dtype=int)) == base
    w = np.random.default_rng(0).integers(0, 3, len(image_ids))
    s, h = m.summary(w), m.headline(w)
    assert h == {"mAP": s["mAP"], "AP50": s["AP50"]}


def test_zero_weights_drop_images():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0],
                [IMAGES[1], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.9, 50.0, 50.0, 60.0, 60.0],
                [IMAGES[1], "L3-L4", "left", 0.5, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    m = match_detections(gt, dt, IMAGES)
    assert m.headline([0, 1, 1]) == pytest.approx({"mAP": 1.0, "AP50": 1.0})  # 1/(1+eps), as pycocotools
    assert m.headline([1, 0, 0])["AP50"] == 0.0
    assert m.headline([0, 0, 1]) == {"mAP": None, "AP50": None}
    with pytest.raises(ValueError):
        m.summary([1, -1, 1])
    with pytest.raises(ValueError):
        m.summary([1, 0.5, 1])
    with pytest.raises(ValueError):
        m.summary([1, 1])


# --- the authors' protocol ------------------------------------------------------------------


def test_authors_protocol_hand_case():
    img = IMAGES[0]
    gt = frame([[img, "L4-L5", "left", 0.0, 0.0, 10.0, 10.0],
                [img, "L4-L5", "right", 20.0, 0.0, 30.0, 10.0],
                [img, "L5-S1", "left", 0.0, 20.0, 10.0, 30.0],
                [img, "L5-S1", "right", 40.0, 40.0, 50.0, 50.0]], GT_COLS)
    dt = frame([[img, "L4-L5", "right", 0.9, 0.0, 0.0, 10.0, 10.0],  # side ignored: TP for the left box
                [img, "L4-L5", "right", 0.8, 21.0, 0.0, 31.0, 10.0],  # IoU 90/110 = 0.82: TP
                [img, "L4-L5", "left", 0.05, 50.0, 50.0, 60.0, 60.0],  # below 0.10: dropped, not a FP
                [img, "L4-L5", "left", 0.5, 0.0, 0.0, 10.0, 4.0],  # IoU 0.4 with the taken box: FP
                [img, "L5-S1", "left", 0.9, 0.0, 20.0, 10.0, 24.4],  # IoU 0.44 < 0.45: FP, and FN
                [img, "L1-L2", "left", 0.9, 0.0, 0.0, 10.0, 10.0]], DT_COLS)  # level without GT
    ap = evaluate_detection(gt, dt, IMAGES)["authors_protocol"]
    assert ap["per_level"]["L4-L5"] == {"precision": pytest.approx(2 / 3), "recall": 1.0,
                                        "f1": pytest.approx(0.8), "tp": 2, "fp": 1, "fn": 0}
    assert ap["per_level"]["L5-S1"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 1, "fn": 2}
    assert ap["per_level"]["L1-L2"] == {"precision": None, "recall": None, "f1": None, "tp": 0, "fp": 1, "fn": 0}
    assert ap["per_level"]["L2-L3"]["tp"] == 0 and ap["per_level"]["L2-L3"]["f1"] is None
    # macro over the two levels with GT: mean of per-level values (F1 is not 2PR/(P+R) of the means)
    assert ap["precision"] == pytest.approx(1 / 3)
    assert ap["recall"] == pytest.approx(0.5)
    assert ap["f1"] == pytest.approx(0.4)
    assert AUTHORS_IOU_THRESHOLD == 0.45 and AUTHORS_SCORE_THRESHOLD == 0.10


def test_authors_protocol_greedy_order_and_ties():
    img = IMAGES[0]
    # GT are processed in row order: the first GT takes the only detection (IoU 0.54) even
    # though the second would overlap it more (IoU 0.67)
    gt = frame([[img, "L3-L4", "left", 0.0, 0.0, 10.0, 10.0],
                [img, "L3-L4", "left", 5.0, 0.0, 15.0, 10.0]], GT_COLS)
    dt = frame([[img, "L3-L4", "left", 0.9, 3.0, 0.0, 13.0, 10.0]], DT_COLS)
    level = evaluate_detection(gt, dt, IMAGES)["authors_protocol"]["per_level"]["L3-L4"]
    assert (level["tp"], level["fp"], level["fn"]) == (1, 0, 1)
    # equal IoU: the higher score wins; the detection at exactly 0.10 is kept
    gt = frame([[img, "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[img, "L3-L4", "left", 0.10, 0.0, 0.0, 10.0, 8.0],
                [img, "L3-L4", "right", 0.30, 0.0, 2.0, 10.0, 10.0]], DT_COLS)
    m = match_detections(gt, dt, IMAGES)
    assert m.authors_fp.sum() == 1 and m.authors_tp.sum() == 1
    # the paper's anchor: macro F1 78.6 is the mean of its per-level F1, not 2PR/(P+R)
    assert np.mean([75.9, 86.3, 87.0, 81.1, 62.8]) == pytest.approx(78.62)
    assert 2 * 69.3 * 91.5 / (69.3 + 91.5) == pytest.approx(78.87, abs=0.01)


# --- input checks ---------------------------------------------------------------------------


def test_bad_input_raises():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.9, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    with pytest.raises(ValueError, match="outside image_ids"):
        evaluate_detection(gt, dt, IMAGES[1:])
    with pytest.raises(ValueError, match="unique"):
        evaluate_detection(gt, dt, IMAGES + IMAGES[:1])
    with pytest.raises(ValueError, match="level/side"):
        evaluate_detection(gt.assign(level="L3/L4"), dt, IMAGES)
    with pytest.raises(ValueError, match="xmax >= xmin"):
        evaluate_detection(gt, dt.assign(xmax=-1.0), IMAGES)
    with pytest.raises(ValueError, match="finite"):
        evaluate_detection(gt, dt.assign(score=np.nan), IMAGES)
    with pytest.raises(ValueError, match="lacks column"):
        evaluate_detection(gt, dt.drop(columns="score"), IMAGES)


def test_output_keys_are_stable():
    result = evaluate_detection(all_categories_gt(), frame([], DT_COLS), IMAGES)
    assert set(result) == {"mAP", "AP50", "AP75", "AR100", "per_class", "per_level", "per_side",
                           "authors_protocol", "num_detections", "num_ground_truth",
                           "num_ignored_detections", "warnings"}
    assert list(result["per_class"]) == list(CATEGORIES)
    assert list(result["per_level"]) == list(LEVELS)
    assert list(result["per_side"]) == list(SIDES)
    assert set(result["authors_protocol"]) == {"precision", "recall", "f1", "per_level"}


@pytest.mark.parametrize("seed", range(0, 220, 4))
def test_fast_path_equals_reference_accumulation(seed):
    gt, dt, image_ids = random_case(seed)
    m = match_detections(gt, dt, image_ids)
    rng = np.random.default_rng(seed)
    for w in (np.ones(len(image_ids), dtype=np.int64), rng.integers(0, 4, len(image_ids))):
        np.testing.assert_allclose(m._coco_table(w), m._coco_table_reference(w), rtol=0, atol=1e-12)


def test_detection_outside_the_area_range_is_ignored_like_cocoeval():
    gt = frame([[IMAGES[0], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0],
                [IMAGES[1], "L3-L4", "left", 0.0, 0.0, 10.0, 10.0]], GT_COLS)
    dt = frame([[IMAGES[0], "L3-L4", "left", 0.9, 0.0, 0.0, 2e5, 2e5],  # area 4e10 > 1e10: ignored
                [IMAGES[0], "L3-L4", "left", 0.5, 0.0, 0.0, 10.0, 10.0],
                [IMAGES[1], "L3-L4", "left", 0.7, 50.0, 50.0, 60.0, 60.0],
                [IMAGES[1], "L3-L4", "left", 0.6, 0.0, 0.0, 10.0, 10.0]], DT_COLS)
    result = evaluate_detection(gt, dt, IMAGES)
    assert_matches_coco(result, gt, dt, IMAGES)
    assert result["AP50"] == pytest.approx(2 / 3)  # 0.5 if the huge box counted as a false positive
