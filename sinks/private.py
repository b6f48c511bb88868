"""Files only their owner can read: what the store and the sinks create.

The store holds prompts and responses (often personal data), and the alert log and the outbox
hold findings that may name customers' routes. Like a database's data directory, every file
they create is ``0600`` and every directory ``0700``, whatever the process's umask. This module
is the one place that opens such files (``sinks`` imports nothing from ``monitor``, so the store
uses it from here).

Example:
    >>> import tempfile, os, stat
    >>> p = os.path.join(tempfile.mkdtemp(), "f")
    >>> os.close(private_file(p)); oct(stat.S_IMODE(os.stat(p).st_mode))
    '0o600'
"""

from __future__ import annotations

import os

__all__ = ["DIR_MODE", "FILE_MODE", "private_file", "private_dir"]

DIR_MODE = 0o700
"""Mode of the directories a new store gets (owner only)."""
FILE_MODE = 0o600
"""Mode of every file the store and the sinks write (owner only)."""


def private_file(path: str | os.PathLike[str], *, append: bool = False) -> int:
    """Open ``path`` for writing as a file only its owner can access; returns the descriptor.

    A new file is created ``0600``; ``append``: ``O_APPEND``, the content and mode of an
    existing file are kept (an existing loose store is warned about, not changed); otherwise
    the file is truncated and set to ``0600``.

    >>> import tempfile, os, stat
    >>> p = os.path.join(tempfile.mkdtemp(), "log")
    >>> fd = private_file(p, append=True); _ = os.write(fd, b"a\\n"); os.close(fd)
    >>> fd = private_file(p, append=True); _ = os.write(fd, b"b\\n"); os.close(fd)
    >>> open(p).read(), oct(stat.S_IMODE(os.stat(p).st_mode))
    ('a\\nb\\n', '0o600')
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, FILE_MODE)
    if not append:
        try:
            os.fchmod(fd, FILE_MODE)
        except OSError:  # a file owned by someone else that we may still write: leave its mode
            pass
    return fd


def private_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` (and missing parents) with the last component ``0700``; an existing
    directory is left as it is.

    >>> import tempfile, os, stat
    >>> d = os.path.join(tempfile.mkdtemp(), "a", "b"); private_dir(d)
    >>> oct(stat.S_IMODE(os.stat(d).st_mode))
    '0o700'
    """
    if not os.path.isdir(path):
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            pass
