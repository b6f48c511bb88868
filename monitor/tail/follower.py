"""File following for ``llm-monitor tail``: globs, rotation, copytruncate, partial lines.

A *source* is a stream of lines with an identity that survives renames and restarts: the
SHA-1 of its **first complete line(s)**, at least 64 bytes of whole lines (``tail:<hash>``).
Consequences:

- rename-and-create rotation: the renamed file keeps its first line, so it keeps its identity
  and its committed offset; the new file gets a new identity once its first line is complete;
- copytruncate: the truncated file's first line changes (or disappears), so it becomes a new
  source; the copy (``app.log.1``) has the *old* first line and therefore the old identity:
  when the glob matches the copy, lines written just before the truncation are read from the
  copy, and nothing is read twice;
- two files that start with the same bytes (whole lines, at least 64 bytes) are the same
  source (the largest is read): a log that starts with a fixed header longer than 64 bytes
  needs a unique first record after it within the identity prefix (the header plus the first
  line that ends past 64 bytes).

Each source is read from its next unread byte; only complete lines (ending in ``\\n``) are
returned, so a partial last line waits for its newline. A line longer than
``max_line_bytes`` is returned as *oversize* (its first 4 KiB kept) so the caller can
quarantine it without holding it in memory twice.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "app.log")
    >>> _ = open(p, "wb").write(b'first line of the file, long enough to identify the file: 64 bytes\\nsecond\\npart')
    >>> f = Follower([p], resume=lambda sid: (0, 0))
    >>> f.scan()
    >>> [s.id[:5] for s in f.sources()]
    ['tail:']
    >>> chunk = f.read(f.sources()[0], max_bytes=1 << 20, max_lines=100)
    >>> [(l.number, l.end_offset, l.raw) for l in chunk.lines]
    [(1, 67, b'first line of the file, long enough to identify the file: 64 bytes'), (2, 74, b'second')]
    >>> os.rename(p, p + ".1"); _ = open(p + ".1", "ab").write(b"ial\\n")
    >>> f.scan(); [l.raw for l in f.read(f.sources()[0], max_bytes=1 << 20, max_lines=100).lines]
    [b'partial']
    >>> f.close()
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from monitor.ingest import Line

SKIP_SUFFIXES: tuple[str, ...] = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".tmp", ".swp")
"""Files matched by a glob but never followed (compressed rotations, editor/temp files)."""

PROBE_BYTES = 4096
IDENTITY_MIN_BYTES = 64
"""A source's identity covers whole lines from the start of the file, at least this many bytes."""
OVERSIZE_KEEP = 4096
_CHUNK = 8 << 20


def has_magic(pattern: str) -> bool:
    """True when ``pattern`` is a glob rather than a plain path.

    >>> has_magic("/var/log/app*.log"), has_magic("/var/log/app.log")
    (True, False)
    """
    return glob.has_magic(pattern)


def source_id_for(first_line: bytes) -> str:
    """The identity of a source from its first complete line (newline included).

    >>> source_id_for(b'{"a": 1}\\n')
    'tail:2e41e971665b22e20b82'
    """
    return "tail:" + hashlib.sha1(first_line).hexdigest()[:20]


@dataclass
class Chunk:
    """What one read of a source returned."""

    lines: list[Line]
    oversize: list[tuple[Line, int]] = field(default_factory=list)  # (line with truncated raw, real length)


@dataclass
class _Inode:
    key: tuple[int, int]
    fd: int
    path: str
    probe: bytes
    first_len: int
    sid: str
    size: int = 0
    seen: bool = True  # found by the last scan
    mtime_ns: int = 0


@dataclass
class Source:
    """One followed source: identity, next byte/line to read, and the file it is read from."""

    id: str
    offset: int
    line: int
    inode: _Inode | None = None
    size: int = 0
    last_growth: float = field(default_factory=time.monotonic)
    caught_up_at: float = field(default_factory=time.monotonic)
    avg_line: float = 0.0

    @property
    def path(self) -> str:
        """Path of the file currently read (its name when last seen)."""
        return self.inode.path if self.inode else ""

    @property
    def lag_bytes(self) -> int:
        """Bytes present in the file and not read yet."""
        return max(0, self.size - self.offset)


