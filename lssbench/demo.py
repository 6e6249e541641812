"""The demo: synthetic data -> test bundle -> three sample submissions -> leaderboard.

The sample submissions are made from the ground truth itself, so their scores are
known in advance: ``perfect`` scores 1 everywhere; ``jittered`` moves boxes by a few
pixels, changes a quarter of the grades by one and shifts masks by a pixel or two;
``weak`` misses half the foramina, adds random boxes, guesses grades from the prior
and submits coarse masks.

The demo's dataset is the compact synthetic variant (``synthesize(..., compact=True)``:
DICOM matrices half the PNG size, about 190 MB for 100 patients instead of about 530 MB).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lssbench.domain import DETECTION_COLUMNS, GRADES, LEVELS, PROBABILITY_COLUMNS, SIDES
from lssbench.submission.template import template_grades
from lssbench.submission.write import write_submission

DEFAULT_DEMO_DIR = "lssbench-demo"
SAMPLE_NAMES = ("perfect", "jittered", "weak")


@dataclass(frozen=True)
class Degradation:
    """How far a sample submission strays from the ground truth."""

    box_jitter_px: float  # standard deviation of corner noise
    miss_rate: float  # fraction of boxes not detected
    false_positives_per_image: float
    regrade_rate: float  # fraction of graded foramina whose grade moves by one
    random_grades: bool  # grades drawn from the prior instead
    mask_shift_px: int  # masks shifted by up to this many pixels
    mask_block_px: int  # masks coarsened to blocks of this size (1 = exact)


DEGRADATIONS = {
    "perfect": Degradation(0.0, 0.0, 0.0, 0.0, False, 0, 1),
    "jittered": Degradation(2.0, 0.05, 0.3, 0.25, False, 2, 1),
    "weak": Degradation(6.0, 0.5, 2.0, 0.0, True, 4, 16),
}


def sample_detections(ground_truth, d: Degradation, rng: np.random.Generator) -> pd.DataFrame:
    boxes = ground_truth.boxes
    keep = rng.random(len(boxes)) >= d.miss_rate
    found = boxes.loc[keep, ["image_id", "level", "side", "xmin", "ymin", "xmax", "ymax"]].copy()
    corners = found[["xmin", "ymin", "xmax", "ymax"]].to_numpy(float)
    if d.box_jitter_px:
        found[["xmin", "ymin", "xmax", "ymax"]] = corners + rng.normal(0.0, d.box_jitter_px, corners.shape)
    found["score"] = rng.uniform(0.5, 1.0, len(found))
    images = ground_truth.images
    n_false = rng.poisson(d.false_positives_per_image, len(images))
    rows = []
    for (_, image), count in zip(images.iterrows(), n_false):
        for _ in range(count):
            size = rng.uniform(20, 60, 2)
            x0, y0 = rng.uniform(0, image["width"] - size[0]), rng.uniform(0, image["height"] - size[1])
            rows.append({"image_id": image["image_id"], "level": LEVELS[rng.integers(len(LEVELS))],
                         "side": SIDES[rng.integers(len(SIDES))], "score": rng.uniform(0.0, 0.6),
                         "xmin": x0, "ymin": y0, "xmax": x0 + size[0], "ymax": y0 + size[1]})
    detections = pd.concat([found, pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))], ignore_index=True)
    sizes = images.set_index("image_id")
    width = detections["image_id"].map(sizes["width"]).to_numpy(float)
    height = detections["image_id"].map(sizes["height"]).to_numpy(float)
    for lo, hi, limit in (("xmin", "xmax", width), ("ymin", "ymax", height)):
        detections[lo] = np.clip(detections[lo], 0, limit - 2)
        detections[hi] = np.clip(np.maximum(detections[hi], detections[lo] + 1), 0, limit)
    return detections[list(DETECTION_COLUMNS)]


def sample_grades(ground_truth, d: Degradation, rng: np.random.Generator) -> pd.DataFrame:
    keys = ["patient_id", "level", "side"]
    grades = template_grades(ground_truth.patients).drop(columns=list(PROBABILITY_COLUMNS))
    truth = ground_truth.grades.set_index(keys)["severity"]
    index = grades.set_index(keys).index
    severity = np.array([truth.get(key, 0) for key in index], dtype=int)
    if d.random_grades:
        prior = np.bincount(truth.to_numpy(int), minlength=len(GRADES)) + 1.0
        severity = rng.choice(GRADES, size=len(severity), p=prior / prior.sum())
    graded = np.flatnonzero(index.isin(truth.index))
    moved = rng.choice(graded, int(round(d.regrade_rate * len(graded))), replace=False)
    step = np.where(severity[moved] == 0, 1, np.where(severity[moved] == 3, -1, rng.choice([-1, 1], len(moved))))
    severity[moved] += step
    grades["severity"] = severity
    confidence = 1.0 if d == DEGRADATIONS["perfect"] else 0.7
    proba = np.full((len(severity), len(GRADES)), (1.0 - confidence) / (len(GRADES) - 1))
    proba[np.arange(len(severity)), severity] = confidence
    grades[list(PROBABILITY_COLUMNS)] = proba
    return grades


def sample_mask(mask: np.ndarray, d: Degradation, rng: np.random.Generator) -> np.ndarray:
    out = mask
    if d.mask_block_px > 1:
        b = d.mask_block_px
        out = np.repeat(np.repeat(out[::b, ::b], b, axis=0), b, axis=1)[: mask.shape[0], : mask.shape[1]]
    if d.mask_shift_px:  # shift without wrap-around: the edge rows/columns are repeated
        dy, dx = rng.integers(-d.mask_shift_px, d.mask_shift_px + 1, 2)
        padded = np.pad(out, d.mask_shift_px, mode="edge")
        top, left = d.mask_shift_px - dy, d.mask_shift_px - dx
        out = padded[top: top + mask.shape[0], left: left + mask.shape[1]]
    return np.ascontiguousarray(out, dtype=np.uint8)


def write_sample_submissions(ground_truth, out: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Write ``perfect``, ``jittered`` and ``weak`` submissions under ``out``; return their paths."""
    paths = {}
    for offset, name in enumerate(SAMPLE_NAMES):
        d, rng = DEGRADATIONS[name], np.random.default_rng([seed, offset])
        masks = {pid: sample_mask(mask, d, rng) for pid, mask in sorted(ground_truth.masks().items())}
        paths[name] = write_submission(
            Path(out) / name,
            detections=sample_detections(ground_truth, d, rng),
            grades=sample_grades(ground_truth, d, rng),
            masks=masks,
            meta={"team": "lssbench demo", "method": name,
                  "description": f"made from the ground truth: {d}"},
        )
    return paths


