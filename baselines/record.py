"""Runs on record: train, predict, score, and one JSON record per run in ``baselines/results/``.

``python -m baselines bench --data DATA --work DIR --config NAME`` trains into ``DIR/run``,
writes the test submission to ``DIR/preds`` (a normal submission folder: it is what
``lssbench leaderboard --baseline DIR/preds`` takes), the test ground truth to ``DIR/gt`` and
the scores to ``DIR/results.json``, then the record ``<YYYY-MM-DD>-<device>[-compile].json``
(UTC date; device as torch names it, lower-cased with dashes, or ``cpu``).

A record holds: the command, the device, wall and CPU seconds (user + sys of this process
and its reaped children), the load average before and after (the CPU may be shared),
training and inference images per second, peak GPU memory (MiB; null on the CPU), the
results summary (AP50, mAP, QWK, mean Dice, mean HD95 in mm) of the test split, and
``scores``: the whole results JSON (default bootstrap, per-resample values kept), so that
``lssbench leaderboard --baseline RECORD`` shows the run as a reference row on that ground
truth and ``lssbench compare RECORD preds/`` pairs a method with it.
``baselines/RESULTS.md`` carries a table of all records between two marker lines;
:func:`update_results_md` rewrites it from the records.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import resource
import shlex
import sys
import time
from pathlib import Path

import torch

import lssbench
from lssbench.jsonio import read_back, write_json_atomic, write_text_atomic
from lssbench.synth.core import MARKER as SYNTH_MARKER

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
TABLE_BEGIN = "<!-- records: begin (written by python -m baselines records; do not edit by hand) -->"
TABLE_END = "<!-- records: end -->"
SCHEMA_VERSION = 1
#: Environment variables that change how fast a run is; recorded when set.
RECORDED_ENVIRONMENT = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")


def device_name(device: torch.device) -> str:
    """The device as torch names it (``NVIDIA H200``), or ``cpu``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def slug(name: str) -> str:
    """``NVIDIA H200`` -> ``nvidia-h200`` (file-name safe)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"


def record_filename(date: str, device: str, compiled: bool = False) -> str:
    return f"{date}-{slug(device)}{'-compile' if compiled else ''}.json"


def results_summary(results: dict) -> dict:
    """The headline numbers of a lssbench results dict (None where a task was not scored)."""
    det, grading, seg = (results.get(task) or {} for task in ("detection", "grading", "segmentation"))
    return {"AP50": det.get("AP50"), "mAP": det.get("mAP"), "qwk": grading.get("qwk"),
            "mean_dice": seg.get("mean_dice"), "mean_hd95_mm": seg.get("mean_hd95_mm")}


def training_rate(history: list[dict]) -> float | None:
    """Training images per second over all epochs (validation time excluded)."""
    seconds = sum(epoch["train_s"] for epoch in history)
    return sum(epoch["train_images"] for epoch in history) / seconds if seconds > 0 else None


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def build_record(*, command: str, device: str, config: str, compiled: bool, wall_s: float, train_s: float,
                 predict_s: float, cpu_s: float, load_before: list[float], load_after: list[float],
                 train_images_per_s: float | None, inference_images_per_s: float | None,
                 peak_gpu_memory_mib: float | None, results: dict, data: dict, date: str) -> dict:
    """A run record (pure: every measured figure comes in as an argument)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "date": date,
        "command": command,
        "device": device,
        "config": config,
        "compile": compiled,
        "wall_s": wall_s,
        "train_wall_s": train_s,
        "predict_wall_s": predict_s,
        "cpu_s": cpu_s,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "environment": {k: os.environ[k] for k in RECORDED_ENVIRONMENT if k in os.environ},
        "load_average_before": load_before,
        "load_average_after": load_after,
        "train_images_per_s": train_images_per_s,
        "inference_images_per_s": inference_images_per_s,
        "peak_gpu_memory_mib": peak_gpu_memory_mib,
        "results": results_summary(results),
        "scores": read_back(results),
        "split": results.get("split"),
        "gt_fingerprint": results.get("gt_fingerprint"),
        "data": data,
        "lssbench_version": lssbench.__version__,
        "torch_version": torch.__version__,
    }


