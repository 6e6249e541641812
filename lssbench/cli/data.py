"""Commands over datasets: synth, check-data, prepare, splits."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lssbench import __version__
from lssbench.cli.common import EXIT_INVALID, check_outputs, echo, echo_problems, handle_errors, main, patients_option, progress
from lssbench.problems import UsageError


# --- data -------------------------------------------------------------------------------------
def require_dataset_folder(data: Path) -> Path:
    """Refuse a ground-truth bundle where a raw dataset folder is expected (exit 2)."""
    from lssbench.groundtruth import is_bundle

    if is_bundle(data):
        raise UsageError(f"{data} is a ground-truth bundle (from `lssbench prepare`); this command reads the "
                         "dataset folder itself (DICOM/, Foramina_Detection/, Segmentation/), e.g. the `data` "
                         "folder the bundle was prepared from")
    return data


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@patients_option(1, "Number of patients.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--compact", is_flag=True,
              help="DICOM series at half the PNG matrix (about a quarter of the DICOM bytes; the demo's data).")
@handle_errors
def synth(out, patients, seed, compact):
    """Write the synthetic LSS dataset to OUT, in the published layout, and print its size.

    About 80% of the series are stored compressed (lossless: JPEG-LS, JPEG 2000, RLE,
    deflate), the rest uncompressed; see docs/dataset.md."""
    from lssbench.disk import describe_folder
    from lssbench.synth import DEFAULT_PATIENTS, synthesize

    count = patients or DEFAULT_PATIENTS
    with progress().step(f"synthesizing {count} patients (seed {seed})"):
        path = synthesize(out, n_patients=count, seed=seed, compact=compact)
    echo(f"wrote a synthetic dataset of {count} patients (seed {seed}{', compact' if compact else ''}) "
         f"to {describe_folder(path)}")


@main.command("check-data")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the counts and problems as JSON.")
@click.option("--decode-all", is_flag=True,
              help="Decode the pixels of every DICOM slice (default: the first slice of each series).")
@handle_errors
def check_data(data, json_out, decode_all):
    """Read dataset folder DATA (decoding every mask and one DICOM slice per series), print its
    counts, the DICOM transfer syntaxes found and every problem."""
    require_dataset_folder(data)
    from lssbench.dataset import check_pixels, read_dataset, summarize_dataset
    from lssbench.jsonio import dumps, write_json_atomic

    check_outputs(json=json_out)
    which = "every DICOM slice" if decode_all else "the first DICOM slice of each series"
    with progress().step(f"reading {data}, decoding every mask and {which}"):
        dataset = read_dataset(data, strict=False, check_masks=True)
        decoded, pixel_problems = check_pixels(dataset, every_slice=decode_all)
    dataset.problems.extend(pixel_problems)
    summary = summarize_dataset(dataset)
    summary["decoded_dicom_slices"] = {"slices": decoded, "which": "all" if decode_all else "first of each series",
                                       "failed": len(pixel_problems)}
    echo(dumps(summary), nl=False)
    if json_out:
        write_json_atomic(json_out, {"schema_version": 1, "lssbench_version": __version__, "dataset": str(data),
                                     "summary": summary, "problems": [p.as_dict() for p in dataset.problems]})
        echo(f"counts and problems written to {json_out}")
    if dataset.problems:
        echo(f"{len(dataset.problems)} problem{'s' * (len(dataset.problems) != 1)}:")
        echo_problems(dataset.problems)
        sys.exit(EXIT_INVALID)
    echo("no problems found")


@main.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["train", "val", "test"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Bundle folder to write.")
@click.option("--split-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A frozen split (from `splits freeze`) instead of the lssbench-v1 rule.")
@handle_errors
def prepare(data, split, out, split_file):
    """Write the ground-truth bundle of one split of DATA (detection.json, grades.csv,
    segmentation/, manifest.json, and public.json for participants)."""
    require_dataset_folder(data)
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import load_ground_truth, prepare_ground_truth
    from lssbench.splits import load_split_definition

    definition = load_split_definition(split_file) if split_file else None
    shown = progress()
    with shown.step(f"reading {data}"):
        dataset = read_dataset(data)
    with shown.step(f"writing the {split} bundle"):
        path = prepare_ground_truth(dataset, split, out, definition=definition)
    with shown.step("verifying the bundle"):
        gt = load_ground_truth(path)
    echo(f"wrote the {split} bundle to {path}: {len(gt.patients)} patients, {len(gt.images)} annotated "
               f"slices, {len(gt.boxes)} boxes, {len(gt.grades)} graded foramina, {len(gt.cases)} masks; "
               f"fingerprint {gt.fingerprint}")
    echo(f"publish {path / 'public.json'} to participants; keep the rest private")


@main.group()
def splits():
    """Patient-level splits: show them, or freeze them for a copy of the data."""


@splits.command("show")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@handle_errors
def splits_show(data, split_file):
    """Print split sizes and grade mix per split of dataset DATA."""
    require_dataset_folder(data)
    from lssbench.dataset import read_dataset
    from lssbench.jsonio import dumps
    from lssbench.splits import load_split_definition, split_summary

    definition = load_split_definition(split_file) if split_file else None
    echo(dumps(split_summary(read_dataset(data), definition)), nl=False)


@splits.command("freeze")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True)
@handle_errors
def splits_freeze(data, out):
    """Write the explicit patient lists of DATA's splits, with the dataset fingerprint."""
    require_dataset_folder(data)
    import json

    from lssbench.dataset import read_dataset
    from lssbench.domain import SPLITS
    from lssbench.splits import freeze_split

    check_outputs(out=out)
    with progress().step(f"reading {data}"):
        dataset = read_dataset(data)
    path = freeze_split(dataset, out)
    frozen = json.loads(path.read_text("utf-8"))
    counts = ", ".join(f"{split} {frozen['counts'][split]}" for split in SPLITS)
    echo(f"wrote the patient lists of {sum(frozen['counts'].values())} patients ({counts}; "
         f"{len(frozen['folds'])} folds), frozen from split definition {frozen['frozen_from']!r}, to {path}")
    echo(f"use it with --split-file {path}")
