"""Pure metric functions: arrays or tables in, numbers out, no file I/O.

Conventions are documented in docs/metrics.md. ``METRICS_VERSION`` changes whenever
a metric's definition changes, so results from different versions are never mixed.
"""

METRICS_VERSION = "1"
