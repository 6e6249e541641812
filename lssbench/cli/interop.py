"""Commands over foreign formats: export yolo / coco (training data), convert yolo (predictions)."""

from __future__ import annotations

from pathlib import Path

import click

from lssbench.cli.common import GT_OPTION, SPLIT_OPTION, check_outputs, echo, handle_errors, main
from lssbench.problems import UsageError

SPLIT_FILE_OPTION = click.option(
    "--split-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="A frozen split (from `splits freeze`) instead of the lssbench-v1 rule.")


def _definition(split_file):
    from lssbench.splits import load_split_definition

    return load_split_definition(split_file) if split_file else None


@main.group()
def export():
    """Training data in other formats: an ultralytics YOLO dataset, COCO ground truth."""


@export.command("yolo")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write (the dataset root).")
@click.option("--classes", type=click.Choice(["level-side", "levels"]), default="level-side", show_default=True,
              help="level-side: the ten lssbench categories (L1-L2/left ...); levels: the five levels "
                   "(the dataset authors' set-up; convert back with --side-from-slice).")
@click.option("--with-test-labels", is_flag=True,
              help="Also write the test split's labels (organizers only: they are the hidden answers).")
@SPLIT_FILE_OPTION
@handle_errors
def export_yolo_command(data, out, classes, with_test_labels, split_file):
    """Write dataset folder DATA as an ultralytics YOLO dataset of the fixed patient-level split:
    images/{train,val,test}, labels/{train,val[,test]}, data.yaml. Stems are <patient_id>_<slice>."""
    from lssbench.dataset import read_dataset
    from lssbench.interop.yolo import export_yolo

    result = export_yolo(read_dataset(data), out, classes=classes, with_test_labels=with_test_labels,
                         definition=_definition(split_file))
    for split in result.images:
        labels = f"{result.labels[split]} label files" if split != "test" or with_test_labels else "no labels"
        echo(f"  {split:<5} {len(result.patients[split])} patients, {result.images[split]} images, {labels}")
    if result.skipped:
        echo(f"warning: {len(result.skipped)} annotated slices have no PNG and were left out "
                   f"(e.g. {result.skipped[0]})")
    echo(f"wrote the YOLO dataset ({len(result.classes)} classes: {classes}) to {out}; "
               f"train with data={out / 'data.yaml'}")


@export.command("coco")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["train", "val", "test"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="JSON file to write.")
@SPLIT_FILE_OPTION
@handle_errors
def export_coco_command(data, split, out, split_file):
    """Write the COCO ground truth of one split of DATA: the detection.json `prepare` writes."""
    from lssbench.dataset import read_dataset
    from lssbench.interop.coco import export_coco

    check_outputs(out=out)
    export_coco(read_dataset(data), split, out, definition=_definition(split_file))
    echo(f"wrote the COCO ground truth of the {split} split to {out}")


@main.group()
def convert():
    """Predictions in other formats to a submission."""


@convert.command("yolo")
@click.argument("labels", type=click.Path(path_type=Path))
@GT_OPTION
@SPLIT_OPTION
@click.option("--data", "data_yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The data.yaml the model was trained with (class names). Default: the level-side "
                   "order of `export yolo`.")
@click.option("--side-from-slice", is_flag=True,
              help="For levels-only classes: take each box's side from the side of the spine its slice "
                   "lies on (public.json side_of_spine, from the DICOM geometry).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Submission folder to write detections.csv into (other task files there stay), or a .zip.")
@handle_errors
def convert_yolo_command(labels, gt, split, data_yaml, side_from_slice, out):
    """Turn ultralytics predict output LABELS (a folder of <patient_id>_<slice>.txt with lines
    'class cx cy w h conf', from predict(save_txt=True, save_conf=True)) into OUT/detections.csv."""
    from lssbench.domain import DETECTIONS_JSON_FILE
    from lssbench.interop.yolo import convert_yolo, read_names
    from lssbench.sources import resolve_ground_truth
    from lssbench.submission import write_submission

    if out.suffix.lower() == ".zip":
        check_outputs(out=out)
    elif out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give the submission folder (or a .zip) to write")
    if (out / DETECTIONS_JSON_FILE).exists():
        raise UsageError(f"{out} already holds {DETECTIONS_JSON_FILE}; a submission holds one detection file")
    source = resolve_ground_truth(gt, split)
    names = read_names(data_yaml) if data_yaml else None
    result = convert_yolo(labels, source.ground_truth, names=names, side_from_slice=side_from_slice)
    for warning in result.warnings:
        echo(f"warning: {warning}", err=True)
    write_submission(out, detections=result.detections)
    where = out if out.suffix.lower() == ".zip" else out / "detections.csv"
    echo(f"wrote {len(result.detections)} detections from {result.files} label files to "
         f"{where} (image sizes from the {source.description})")
