"""The staging directories of Spark backfills (``<store>/tmp-spark/run-*``): made, locked, cleaned up.

A backfill stages its rows in a run directory of the store (beside ``events/``, never listed
as segments) and removes it when it ends. A backfill killed with ``kill -9`` (or a lost
driver) leaves its run directory behind; the next backfill into the same store removes it, by
this rule (:func:`is_stale`):

- **Lock.** A running backfill holds an exclusive ``flock`` on ``tmp-spark/<run>.lock`` in the
  store's local directory (for a store at a URI, its local state directory), from before it
  creates the run directory until after it removes it. The kernel drops the lock when the
  process dies, however it dies. A run whose lock file exists and can be taken was started on
  this machine by a process that is gone: it is removed at once. A held lock: the run is alive.
- **Age.** A run with no lock file here was started on another machine (a store at a URI is
  shared): it is removed only when its name, which starts with its UTC start time, is older
  than :data:`STALE_AFTER_S` (24 hours). A backfill from another machine that runs longer than
  that loses its staging and fails; it never commits a partial segment (docs/SCALE.md).

Example:
    >>> is_stale("run-20261130T101500-0a1b2c3d", now=1796032800.0, lock="none")  # 2026-11-30T10:00Z
    False
    >>> is_stale("run-20261128T101500-0a1b2c3d", now=1796032800.0, lock="none")
    True
    >>> is_stale("run-20261130T095900-0a1b2c3d", now=1796032800.0, lock="free")
    True
"""

from __future__ import annotations

import calendar
import contextlib
import fcntl
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

from sinks.private import private_dir, private_file

RUN_DIR = "tmp-spark"
"""The folder of run directories in a store (not ``tmp/``: compaction's recovery empties that)."""

STALE_AFTER_S = 24 * 3600
"""A run directory with no lock file on this machine is removed when older than this."""

_NAME = re.compile(r"^run-(\d{8}T\d{6})-[0-9a-f]{8}$")
Lock = Literal["held", "free", "none"]


def run_name(now: float | None = None) -> str:
    """A new run's name: its UTC start time and a random suffix.

    >>> bool(_NAME.match(run_name()))
    True
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"run-{stamp}-{uuid.uuid4().hex[:8]}"


def started_at(name: str) -> float | None:
    """The start time (Unix seconds) a run's name carries; None for a name not of a run.

    >>> started_at("run-20261130T100000-0a1b2c3d"), started_at("part-0001")
    (1796032800.0, None)
    """
    match = _NAME.match(name)
    if match is None:
        return None
    return float(calendar.timegm(time.strptime(match.group(1), "%Y%m%dT%H%M%S")))


def is_stale(name: str, *, now: float, lock: Lock) -> bool:
    """Whether the run directory ``name`` is left over and may be removed (see the module doc).

    ``lock``: ``held`` (its backfill runs on this machine), ``free`` (its lock file is here and
    nobody holds it: that backfill is gone), ``none`` (no lock file here: another machine's run).
    Names that are not run names are never stale.
    """
    start = started_at(name)
    if start is None or lock == "held":
        return False
    return lock == "free" or now - start > STALE_AFTER_S


def lock_state(path: Path) -> Lock:
    """Whether the lock file ``path`` is held by a process (``held``), not held (``free``) or missing."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return "none"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "held"
    finally:
        os.close(fd)  # closing the descriptor drops a lock this probe took
    return "free"


@contextlib.contextmanager
def run_lock(local: Path, name: str) -> Iterator[None]:
    """Hold ``<local>/tmp-spark/<name>.lock`` for the life of a run; the file goes with the run."""
    folder = local / RUN_DIR
    private_dir(folder)
    path = folder / f"{name}.lock"
    fd = private_file(path, append=True)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def remove_stale(local: Path, entries: list[tuple[str, bool]], delete: Callable[[str], Any],
                 now: float | None = None) -> list[str]:
    """Remove the stale run directories among ``entries`` (``(uri or path, is_directory)`` of the
    store's ``tmp-spark/``) with ``delete``, and their lock files in ``<local>/tmp-spark/``
    (and lock files nobody holds whose run directory is gone). Returns the names removed.
    """
    now = time.time() if now is None else now
    removed = []
    runs = set()
    for entry, is_dir in entries:
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        lock = local / RUN_DIR / f"{name}.lock"
        if not is_dir:
            continue
        runs.add(name)
        if is_stale(name, now=now, lock=lock_state(lock)):
            delete(entry)
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            removed.append(name)
    folder = local / RUN_DIR
    for lock in folder.glob("run-*.lock") if folder.is_dir() else ():
        if lock.name[:-len(".lock")] not in runs and lock_state(lock) == "free":
            lock.unlink(missing_ok=True)  # a run that is gone; a starting run holds its lock already
    return removed