@dataclass(frozen=True)
class DemoOutputs:
    data: Path
    gt: Path
    submissions: dict
    leaderboard: Path
    board: dict
    written: list = field(default_factory=list)  # lssbench.board.OutputResult per file
    notes: list = field(default_factory=list)  # what was reused or rebuilt


def demo_outputs(out: Path) -> dict[str, Path]:
    """The board files the demo writes: JSON, Markdown and HTML, in ``out``."""
    return {"json_path": out / "leaderboard.json", "markdown": out / "leaderboard.md",
            "html": out / "leaderboard.html"}


def _existing_patients(data: Path) -> int | None:
    """Patients of the synthetic dataset in ``data`` (from its marker file), None if unknown."""
    import json

    from lssbench.synth import MARKER

    try:
        return int(json.loads((data / MARKER).read_text("utf-8"))["n_patients"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_demo(out: str | os.PathLike = DEFAULT_DEMO_DIR, *, n_patients: int | None = None, seed: int = 0,
             n_bootstrap: int = 1000, workers: int | None = None, on_done=None, progress=None) -> DemoOutputs:
    """Synthesize, prepare the test bundle, write the samples, score them into a leaderboard,
    and write the board as JSON, Markdown and HTML (each file independently: see ``written``).

    Re-running reuses the dataset and bundle already in ``out`` (both are deterministic) when
    they have the asked number of patients, and rebuilds both otherwise; ``notes`` says which.
    """
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import load_ground_truth, prepare_ground_truth
    from lssbench.board import board_outputs, leaderboard, write_outputs
    from lssbench.progress import QUIET
    from lssbench.synth import DEFAULT_PATIENTS, synthesize

    progress = progress or QUIET
    out = Path(out)
    from lssbench.report.submission import check_report_target

    for name in SAMPLE_NAMES:  # before any work: never replace a folder that is not a report
        check_report_target(out / "reports" / name)
    wanted = n_patients or DEFAULT_PATIENTS
    data, gt_dir = out / "data", out / "gt"
    notes = []
    rebuild = not data.exists()
    if data.exists():
        existing = _existing_patients(data)
        if existing == wanted:
            notes.append(f"reusing the synthetic dataset in {data} ({existing} patients) and its bundle")
        else:
            notes.append(f"the dataset in {data} has {existing or 'an unknown number of'} patients, "
                         f"{wanted} were asked for: rebuilding it and its bundle")
            rebuild = True
    for note in notes:
        progress.note(note)
    if rebuild:
        with progress.step(f"synthesizing {wanted} patients into {data}"):
            synthesize(data, n_patients=wanted, seed=seed, compact=True)
    if rebuild or not gt_dir.exists():
        with progress.step("reading the dataset"):
            dataset = read_dataset(data)
        with progress.step(f"preparing the test bundle in {gt_dir}"):
            prepare_ground_truth(dataset, "test", gt_dir)
    ground_truth = load_ground_truth(gt_dir)
    with progress.step("writing the sample submissions"):
        submissions = write_sample_submissions(ground_truth, out / "submissions", seed=seed)
    scored = {}

    def remember(entry):  # the full results (with per-case rows) feed the reports
        scored[entry.name] = entry.results
        if on_done:
            on_done(entry)

    board = leaderboard(list(submissions.values()), ground_truth, n_bootstrap=n_bootstrap, seed=seed,
                        workers=workers, on_done=remember, per_case=True)
    paths = demo_outputs(out)
    written = write_outputs(board, board_outputs(**paths))
    with progress.step("writing a report of each sample submission"):
        written += write_sample_reports(ground_truth, submissions, scored, out / "reports")
    return DemoOutputs(data, gt_dir, submissions, paths["json_path"], board, written, notes)


def footprint_text(out: str | os.PathLike) -> str:
    """What the demo folder ``out`` takes on disk and how to remove it (printed at the end)."""
    from lssbench.disk import count_files, folder_size, format_size

    files, size = folder_size(out)
    return (f"the demo folder {out} takes {format_size(size)} ({count_files(files)}); "
            f"remove it with: rm -rf {shlex.quote(str(out))}")


def write_sample_reports(ground_truth, submissions: dict, scored: dict, out: Path) -> list:
    """The HTML report of each scored sample in ``out/<name>/``; one OutputResult each."""
    from lssbench.board import Output, OutputResult
    from lssbench.report.submission import submission_report
    from lssbench.submission import load_submission

    written = []
    for name, path in submissions.items():
        output = Output(f"report '{name}'", out / name / "index.html", lambda board: "")
        if scored.get(name) is None:
            continue
        try:
            submission_report(out / name, scored[name], ground_truth, load_submission(path, ground_truth), name=name)
            written.append(OutputResult(output))
        except Exception as error:  # noqa: BLE001 - reported with the other outputs, the next one goes on
            written.append(OutputResult(output, error))
    return written
