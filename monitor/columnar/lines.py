"""Lines of a log as columns: numbers, end offsets and the raw bytes in one Arrow array.

:func:`iter_line_blocks` cuts a file into :class:`LineBlock` batches with numpy (the newline
positions of a whole chunk at once) and wraps the file's bytes as an Arrow array without
copying them line by line; a :class:`Line` object is made only for a line that takes the
per-record path. The sidecar hands its own ``list[Line]`` batches over with
:meth:`LineBlock.from_lines`.

>>> import tempfile
>>> p = tempfile.mktemp(); _ = open(p, "wb").write(b"a\\nbb\\r\\nccc")
>>> [(b.numbers.tolist(), b.end_offsets.tolist()) for b in iter_line_blocks(p, batch_lines=2)]
[([1, 2], [2, 6]), ([3], [9])]
>>> [l.raw for b in iter_line_blocks(p) for l in b.lines()]
[b'a', b'bb', b'ccc']
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa

__all__ = ["Line", "LineBlock", "iter_line_blocks"]


@dataclass
class Line:
    """One raw line of a source: 1-based number, byte offset just past its newline, bytes."""

    number: int
    end_offset: int
    raw: bytes


@dataclass
class LineBlock:
    """A batch of consecutive lines: ``numbers`` and ``end_offsets`` (numpy int64) and ``text``,
    each line's bytes as one Arrow ``large_binary`` array. A line's entry in ``text`` may still end
    with its ``\\r\\n`` or ``\\n`` (JSON whitespace to a parser); :meth:`line` strips them."""

    numbers: np.ndarray
    end_offsets: np.ndarray
    text: pa.Array

    def __len__(self) -> int:
        return len(self.numbers)

    @classmethod
    def from_lines(cls, lines: Sequence[Line]) -> "LineBlock":
        """A block of already split lines (the sidecar's batches).

        >>> b = LineBlock.from_lines([Line(4, 10, b"x"), Line(6, 13, b"yz")])
        >>> b.line(1), len(b)
        (Line(number=6, end_offset=13, raw=b'yz'), 2)
        """
        return cls(np.fromiter((line.number for line in lines), np.int64, len(lines)),
                   np.fromiter((line.end_offset for line in lines), np.int64, len(lines)),
                   pa.array([line.raw for line in lines], type=pa.large_binary()))

    def line(self, k: int) -> Line:
        """The ``k``-th line of the block, as the per-record path reads it."""
        raw = self.text[k].as_py()
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        return Line(int(self.numbers[k]), int(self.end_offsets[k]), raw.rstrip(b"\r"))

    def lines(self, mask: np.ndarray | None = None) -> list[Line]:
        """The lines where ``mask`` is True (all lines without a mask)."""
        index = range(len(self)) if mask is None else np.flatnonzero(mask).tolist()
        return [self.line(k) for k in index]


#: Bytes scanned for newlines at a time: a numpy comparison of 1 MiB stays in the CPU's cache,
#: and is about twice as fast per byte as one over a whole 8 MiB read.
SCAN_BYTES = 1 << 20


def _newline_ends(chunk: np.ndarray) -> np.ndarray:
    """The positions just past each newline of ``chunk`` (a uint8 array), ascending.

    >>> _newline_ends(np.frombuffer(b"ab\\ncd\\n\\n", dtype=np.uint8)).tolist()
    [3, 6, 7]
    """
    parts = [np.flatnonzero(chunk[s:s + SCAN_BYTES] == 10) + (s + 1) for s in range(0, len(chunk), SCAN_BYTES)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _block(buf: np.ndarray, begin: int, ends: np.ndarray, first_number: int, base_offset: int) -> LineBlock:
    """The lines ``buf[begin:ends[0]]``, ``buf[ends[0]:ends[1]]``, ...: an Arrow array over
    ``buf``'s own memory (no copy; ``buf`` is never written there again)."""
    offsets = np.concatenate([[0], ends - begin]).astype(np.int64)
    data = pa.py_buffer(buf).slice(begin, int(offsets[-1]))
    text = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), data])
    numbers = np.arange(first_number + 1, first_number + 1 + len(ends), dtype=np.int64)
    return LineBlock(numbers, offsets[1:] + base_offset, text)


def iter_line_blocks(path: str | os.PathLike[str], *, start_offset: int = 0, start_line: int = 0,
                     batch_lines: int = 100_000, chunk_bytes: int = 8 << 20) -> Iterator[LineBlock]:
    """Blocks of at most ``batch_lines`` numbered lines of a file, from a byte offset (the same
    lines, numbers and offsets as :func:`monitor.ingest.iter_lines` with ``final=True``).

    The file is read ``chunk_bytes`` at a time straight into a numpy buffer (``readinto``), each
    read scanned once for newlines, and each block is an Arrow array over that buffer: the bytes
    are copied once, by the read. Blocks are cut from the same buffer until it is full; then the
    bytes not yet in a block move to a new buffer sized for a block of the lines seen so far
    (``batch_lines`` times their mean length, plus 10%: known from the first read on), or twice
    what it holds when that is more, so a buffer stays about one block's size and no byte is
    moved more than a few times. A block's bytes are never written again: a block stays valid
    while later ones are read.
    """
    number, offset = start_line, start_offset
    buf = np.empty(2 * chunk_bytes, dtype=np.uint8)
    begin = filled = 0  # buf[begin:filled]: bytes read and not yet in a block
    pending: list[np.ndarray] = []  # the ends (in buf) of the lines of buf[begin:filled]
    found = 0  # how many
    seen_bytes = seen_lines = 0
    with open(path, "rb") as fh:
        fh.seek(start_offset)
        while True:
            if filled + chunk_bytes > len(buf):  # a new buffer, the unconsumed bytes moved to its start
                held = filled - begin
                lines_known = seen_lines + found
                bytes_known = seen_bytes + (int(pending[-1][-1]) - begin if found else 0)
                block_bytes = int(bytes_known / lines_known * batch_lines * 1.1) if lines_known else 0
                size = max(2 * held, block_bytes) + chunk_bytes  # doubles while a block outgrows the estimate
                moved = np.empty(size, dtype=np.uint8)
                moved[:held] = buf[begin:filled]
                pending = [ends - begin for ends in pending]
                buf, begin, filled = moved, 0, held
            read = fh.readinto(memoryview(buf)[filled:filled + chunk_bytes])
            if not read:
                break
            ends = _newline_ends(buf[filled:filled + read]) + filled
            filled += read
            if len(ends):
                pending.append(ends)
                found += len(ends)
            while found >= batch_lines:
                known = np.concatenate(pending)
                cut = int(known[batch_lines - 1])
                yield _block(buf, begin, known[:batch_lines], number, offset)
                seen_bytes, seen_lines = seen_bytes + cut - begin, seen_lines + batch_lines
                number, offset = number + batch_lines, offset + cut - begin
                begin, pending, found = cut, [known[batch_lines:]], found - batch_lines
        if filled > begin:
            known = np.concatenate(pending) if pending else np.zeros(0, dtype=np.int64)
            if not len(known) or known[-1] != filled:
                known = np.append(known, filled)
            yield _block(buf, begin, known, number, offset)
