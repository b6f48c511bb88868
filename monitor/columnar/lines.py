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


def _block(data: bytes, first_number: int, base_offset: int) -> LineBlock:
    """The lines of ``data`` (complete lines, the last one maybe without its newline)."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    ends = newlines + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    text = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    numbers = np.arange(first_number + 1, first_number + 1 + len(ends), dtype=np.int64)
    return LineBlock(numbers, ends.astype(np.int64) + base_offset, text)


def iter_line_blocks(path: str | os.PathLike[str], *, start_offset: int = 0, start_line: int = 0,
                     batch_lines: int = 100_000, chunk_bytes: int = 8 << 20) -> Iterator[LineBlock]:
    """Blocks of at most ``batch_lines`` numbered lines of a file, from a byte offset (the same
    lines, numbers and offsets as :func:`monitor.ingest.iter_lines` with ``final=True``)."""
    number, offset = start_line, start_offset
    pending: list[bytes] = []
    newlines = 0
    with open(path, "rb") as fh:
        fh.seek(start_offset)
        while True:
            chunk = fh.read(chunk_bytes)
            if not chunk:
                break
            pending.append(chunk)
            newlines += chunk.count(b"\n")
            while newlines >= batch_lines:
                data = b"".join(pending)
                cut = int(np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)[batch_lines - 1]) + 1
                yield _block(data[:cut], number, offset)
                number, offset = number + batch_lines, offset + cut
                pending, newlines = [data[cut:]], newlines - batch_lines
        data = b"".join(pending)
        if data:
            yield _block(data, number, offset)
