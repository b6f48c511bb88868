"""A bounded in-memory set of recently committed request ids (the sidecar's duplicate guard).

The sidecar must drop an event whose ``request_id`` it has already stored, without scanning
the store at every commit (with random ids such a scan costs about 0.5 s per million ids, and
a busy sidecar holds millions in its dedup horizon). :class:`RecentIds` keeps 64-bit keyed
hashes of the ids seen in the last ``horizon_s`` seconds, at most ``capacity`` of them (the
newest win), in memory that does not depend on the traffic: 12 bytes per id.

Lookups are vectorised: new ids collect in a small unsorted buffer (checked with
``numpy.isin``) that is merged into a sorted array (checked with ``numpy.searchsorted``) once
it holds ``buffer`` ids. Merging two sorted runs with a stable sort is linear.

Two different ids share a hash with probability 2**-64 per pair (keyed SipHash, a random key
per process): with a million ids held, about one event in 2 * 10**13 would be wrongly taken
for a duplicate.

:class:`DuplicateGuard` fills a :class:`RecentIds` from the store: the ids of every segment
written within the horizon, each segment read once, whoever wrote it.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from monitor.compaction import replaced_segments
from monitor.store import Store


class RecentIds:
    """Request ids seen in the last ``horizon_s`` seconds (at most ``capacity``, newest kept).

    >>> ids = RecentIds(horizon_s=600, capacity=1000)
    >>> ids.add(["a", "b"], now=1000.0)
    >>> ids.seen(["b", "c"], now=1001.0).tolist()
    [True, False]
    >>> ids.seen(["b"], now=1601.0).tolist()  # past the horizon
    [False]
    >>> len(ids)
    2
    """

    def __init__(self, *, horizon_s: float = 600.0, capacity: int = 1_000_000, buffer: int = 32_768,
                 key: str | None = None) -> None:
        if capacity < 1 or buffer < 1 or horizon_s <= 0:
            raise ValueError("capacity, buffer and horizon_s must be positive")
        self.horizon_s = float(horizon_s)
        self.capacity = int(capacity)
        self.buffer = int(buffer)
        self._key = key if key is not None else secrets.token_hex(8)  # 16 characters
        self._sorted = np.empty(0, np.uint64)
        self._sorted_t = np.empty(0, np.uint32)
        self._fresh: list[np.ndarray] = []
        self._fresh_t: list[np.ndarray] = []
        self._fresh_n = 0

    def __len__(self) -> int:
        return len(self._sorted) + self._fresh_n

    def hashes(self, ids: Iterable[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
        """The keyed 64-bit hashes of ``ids`` (``str`` of each value; an Arrow array's nulls are
        skipped): keyed BLAKE2b, so an adversary who writes request ids cannot aim at collisions."""
        if isinstance(ids, (pa.Array, pa.ChunkedArray)):
            values = ids.drop_null().to_pylist()
        else:
            values = [str(i) for i in ids]
        if not values:
            return np.empty(0, np.uint64)
        blake2b, key = hashlib.blake2b, self._key.encode()
        digests = b"".join([blake2b(v.encode(), key=key, digest_size=8).digest() for v in values])
        return np.frombuffer(digests, dtype=np.uint64).copy()

    def seen(self, ids: Iterable[str] | pa.Array, now: float | None = None) -> np.ndarray:
        """Boolean array: which of ``ids`` were added within the horizon."""
        h = self.hashes(ids)
        if not len(h) or not len(self):
            return np.zeros(len(h), dtype=bool)
        floor = self._stamp(now) - self.horizon_s
        out = np.zeros(len(h), dtype=bool)
        if len(self._sorted):
            pos = np.searchsorted(self._sorted, h, side="right") - 1  # the newest entry of an equal run
            ok = pos >= 0
            pos = np.where(ok, pos, 0)
            out |= ok & (self._sorted[pos] == h) & (self._sorted_t[pos] >= floor)
        for fh, ft in zip(self._fresh, self._fresh_t):
            hit = np.isin(h, fh[ft >= floor])
            out |= hit
        return out

    def add(self, ids: Iterable[str] | pa.Array, now: float | None = None) -> None:
        """Remember ``ids`` as seen at ``now`` (seconds since the epoch; default: the clock)."""
        h = self.hashes(ids)
        if not len(h):
            return
        self._fresh.append(h)
        self._fresh_t.append(np.full(len(h), self._stamp(now), dtype=np.uint32))
        self._fresh_n += len(h)
        if self._fresh_n >= self.buffer:
            self._merge(self._stamp(now))

    def _merge(self, now: int) -> None:
        fh = np.concatenate(self._fresh)
        ft = np.concatenate(self._fresh_t)
        order = np.argsort(fh, kind="stable")
        h = np.concatenate([self._sorted, fh[order]])
        t = np.concatenate([self._sorted_t, ft[order]])
        self._fresh, self._fresh_t, self._fresh_n = [], [], 0
        order = np.argsort(h, kind="stable")  # two sorted runs: a linear merge (timsort)
        h, t = h[order], t[order]
        starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])  # one entry per id, its latest time
        h, t = h[starts], np.maximum.reduceat(t, starts)
        keep = t >= now - self.horizon_s
        h, t = h[keep], t[keep]
        if len(h) > self.capacity:  # exactly the newest `capacity` ids (ties broken arbitrarily)
            newest = np.sort(np.argpartition(t, len(t) - self.capacity)[len(t) - self.capacity:])
            h, t = h[newest], t[newest]
        self._sorted, self._sorted_t = h, t

    @staticmethod
    def _stamp(now: float | None) -> int:
        return int(time.time() if now is None else now)


def recent_segments(store: Store, horizon_s: float) -> list[Path]:
    """Live segments modified in the last ``horizon_s`` seconds."""
    cutoff = time.time() - horizon_s
    out = []
    for p in store.live_segments():
        try:
            if p.stat().st_mtime >= cutoff:
                out.append(p)
        except FileNotFoundError:
            continue
    return out


class DuplicateGuard:
    """The request ids of the store's recent segments, in memory (:class:`RecentIds`): the
    sidecar's :class:`monitor.commit.RequestIdIndex`.

    Every live segment modified in the last ``horizon_s`` seconds is read once (its
    ``request_id`` column), whoever wrote it: at start-up that restores what a killed run
    committed, later it covers other writers and merged segments. The tailer's own commits
    are added as they are written.

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> from monitor.store import events_table
    >>> _ = store.write_segment(events_table({"request_id": ["r1"], "model": ["m"]}, 1))
    >>> guard = DuplicateGuard(store)
    >>> guard.refresh()
    >>> guard.recent.seen(["r1", "r2"]).tolist()
    [True, False]
    """

    def __init__(self, store: Store, *, horizon_s: float = 600.0, capacity: int = 1_000_000,
                 read_batch_rows: int = 50_000) -> None:
        self.store = store
        self.recent = RecentIds(horizon_s=horizon_s, capacity=capacity)
        self.read_batch_rows = read_batch_rows
        self._covered: dict[str, float] = {}  # segment names whose ids are held -> when recorded
        self.segments_read = 0

    def refresh(self) -> None:
        """Take in the ids of recent segments not covered yet.

        A merged (``c-``) segment whose inputs are all covered is covered without reading it;
        any other new segment is read once, ``read_batch_rows`` ids at a time.
        """
        now = time.time()
        for p in recent_segments(self.store, self.recent.horizon_s):
            if p.name in self._covered:
                continue
            replaces = replaced_segments(p) if p.name.startswith("c-") else []
            if replaces and all(name in self._covered for name in replaces):
                self._covered[p.name] = now
                continue
            try:
                mtime = p.stat().st_mtime
                with pq.ParquetFile(p) as pf:
                    for batch in pf.iter_batches(batch_size=self.read_batch_rows, columns=["request_id"]):
                        ids = batch.column(0).drop_null()
                        self.recent.add(ids.filter(pa.array(~self.recent.seen(ids))), now=mtime)
            except FileNotFoundError:
                continue  # merged away meanwhile: the merged segment is read instead
            self.segments_read += 1
            for name in [p.name, *replaces]:
                self._covered[name] = now
        horizon = now - 2 * self.recent.horizon_s
        if len(self._covered) > 1024:
            self._covered = {name: t for name, t in self._covered.items() if t >= horizon}

    def seen(self, request_ids: pa.Array) -> np.ndarray:
        """Which ids a recent segment holds (after :meth:`refresh`): the dedup lookup of a commit
        (:class:`monitor.commit.RequestIdIndex`)."""
        self.refresh()
        return self.recent.seen(request_ids)

    def committed(self, segment: str | Path, request_ids: pa.Array) -> None:
        """Record a segment this process has just written (its ids are not read back)."""
        self.recent.add(request_ids)
        self._covered[Path(segment).name] = time.time()
