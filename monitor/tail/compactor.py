"""Background compaction for the sidecar: small segments merged group by group, memory kept flat.

At low traffic the sidecar commits about one small segment per source per second.
:class:`Compactor` (the thread ``tail-compaction``) merges them with the crash-safe protocol of
:mod:`monitor.compaction` (a merged segment names the segments it replaces; readers skip them),
one group per writer-lock hold, so the tailer's commits go on between groups.
"""

from __future__ import annotations

import threading
from typing import Callable

from monitor.store import Store


def compact_streaming(store: Store, *, small_bytes: int = 4 << 20, target_bytes: int = 64 << 20,
                      min_segments: int = 32, settle_s: float = 1.0, row_group_bytes: int = 8 << 20,
                      read_batch_rows: int = 2_000) -> int:
    """Merge one group of small live segments once at least ``min_segments`` exist; returns how many.

    :func:`monitor.compaction.compact` with one group per call (the writer lock is held only
    for that merge); inputs are read ``read_batch_rows`` rows at a time, in log order, and
    written in row groups of about ``row_group_bytes`` (in memory), so the tailer's memory
    stays flat.

    >>> import tempfile, pandas as pd
    >>> store = Store(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     _ = store.write_segment(store.frame_to_table(pd.DataFrame({
    ...         "ts": pd.to_datetime(["2026-11-25T10:00:00Z"]), "request_id": [f"r{i}"], "model": ["m"]})))
    >>> compact_streaming(store, min_segments=3, settle_s=0), len(store.live_segments())
    (3, 1)
    >>> int(store.sql("select count(*) as n from events").n[0])
    3
    """
    from monitor.compaction import candidates, compact

    if len(candidates(store, None, small_bytes=small_bytes)) < min_segments:
        return 0
    return compact(store, None, small_bytes=small_bytes, target_bytes=target_bytes, settle_s=settle_s,
                   max_groups=1, row_group_bytes=row_group_bytes, read_batch_rows=read_batch_rows).merged


class Compactor(threading.Thread):
    """Background compaction of small segments (:func:`compact_streaming`).

    Every ``interval_s`` seconds, and as long as at least ``min_segments`` small live segments
    exist, merges them one group at a time (crash-safe; readers never see a row twice), so
    the number of live segments stays bounded however fast events arrive. Each merge runs
    under the store's writer lock, released between groups so the tailer's commits go on.
    """

    def __init__(self, store: Store, stop: threading.Event, *, interval_s: float = 60.0, min_segments: int = 32,
                 small_bytes: int = 4 << 20, target_bytes: int = 64 << 20,
                 log: Callable[[str], None] | None = None, on_merge: Callable[[int], None] | None = None) -> None:
        super().__init__(name="tail-compaction", daemon=True)
        self.store, self.stop_event = store, stop
        self.interval_s, self.min_segments = interval_s, min_segments
        self.small_bytes, self.target_bytes = small_bytes, target_bytes
        self.log = log or (lambda _t: None)
        self.on_merge = on_merge  # called with the number of segments of each merge (the metrics)
        self.runs = 0  # groups merged, and segments merged, since start
        self.merged = 0

    def run(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            try:
                self.merge_pending()
            except Exception as exc:  # noqa: BLE001 - compaction is an optimisation; never stop tailing
                self.log(f"compaction failed ({type(exc).__name__}: {exc}); will retry")

    def merge_pending(self, settle_s: float = 1.0) -> int:
        """Merge group after group until fewer than ``min_segments`` small segments are left
        (or stop is set); returns how many segments were merged."""
        total = 0
        while not self.stop_event.is_set():
            merged = compact_streaming(self.store, small_bytes=self.small_bytes, target_bytes=self.target_bytes,
                                       min_segments=self.min_segments, settle_s=settle_s)
            if not merged:
                break
            self.runs += 1
            self.merged += merged
            if self.on_merge is not None:
                self.on_merge(merged)
            total += merged
        return total
