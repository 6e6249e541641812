"""The baseline's data pipeline reads compressed DICOM series like uncompressed ones."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.config import TINY  # noqa: E402
from baselines.data import load_detection_items, percentile_scale, read_volume  # noqa: E402
from lssbench.synth.plan import patient_ids, plan_patient  # noqa: E402
from lssbench.synth.render import render_patient  # noqa: E402


def _rendered_volume(dataset, patient_id: str) -> np.ndarray:
    """The uint16 pixels the generator drew for this patient of the tests' dataset (seed 0)."""
    index = patient_ids(len(dataset.patients), 0).index(patient_id)
    return np.stack(render_patient(plan_patient(patient_id, 0, index)).slices).astype(np.float32)


def test_every_transfer_syntax_reaches_the_baseline_volume(synthetic_dataset):
    by_syntax = {}
    for pid, series in sorted(synthetic_dataset.series.items()):
        (syntax,) = set(series.transfer_syntaxes)
        by_syntax.setdefault(syntax, pid)
    assert len(by_syntax) == 6  # explicit and implicit VR, JPEG-LS, JPEG 2000, RLE, deflated
    for syntax, pid in sorted(by_syntax.items()):
        volume = read_volume(synthetic_dataset.series[pid])
        assert volume is not None, syntax  # read_volume returns None when decoding fails
        assert np.array_equal(volume, percentile_scale(_rendered_volume(synthetic_dataset, pid))), syntax


def test_detection_items_use_the_compressed_neighbours(synthetic_dataset):
    series = synthetic_dataset.series
    compressed = [pid for pid, s in sorted(series.items())
                  if s.transfer_syntaxes[0] == "1.2.840.10008.1.2.4.80"][:1]  # JPEG-LS Lossless
    items = load_detection_items(synthetic_dataset, compressed, TINY, workers=1)
    assert items and Counter(i.patient_id for i in items) == Counter(
        s.patient_id for s in synthetic_dataset.slices if s.patient_id in compressed)
    for item in items:
        # channels 0 and 2 are the DICOM neighbours: not copies of the PNG slice in the middle
        assert item.pixels.shape[0] == 2 * TINY.context + 1
        assert not np.array_equal(item.pixels[0], item.pixels[TINY.context])
