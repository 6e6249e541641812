"""``python -m lssbench``: the same as the ``lssbench`` command."""

from lssbench.cli import main

main(prog_name="lssbench")
