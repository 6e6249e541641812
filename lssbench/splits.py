"""Patient-level splits: the deterministic rule on the patient ID, CV folds, frozen lists.

The rule (split definition ``lssbench-v1``): ``h = sha256("lssbench-v1:" + patient_id)``
read as a big-endian integer; ``h % 100 < 70`` is train, ``< 80`` is val, else test.
Train patients get CV fold ``(h // 100) % 5``. It depends on the patient ID alone, so
any copy of the data splits the same way, and adding or removing patients moves no one.
"""

from __future__ import annotations

import hashlib

RULE_NAME = "lssbench-v1"
RULE_SALT = "lssbench-v1:"
#: Cumulative percent cut points: train below 70, val below 80, test the rest.
SPLIT_CUTS = (("train", 70), ("val", 80), ("test", 100))
NUM_FOLDS = 5


def _patient_hash(patient_id: str) -> int:
    return int.from_bytes(hashlib.sha256((RULE_SALT + patient_id).encode("utf-8")).digest(), "big")


def assign_split(patient_id: str) -> str:
    """The split of a patient under the ``lssbench-v1`` rule."""
    bucket = _patient_hash(patient_id) % 100
    for split, cut in SPLIT_CUTS:
        if bucket < cut:
            return split
    raise AssertionError("unreachable")


def assign_fold(patient_id: str) -> int:
    """The cross-validation fold (0-4) of a train patient under the ``lssbench-v1`` rule."""
    return (_patient_hash(patient_id) // 100) % NUM_FOLDS
