"""Start-up: light commands import only what they need (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lssbench

HEAVY = ("scipy", "sklearn", "medpy", "pycocotools", "pydicom")
_PROBE = """
import json, sys
from lssbench.cli import main
try:
    main(sys.argv[1:], prog_name="lssbench")
except SystemExit as stop:
    code = stop.code
print(json.dumps({"exit": code, "heavy": sorted(m for m in %r if m in sys.modules),
                  "pandas": "pandas" in sys.modules}))
""" % (HEAVY,)


def _run(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(lssbench.__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env,
                          timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_version_imports_no_scientific_stack():
    got = _run("--version")
    assert got == {"exit": 0, "heavy": [], "pandas": False}


def test_validate_imports_neither_scipy_nor_scikit_learn(test_bundle, sample_submissions):
    got = _run("validate", str(sample_submissions["jittered"]), "--gt", str(test_bundle))
    assert got["exit"] == 0
    assert got["heavy"] == []


def test_evaluate_on_a_bundle_reads_no_dicom(test_bundle, sample_submissions):
    """Scoring needs the masks' PNG reader, not pydicom and its decoders (about 0.15 s to import)."""
    got = _run("evaluate", str(sample_submissions["jittered"]), "--gt", str(test_bundle), "--bootstrap", "0")
    assert got["exit"] == 0
    assert "pydicom" not in got["heavy"]


def test_api_names_stay_functions_after_their_modules_are_imported():
    """Importing a submodule binds it on the package: no API function may share a module's name."""
    import importlib

    import lssbench

    for name, module in lssbench._API.items():
        importlib.import_module(module)
        assert module.rsplit(".", 1)[1] != name, f"lssbench.{name} is shadowed by the module {module}"
        assert callable(getattr(lssbench, name)) and not isinstance(getattr(lssbench, name), type(lssbench)), name


def test_every_dataset_name_resolves_lazily():
    import lssbench.dataset as dataset

    for name in dataset.__all__:
        assert getattr(dataset, name).__name__ == name
    assert set(dataset.__all__) <= set(dir(dataset))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        dataset.nothing  # noqa: B018
