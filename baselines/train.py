"""Training: detector, segmenter and grader in one loop, validation with lssbench's metrics,
checkpoints in RUN/."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn.parallel import DistributedDataParallel

import lssbench
from lssbench.dataset import read_dataset, read_mask
from lssbench.domain import foramen_grade
from lssbench.metrics.detection import evaluate_detection
from lssbench.metrics.grading import evaluate_grading
from lssbench.metrics.segmentation import case_metrics, summarize_cases
from lssbench.jsonio import write_json_atomic

from baselines import data as D
from baselines.config import Config
from baselines.grading import class_weights
from baselines.losses import detection_loss, ordinal_loss, segmentation_loss
from baselines.models import build_models
from baselines.predict import CHECKPOINT, predict_items
from baselines.runtime import (autocast, cleanup_distributed, current, grad_scaler, log, pick_device,
                               setup_distributed)

HISTORY = "history.json"


# --- ground truth of the validation patients --------------------------------------------------

def truth_tables(dataset, patients: list[str]) -> dict:
    """Boxes table, per-foramen grades (worst-grade rule), image IDs and full-size masks of ``patients``."""
    wanted = set(patients)
    slices = [s for s in dataset.slices if s.patient_id in wanted]
    boxes = pd.DataFrame(
        [(s.image_id, s.patient_id, b.level, b.side, b.severity, b.xmin, b.ymin, b.xmax, b.ymax)
         for s in slices for b in s.boxes],
        columns=["image_id", "patient_id", "level", "side", "severity", "xmin", "ymin", "xmax", "ymax"],
    )
    grades = (boxes.groupby(["patient_id", "level", "side"], as_index=False)["severity"]
              .agg(lambda values: foramen_grade(values.tolist())))
    masks = {p: read_mask(dataset.segmentation[p].mask_path) for p in sorted(patients) if p in dataset.segmentation}
    return {"boxes": boxes, "grades": grades, "image_ids": sorted(s.image_id for s in slices), "masks": masks}


def validation_metrics(tables: dict, truth: dict, spacing: dict[str, tuple[float, float]]) -> dict:
    """AP50 (and mAP), QWK and mean Dice of predicted tables, computed by lssbench.metrics."""
    out: dict = {}
    if truth["image_ids"]:
        det = evaluate_detection(truth["boxes"], tables["detections"], truth["image_ids"])
        out.update({"AP50": det.get("AP50"), "mAP": det.get("mAP")})
    if len(truth["grades"]):
        out["qwk"] = evaluate_grading(truth["grades"], tables["grades"])["qwk"]
    if truth["masks"]:
        per_case = {pid: case_metrics(mask, tables["masks"][pid], spacing[pid]) for pid, mask in truth["masks"].items()}
        out["mean_dice"] = summarize_cases(per_case)["mean_dice"]
    return out


# --- the loop -----------------------------------------------------------------------------------

def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under torch.compile and DDP wrappers."""
    model = getattr(model, "_orig_mod", model)
    return model.module if isinstance(model, DistributedDataParallel) else model


def wrap(model: torch.nn.Module, device: torch.device, compile_model: bool) -> torch.nn.Module:
    """Move to the device (channels_last on GPU), DDP when distributed, optionally compile."""
    dist = current()
    if dist.enabled and device.type == "cuda":  # SyncBatchNorm runs on GPUs only
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    if dist.enabled:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return torch.compile(model) if compile_model else model


