"""Problem records and the errors that carry them.

Every check that fails -- in the dataset reader, the ground-truth loader or the
submission validator -- produces a :class:`Problem`; callers collect them all and
raise one error, so a user sees every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, order=True)
class Problem:
    """What is wrong, where: ``file`` (relative path), ``location`` (row, object, pixel...)."""

    file: str
    location: str
    message: str

    def __post_init__(self) -> None:
        # Text taken from a submission (file names, cells) must never reach a terminal or a
        # published list as raw control characters or lone surrogates: escape them here.
        for name in ("file", "location", "message"):
            object.__setattr__(self, name, printable(getattr(self, name)))

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"file": self.file, "location": self.location, "message": self.message}


def printable(text: str) -> str:
    """``text`` with every non-printable character (controls, lone surrogates, line and
    paragraph separators) written as a Python escape: ``"a\\x1bb"`` -> ``"a\\\\x1bb"``."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class LssbenchError(Exception):
    """Base error; ``problems`` lists every problem found (may be empty)."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()):
        self.problems = list(problems)
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class DataError(LssbenchError):
    """A dataset folder or ground-truth bundle cannot be read."""


class SubmissionError(LssbenchError):
    """A submission is invalid (the user's file, not our bug)."""


class UsageError(LssbenchError):
    """Missing files or flags: the command line itself is wrong."""


class ScoringMachineError(LssbenchError):
    """A fault of the machine doing the scoring (no disk space, out of memory, permissions):
    the input was not judged. Never reported as a problem of the submission."""


#: errno names that mean the scoring machine failed (disk full, quota, memory, permissions,
#: read-only or failing disk, no file handles left), never the submission's content.
MACHINE_ERRNOS: frozenset[str] = frozenset(
    {"ENOSPC", "EDQUOT", "ENOMEM", "EACCES", "EPERM", "EROFS", "EIO", "EMFILE", "ENFILE", "EFBIG"})


def machine_fault(exc: BaseException, doing: str) -> ScoringMachineError | None:
    """A :class:`ScoringMachineError` when ``exc`` is a fault of the scoring machine, else None.

    ``doing`` says what was under way ("extracting the submission"). The message names the
    fault (``[ENOSPC] No space left on device``) but never a path of the machine.
    """
    import errno as _errno

    if isinstance(exc, MemoryError):
        return ScoringMachineError(f"out of memory while {doing}")
    name = _errno.errorcode.get(getattr(exc, "errno", None) or -1, "")
    if isinstance(exc, OSError) and name in MACHINE_ERRNOS:
        return ScoringMachineError(f"{exc.strerror or name} [{name}] while {doing}")
    return None
