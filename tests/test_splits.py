"""Patient-level splits: the rule, folds, split definitions, frozen lists and the summary."""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

import pytest

from lssbench import splits
from lssbench.dataset.records import AnnotatedSlice, Box, Dataset, SegmentationCase
from lssbench.domain import SPLITS
from lssbench.problems import DataError, UsageError
from lssbench.splits import (SplitDefinition, assign_fold, assign_split, dataset_fingerprint, fold_patients,
                             freeze_split, load_split_definition, resolve_split_definition, split_patients,
                             split_summary)


def random_ids(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"PATIENT{n_:07d}" for n_ in rng.sample(range(10**7), n)]


def test_rule_is_pinned():
    """The published rule never changes: these assignments are part of lssbench-v1."""
    assert [assign_split(p) for p in ("PATIENT1000513", "PATIENT00001", "PATIENT1234567")] == ["test", "train", "train"]
    assert [assign_fold(p) for p in ("PATIENT00001", "PATIENT1234567", "PATIENT424242")] == [2, 1, 3]


def test_rule_file_documents_the_code():
    data = json.loads(resources.files("lssbench.splitdefs").joinpath("lssbench-v1.json").read_text("utf-8"))
    assert data["kind"] == "rule" and data["name"] == splits.RULE_NAME
    assert data["salt"] == splits.RULE_SALT and data["folds"] == splits.NUM_FOLDS
    assert [tuple(c) for c in data["cuts"]] == list(splits.SPLIT_CUTS)
    assert "sha256" in data["text"]


def test_definition_rule_equals_assign_functions():
    definition = load_split_definition()
    ids = random_ids(2000)
    assert all(definition.split_of(p) == assign_split(p) for p in ids)
    assert all(definition.fold_of(p) == (assign_fold(p) if assign_split(p) == "train" else None) for p in ids)


def test_no_patient_in_two_splits():
    ids = random_ids(3000)
    parts = [set(split_patients(ids, s)) for s in SPLITS]
    assert sum(len(p) for p in parts) == len(ids) and set().union(*parts) == set(ids)


def test_assignment_unchanged_when_patients_added_or_removed():
    ids = random_ids(1000)
    before = {s: set(split_patients(ids, s)) for s in SPLITS}
    fewer, more = ids[:400], ids + random_ids(500, seed=1)
    for s in SPLITS:
        assert set(split_patients(fewer, s)) == before[s] & set(fewer)
        assert set(split_patients(more, s)) & set(ids) == before[s]
    for k in range(splits.NUM_FOLDS):
        assert set(fold_patients(fewer, k)) == set(fold_patients(ids, k)) & set(fewer)


def test_proportions_about_70_10_20():
    ids = random_ids(10_000)
    shares = {s: len(split_patients(ids, s)) / len(ids) for s in SPLITS}
    assert shares == pytest.approx({"train": 0.70, "val": 0.10, "test": 0.20}, abs=0.015)


def test_folds_partition_train_and_are_balanced():
    ids = random_ids(5000)
    train = set(split_patients(ids, "train"))
    folds = [set(fold_patients(ids, k)) for k in range(splits.NUM_FOLDS)]
    assert set().union(*folds) == train and sum(map(len, folds)) == len(train)
    assert all(abs(len(f) / len(train) - 0.2) < 0.03 for f in folds)


def test_bad_names_are_usage_errors():
    with pytest.raises(UsageError, match="unknown split definition"):
        load_split_definition("no-such-split")
    with pytest.raises(UsageError, match="unknown split"):
        split_patients(["PATIENT00001"], "holdout")
    with pytest.raises(UsageError, match="fold"):
        fold_patients(["PATIENT00001"], 5)


def lists_definition(train, val, test, folds=None) -> SplitDefinition:
    folds = folds or [train] + [()] * 4
    return SplitDefinition(name="t", kind="lists", lists={"train": tuple(train), "val": tuple(val), "test": tuple(test)},
                           folds=tuple(map(tuple, folds)))


def test_lists_definition_names_an_unlisted_patient():
    definition = lists_definition(["PATIENT00001"], [], ["PATIENT00002"])
    assert split_patients(["PATIENT00002", "PATIENT00001"], "test", definition) == ["PATIENT00002"]
    with pytest.raises(DataError) as info:
        split_patients(["PATIENT00001", "PATIENT00099"], "train", definition)
    assert [p.location for p in info.value.problems] == ["PATIENT00099"]


