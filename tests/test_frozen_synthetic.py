"""What is frozen from the synthetic generator is still what it writes.

``splits/synthetic-v1.json`` records the fingerprint of ``synthesize(out, 100, seed=0)``'s
annotation XML and masks. Rebuilding 100 patients takes too long for the unit tests, so:
``tests/data/synthetic-v1-files.json`` holds the sha256 of each of those files; the test
checks that (1) they give exactly the frozen fingerprint and patients, and (2) a few patients
rebuilt now -- chosen to cover every branch of the generator's layout -- write the same
files. A generator change that alters labels or masks fails (2); a hand edit of either
frozen file fails (1). Regenerate both with ``python tests/regenerate_frozen.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from lssbench.dataset import read_dataset
from lssbench.domain import SPLITS
from lssbench.jsonio import fingerprint
from lssbench.splits import dataset_file_hashes, load_split_definition
from lssbench.synth.core import _build_patient
from lssbench.synth.plan import RESAMPLED_DICOM_SIZE, patient_ids, plan_patient

FILES = Path(__file__).parent / "data" / "synthetic-v1-files.json"
HINT = "the synthetic generator changed: run `python tests/regenerate_frozen.py` and commit both files"


def _features(plan) -> set:
    s = plan.series
    return {("png", s.png_size), ("resampled", s.dicom_size == RESAMPLED_DICOM_SIZE[s.png_size]),
            ("nested", s.nested), ("suffix", s.suffix), ("first", s.first_index), ("direction", s.direction),
            ("slices", s.n_slices), ("two boxes", any(len(f.boxes) > 1 for f in plan.foramina))}


def covering_sample(n_patients: int, seed: int) -> list[int]:
    """Few patient indices whose plans together show every feature the whole dataset shows."""
    features = [_features(plan_patient(pid, seed, i)) for i, pid in enumerate(patient_ids(n_patients, seed))]
    wanted, chosen = set().union(*features), []
    while wanted:
        best = max(range(n_patients), key=lambda i: (len(features[i] & wanted), -i))
        chosen.append(best)
        wanted -= features[best]
    return sorted(chosen)


def _patient(key: str) -> str:
    return key.split("/")[1]  # annotation/<pid>/<slice> or mask/<pid>


def test_frozen_file_hashes_give_the_frozen_split():
    frozen, recorded = load_split_definition("synthetic-v1"), json.loads(FILES.read_text())
    assert fingerprint(recorded["files"]) == frozen.dataset_fingerprint, HINT
    patients = sorted(p for s in SPLITS for p in frozen.lists[s])
    assert sorted({_patient(k) for k in recorded["files"]}) == patients
    assert sorted(patient_ids(recorded["n_patients"], recorded["seed"])) == patients


def test_generator_still_writes_the_frozen_files(tmp_path):
    recorded = json.loads(FILES.read_text())
    n, seed = recorded["n_patients"], recorded["seed"]
    ids = patient_ids(n, seed)
    sample = covering_sample(n, seed)
    assert len(sample) <= 8
    for index in sample:
        _build_patient((str(tmp_path), ids[index], seed, index, False))
    rebuilt = dataset_file_hashes(read_dataset(tmp_path))
    chosen = {ids[i] for i in sample}
    assert rebuilt == {k: v for k, v in recorded["files"].items() if _patient(k) in chosen}, HINT
