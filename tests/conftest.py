"""Shared fixtures: one small synthetic dataset and its test bundle per test session."""

from __future__ import annotations

import pytest

SMALL_PATIENTS = 20  # 14 train / 2 val / 4 test under the lssbench-v1 rule


@pytest.fixture(scope="session")
def synthetic_dataset_dir(tmp_path_factory):
    """A small synthetic dataset in the published layout (seed 0)."""
    from lssbench.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("synth") / "data", n_patients=SMALL_PATIENTS, seed=0)


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_dataset_dir):
    from lssbench.dataset import read_dataset

    return read_dataset(synthetic_dataset_dir)


@pytest.fixture(scope="session")
def test_bundle(synthetic_dataset, tmp_path_factory):
    """The prepared test-split ground-truth bundle of the small synthetic dataset."""
    from lssbench.groundtruth import prepare_ground_truth

    return prepare_ground_truth(synthetic_dataset, "test", tmp_path_factory.mktemp("gt") / "gt")


@pytest.fixture(scope="session")
def ground_truth(test_bundle):
    from lssbench.groundtruth import load_ground_truth

    return load_ground_truth(test_bundle)


@pytest.fixture(scope="session")
def sample_submissions(ground_truth, tmp_path_factory):
    """perfect / jittered / weak submissions made from the ground truth (as in the demo)."""
    from lssbench.demo import write_sample_submissions

    return write_sample_submissions(ground_truth, tmp_path_factory.mktemp("subs"), seed=0)
