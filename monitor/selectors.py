"""Window selectors: which events form the baseline and the current window.

A selector is either a path to a log file (any supported format), or comma-separated
``key=value`` terms, all of which must hold:

- ``since=TIME`` (inclusive) and ``until=TIME`` (exclusive): ISO 8601 dates or date-times,
  read as UTC when they carry no offset;
- ``last=DURATION``: the trailing window ending now, e.g. ``last=24h``, ``last=7d``, ``last=30m``;
- ``model=``, ``model_version=``, ``route=``, ``schema_name=``, ``requested_model=``: equality;
  several accepted values are separated by ``|`` (``route=chat|search``).

Example:
    >>> s = parse_selector("model_version=v2,since=2026-11-01,route=chat|search")
    >>> s.where()
    ('ts >= ? AND model_version IN (?) AND route IN (?, ?)', [datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.timezone.utc), 'v2', 'chat', 'search'])
    >>> s.only_value("model_version")
    'v2'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from datetime import datetime, timedelta, timezone

from monitor.errors import SelectorError

EQUALITY_KEYS = ("model", "model_version", "route", "schema_name", "requested_model")
TIME_KEYS = ("since", "until", "last")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class Selector:
    """A parsed selector. ``file`` is set when the selector names a log file."""

    text: str
    file: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    equals: dict[str, list[str]] = field(default_factory=dict)

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition over the ``events`` columns, with its parameters (``TRUE`` if none)."""
        terms: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            terms.append("ts >= ?")
            params.append(self.since)
        if self.until is not None:
            terms.append("ts < ?")
            params.append(self.until)
        for key, values in self.equals.items():
            terms.append(f"{key} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
        return (" AND ".join(terms) or "TRUE"), params

    def only_value(self, key: str) -> str | None:
        """The single value the selector pins ``key`` to, else None."""
        values = self.equals.get(key)
        return values[0] if values and len(values) == 1 else None


def parse_duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w`` -> a timedelta.

    >>> parse_duration("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    match = _DURATION.match(text.strip())
    if not match:
        raise SelectorError(f"bad duration {text!r}: use a number and one of s, m, h, d, w (e.g. 24h, 7d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_time(text: str, key: str) -> datetime:
    """ISO 8601 date or date-time -> an aware UTC datetime (no offset means UTC).

    >>> parse_time("2026-11-01T12:00+02:00", "since").isoformat()
    '2026-11-01T10:00:00+00:00'
    """
    try:
        stamp = datetime.fromisoformat(text.strip())
    except (ValueError, TypeError, AttributeError):
        raise SelectorError(f"{key}={text!r} is not an ISO 8601 date or date-time") from None
    return stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)


def parse_selector(text: str, *, now: datetime | None = None) -> Selector:
    """Parse a selector string (see the module doc).

    >>> import tempfile
    >>> log = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False).name
    >>> parse_selector(log).file == log     # an existing path is a log file
    True
    >>> parse_selector("events.jsonl").file  # no "=" in it: a path, even before it exists
    'events.jsonl'
    >>> parse_selector("colour=blue")
    Traceback (most recent call last):
    ...
    monitor.errors.SelectorError: unknown selector key 'colour' in 'colour=blue'; use since, until, last, model, model_version, route, schema_name, requested_model, or a file path
    """
    text = text.strip()
    if not text:
        raise SelectorError("empty selector")
    if "=" not in text or os.path.exists(text):
        return Selector(text=text, file=text)
    selector = Selector(text=text)
    for term in text.split(","):
        if "=" not in term:
            raise SelectorError(f"bad selector term {term!r} in {text!r}: expected key=value")
        key, value = (part.strip() for part in term.split("=", 1))
        if not value:
            raise SelectorError(f"selector key {key!r} has no value in {text!r}")
        if key in EQUALITY_KEYS:
            selector.equals.setdefault(key, []).extend(v for v in value.split("|") if v)
        elif key == "since":
            selector.since = parse_time(value, key)
        elif key == "until":
            selector.until = parse_time(value, key)
        elif key == "last":
            end = now if now is not None else datetime.now(timezone.utc)
            selector.since = end - parse_duration(value)
            selector.until = None
        else:
            raise SelectorError(f"unknown selector key {key!r} in {text!r}; use "
                                f"{', '.join(TIME_KEYS[:3] + EQUALITY_KEYS)}, or a file path")
    if selector.since is not None and selector.until is not None and selector.since >= selector.until:
        raise SelectorError(f"empty time range in {text!r}: since must be before until")
    return selector
