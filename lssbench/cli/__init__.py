"""The ``lssbench`` command: a thin click layer over the Python API, one module per room.

Exit codes: 0 success (a valid submission), 1 invalid submission or dataset,
2 usage error (missing files or flags), 3 internal error (a bug: please report it) or a
fault of the scoring machine (out of disk or memory: the submission was not judged).
No command prints a Python traceback unless ``LSSBENCH_DEBUG=1``.

The numeric libraries run one thread per process (unless their variables are already
set): lssbench's matrices are small, parallel work is spread over processes, and BLAS
threads only start up and spin (one thread makes ``evaluate`` 0.15 s faster on 2 cores).
"""

from lssbench.threads import one_thread_per_library

one_thread_per_library()  # before numpy loads BLAS

from lssbench.cli.common import main  # noqa: E402
from lssbench.cli import board, data, submissions  # noqa: F401,E402  (they register the commands)
from lssbench.cli import report  # noqa: F401,E402
from lssbench.cli import compare  # noqa: F401,E402
from lssbench.cli import interop  # noqa: F401,E402
from lssbench.cli import platforms  # noqa: F401,E402

__all__ = ["main"]