def write_definition(path: Path, **changes) -> Path:
    data = {"name": "x", "kind": "lists", "lists": {"train": ["PATIENT00001"], "val": [], "test": ["PATIENT00002"]},
            "folds": [["PATIENT00001"], [], [], [], []]}
    path.write_text(json.dumps({**data, **changes}))
    return path


def test_malformed_lists_file_is_a_data_error(tmp_path):
    assert resolve_split_definition(write_definition(tmp_path / "ok.json")).kind == "lists"
    twice = {"train": ["PATIENT00001"], "val": ["PATIENT00001"], "test": []}
    with pytest.raises(DataError, match="malformed"):
        load_split_definition(write_definition(tmp_path / "a.json", lists=twice))
    with pytest.raises(DataError, match="malformed"):
        load_split_definition(write_definition(tmp_path / "b.json", folds=[[], [], [], [], []]))
    with pytest.raises(DataError, match="malformed"):
        load_split_definition(write_definition(tmp_path / "c.json", kind="random"))


def small_dataset(root: Path, patients: list[str]) -> Dataset:
    """Patients with one annotated slice each (files with distinct contents) and no masks."""
    slices = []
    for n, pid in enumerate(patients):
        xml = root / f"{pid}_IM000003.xml"
        xml.write_text(f"<annotation>{pid}</annotation>")
        boxes = [Box("L4-L5", "right", n % 4, 10, 10, 40, 50), Box("L4-L5", "left", 0, 60, 10, 90, 50)]
        slices.append(AnnotatedSlice(pid, "IM000003", 64, 64, boxes, xml))
    return Dataset(root=root, patients=sorted(patients), slices=slices)


def test_freeze_split_round_trip(tmp_path):
    dataset = small_dataset(tmp_path, random_ids(60))
    out = freeze_split(dataset, tmp_path / "frozen-v1.json")
    frozen = load_split_definition(out)
    assert frozen.kind == "lists" and frozen.name == "frozen-v1"
    assert frozen.dataset_fingerprint == dataset_fingerprint(dataset)
    for s in SPLITS:
        assert split_patients(dataset.patients, s, frozen) == split_patients(dataset.patients, s)
    for k in range(splits.NUM_FOLDS):
        assert fold_patients(dataset.patients, k, frozen) == fold_patients(dataset.patients, k)
    assert freeze_split(dataset, tmp_path / "again.json", name="frozen-v1").read_bytes() == out.read_bytes()


def test_dataset_fingerprint_follows_file_contents(tmp_path):
    dataset = small_dataset(tmp_path, random_ids(5))
    before = dataset_fingerprint(dataset)
    assert dataset_fingerprint(dataset) == before
    dataset.slices[0].annotation_path.write_text("<annotation>edited</annotation>")
    assert dataset_fingerprint(dataset) != before


def test_split_summary_counts(tmp_path):
    ids = random_ids(40)
    dataset = small_dataset(tmp_path, ids)
    dataset.segmentation = {ids[0]: SegmentationCase(ids[0], tmp_path / "i.png", tmp_path / "m.png", 64, 64)}
    summary = split_summary(dataset)
    assert summary["definition"] == "lssbench-v1"
    per = summary["splits"]
    assert sum(per[s]["patients"] for s in SPLITS) == 40
    assert sum(per[s]["segmentation_cases"] for s in SPLITS) == 1
    for s in SPLITS:
        n = per[s]["patients"]
        assert per[s]["annotated_slices"] == n and per[s]["boxes"] == 2 * n and per[s]["foramina"] == 2 * n
        assert sum(per[s]["box_grades"]["counts"].values()) == 2 * n
        if n:
            assert sum(per[s]["foramen_grades"]["percent"].values()) == pytest.approx(100)
    assert sum(per["train"]["folds"]) == per["train"]["patients"]


def test_synthetic_lists_reproduce_the_rule():
    """The frozen synthetic split is exactly what the lssbench-v1 rule gives its patients."""
    if "synthetic-v1" not in splits.available_split_definitions():
        pytest.skip("splits/synthetic-v1.json not generated yet")
    frozen = load_split_definition("synthetic-v1")
    patients = [p for s in SPLITS for p in frozen.lists[s]]
    assert {s: len(frozen.lists[s]) for s in SPLITS} == {"train": 70, "val": 10, "test": 20}
    for s in SPLITS:
        assert list(frozen.lists[s]) == split_patients(patients, s)
    for k in range(splits.NUM_FOLDS):
        assert list(frozen.folds[k]) == fold_patients(patients, k)
    plan = pytest.importorskip("lssbench.synth.plan")
    assert sorted(plan.patient_ids(100, 0)) == sorted(patients)  # synthesize(out, n_patients=100, seed=0)