def lr_lambda(config: Config, steps_per_epoch: int):
    """Linear warm-up, then cosine decay to 1 % over all steps."""
    total = max(1, config.epochs * steps_per_epoch)
    warmup = int(config.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def interleave(loaders: dict, limit: int = 0) -> Iterable[tuple[str, object]]:
    """Yield (task, batch) of every loader, spread evenly over one epoch (at most ``limit`` steps).

    Each step goes to the task furthest behind its share of the epoch (ties: the first named).
    """
    sizes = {kind: len(loader) for kind, loader in loaders.items() if len(loader)}
    iters = {kind: iter(loaders[kind]) for kind in sizes}
    done = dict.fromkeys(sizes, 0)
    total = sum(sizes.values())
    for _ in range(min(total, limit) if limit else total):
        kind = min((k for k in sizes if done[k] < sizes[k]), key=lambda k: done[k] / sizes[k])
        done[kind] += 1
        yield kind, next(iters[kind])


def _device_batch(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" and x.ndim == 4 else x


def train_step(kind: str, batch, models: dict, config: Config, device: torch.device,
               grade_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Forward one batch of one task and return its losses."""
    if kind == "grade":
        crops, grades, _ = batch
        with autocast(device):
            logits = models["grade"](_device_batch(crops, device))
        loss = ordinal_loss(logits, grades.to(device, non_blocking=True), grade_weights)
        return {"total": loss}
    if kind == "det":
        image, targets, _ = batch
        targets = {k: v.to(device, non_blocking=True) for k, v in targets.items()}
        with autocast(device):
            outputs = models["det"](_device_batch(image, device))
        return detection_loss(outputs, targets, config)
    image, mask, _ = batch
    with autocast(device):
        logits = models["seg"](_device_batch(image, device))
    return segmentation_loss(logits, mask.to(device, non_blocking=True))


def save_checkpoint(out: Path, models: dict, config: Config, split: dict, epoch: int, prior, metrics: dict) -> None:
    """RUN/model.pt: weights, config, lssbench version, split definition, epoch, grade prior."""
    state = {
        "detector": unwrap(models["det"]).state_dict(),
        "segmenter": unwrap(models["seg"]).state_dict(),
        "grader": unwrap(models["grade"]).state_dict(),
        "config": config.as_dict(),
        "lssbench_version": lssbench.__version__,
        "torch_version": torch.__version__,
        "split": split,
        "epoch": epoch,
        "grade_prior": prior,
        "metrics": metrics,
    }
    tmp = out / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    tmp.replace(out / CHECKPOINT)


def _mean(values: list[torch.Tensor]) -> float:
    return float(torch.stack(values).float().mean()) if values else 0.0


def _fmt(metrics: dict) -> str:
    return " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


def train(data: str | Path, out: str | Path, config: Config, fold: int | None = None, device: str = "auto",
          compile_model: bool = False, definition: str | None = None) -> list[dict]:
    """Train the three models on the train patients, validating every ``val_every`` epochs;
    returns the history."""
    dist = setup_distributed(device)
    dev = pick_device(device)
    D.seed_everything(config.seed + dist.rank)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    dataset = read_dataset(data)
    split = D.split_definition(dataset.patients, fold, definition)
    det_train = D.load_detection_items(dataset, split["train"], config)
    seg_train = D.load_segmentation_items(dataset, split["train"], config)
    det_val = D.load_detection_items(dataset, split["val"], config) if dist.main else []
    seg_val = D.load_segmentation_items(dataset, split["val"], config, with_masks=False) if dist.main else []
    truth = truth_tables(dataset, split["val"]) if dist.main else {}
    spacing = {item.patient_id: item.spacing_mm for item in seg_val}
    prior = D.grade_prior(det_train)
    grade_counts = np.bincount(np.concatenate([i.grades for i in det_train] or [np.zeros(0, np.int64)]),
                               minlength=len(prior))[: len(prior)]
    grade_weights = class_weights(grade_counts, config.grade_class_power).to(dev)
    log(f"data: {len(split['train'])} train / {len(split['val'])} val patients ({split['validation']}), "
        f"{len(det_train)} / {len(det_val)} annotated slices, {len(seg_train)} / {len(seg_val)} masks, "
        f"cached in {time.perf_counter() - start:.1f}s; device {dev}, world size {dist.world_size}")
    if not det_train or not seg_train:
        raise RuntimeError("no training images: check the dataset folder and the split")

    detector, segmenter, grader = build_models(config)
    models = {"det": wrap(detector, dev, compile_model), "seg": wrap(segmenter, dev, compile_model),
              "grade": wrap(grader, dev, compile_model)}
    loaders = {
        "det": D.make_loader(D.DetectionSet(det_train, config, train=True), config.batch_size, True, config, dev,
                             dist.enabled, config.seed),
        # the three loaders' workers all stay alive: segmentation and grading get half as many
        "seg": D.make_loader(D.SegmentationSet(seg_train, config, train=True, repeat=config.seg_repeat),
                             config.seg_batch_size, True, config, dev, dist.enabled, config.seed + 1, share=0.5),
        "grade": D.make_loader(D.GradeSet(det_train, config, train=True, repeat=config.grade_repeat),
                               config.grade_batch_size, True, config, dev, dist.enabled, config.seed + 2, share=0.5),
    }
    log(f"grader: {int(grade_counts.sum())} train boxes, grade counts {grade_counts.tolist()}, "
        f"class weights {[round(w, 2) for w in grade_weights.tolist()]}")
    steps = sum(len(loader) for loader in loaders.values())
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)
    params = [p for m in models.values() for p in m.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config, steps))
    scaler = grad_scaler(dev)

    history: list[dict] = []
    for epoch in range(1, config.epochs + 1):
        for loader in loaders.values():
            if dist.enabled:
                loader.sampler.set_epoch(epoch)
        stats = run_epoch(epoch, models, loaders, steps, optimizer, scheduler, scaler, config, dev, grade_weights)
        if dist.main and (epoch % config.val_every == 0 or epoch == config.epochs):
            for m in models.values():
                m.eval()
            val_start = time.perf_counter()
            tables = predict_items({k: unwrap(m) for k, m in models.items()}, config, det_val, seg_val,
                                   split["val"], prior, dev)
            stats["val"] = validation_metrics(tables, truth, spacing)
            stats["val_s"] = time.perf_counter() - val_start
            for m in models.values():
                m.train()
            log(f"epoch {epoch}/{config.epochs} val: {_fmt(stats['val'])} ({stats['val_s']:.1f}s)")
        stats["elapsed_s"] = time.perf_counter() - start
        history.append(stats)
        if dist.main:
            save_checkpoint(out, models, config, split, epoch, prior, stats.get("val", {}))
            write_json_atomic(out / HISTORY, {"config": config.as_dict(), "split": split, "device": str(dev),
                                              "world_size": dist.world_size, "epochs": history})
        if dist.enabled:
            torch.distributed.barrier()
    log(f"done in {time.perf_counter() - start:.1f}s -> {out / CHECKPOINT}")
    cleanup_distributed()
    return history


def run_epoch(epoch, models, loaders, steps, optimizer, scheduler, scaler, config, dev, grade_weights) -> dict:
    """One pass over the three training sets; returns mean losses and throughput.

    Throughput counts detection and segmentation images (``train_images``); grader crops
    are counted apart (``train_crops``).
    """
    sums: dict[str, list[torch.Tensor]] = {"det": [], "seg": [], "grade": [], "heatmap": [], "wh": [], "offset": []}
    images = crops = 0
    epoch_start = time.perf_counter()
    params = [p for m in models.values() for p in m.parameters()]
    for step, (kind, batch) in enumerate(interleave(loaders, steps), start=1):
        losses = train_step(kind, batch, models, config, dev, grade_weights)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if kind == "grade":
            crops += len(batch[0])
        else:
            images += len(batch[0])
        sums[kind].append(losses["total"].detach())  # kept on the device: no sync per step
        if kind == "det":
            for key in ("heatmap", "wh", "offset"):
                sums[key].append(losses[key].detach())
        if step % config.log_every == 0 or step == steps:
            rate = images / (time.perf_counter() - epoch_start)
            log(f"epoch {epoch} step {step}/{steps} det {_mean(sums['det']):.4f} seg {_mean(sums['seg']):.4f} "
                f"grade {_mean(sums['grade']):.4f} lr {scheduler.get_last_lr()[0]:.2e} {rate:.1f} img/s")
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - epoch_start
    world = current().world_size
    stats = {"epoch": epoch, "train_s": seconds, "train_images": images * world, "train_crops": crops * world,
             "train_images_per_s": images * world / max(seconds, 1e-9)}
    stats.update({f"loss_{k}": _mean(v) for k, v in sums.items() if v})
    log(f"epoch {epoch} train: {_fmt({k: v for k, v in stats.items() if k != 'epoch'})}")
    return stats
