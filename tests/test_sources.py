import pytest

import lssbench.synth
from lssbench.problems import UsageError
from lssbench.sources import GT_ENV, resolve_ground_truth


def test_default_is_the_embedded_synthetic_test_split_cached_without_the_images(tmp_path, monkeypatch):
    monkeypatch.setenv("LSSBENCH_CACHE", str(tmp_path))
    monkeypatch.delenv(GT_ENV, raising=False)
    monkeypatch.setattr(lssbench.synth, "DEFAULT_PATIENTS", 10)
    source = resolve_ground_truth()
    assert "embedded synthetic test split" in source.description
    assert source.ground_truth.split == "test" and source.ground_truth.has_labels
    cached = tmp_path / f"synthetic-{lssbench.__version__}-n10-seed0"
    assert sorted(p.name for p in cached.iterdir()) == ["gt-test"]
    again = resolve_ground_truth()
    assert again.ground_truth.fingerprint == source.ground_truth.fingerprint


def test_environment_variable_names_the_ground_truth(test_bundle, monkeypatch):
    monkeypatch.setenv(GT_ENV, str(test_bundle))
    source = resolve_ground_truth()
    assert "$LSSBENCH_GT" in source.description
    assert source.ground_truth.path is not None


def test_split_flag_only_with_a_dataset_folder(test_bundle):
    with pytest.raises(UsageError, match="--split is only used with a raw dataset folder"):
        resolve_ground_truth(test_bundle, split="test")
