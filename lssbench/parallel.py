"""One way to spread independent work over the cores: forked worker processes.

Forked workers inherit what the parent already holds (a loaded ground truth, decoded
masks), so only the small per-item argument and result cross process boundaries.
Results always come back in input order, so outputs stay deterministic. Where forking
is unavailable or pointless (one core, few items, already inside a worker), the
items are processed serially in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Callable, Iterator, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_FUNCTION: list[Callable] = []  # the function of the current fork_map, inherited by the workers


def _call(item):
    return _FUNCTION[-1](item)


def available_workers(requested: int | None = None) -> int:
    """``requested``, else the cores this process may use; 1 inside a daemonic worker."""
    if multiprocessing.current_process().daemon or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if requested:
        return requested
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def fork_map(function: Callable[[Item], Result], items: Sequence[Item], *, workers: int | None = None,
             min_items: int = 2) -> Iterator[Result]:
    """``function`` over ``items``, in order, in forked workers when that can help."""
    workers = min(available_workers(workers), len(items))
    if workers < 2 or len(items) < min_items:
        yield from map(function, items)
        return
    _FUNCTION.append(function)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            chunk = max(1, len(items) // (4 * workers))
            yield from pool.imap(_call, items, chunksize=chunk)
    finally:
        _FUNCTION.pop()
