"""What keeps the sidecar's memory flat: allocator settings, bounded segment count, streamed
compaction, and reads that hand back exactly the complete lines (memory figures themselves are
measured in benchmarks/tail.py, not here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.compaction import candidates, compact
from monitor.tail.memory import library_ranges, release_free_memory, resident_bytes
from monitor.store import REPLACES_KEY, Store
from monitor.tail.follower import Follower
from monitor.tail.compactor import Compactor
from test_compaction import _add_segments, _expected, _snapshot


def test_tuning_caps_the_arenas_in_a_fresh_process() -> None:
    code = ("import json; from monitor.tail.memory import tune_for_long_run, resident_bytes; "
            "print(json.dumps([tune_for_long_run(), resident_bytes()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    applied, rss = json.loads(out.stdout)
    assert applied == {"glibc_arena_max": True, "arrow_pool": "jemalloc"}
    assert 10 << 20 < rss < 2 << 30


def test_tuned_arrow_pool_hands_freed_buffers_back_at_once() -> None:
    """After :func:`tune_for_long_run`, 200 MB of Arrow buffers, written and dropped, leave the
    RSS where it was (jemalloc with no decay), in a fresh process."""
    code = ("import json, pyarrow as pa, numpy as np; from monitor.tail.memory import tune_for_long_run, resident_bytes\n"
            "tune_for_long_run(); before = resident_bytes()\n"
            "bufs = [pa.allocate_buffer(10 << 20) for _ in range(20)]\n"
            "for b in bufs: np.frombuffer(b, dtype=np.uint8)[::4096] = 1  # touch every page\n"
            "grown = resident_bytes(); del bufs\n"
            "print(json.dumps([pa.default_memory_pool().backend_name, before, grown, resident_bytes()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pool, before, grown, after = json.loads(out.stdout)
    assert pool == "jemalloc"
    assert grown - before > 150 << 20  # the buffers were resident
    assert after - before < 20 << 20, (before >> 20, grown >> 20, after >> 20)


def test_release_free_memory_gives_freed_heap_back() -> None:
    release_free_memory()
    base = resident_bytes()
    blocks = [bytearray(100_000) for _ in range(2_000)]  # ~200 MB in heap-sized pieces
    for b in blocks:
        b[::4096] = b"x" * len(b[::4096])  # touch every page
    grown = resident_bytes()
    del blocks, b
    release_free_memory()
    after = resident_bytes()
    assert grown - base > 150 << 20
    assert after - base < 50 << 20


def test_one_compaction_pass_merges_until_few_small_segments_remain(tmp_path: Path) -> None:
    store = Store(tmp_path)
    next_id = _add_segments(store, 0, 24, 50)
    sizes = [p.stat().st_size for p in store.live_segments()]
    # groups of about 4 segments: one pass must merge several groups, then the merged ones
    comp = Compactor(store, threading.Event(), min_segments=4, small_bytes=1 << 20, target_bytes=4 * min(sizes))
    merged = comp.merge_pending(settle_s=0)
    assert comp.runs >= 3 and merged >= 24
    assert len(candidates(store, None, small_bytes=1 << 20)) < 4
    assert _snapshot(store) == _expected(next_id)


def test_streamed_compaction_keeps_every_row_in_file_order(tmp_path: Path) -> None:
    store = Store(tmp_path)
    next_id = _add_segments(store, 0, 6, 700)
    before = store.live_segments()
    report = compact(store, None, settle_s=0, read_batch_rows=128, row_group_bytes=16 << 10)
    assert report.merged == 6 and report.rows == next_id
    (out,) = store.live_segments()
    pf = pq.ParquetFile(out)
    assert pf.metadata.num_row_groups > 1  # written as it was read, not in one piece
    assert json.loads(pf.schema_arrow.metadata[REPLACES_KEY]) == sorted(p.name for p in before)
    # each input's rows keep their order and stay together
    lines = pf.read(columns=["source_line"]).column("source_line").to_pylist()
    runs = [lines[i:i + 700] for i in range(0, len(lines), 700)]
    assert sorted(run[0] for run in runs) == list(range(0, next_id, 700))
    assert all(run == list(range(run[0], run[0] + 700)) for run in runs)
    assert _snapshot(store) == _expected(next_id)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=1,
                      max_size=60),
       tail=st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
       max_lines=st.integers(1, 70), max_bytes=st.integers(1, 3000))
def test_reads_return_exactly_the_complete_lines_in_order(tmp_path_factory, lines: list[bytes], tail: bytes,
                                                         max_lines: int, max_bytes: int) -> None:
    folder = tmp_path_factory.mktemp("reads")
    path = folder / "app.log"
    # the first line is long and unique, so the source has an identity
    body = [b"first line " + b"x" * 70] + lines
    path.write_bytes(b"".join(line + b"\n" for line in body) + tail)
    follower = Follower([str(path)], resume=lambda sid: (0, 0))
    follower.scan()
    (src,) = follower.sources()
    got: list[bytes] = []
    ends: list[int] = []
    for _ in range(len(body) + 2):
        chunk = follower.read(src, max_bytes=max_bytes, max_lines=max_lines)
        assert len(chunk.lines) <= max_lines
        got += [line.raw for line in chunk.lines]
        ends += [line.end_offset for line in chunk.lines]
    follower.close()
    assert got == [line.rstrip(b"\r") for line in body]
    assert ends == [sum(len(x) + 1 for x in body[:i + 1]) for i in range(len(body))]
    assert src.offset == ends[-1]  # the partial last line waits for its newline


_PARQUET_POOL = r'''
import json, os, sys
from monitor.tail.memory import prefer_returning_arrow_pool, tune_for_long_run
chosen = prefer_returning_arrow_pool() if sys.argv[1] == "prefer" else False
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
default = pa.default_memory_pool().backend_name  # Arrow's C++ default, before tune_for_long_run
tune_for_long_run()
t = pa.table({"x": np.arange(200_000), "s": pa.array([str(i) for i in range(200_000)])})
pq.write_table(t, sys.argv[2], compression="zstd")
assert pq.read_table(sys.argv[2]).equals(t)
arenas = sum(1 for line in open("/proc/self/maps")
             if (lambda lo, hi: hi - lo)(*(int(x, 16) for x in line.split()[0].split("-"))) >= 1 << 30)
print(json.dumps([chosen, default, arenas]))
'''


def test_parquet_writes_use_jemalloc_when_chosen_before_pyarrow_loads(tmp_path: Path) -> None:
    """Arrow's Parquet writer allocates from the C++ default pool, whatever pyarrow's Python
    default is: chosen before ``import pyarrow`` it is jemalloc, and mimalloc's 1 GiB arena
    never appears; chosen after, it does (the sidecar's 21 MB, docs/TAIL.md)."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = {}
    for how in ("prefer", "late"):
        res = subprocess.run([sys.executable, "-c", _PARQUET_POOL, how, str(tmp_path / f"{how}.parquet")],
                             capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        out[how] = json.loads(res.stdout)
    assert out["prefer"] == [True, "jemalloc", 0]
    assert out["late"] == [False, "mimalloc", 1]  # what the sidecar did before


_COLD_CODE = r'''
import json, mmap, os, sys
import duckdb
from monitor.tail.memory import drop_cold_code

path = sys.argv[1]  # a library-like file no other process maps (pages mapped twice are kept)
with open(path, "wb") as fh:
    fh.write(os.urandom(1 << 20) * 24)
    fh.flush()
    os.fsync(fh.fileno())  # clean pages, as a library's are
fd = os.open(path, os.O_RDONLY)
lib = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)

def resident_kb():
    total, ours = 0, False
    for line in open("/proc/self/smaps"):
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            ours = line.rstrip().endswith(path)
        elif ours and head[0] == "Rss:":
            total += int(head[1])
    return total

checksum = sum(lib[i] for i in range(0, len(lib), 4096))  # page it all in
con = duckdb.connect()
first = con.execute("SELECT sum(i) FROM range(100000) t(i)").fetchall()
before = resident_kb()
advised = drop_cold_code()
after = resident_kb()
again = duckdb.connect().execute("SELECT sum(i) FROM range(100000) t(i)").fetchall()
same = checksum == sum(lib[i] for i in range(0, len(lib), 4096)) and first == again == [(4999950000,)]
print(json.dumps([advised, before, after, same]))
'''


def test_dropping_cold_code_unmaps_library_pages_and_everything_still_runs(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-c", _COLD_CODE, str(tmp_path / "libcold.so")], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    advised, before, after, same = json.loads(res.stdout)
    if advised == 0:
        pytest.skip("this kernel has no MADV_PAGEOUT (Linux < 5.4)")
    assert same  # the pages come back, with the same bytes; DuckDB's code still runs
    assert before > 20_000  # 24 MB were resident
    assert after < 1_000, (before, after)


def test_writable_and_anonymous_memory_is_never_advised() -> None:
    """Only read-only or executable mappings of shared libraries are handed back."""
    lines = ("7f0000000000-7f0000001000 rw-p 00000000 08:01 1 /usr/lib/libx.so\n"
                    "7f0000001000-7f0000002000 r--p 00000000 00:00 0 \n"
                    "7f0000002000-7f0000003000 r--p 00000000 08:01 2 /data/segment.parquet\n"
                    "7f0000003000-7f0000004000 rw-s 00000000 08:01 3 /dev/shm/x.so\n"
             "7f0000004000-7f0000006000 r-xp 00001000 08:01 1 /usr/lib/libx.so\n").splitlines()
    assert library_ranges(lines) == [(0x7F0000004000, 0x7F0000006000)]


def test_library_pages_with_private_copies_are_never_advised() -> None:
    """A read-only mapping holding relocated (copied-on-write) pages would go to swap: skipped."""
    smaps = ("7f0000000000-7f0000002000 r-xp 00000000 08:01 1 /usr/lib/libx.so\n"
             "Rss:                   8 kB\n"
             "Anonymous:             0 kB\n"
             "VmFlags: rd ex mr mw me\n"
             "7f0000002000-7f0000003000 r--p 00002000 08:01 1 /usr/lib/libx.so\n"
             "Rss:                   4 kB\n"
             "Anonymous:             4 kB\n"
             "VmFlags: rd mr mw me ac\n"
             "7f0000003000-7f0000004000 r--p 00003000 08:01 1 /usr/lib/libx.so\n"
             "Anonymous:             0 kB\n").splitlines(keepends=True)
    assert library_ranges(smaps) == [(0x7F0000000000, 0x7F0000002000), (0x7F0000003000, 0x7F0000004000)]


def test_a_bad_cold_code_interval_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_bytes(b"")
    env = {**os.environ, "LLM_MONITOR_COLD_CODE_S": "soon"}
    env.pop("SENTRY_DSN", None)
    res = subprocess.run([sys.executable, "-m", "monitor.cli", "tail", str(tmp_path / "app.log"), "--store",
                          str(tmp_path / "store"), "--once"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "llm-monitor tail: error: LLM_MONITOR_COLD_CODE_S must be a number of seconds (0: never), got 'soon'"]
