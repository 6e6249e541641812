"""One way to spread independent work over the cores: a few forked workers, fed chunk by chunk.

Forked workers inherit what the parent already holds (a loaded ground truth, decoded
masks), items included, so only item numbers and results cross process boundaries.
Results always come back in input order, so outputs stay deterministic. Where forking
is unavailable or pointless (one core, few items, already inside a worker), the
items are processed serially in this process.

Workers run their numeric libraries (BLAS, OpenMP) on one thread each: every worker is
forked while threadpoolctl holds the loaded libraries at one thread (the parent gets its
own setting back at once), and the usual environment variables say one thread to any
library a worker loads later. The processes already fill the cores; library threads
spinning beside them cost about a quarter of the CPU time of a board.

The workers are forked once per map and take one chunk of items at a time (the board:
one upload), so a worker that dies (killed, out of memory) costs only the chunk it held:
``on_lost(item, error)`` says what to yield instead, and a fresh worker takes its place. A
worker also retires, and is replaced, after :data:`RETIRE_AFTER_CHUNKS` chunks or once it
has grown by :data:`RETIRE_GROWTH_BYTES`, so the heap a large upload leaves does not stay. Forking
once is not only tidier: a process per upload cost a board of 200 about a sixth
of its CPU time in page faults (the copy-on-write heap, fresh memory for every array).
Workers end with their parent: they ask Linux for SIGKILL when the parent dies
(``PR_SET_PDEATHSIG``) and also stop if the parent is already gone when they start, so a
``kill -9`` of the parent never leaves them running.
"""

from __future__ import annotations

import ctypes
import itertools
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


#: A worker retires (exits cleanly, and a fresh one takes its place) after this many chunks,
#: or once its resident memory has grown by more than this since it was forked: a large
#: upload leaves a worker's heap fragmented, and a process per upload would have freed it.
RETIRE_AFTER_CHUNKS = 16
RETIRE_GROWTH_BYTES = 1 << 30


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return 0


def _worker(function, items, connection, siblings, parent_pid: int) -> None:
    """A worker's life: take a chunk of item indices, send back ``(outcomes, retiring)``,
    until told to stop or retiring."""
    die_with_parent(parent_pid)
    for sibling in siblings:  # the parent's ends of the other workers' pipes: not ours to hold
        sibling.close()
    one_thread_per_library(override=True)  # for libraries loaded from here on
    memory_limit = _resident_bytes() + RETIRE_GROWTH_BYTES  # (a fresh fork counts the parent's pages)
    for chunks_done in itertools.count(1):
        try:
            chunk = connection.recv()
        except (EOFError, OSError):  # the parent has gone
            break
        if chunk is None:
            break
        outcomes = []
        for index in chunk:
            try:
                outcomes.append((True, function(items[index])))
            except BaseException as error:  # noqa: BLE001 - sent to the parent, which decides
                outcomes.append((False, (error, traceback.format_exc())))
                break
        retiring = chunks_done >= RETIRE_AFTER_CHUNKS or _resident_bytes() > memory_limit
        try:
            connection.send((outcomes, retiring))
        except Exception as error:  # a result or an error could not be pickled (nothing was sent)
            connection.send(([(False, (RuntimeError(f"{type(error).__name__}: {error}"), traceback.format_exc()))],
                             retiring))
        if retiring:
            break
    connection.close()


