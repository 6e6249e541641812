"""lssbench: benchmark, evaluation suite and leaderboard for the LSS-MRI-AISSLab lumbar MRI dataset.

The public Python API (the CLI is a thin layer over it)::

    import lssbench
    gt = lssbench.load_ground_truth("gt/")                 # a prepared bundle
    report = lssbench.validate_submission("preds/", gt)    # every problem at once
    results = lssbench.Evaluator(gt).evaluate(report.submission)
    results = lssbench.evaluate("preds/", "gt/")           # the same in one call
    diff = lssbench.compare("preds_a/", "preds_b/", "gt/")  # paired bootstrap B - A
"""

__version__ = "0.1.0"

_API = {
    "evaluate": "lssbench.scoring",
    "Evaluator": "lssbench.scoring",
    "validate_submission": "lssbench.submission",
    "load_submission": "lssbench.submission",
    "write_submission": "lssbench.submission",
    "write_template": "lssbench.submission",
    "load_ground_truth": "lssbench.groundtruth",
    "prepare_ground_truth": "lssbench.groundtruth",
    "resolve_ground_truth": "lssbench.sources",
    "read_dataset": "lssbench.dataset",
    "synthesize": "lssbench.synth",
    "leaderboard": "lssbench.board",
    "compare": "lssbench.comparison",
    "run_demo": "lssbench.demo",
}

__all__ = ["__version__", *_API]


def __getattr__(name):  # PEP 562: import submodules on first use, keeping `import lssbench` light
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'lssbench' has no attribute {name!r}")
