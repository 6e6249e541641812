"""Where ground truth comes from: a bundle, a public.json, a raw dataset folder,
``$LSSBENCH_GT``, or the embedded synthetic default (built once in a cache folder).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lssbench import __version__
from lssbench.problems import UsageError
from lssbench.tempdirs import private_prefix, remove_stale_folders

GT_ENV = "LSSBENCH_GT"
CACHE_ENV = "LSSBENCH_CACHE"
SYNTH_PREFIX = ".synth-"  # the first build's temporary dataset, beside the cached bundle
DEFAULT_SPLIT = "test"


@dataclass(frozen=True)
class GroundTruthSource:
    """A loaded ground truth and a sentence saying where it came from."""

    ground_truth: object  # lssbench.groundtruth.GroundTruth
    description: str


def cache_dir() -> Path:
    """``$LSSBENCH_CACHE``, else ``$XDG_CACHE_HOME/lssbench``, else ``~/.cache/lssbench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lssbench"


def default_bundle_path() -> Path:
    """Where the embedded synthetic default's test bundle is cached."""
    from lssbench.synth import DEFAULT_PATIENTS

    return cache_dir() / f"synthetic-{__version__}-n{DEFAULT_PATIENTS}-seed0" / "gt-test"


def ensure_default_ground_truth(progress=None) -> Path:
    """Build (once) the test bundle of the synthetic default and return its folder.

    The dataset itself (about 530 MB, mostly DICOM) is synthesized into a temporary folder and
    deleted; only the bundle (a few MB) is kept. ``lssbench synth`` writes the images.
    ``progress`` (a :class:`lssbench.progress.Progress`) shows the steps of the first build.
    """
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import prepare_ground_truth
    from lssbench.progress import QUIET
    from lssbench.synth import DEFAULT_PATIENTS, synthesize

    progress = progress or QUIET
    bundle = default_bundle_path()
    if not bundle.exists():
        progress.note(f"first use: building the default ground truth (synthetic, {DEFAULT_PATIENTS} patients) "
                      f"in {bundle}; later runs reuse it")
        bundle.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_folders(bundle.parent, SYNTH_PREFIX)  # what a killed first build left (770 MB)
        with tempfile.TemporaryDirectory(prefix=private_prefix(SYNTH_PREFIX), dir=bundle.parent) as tmp:
            with progress.step(f"synthesizing {DEFAULT_PATIENTS} patients"):
                data = synthesize(Path(tmp) / "data", n_patients=DEFAULT_PATIENTS, seed=0)
            with progress.step("reading the synthetic dataset"):
                dataset = read_dataset(data)
            with progress.step(f"preparing the {DEFAULT_SPLIT} bundle"):
                prepare_ground_truth(dataset, DEFAULT_SPLIT, bundle)
    return bundle


def is_dataset_folder(path: Path) -> bool:
    """True for a raw dataset folder in the published layout (not a GT bundle)."""
    return path.is_dir() and (path / "Foramina_Detection").is_dir()


def resolve_ground_truth(gt: str | os.PathLike | None = None, split: str | None = None, *,
                         progress=None) -> GroundTruthSource:
    """Load the ground truth named by ``gt`` (bundle, manifest, public.json or dataset folder).

    With ``gt`` None: ``$LSSBENCH_GT`` if set, else the embedded synthetic test split.
    A raw dataset folder needs ``split``; its bundle is prepared in a temporary folder.
    """
    from lssbench.groundtruth import load_ground_truth

    if gt is None and os.environ.get(GT_ENV):
        gt, origin = os.environ[GT_ENV], f"${GT_ENV}"
    elif gt is None:
        bundle = ensure_default_ground_truth(progress)
        return GroundTruthSource(
            load_ground_truth(bundle),
            f"embedded synthetic test split (no --gt given; cached in {bundle})",
        )
    else:
        origin = "--gt"
    path = Path(gt)
    if not path.exists():
        raise UsageError(f"{origin}: {path} does not exist; expected a ground-truth folder, "
                         "its manifest.json, a public.json or a dataset folder")
    if is_dataset_folder(path):
        return _ground_truth_from_dataset(path, split, origin, progress)
    if split is not None:
        from lssbench.groundtruth import MANIFEST_FILE

        if path.is_dir() and (path / MANIFEST_FILE).is_file():
            what = "a ground-truth bundle (it has its split already)"
        elif path.is_file():
            what = "a file, not a dataset folder"
        else:
            what = "neither a dataset folder (no Foramina_Detection/ inside) nor a ground-truth bundle " \
                   "(no manifest.json inside)"
        raise UsageError(f"--split is only used with a raw dataset folder; {origin} {path} is {what}")
    ground_truth = load_ground_truth(path)
    return GroundTruthSource(ground_truth, f"{ground_truth.split} split from {path} ({origin})")


def _ground_truth_from_dataset(path: Path, split: str | None, origin: str, progress=None) -> GroundTruthSource:
    from lssbench.dataset import read_dataset
    from lssbench.groundtruth import load_ground_truth, prepare_ground_truth
    from lssbench.progress import QUIET

    progress = progress or QUIET
    if split is None:
        raise UsageError(f"{origin}: {path} is a dataset folder; say which split with --split train|val|test")
    tmp = Path(tempfile.mkdtemp(prefix="lssbench-gt-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # masks are read lazily from here
    with progress.step(f"reading the dataset folder {path}"):
        dataset = read_dataset(path)
    with progress.step(f"preparing its {split} bundle"):
        ground_truth = load_ground_truth(prepare_ground_truth(dataset, split, tmp / "gt"))
    return GroundTruthSource(ground_truth, f"{split} split of dataset folder {path} ({origin})")