class _Workers:
    """The parent's side of the pool: live workers, each idle or holding one chunk."""

    def __init__(self, function, items, size: int):
        self.start_args = (function, items)
        self.size = size
        self.context = multiprocessing.get_context("fork")
        self.parent_pid = os.getpid()
        from threadpoolctl import ThreadpoolController  # lazy: only forking needs it

        libraries = ThreadpoolController()
        # already one thread each (the lssbench command sets that): nothing to limit
        self.libraries = None if all(lib.num_threads <= 1 for lib in libraries.lib_controllers) else libraries
        self.holding: dict = {}  # connection -> (process, chunk index or None when idle)

    def start(self) -> None:
        here, there = self.context.Pipe(duplex=True)
        args = (*self.start_args, there, list(self.holding), self.parent_pid)
        process = self.context.Process(target=_worker, args=args, daemon=True)
        if self.libraries is None:
            process.start()
        else:
            with self.libraries.limit(limits=1):  # the child is forked with one thread per library
                process.start()
        there.close()
        self.holding[here] = (process, None)

    def idle(self) -> list:
        return [connection for connection, (_, held) in self.holding.items() if held is None]

    def busy(self) -> list:
        return [connection for connection, (_, held) in self.holding.items() if held is not None]

    def give(self, connection, index: int, chunk: list[int]) -> bool:
        """Send a chunk to an idle worker; False (and the worker dropped) when it has died."""
        process, _ = self.holding[connection]
        try:
            connection.send(chunk)
        except OSError:  # its end is closed: it died while idle
            self.drop(connection)
            return False
        self.holding[connection] = (process, index)
        return True

    def collect(self, connection) -> tuple[int, list | None, int | None]:
        """``(chunk index, outcomes, None)`` from a busy worker, or ``(index, None, exit code)`` if it died.
        A worker that retires with its outcomes is dropped."""
        process, index = self.holding[connection]
        try:
            outcomes, retiring = connection.recv()
        except (EOFError, OSError):
            return index, None, self.drop(connection)
        self.holding[connection] = (process, None)
        if retiring:
            self.drop(connection)
        return index, outcomes, None

    def drop(self, connection) -> int | None:
        process, _ = self.holding.pop(connection)
        connection.close()
        process.join()
        return process.exitcode

    def stop(self, *, kill: bool) -> None:
        """End every worker: idle ones are told to stop; ``kill`` ends them all now."""
        for connection, (process, _) in list(self.holding.items()):
            if kill:
                process.kill()
            else:
                try:
                    connection.send(None)
                except OSError:  # already gone
                    pass
            connection.close()
        for process, _ in self.holding.values():
            process.join(timeout=None if kill else 10)
            if process.is_alive():  # pragma: no cover - a worker that does not stop when told
                process.kill()
                process.join()
        self.holding.clear()


def fork_map(function: Callable[[Item], Result], items: Sequence[Item], *, workers: int | None = None,
             min_items: int = 2, chunksize: int | None = None,
             on_lost: Callable[[Item, WorkerLost], Result] | None = None) -> Iterator[Result]:
    """``function`` over ``items``, in order, in forked workers when that can help.

    The workers are forked once (and again only to replace one that died or retired, see
    :data:`RETIRE_AFTER_CHUNKS`); each takes ``chunksize`` consecutive items at a time
    (default: about four chunks per worker). An exception raised by ``function`` in a
    worker is raised here, in order. A worker that dies without a result raises
    :class:`WorkerLost`, or yields ``on_lost(item, error)`` for each item of the chunk it
    held; a new worker takes its place for the chunks left.
    """
    items = list(items)
    size = min(available_workers(workers), len(items))
    if size < 2 or len(items) < min_items:
        yield from map(function, items)
        return
    step = chunksize or max(1, len(items) // (4 * size))
    chunks = [list(range(i, min(i + step, len(items)))) for i in range(0, len(items), step)]
    pool = _Workers(function, items, min(size, len(chunks)))
    done: dict[int, list] = {}
    next_chunk, next_result = 0, 0
    idle_deaths = 0  # workers found dead before they took a chunk (the chunk goes to another)
    finished = False
    try:
        while next_result < len(chunks):
            while next_chunk < len(chunks) and len(pool.holding) < pool.size:
                pool.start()
            for connection in pool.idle():
                if next_chunk < len(chunks):
                    if pool.give(connection, next_chunk, chunks[next_chunk]):
                        next_chunk += 1
                    elif (idle_deaths := idle_deaths + 1) > 4 * pool.size:  # workers die as they start
                        done[next_chunk] = _lost(None, len(chunks[next_chunk]))
                        next_chunk += 1
            if next_result not in done and pool.busy():
                for connection in wait(pool.busy()):
                    index, outcomes, exitcode = pool.collect(connection)
                    done[index] = outcomes if outcomes is not None else _lost(exitcode, len(chunks[index]))
            while next_result in done:
                for index, (ok, value) in zip(chunks[next_result], done.pop(next_result)):
                    if ok:
                        yield value
                        continue
                    error, trace = value
                    if isinstance(error, WorkerLost) and on_lost is not None:
                        yield on_lost(items[index], error)
                        continue
                    if trace:
                        error.add_note(f"in the worker process:\n{trace}")
                    raise error
                next_result += 1
        finished = True
    finally:
        pool.stop(kill=not finished)


def _lost(exitcode: int | None, count: int) -> list:
    return [(False, (WorkerLost(exitcode), ""))] * count
