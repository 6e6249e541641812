"""``synthesize``: build a whole synthetic dataset folder, atomically and deterministically.

The dataset is built in a temporary folder beside ``out`` and renamed into place, so a
crash never leaves half a dataset. ``out`` must be missing, empty, or an earlier
synthetic dataset (recognised by its :data:`MARKER` file), which is then replaced.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from lssbench import __version__
from lssbench.jsonio import dumps, replaceable_folder
from lssbench.problems import UsageError
from lssbench.synth.plan import PatientPlan, patient_ids, plan_patient
from lssbench.synth.render import render_patient
from lssbench.synth.writer import series_folder, write_patient

DEFAULT_PATIENTS = 100
#: Marker file at the root of every synthetic dataset (readers ignore dot files).
MARKER = ".lssbench-synth.json"
CONVENTIONS = {
    "x_axis": "ImagePositionPatient x = lateral offset from the spine midline in mm, +x = patient left (DICOM LPS)",
    "left_slices": "slices with x > 0 carry the left foramina (LFS*), slices with x < 0 the right ones (RFS*)",
    "scan_direction": "direction +1: x grows with InstanceNumber (right to left); -1: left to right",
    "image_plane": "columns anterior -> posterior, rows superior -> inferior; ImageOrientationPatient [0,1,0,0,0,-1]",
    "middle_slice": "slice index n_slices // 2 in acquisition order (InstanceNumber - 1)",
}
#: Patients per worker process before a pool pays off.
PARALLEL_MIN_PATIENTS = 16


def _build_patient(args: tuple[str, str, int, int, bool]) -> dict:
    root, patient_id, seed, index, compact = args
    plan = plan_patient(patient_id, seed, index, compact)
    write_patient(Path(root), plan, render_patient(plan))
    return _summary(plan)


def _summary(plan: PatientPlan) -> dict:
    """What a reader should find for this patient (recorded in the marker file)."""
    series = plan.series
    return {
        "dicom_folder": series_folder(series, plan.patient_id).as_posix(),
        "dicom_suffix": series.suffix,
        "transfer_syntax": series.transfer_syntax,
        "n_slices": series.n_slices,
        "first_index": series.first_index,
        "direction": series.direction,
        "dicom_size": series.dicom_size,
        "png_size": series.png_size,
        "spacing_mm": series.spacing_mm,
        "png_spacing_mm": series.png_spacing_mm,
        "middle_slice": series.slice_name(series.middle),
        "boxed": sum(bool(f.boxes) for f in plan.foramina),
    }


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"cannot write the synthetic dataset to {out}: it is a file, not a folder")
    if not replaceable_folder(out, lambda folder: (folder / MARKER).is_file()):
        raise UsageError(
            f"refusing to write the synthetic dataset into {out}: the folder is not empty and is not "
            f"an earlier lssbench synthetic dataset (no {MARKER}); choose a new or empty folder"
        )


def _workers(n_patients: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, n_patients // PARALLEL_MIN_PATIENTS))


def _pool_context():
    """Fork where available (no re-import per worker), the platform default elsewhere."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _build(root: Path, n_patients: int, seed: int, compact: bool) -> dict:
    jobs = [(str(root), pid, seed, i, compact) for i, pid in enumerate(patient_ids(n_patients, seed))]
    workers = _workers(n_patients)
    if workers == 1:
        summaries = [_build_patient(job) for job in jobs]
    else:
        with _pool_context().Pool(workers) as pool:
            summaries = pool.map(_build_patient, jobs, chunksize=1)
    return {job[1]: summary for job, summary in zip(jobs, summaries)}


def _swap_in(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``, removing an earlier (empty or synthetic) ``out``."""
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, trash / "old")
        os.replace(tmp, out)
        shutil.rmtree(trash)
    else:
        os.replace(tmp, out)


def synthesize(out: str | os.PathLike, n_patients: int = DEFAULT_PATIENTS, seed: int = 0, *,
               compact: bool = False) -> Path:
    """Write a synthetic LSS-MRI-AISSLab dataset of ``n_patients`` to ``out``; return its path.

    The same ``(n_patients, seed, compact)`` gives byte-identical files. ``compact`` stores
    every DICOM series at half the PNG matrix (:data:`~lssbench.synth.plan.COMPACT_DICOM_SIZE`;
    about a quarter of the DICOM bytes): same patients, layout, slices, grades and PNG sizes,
    coarser pixels (the demo uses it). Raises UsageError if ``out`` is a file or a non-empty
    folder that is not an earlier synthetic dataset.
    """
    if int(n_patients) < 1:
        raise UsageError(f"n_patients must be at least 1, got {n_patients}")
    out = Path(out).absolute()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.synth-", dir=out.parent))
    try:
        patients = _build(tmp, int(n_patients), int(seed), bool(compact))
        marker = {
            "generator": "lssbench.synth",
            "lssbench_version": __version__,
            "n_patients": int(n_patients),
            "seed": int(seed),
            "compact": bool(compact),
            "conventions": CONVENTIONS,
            "patients": patients,
        }
        (tmp / MARKER).write_text(dumps(marker), encoding="utf-8")
        os.chmod(tmp, 0o755)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
