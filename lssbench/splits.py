"""Patient-level splits: the deterministic rule on the patient ID, CV folds, frozen lists.

The rule (split definition ``lssbench-v1``): ``h = sha256("lssbench-v1:" + patient_id)``
read as a big-endian integer; ``h % 100 < 70`` is train, ``< 80`` is val, else test.
Train patients get CV fold ``(h // 100) % 5``. It depends on the patient ID alone, so
any copy of the data splits the same way, and adding or removing patients moves no one.

A split definition is either that rule (``kind: "rule"``, ``splits/lssbench-v1.json``) or
explicit patient lists written by :func:`freeze_split` (``kind: "lists"``, e.g.
``splits/synthetic-v1.json``). Definitions are named (looked up in the installed
``lssbench.splitdefs`` package) or given as a path to a JSON file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

from lssbench import __version__
from lssbench.domain import GRADE_NAMES, SPLITS
from lssbench.jsonio import fingerprint, sha256_file, write_json_atomic
from lssbench.problems import DataError, Problem, UsageError

RULE_NAME = "lssbench-v1"
RULE_SALT = "lssbench-v1:"
#: Cumulative percent cut points: train below 70, val below 80, test the rest.
SPLIT_CUTS = (("train", 70), ("val", 80), ("test", 100))
NUM_FOLDS = 5

SPLIT_SCHEMA_VERSION = 1
DEFAULT_DEFINITION = RULE_NAME
SPLIT_KINDS = ("rule", "lists")


def _patient_hash(patient_id: str, salt: str = RULE_SALT) -> int:
    return int.from_bytes(hashlib.sha256((salt + patient_id).encode("utf-8")).digest(), "big")


def _bucket_split(bucket: int, cuts=SPLIT_CUTS) -> str:
    for split, cut in cuts:
        if bucket < cut:
            return split
    raise AssertionError("unreachable")


def assign_split(patient_id: str) -> str:
    """The split of a patient under the ``lssbench-v1`` rule."""
    return _bucket_split(_patient_hash(patient_id) % 100)


def assign_fold(patient_id: str) -> int:
    """The cross-validation fold (0-4) of a train patient under the ``lssbench-v1`` rule."""
    return (_patient_hash(patient_id) // 100) % NUM_FOLDS


# --- split definitions --------------------------------------------------------------------


@dataclass(frozen=True)
class SplitDefinition:
    """A named split: the hash rule (``kind="rule"``) or frozen patient lists (``"lists"``).

    ``lists`` maps split -> sorted patient IDs and ``folds`` lists the train patients of
    each CV fold; both are ``None`` for a rule. ``salt``/``cuts``/``num_folds`` give the rule.
    """

    name: str
    kind: str
    lists: dict[str, tuple[str, ...]] | None = None
    folds: tuple[tuple[str, ...], ...] | None = None
    salt: str = RULE_SALT
    cuts: tuple[tuple[str, int], ...] = SPLIT_CUTS
    num_folds: int = NUM_FOLDS
    text: str = ""
    dataset_fingerprint: str | None = None
    source: str = ""
    _split_of: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _fold_of: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for split, patients in (self.lists or {}).items():
            self._split_of.update(dict.fromkeys(patients, split))
        for fold, patients in enumerate(self.folds or ()):
            self._fold_of.update(dict.fromkeys(patients, fold))

    def split_of(self, patient_id: str) -> str | None:
        """The split of a patient; ``None`` if a lists-definition does not list it."""
        if self.kind == "rule":
            return _bucket_split(_patient_hash(patient_id, self.salt) % 100, self.cuts)
        return self._split_of.get(patient_id)

    def fold_of(self, patient_id: str) -> int | None:
        """The CV fold of a train patient, ``None`` for a patient outside train."""
        if self.split_of(patient_id) != "train":
            return None
        if self.kind == "rule":
            return (_patient_hash(patient_id, self.salt) // 100) % self.num_folds
        return self._fold_of.get(patient_id)


def _definitions_folder():
    """The shipped definitions: the ``splits/`` folder beside the package when lssbench runs from a
    source checkout (which shadows any installed copy), else the installed ``lssbench.splitdefs``."""
    checkout = Path(__file__).resolve().parent.parent / "splits"
    if (checkout / f"{DEFAULT_DEFINITION}.json").is_file():
        return checkout
    return resources.files("lssbench.splitdefs")


def available_split_definitions() -> list[str]:
    """Names of the split definitions shipped with lssbench."""
    return sorted(p.name[:-5] for p in _definitions_folder().iterdir() if p.name.endswith(".json"))


def load_split_definition(name_or_path: str | os.PathLike = DEFAULT_DEFINITION) -> SplitDefinition:
    """A shipped definition by name (``"lssbench-v1"``) or any definition JSON by path."""
    text = str(name_or_path)
    path = Path(text)
    if path.is_file():
        source, raw = path.as_posix(), path.read_text(encoding="utf-8")
    elif text in available_split_definitions():
        source, raw = text, _definitions_folder().joinpath(f"{text}.json").read_text("utf-8")
    else:
        raise UsageError(f"unknown split definition {text!r}: not a file, and not one of "
                         + ", ".join(available_split_definitions()))
    try:
        return _parse_definition(json.loads(raw), source)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"split definition {source} is malformed",
                        [Problem(source, "", f"{type(exc).__name__}: {exc}")]) from exc


def resolve_split_definition(definition: SplitDefinition | str | os.PathLike | None = None) -> SplitDefinition:
    """``None`` -> the default rule; a name or path -> loaded; a definition -> itself."""
    if isinstance(definition, SplitDefinition):
        return definition
    return load_split_definition(DEFAULT_DEFINITION if definition is None else definition)


def _parse_definition(data: dict, source: str) -> SplitDefinition:
    kind = data["kind"]
    if kind == "rule":
        if data.get("hash", "sha256") != "sha256":
            raise ValueError(f"hash must be sha256, not {data['hash']!r}")
        cuts = tuple((str(s), int(c)) for s, c in data["cuts"])
        if [s for s, _ in cuts] != list(SPLITS) or cuts[-1][1] != 100:
            raise ValueError(f"cuts must name {', '.join(SPLITS)} in order and end at 100")
        return SplitDefinition(name=data["name"], kind=kind, salt=data["salt"], cuts=cuts,
                               num_folds=int(data["folds"]), text=data.get("text", ""), source=source)
    if kind == "lists":
        lists = {split: tuple(sorted(data["lists"][split])) for split in SPLITS}
        folds = tuple(tuple(sorted(f)) for f in data["folds"])
        _check_lists(lists, folds)
        return SplitDefinition(name=data["name"], kind=kind, lists=lists, folds=folds,
                               num_folds=len(folds), text=data.get("text", ""),
                               dataset_fingerprint=data.get("dataset_fingerprint"), source=source)
    raise ValueError(f"kind must be one of {', '.join(SPLIT_KINDS)}, not {kind!r}")


def _check_lists(lists: Mapping[str, tuple[str, ...]], folds: tuple[tuple[str, ...], ...]) -> None:
    seen: dict[str, str] = {}
    for split, patients in lists.items():
        for pid in patients:
            if pid in seen:
                raise ValueError(f"patient {pid} is listed in both {seen[pid]} and {split}")
            seen[pid] = split
    in_folds = [pid for fold in folds for pid in fold]
    if sorted(in_folds) != sorted(lists["train"]):
        raise ValueError("the folds must partition the train patients exactly")


# --- applying a definition ----------------------------------------------------------------


def _check_split_name(split: str) -> None:
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def assign_splits(patient_ids: Iterable[str], definition=None) -> dict[str, str]:
    """``{patient_id: split}``; a patient missing from a lists-definition is a DataError."""
    definition = resolve_split_definition(definition)
    result = {pid: definition.split_of(pid) for pid in patient_ids}
    missing = sorted(pid for pid, split in result.items() if split is None)
    if missing:
        raise DataError(
            f"{len(missing)} patient(s) are not listed in split definition {definition.name}",
            [Problem(definition.source or definition.name, pid, "patient not listed in any split")
             for pid in missing])
    return result


def split_patients(patient_ids: Iterable[str], split: str, definition=None) -> list[str]:
    """The sorted patients of ``split`` among ``patient_ids``."""
    _check_split_name(split)
    return sorted(pid for pid, s in assign_splits(patient_ids, definition).items() if s == split)


def fold_patients(patient_ids: Iterable[str], fold: int, definition=None) -> list[str]:
    """The sorted train patients of CV fold ``fold`` (0-based) among ``patient_ids``."""
    definition = resolve_split_definition(definition)
    if not 0 <= fold < definition.num_folds:
        raise UsageError(f"fold must be 0 to {definition.num_folds - 1}, not {fold}")
    train = split_patients(patient_ids, "train", definition)
    return [pid for pid in train if definition.fold_of(pid) == fold]


def dataset_file_hashes(dataset) -> dict[str, str]:
    """sha256 of every annotation XML and mask file, keyed ``annotation/<image_id>`` and
    ``mask/<patient_id>`` (layout-independent): what :func:`dataset_fingerprint` covers."""
    hashes = {f"annotation/{s.image_id}": sha256_file(s.annotation_path) for s in dataset.slices}
    hashes.update({f"mask/{pid}": sha256_file(case.mask_path)
                   for pid, case in dataset.segmentation.items()})
    return hashes


def dataset_fingerprint(dataset) -> str:
    """``sha256:...`` over :func:`dataset_file_hashes`, so two copies with the same files in
    different folder layouts share one fingerprint."""
    return fingerprint(dataset_file_hashes(dataset))


def freeze_split(dataset, out: str | os.PathLike, definition=None, *, name: str | None = None) -> Path:
    """Write the explicit split lists and folds of ``dataset`` (a ``"lists"`` definition).

    ``name`` defaults to the file stem of ``out``; the file records the definition it was
    frozen from and the dataset fingerprint, so organizers can publish their exact split.
    """
    definition = resolve_split_definition(definition)
    out = Path(out)
    splits = assign_splits(dataset.patients, definition)
    lists = {split: sorted(p for p, s in splits.items() if s == split) for split in SPLITS}
    folds = [fold_patients(lists["train"], k, definition) for k in range(definition.num_folds)]
    frozen_from = definition.name
    document = {
        "schema_version": SPLIT_SCHEMA_VERSION,
        "name": name or out.stem,
        "kind": "lists",
        "frozen_from": frozen_from,
        "lssbench_version": __version__,
        "dataset_fingerprint": dataset_fingerprint(dataset),
        "counts": {split: len(lists[split]) for split in SPLITS},
        "lists": lists,
        "folds": folds,
        "text": (f"explicit patient lists frozen from split definition {frozen_from!r}; "
                 f"folds[k] lists the train patients of cross-validation fold k"),
    }
    return write_json_atomic(out, document)


def split_summary(dataset, definition=None) -> dict:
    """Per split: patients, annotated slices, boxes, foramina, segmentation cases, grade mix.

    ``box_grades`` counts every box; ``foramen_grades`` counts foramina after the
    worst-grade rule (the grading target). Train also gets its patients per CV fold.
    """
    from lssbench.groundtruth import boxes_table, grades_table

    definition = resolve_split_definition(definition)
    splits = assign_splits(dataset.patients, definition)
    boxes = boxes_table(dataset.slices)
    result = {"definition": definition.name, "kind": definition.kind, "splits": {}}
    for split in SPLITS:
        patients = {p for p, s in splits.items() if s == split}
        split_boxes = boxes[boxes["patient_id"].isin(patients)]
        foramina = grades_table(split_boxes)
        result["splits"][split] = {
            "patients": len(patients),
            "annotated_slices": sum(s.patient_id in patients for s in dataset.slices),
            "segmentation_cases": sum(p in patients for p in dataset.segmentation),
            "boxes": len(split_boxes),
            "foramina": len(foramina),
            "box_grades": _grade_mix(split_boxes["severity"]),
            "foramen_grades": _grade_mix(foramina["severity"]),
        }
    result["splits"]["train"]["folds"] = [
        len(fold_patients(dataset.patients, k, definition)) for k in range(definition.num_folds)]
    return result


def _grade_mix(severities) -> dict:
    counts = {name: int((severities == grade).sum()) for grade, name in enumerate(GRADE_NAMES)}
    total = sum(counts.values())
    percent = {name: (100.0 * n / total if total else 0.0) for name, n in counts.items()}
    return {"counts": counts, "percent": percent}