class Follower:
    """Expands the patterns, identifies files, and reads complete lines from each source.

    ``resume(source_id) -> (offset, line)`` gives the starting point of a source seen for the
    first time in this process (the tailer derives it from the store). ``rotate_grace``:
    seconds a file that no longer matches any pattern (renamed away, deleted) is still read
    after its last growth.
    """

    def __init__(self, patterns: list[str], resume: Callable[[str], tuple[int, int]], *,
                 rotate_grace: float = 30.0, max_line_bytes: int = 8 << 20) -> None:
        self.patterns = list(patterns)
        self.resume = resume
        self.rotate_grace = rotate_grace
        self.max_line_bytes = max_line_bytes
        self._inodes: dict[tuple[int, int], _Inode] = {}
        self._sources: dict[str, Source] = {}

    # ------------------------------------------------------------------ discovery
    def _paths(self) -> list[str]:
        out: dict[str, None] = {}
        for pat in self.patterns:
            names = sorted(glob.glob(pat)) if has_magic(pat) else [pat]
            for name in names:
                if not name.endswith(SKIP_SUFFIXES):
                    out[name] = None
        return list(out)

    def _first_line(self, fd: int, size: int) -> bytes | None:
        data = os.pread(fd, min(size, PROBE_BYTES), 0)
        i = data.find(b"\n", IDENTITY_MIN_BYTES - 1) if len(data) >= IDENTITY_MIN_BYTES else -1
        if i >= 0:
            return data[: i + 1]
        if len(data) < PROBE_BYTES:
            return None
        pos = len(data)
        parts = [data]
        while pos < size and pos < self.max_line_bytes:
            chunk = os.pread(fd, min(_CHUNK, size - pos), pos)
            if not chunk:
                break
            j = chunk.find(b"\n")
            if j >= 0:
                parts.append(chunk[: j + 1])
                return b"".join(parts)
            parts.append(chunk)
            pos += len(chunk)
        if pos >= self.max_line_bytes:  # an enormous first line: its first max_line_bytes identify it
            return b"".join(parts)[: self.max_line_bytes]
        return None

    def _identify(self, path: str, st: os.stat_result) -> _Inode | None:
        key = (st.st_dev, st.st_ino)
        known = self._inodes.get(key)
        if known is not None:
            known.path = path
            known.seen = True
            if (st.st_size, st.st_mtime_ns) == (known.size, known.mtime_ns):
                return known  # untouched since the last look: no need to read its first bytes
            if self._still_same(known, st.st_size):
                known.size, known.mtime_ns = st.st_size, st.st_mtime_ns
                return known
            self._forget(known)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            st2 = os.fstat(fd)
            if (st2.st_dev, st2.st_ino) != key or st2.st_size == 0:
                os.close(fd)
                return None
            first = self._first_line(fd, st2.st_size)
        except OSError:
            os.close(fd)
            return None
        if first is None:  # first line not complete yet
            os.close(fd)
            return None
        probe = first[:PROBE_BYTES]
        ino = _Inode(key, fd, path, probe, len(first), source_id_for(first), st2.st_size, mtime_ns=st2.st_mtime_ns)
        self._inodes[key] = ino
        return ino

    @staticmethod
    def _still_same(ino: _Inode, size: int) -> bool:
        """Does the file still start with the same first line (not truncated/rewritten)?"""
        if size < len(ino.probe):
            return False
        try:
            return os.pread(ino.fd, len(ino.probe), 0) == ino.probe
        except OSError:
            return False

    def _forget(self, ino: _Inode) -> None:
        self._inodes.pop(ino.key, None)
        for src in self._sources.values():
            if src.inode is ino:
                src.inode = None
        try:
            os.close(ino.fd)
        except OSError:
            pass

    def scan(self) -> None:
        """Look at the patterns again: new files, renamed files, truncated files."""
        for ino in self._inodes.values():
            ino.seen = False
        for path in self._paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not os.path.isfile(path):
                continue
            self._identify(path, st)
        now = time.monotonic()
        # files no longer matched: keep reading them for rotate_grace after their last growth
        for ino in list(self._inodes.values()):
            if ino.seen:
                continue
            try:
                st = os.fstat(ino.fd)
            except OSError:
                self._forget(ino)
                continue
            if not self._still_same(ino, st.st_size):
                self._forget(ino)
                continue
            src = self._sources.get(ino.sid)
            growing = st.st_size > ino.size
            ino.size = st.st_size
            if src is not None and src.inode is ino and growing:
                src.last_growth = now
            in_use = src is not None and src.inode is ino
            if not in_use or (src.offset >= ino.size and now - src.last_growth > self.rotate_grace):
                self._forget(ino)
        # group by identity; each source reads from its largest file
        best: dict[str, _Inode] = {}
        for ino in self._inodes.values():
            cur = best.get(ino.sid)
            if cur is None or ino.size > cur.size:
                best[ino.sid] = ino
        for sid, ino in best.items():
            src = self._sources.get(sid)
            if src is None:
                offset, line = self.resume(sid)
                src = self._sources[sid] = Source(sid, offset, line)
            if src.inode is None or src.inode.key not in self._inodes or ino.size > src.inode.size:
                src.inode = ino
            if src.inode.size > src.size:
                src.last_growth = now
            src.size = src.inode.size
            if src.offset >= src.size:
                src.caught_up_at = now

    def sources(self) -> list[Source]:
        """Sources known so far, with a file to read from."""
        return [s for s in self._sources.values() if s.inode is not None]

    def all_sources(self) -> list[Source]:
        """Every source seen by this process (also those whose file is gone)."""
        return list(self._sources.values())

    # ------------------------------------------------------------------ reading
    def read(self, src: Source, *, max_bytes: int, max_lines: int) -> Chunk:
        """Complete lines of ``src`` from its next unread byte; advances the source.

        Lines longer than ``max_line_bytes`` come back in ``oversize`` (first 4 KiB only).
        """
        ino = src.inode
        if ino is None:
            return Chunk([])
        try:
            size = os.fstat(ino.fd).st_size
        except OSError:
            return Chunk([])
        ino.size = size
        src.size = max(src.size, size)
        if size <= src.offset:
            if size >= src.offset:
                src.caught_up_at = time.monotonic()
            return Chunk([])
        # read about what max_lines lines need (re-reading a tail that is not consumed is waste)
        guess = int(src.avg_line * max_lines * 1.1) + 4096 if src.avg_line else max_bytes
        want = min(max_bytes, size - src.offset, max(guess, 1 << 16))
        data = os.pread(ino.fd, want, src.offset)
        end = data.rfind(b"\n")
        chunk = Chunk([])
        if end < 0:
            if src.offset + len(data) >= size:
                return chunk  # a partial last line: wait for its newline
            self._read_long_line(ino, src, chunk)
        else:
            offset, number = src.offset, src.line
            limit = self.max_line_bytes
            pieces = data.split(b"\n", max_lines)  # no copy of data; the last piece is never a line
            del data
            pieces.pop()
            for piece in pieces:
                number += 1
                offset += len(piece) + 1
                if len(piece) > limit:
                    chunk.oversize.append((Line(number, offset, piece[:OVERSIZE_KEEP]), len(piece)))
                else:
                    chunk.lines.append(Line(number, offset, piece.rstrip(b"\r")))
            if number > src.line:
                src.avg_line = (offset - src.offset) / (number - src.line)
            src.offset, src.line = offset, number
        # a truncation racing with the read would show as a changed first line: drop the read
        if not self._still_same(ino, max(size, len(ino.probe))):
            self._forget(ino)
            return Chunk([])
        if src.offset >= size:
            src.caught_up_at = time.monotonic()
        return chunk

    def _read_long_line(self, ino: _Inode, src: Source, chunk: Chunk) -> None:
        pos = src.offset
        while True:
            part = os.pread(ino.fd, _CHUNK, pos)
            if not part:
                return  # no newline yet
            j = part.find(b"\n")
            if j >= 0:
                end = pos + j + 1
                break
            pos += len(part)
        length = end - src.offset - 1
        number = src.line + 1
        if length > self.max_line_bytes:
            chunk.oversize.append((Line(number, end, os.pread(ino.fd, OVERSIZE_KEEP, src.offset)), length))
        else:
            raw = os.pread(ino.fd, length, src.offset)
            chunk.lines.append(Line(number, end, raw.rstrip(b"\r")))
        src.offset, src.line = end, number

    def close(self) -> None:
        """Close every open file."""
        for ino in list(self._inodes.values()):
            self._forget(ino)