def bench(data: str | Path, work: str | Path, config, device: str = "auto", compile_model: bool = False,
          record_dir: str | Path = RESULTS_DIR, command: str | None = None) -> Path:
    """Train, predict the test split, score it and write the record; returns the record's path."""
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import prepare_ground_truth
    from lssbench.scoring import evaluate

    from baselines.predict import predict
    from baselines.runtime import log, pick_device
    from baselines.train import train

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    load_before = list(os.getloadavg())
    cpu_start, start = cpu_seconds(), time.perf_counter()
    history = train(data, work / "run", config, device=device, compile_model=compile_model)
    train_s = time.perf_counter() - start
    figures = predict(data, "test", work / "run", work / "preds", device=device)
    predict_s = time.perf_counter() - start - train_s
    wall_s = time.perf_counter() - start
    cpu_s = cpu_seconds() - cpu_start
    load_after = list(os.getloadavg())
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None

    dataset = read_dataset(data)
    gt = prepare_ground_truth(dataset, "test", work / "gt")
    results = evaluate(work / "preds", str(gt), keep_resamples=True)
    write_json_atomic(work / "results.json", results)
    meta = {"folder": Path(data).name, "patients": len(dataset.patients)}
    marker = Path(data) / SYNTH_MARKER
    if marker.is_file():  # a synthetic set says how it was made
        made = json.loads(marker.read_text("utf-8"))
        meta["synthetic"] = {key: made.get(key) for key in ("generator", "n_patients", "seed", "lssbench_version")}
    name = device_name(dev)
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    record = build_record(
        command=command or shlex.join(["python", "-m", "baselines", *sys.argv[1:]]),
        device=name, config=config.name, compiled=compile_model, wall_s=wall_s, train_s=train_s,
        predict_s=predict_s, cpu_s=cpu_s, load_before=load_before, load_after=load_after,
        train_images_per_s=training_rate(history), inference_images_per_s=figures["images_per_s"],
        peak_gpu_memory_mib=peak, results=results, data=meta, date=date)
    path = write_json_atomic(Path(record_dir) / record_filename(date, name, compile_model), record)
    summary = record["results"]
    log(f"bench: wall {wall_s:.0f}s (train {train_s:.0f}s, predict {predict_s:.0f}s), cpu {cpu_s:.0f}s; "
        + " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items())
        + f" -> {path}")
    return path


# --- RESULTS.md -----------------------------------------------------------------------------

def load_records(folder: str | Path = RESULTS_DIR) -> list[tuple[str, dict]]:
    """(file name, record) of every ``*.json`` in ``folder``, sorted by name."""
    return [(p.name, json.loads(p.read_text("utf-8"))) for p in sorted(Path(folder).glob("*.json"))]


def _num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def records_table(records: list[tuple[str, dict]]) -> str:
    """The Markdown table of the records (one row each)."""
    lines = ["| record | device | config | wall s | CPU s | load before / after | train img/s | "
             "infer img/s | peak GPU MiB | AP50 | mAP | QWK | mean Dice | mean HD95 mm |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in records:
        s = r["results"]
        config = r["config"] + (" + compile" if r.get("compile") else "")
        load = f"{r['load_average_before'][0]:.1f} / {r['load_average_after'][0]:.1f}"
        lines.append(
            f"| [{name}](results/{name}) | {r['device']} | {config} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {load} | "
            f"{_num(r['train_images_per_s'], 1)} | {_num(r['inference_images_per_s'], 1)} | "
            f"{_num(r['peak_gpu_memory_mib'], 0)} | {_num(s['AP50'])} | {_num(s['mAP'])} | {_num(s['qwk'])} | "
            f"{_num(s['mean_dice'])} | {_num(s['mean_hd95_mm'], 2)} |")
    return "\n".join(lines)


def render_results_md(text: str, records: list[tuple[str, dict]]) -> str:
    """``text`` with the part between the marker lines replaced by :func:`records_table`."""
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise ValueError(f"RESULTS.md lacks the marker lines {TABLE_BEGIN!r} and {TABLE_END!r}")
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_BEGIN}\n{records_table(records)}\n{TABLE_END}{tail}"


def update_results_md(path: str | Path = RESULTS_MD, folder: str | Path = RESULTS_DIR) -> Path:
    path = Path(path)
    return write_text_atomic(path, render_results_md(path.read_text("utf-8"), load_records(folder)))
