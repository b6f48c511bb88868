"""The columnar declaration of a log format: where each canonical field sits in a record.

An adapter that declares a :class:`ColumnarMapping` can be read by the columnar fast path
(:mod:`monitor.columnar`): the batch is parsed by DuckDB's JSON reader and each canonical field
is taken from its declared JSON path as a column, with no per-record Python. The same
declaration drives the adapter's per-record conversion (its defaults), so a format is written
once. A format without a declaration takes the per-record path only.

>>> m = ColumnarMapping(fields={"ts": "$.ts", "response": "$.output.text"}, defaults={"route": "default"})
>>> m.path("response"), m.path("model")
('$.output.text', None)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, eq=False)  # hashed by identity: one declaration per format
class ColumnarMapping:
    """Canonical field -> JSON path (DuckDB JSONPath, ``$.a.b``) of a format whose records map
    field by field, plus the values given to fields that are missing or null.

    ``pinned_attribute``: the adapter adds ``attributes.pinned`` (from the model and version)
    when the record's attributes do not carry it.
    """

    fields: dict[str, str]
    defaults: dict[str, Any] = field(default_factory=dict)
    pinned_attribute: bool = True

    def path(self, name: str) -> str | None:
        """The JSON path of canonical field ``name``, or None when the format does not carry it."""
        return self.fields.get(name)
