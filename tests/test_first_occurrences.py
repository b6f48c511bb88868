"""``monitor.events.first_occurrences``: the first event of each request id wins, nulls are kept."""
from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.events import first_occurrences

ids = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "é", ""]), st.text(max_size=4)), max_size=60)


def reference(values: list[str | None]) -> list[bool]:
    seen: set[str] = set()
    out = []
    for v in values:
        out.append(v is None or v not in seen)
        if v is not None:
            seen.add(v)
    return out


@settings(max_examples=200, deadline=None)
@given(ids, st.integers(min_value=1, max_value=7))
def test_first_occurrences_equals_a_scan_of_the_rows(values, chunk):
    flat = pa.array(values, type=pa.string())
    chunked = pa.chunked_array([values[k:k + chunk] for k in range(0, len(values), chunk)] or [[]], type=pa.string())
    assert first_occurrences(flat).tolist() == reference(values)
    assert first_occurrences(chunked).tolist() == reference(values)
