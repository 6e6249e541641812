"""How many threads the numeric libraries (BLAS, OpenMP) may use: one per lssbench process.

lssbench's matrices are small and its parallel work is spread over processes
(:mod:`lssbench.parallel`), so library threads only start up and spin beside them. The
variables must be set before a library loads (numpy loads BLAS); this module imports
nothing heavy, so the command can set them first thing.
"""

from __future__ import annotations

import os

#: Thread-count variables of the numeric libraries.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def one_thread_per_library(override: bool = False) -> None:
    """Set every thread variable to 1; ``override=False`` keeps those the user has set."""
    for variable in THREAD_VARIABLES:
        if override:
            os.environ[variable] = "1"
        else:
            os.environ.setdefault(variable, "1")
