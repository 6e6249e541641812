"""fork_map: results in order, workers forked once and reused, a dead worker costs only its chunk."""

import multiprocessing
import os
import signal
import time

import pytest

from lssbench import parallel
from lssbench.parallel import WorkerLost, fork_map


def _square(x):
    return x * x


def _pid(_):
    return os.getpid()


def test_results_come_back_in_order_whatever_the_chunks():
    items = list(range(50))
    expected = [x * x for x in items]
    assert list(fork_map(_square, items, workers=2, chunksize=1)) == expected
    assert list(fork_map(_square, items, workers=2)) == expected
    assert list(fork_map(_square, items, workers=3, chunksize=7)) == expected


def test_workers_are_forked_once_and_reused():
    pids = list(fork_map(_pid, range(parallel.RETIRE_AFTER_CHUNKS), workers=2, chunksize=1))  # none retires
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_too_few_items_run_here():
    assert list(fork_map(_pid, range(3), workers=2, min_items=4)) == [os.getpid()] * 3


def _dies_on_five(x):
    if x == 5:
        os._exit(3)
    return os.getpid()


def _dies_below_two(x):
    if x < 2:
        os._exit(3)
    return os.getpid()


def test_a_dead_worker_costs_only_its_chunk_and_is_replaced():
    got = list(fork_map(_dies_on_five, range(20), workers=2, chunksize=1,
                        on_lost=lambda item, error: ("lost", item, error.exitcode)))
    assert got[5] == ("lost", 5, 3)
    assert all(isinstance(p, int) for k, p in enumerate(got) if k != 5)
    # both first workers die on their first item: the rest is done by the workers that replace them
    replaced = list(fork_map(_dies_below_two, range(4), workers=2, chunksize=1, on_lost=lambda item, error: "lost"))
    assert replaced[:2] == ["lost", "lost"] and all(isinstance(p, int) for p in replaced[2:])
    chunked = list(fork_map(_dies_on_five, range(20), workers=2, chunksize=4,
                            on_lost=lambda item, error: "lost"))
    assert [k for k, v in enumerate(chunked) if v == "lost"] == [4, 5, 6, 7]  # the chunk it held


def test_a_dead_worker_without_on_lost_raises():
    with pytest.raises(WorkerLost, match=r"exit status 3"):
        list(fork_map(_dies_on_five, range(20), workers=2, chunksize=1))


def _fails_on_three(x):
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def test_an_error_in_a_worker_is_raised_in_order():
    seen = []
    with pytest.raises(ValueError, match="bad item 3") as raised:
        for value in fork_map(_fails_on_three, range(10), workers=2, chunksize=1):
            seen.append(value)
    assert seen == [0, 1, 2]
    assert any("in the worker process" in note for note in raised.value.__notes__)
    assert multiprocessing.active_children() == []


def test_workers_end_on_their_own_after_the_last_item(monkeypatch):
    ended = []
    stop = parallel._Workers.stop

    def watched(self, *, kill):
        processes = [process for process, _ in self.holding.values()]
        stop(self, kill=kill)
        ended.extend((kill, process.exitcode) for process in processes)

    monkeypatch.setattr(parallel._Workers, "stop", watched)
    assert list(fork_map(_square, range(10), workers=2, chunksize=1)) == [x * x for x in range(10)]
    assert ended == [(False, 0), (False, 0)]  # told to stop and exited, not killed
    assert multiprocessing.active_children() == []


def test_a_map_left_early_kills_its_workers():
    results = fork_map(_square, range(100), workers=2, chunksize=1)
    assert next(results) == 0
    results.close()
    assert multiprocessing.active_children() == []


def _slow_on_one(x):
    if x == 1:
        time.sleep(1.0)
    return x, os.getpid()


def test_a_worker_that_dies_while_idle_costs_nothing():
    results = fork_map(_slow_on_one, range(5), workers=2, chunksize=1, on_lost=lambda item, error: "lost")
    first = next(results)
    os.kill(first[1], signal.SIGKILL)  # the worker that did item 0, idle now
    time.sleep(0.2)
    rest = list(results)
    assert [first[0]] + [x for x, _ in rest] == [0, 1, 2, 3, 4]  # its next upload went to another worker


def test_workers_retire_after_some_chunks(monkeypatch):
    monkeypatch.setattr(parallel, "RETIRE_AFTER_CHUNKS", 2)
    pids = list(fork_map(_pid, range(10), workers=2, chunksize=1))
    assert len(set(pids)) >= 5 and all(pids.count(pid) <= 2 for pid in set(pids))
    assert multiprocessing.active_children() == []


_hoard = []


def _grows(x):
    _hoard.append(b"x" * (32 << 20))  # 32 MB, written: resident
    return os.getpid()


def test_a_worker_that_grew_retires(monkeypatch):
    monkeypatch.setattr(parallel, "RETIRE_GROWTH_BYTES", 16 << 20)
    pids = list(fork_map(_grows, range(6), workers=2, chunksize=1))
    assert len(set(pids)) == 6  # each worker retired after its first chunk
    assert _hoard == []  # (the hoarding happened in the workers)
