"""Regenerate what is frozen from the synthetic generator (run from the checkout's root):

    PYTHONPATH=$PWD python tests/regenerate_frozen.py

* ``splits/synthetic-v1.json``: the frozen split of ``synthesize(out, n_patients=100, seed=0)``
  (lists, folds, dataset fingerprint);
* ``tests/data/synthetic-v1-files.json``: the sha256 of every file that fingerprint covers
  (annotation XML and masks), which tests/test_frozen_synthetic.py checks against a few
  freshly built patients, so a generator change that makes the split stale fails the tests.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPLIT_FILE = ROOT / "splits" / "synthetic-v1.json"
FILES_FILE = ROOT / "tests" / "data" / "synthetic-v1-files.json"
N_PATIENTS, SEED = 100, 0


def main() -> None:
    from lssbench.dataset import read_dataset
    from lssbench.jsonio import write_json_atomic
    from lssbench.splits import dataset_file_hashes, freeze_split
    from lssbench.synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        dataset = read_dataset(synthesize(Path(tmp) / "data", n_patients=N_PATIENTS, seed=SEED))
        freeze_split(dataset, SPLIT_FILE)
        write_json_atomic(FILES_FILE, {
            "about": "sha256 of the files splits/synthetic-v1.json's dataset_fingerprint covers; "
                     "written by tests/regenerate_frozen.py",
            "n_patients": N_PATIENTS, "seed": SEED, "files": dataset_file_hashes(dataset),
        })
    print(f"wrote {SPLIT_FILE} and {FILES_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
