"""Progress of long commands, on stderr: a live display on a terminal, log lines otherwise.

On a terminal each step shows ``label ... 12 s`` while it runs, then ``label ... done
(12.3 s)``; items (submissions on a board) show a counter. Off a terminal (a log file, a
CI job) each step writes one line when it ends, ``label: done in 12.3 s``, and each item
one line, ``[3/200] team-a: ok (4.1 s)``. :data:`QUIET` shows nothing (the Python API's
default). Everything shown is clean text (no control characters from untrusted names).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import IO, Iterator

from lssbench.report.text import clean_text


class Progress:
    """Steps and items of one command, written to ``stream`` (default: stderr)."""

    def __init__(self, stream: IO[str] | None = None, *, live: bool | None = None, enabled: bool = True):
        self.stream = stream
        self.enabled = enabled
        self._live = live
        self._lock = threading.Lock()

    @property
    def out(self) -> IO[str]:
        return self.stream or sys.stderr

    @property
    def live(self) -> bool:
        if self._live is not None:
            return self._live
        try:
            return self.out.isatty()
        except (AttributeError, ValueError):
            return False

    def _write(self, text: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            try:
                self.out.write(text)
                self.out.flush()
            except (OSError, ValueError):  # a closed stderr never stops the work
                self.enabled = False

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Show ``label`` while the block runs and how long it took."""
        label = clean_text(label)
        started = time.perf_counter()
        stop = threading.Event()
        ticker = None
        if self.enabled and self.live:
            def tick():
                while not stop.wait(1.0):
                    self._write(f"\r{label} ... {time.perf_counter() - started:.0f} s")
            self._write(f"{label} ...")
            ticker = threading.Thread(target=tick, daemon=True)
            ticker.start()
        try:
            yield
        except BaseException:
            stop.set()
            if ticker:
                ticker.join()
                self._write(" failed\n")
            raise
        stop.set()
        if ticker:
            ticker.join()
        seconds = time.perf_counter() - started
        self._write(f"\r{label} ... done ({seconds:.1f} s)\n" if self.live else f"{label}: done in {seconds:.1f} s\n")

    def start_items(self, total: int, label: str) -> None:
        """Before the first item: what is about to run (``[0/N] label ...`` on a terminal)."""
        self._write(f"[0/{total}] {clean_text(label)} ..." if self.live else f"{clean_text(label)}: {total} to do\n")

    def item(self, done: int, total: int, name: str, status: str, seconds: float) -> None:
        """One item finished (e.g. one submission scored)."""
        line = f"[{done}/{total}] {clean_text(name)}: {clean_text(status)} ({seconds:.1f} s)"
        if self.live:
            self._write(f"\r\x1b[2K{line}" + ("\n" if done == total else ""))
        else:
            self._write(line + "\n")

    def note(self, text: str) -> None:
        """A line of its own (a warning, what is reused)."""
        self._write(("\r\x1b[2K" if self.live else "") + clean_text(text, keep="\n") + "\n")


QUIET = Progress(enabled=False)
