"""One way to spread independent work over the cores: one forked worker process per item.

Forked workers inherit what the parent already holds (a loaded ground truth, decoded
masks), so only the small per-item argument and result cross process boundaries.
Results always come back in input order, so outputs stay deterministic. Where forking
is unavailable or pointless (one core, few items, already inside a worker), the
items are processed serially in this process.

Workers run their numeric libraries (BLAS, OpenMP) on one thread each: every worker is
forked while threadpoolctl holds the loaded libraries at one thread (the parent gets its
own setting back at once), and the usual environment variables say one thread to any
library a worker loads later. The processes already fill the cores; library threads
spinning beside them cost about a quarter of the CPU time of a board.

Each item gets its own short-lived process (forking is cheap next to scoring), so a
worker that dies (killed, out of memory) costs only its own item: ``on_lost(item,
exitcode)`` says what to yield instead. Workers end with their parent: they ask Linux
for SIGKILL when the parent dies (``PR_SET_PDEATHSIG``) and also stop if the parent is
already gone when they start, so a ``kill -9`` of the parent never leaves them running.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import traceback
from multiprocessing.connection import wait
from typing import Callable, Iterator, Sequence, TypeVar

from lssbench.threads import one_thread_per_library

Item = TypeVar("Item")
Result = TypeVar("Result")

_PR_SET_PDEATHSIG = 1


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


def die_with_parent(parent_pid: int) -> None:
    """In a forked child: be killed when the parent dies; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the getppid check below remains
        pass
    if os.getppid() != parent_pid:  # the parent died between fork and prctl
        os._exit(1)


class WorkerLost(Exception):
    """A worker process ended without sending its result (killed, out of memory)."""

    def __init__(self, exitcode: int | None):
        self.exitcode = exitcode
        if exitcode is not None and exitcode < 0:
            try:
                how = f"killed by {signal.Signals(-exitcode).name}"
            except ValueError:
                how = f"killed by signal {-exitcode}"
        else:
            how = f"exit status {exitcode}"
        super().__init__(f"the worker process ended without a result ({how}; out of memory?)")


def _child(function, chunk, connection, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    one_thread_per_library(override=True)  # for libraries loaded from here on
    outcomes = []
    for item in chunk:
        try:
            outcomes.append((True, function(item)))
        except BaseException as error:  # noqa: BLE001 - sent to the parent, which decides
            outcomes.append((False, (error, traceback.format_exc())))
            break
    try:
        connection.send(outcomes)
    except Exception as error:  # a result or an error could not be pickled
        connection.send([(False, (RuntimeError(f"{type(error).__name__}: {error}"), traceback.format_exc()))])
    connection.close()


def fork_map(function: Callable[[Item], Result], items: Sequence[Item], *, workers: int | None = None,
             min_items: int = 2, chunksize: int | None = None,
             on_lost: Callable[[Item, WorkerLost], Result] | None = None) -> Iterator[Result]:
    """``function`` over ``items``, in order, in forked workers when that can help.

    Each worker process handles ``chunksize`` consecutive items (default: about four chunks
    per worker). An exception raised by ``function`` in a worker is raised here, in order. A
    worker that dies without a result raises :class:`WorkerLost`, or yields
    ``on_lost(item, error)`` for each item of its chunk.
    """
    items = list(items)
    workers = min(available_workers(workers), len(items))
    if workers < 2 or len(items) < min_items:
        yield from map(function, items)
        return
    size = chunksize or max(1, len(items) // (4 * workers))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    context = multiprocessing.get_context("fork")
    parent_pid = os.getpid()
    from threadpoolctl import ThreadpoolController  # lazy: only forking needs it

    libraries = ThreadpoolController()
    if all(library.num_threads <= 1 for library in libraries.lib_controllers):
        libraries = None  # already one thread each (the lssbench command sets that): nothing to limit
    running: dict = {}  # connection -> (chunk index, process)
    done: dict[int, list] = {}
    next_chunk, next_result = 0, 0
    try:
        while next_result < len(chunks):
            while next_chunk < len(chunks) and len(running) < workers:
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(function, chunks[next_chunk], send, parent_pid),
                                          daemon=True)
                if libraries is None:
                    process.start()
                else:
                    with libraries.limit(limits=1):  # the child is forked with one thread per library
                        process.start()
                send.close()
                running[receive] = (next_chunk, process)
                next_chunk += 1
            if next_result not in done:
                for connection in wait(list(running)):
                    index, process = running.pop(connection)
                    try:
                        outcomes = connection.recv()
                    except (EOFError, OSError):
                        outcomes = None
                    connection.close()
                    process.join()
                    done[index] = outcomes if outcomes is not None else [
                        (False, (WorkerLost(process.exitcode), ""))] * len(chunks[index])
            while next_result in done:
                for item, (ok, value) in zip(chunks[next_result], done.pop(next_result)):
                    if ok:
                        yield value
                        continue
                    error, trace = value
                    if isinstance(error, WorkerLost) and on_lost is not None:
                        yield on_lost(item, error)
                        continue
                    if trace:
                        error.add_note(f"in the worker process:\n{trace}")
                    raise error
                next_result += 1
    finally:
        for connection, (_, process) in running.items():
            process.kill()
            process.join()
            connection.close()
