"""Length and refusal signals, vectorized per batch (no per-event Python loop).

* ``chars`` / ``words``: numpy over the Arrow UTF-8 buffer of the whole batch (:func:`lengths`).
* refusal: Arrow compute kernels (RE2) normalize the head of every response; one combined
  alternation of the rule patterns per position (Arrow ``match_substring_regex``) picks the
  rows some rule could match, and only those go to an in-memory DuckDB connection (one per
  thread; not the event store) where one SQL statement (RE2) extracts the opening and applies
  the rules: user rules as an ordered ``CASE WHEN regexp_matches(...)`` chain, then the
  built-in opening rules and the built-in "anywhere" rules each as one combined alternation
  whose named capture group names the rule.

Normalization (applied before any rule):

1. fenced code blocks (```` ``` ```` or ``~~~``, closed or running to the end), inline code,
   Markdown block-quote lines and short double-quoted passages (``"..."``, ``“...”``,
   ``«...»``, ``„...“``, ``「...」``, ``『...』``, within one line) are removed in one pass:
   a refusal *quoted* in a response is not the model refusing;
2. Unicode apostrophes (``’ ‘ ʼ ´ ′ ＇``) become ``'``;
3. the text is lower-cased and leading Markdown decoration is stripped.

Only the first :data:`HEAD_CHARS` characters are normalized and searched. The *opening* is
the first two sentences of the normalized text, at most
:data:`~monitor.signals.refusal_rules.OPENING_CHARS` characters. See docs/SIGNALS.md.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import asdict
from typing import Any, Iterable, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .refusal_rules import CLARIFICATION_PATTERN, LEAD, OPENING_CHARS, PIVOT_PATTERN, RULES, RefusalRule

__all__ = [
    "REFUSAL_CLASSES",
    "coerce_rule",
    "active_rules",
    "text_signals",
    "classify_text",
]

#: The three refusal classes, in increasing order of refusal.
REFUSAL_CLASSES = ("compliance", "partial_refusal", "full_refusal")

_APOSTROPHES = "\u2019\u2018\u02bc\u00b4\u2032\uff07"
# Python's str.split() whitespace set, as an RE2 character class body.
_WS = r"\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_QUOTES = (
    r'"[^"\n]*"|\x{201e}[^\x{201c}\x{201d}\n]*[\x{201c}\x{201d}]|\x{201c}[^\x{201d}\n]*\x{201d}'
    r"|\x{ab}[^\x{bb}\n]*\x{bb}|\x{300c}[^\x{300d}\n]*\x{300d}|\x{300e}[^\x{300f}\n]*\x{300f}"
)
_SENT_END = ".!?\u3002\uff01\uff1f"
_OPENING_RE = f"^[^{_SENT_END}]*[{_SENT_END}]*[^{_SENT_END}]*[{_SENT_END}]*"
# One pass removes fenced code (closed or running to the end), inline code, block-quote lines
# and double-quoted passages (within one line).
_CLEAN_RE = "|".join(
    [
        r"```[\s\S]*?(?:```|$)",
        r"~~~[\s\S]*?(?:~~~|$)",
        r"`[^`\n]*`",
        r"(?m:^[ \t]*>[^\n]*)",
        _QUOTES,
    ]
)
#: Only the first HEAD_CHARS characters of a response are normalized and searched by the
#: refusal rules ("anywhere" means "anywhere in the head"); this bounds the cost per event.
HEAD_CHARS = 2000
_LEAD = r"^[\s*#_>\-]+"

_WS_LUT = np.zeros(256, dtype=bool)
_WS_LUT[[0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F]] = True
_MB_LUT = np.zeros(256, dtype=bool)
_MB_LUT[[0xC2, 0xE1, 0xE2, 0xE3]] = True


def lengths(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Code points and whitespace-separated tokens (``len(s)``, ``len(s.split())``) per string.

    Vectorized over the Arrow UTF-8 buffer with numpy: a token starts at a non-whitespace
    code point that follows whitespace or the start of the string. Whitespace is Python's
    ``str.isspace()`` set.

    >>> c, w = lengths(pa.array(["a  b\u3000c", "", "  ", "héllo wörld"]))
    >>> c.tolist(), w.tolist()
    ([6, 0, 2, 11], [3, 0, 0, 2])
    """
    arr = pa.array(arr).cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    arr = pc.fill_null(arr, "")
    arr = pa.concat_arrays([arr]) if arr.offset else arr
    n = len(arr)
    chars = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1)
    if n == 0:
        return chars, np.zeros(0, dtype=np.int64)
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(bufs[2], dtype=np.uint8, count=end)[start:end] if bufs[2] is not None else np.zeros(0, np.uint8)
    m = len(data)
    # ASCII whitespace is 9-13 and 28-32: every byte <= 32 unless a rarer control byte occurs.
    ws = data <= 32
    if m and ((data < 9).any() or ((data - np.uint8(14)) < 14).any()):
        ws = _WS_LUT[data]
    if int(chars.sum()) != m:  # some multi-byte code point: look for multi-byte whitespace
        hi = np.flatnonzero(data >= 0xC2)
        mb = hi[_MB_LUT[data[hi]]]  # lead bytes of possible multi-byte whitespace (rare)
    else:
        mb = np.zeros(0, dtype=np.int64)
    if len(mb):
        padded = np.concatenate([data, np.zeros(2, np.uint8)])
        b0, b1, b2 = padded[mb], padded[mb + 1], padded[mb + 2]
        two = (b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0))
        three = (
            ((b0 == 0xE2) & (b1 == 0x80) & (((b2 >= 0x80) & (b2 <= 0x8A)) | (b2 == 0xA8) | (b2 == 0xA9) | (b2 == 0xAF)))
            | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))
            | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
            | ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))
        )
        hit = mb[two | three]
        ws[hit] = True
        ws[hit[two[two | three]] + 1] = True
        h3 = mb[three]
        ws[h3 + 1] = True
        ws[h3 + 2] = True
    # A token starts at a non-whitespace byte after whitespace or at a string start. (A UTF-8
    # continuation byte never does: it follows a byte of its own code point, which has the
    # same whitespace status.)
    rel = (offsets - start).astype(np.int64)
    first = np.zeros(m, dtype=bool)
    if m:
        first[0] = True
        first[1:] = ws[:-1]
        heads = rel[:-1][rel[:-1] < m]
        first[heads] = True
        first &= ~ws
    starts = np.flatnonzero(first)
    words = np.diff(np.searchsorted(starts, rel, side="left"))
    return chars, words.astype(np.int64)



def _lit(s: str) -> str:
    """SQL string literal (DuckDB does not process backslashes in '...')."""
    return "'" + s.replace("'", "''") + "'"


def coerce_rule(rule: RefusalRule | Mapping[str, Any]) -> RefusalRule:
    """Turn a user rule (a ``llm-monitor.toml`` table or a :class:`RefusalRule`) into a rule.

    Keys: ``name``, ``family``, ``pattern`` (RE2), optional ``models`` (list of globs),
    ``position`` (``"opening"`` | ``"anywhere"``, default ``"opening"``) and ``class``
    (``"full_refusal"`` | ``"partial_refusal"``, default full). User patterns are matched
    case-insensitively against the normalized text; Unicode apostrophes in them are folded.
    Raises ``ValueError`` naming the rule when a key or the regex is invalid.

    >>> r = coerce_rule({"name": "acme", "family": "policy", "pattern": "ACME policy",
    ...                  "models": ["acme-*"]})
    >>> r.pattern, r.models, r.position
    ('(?i)acme policy', ('acme-*',), 'opening')
    """
    if isinstance(rule, RefusalRule):
        d: dict[str, Any] = asdict(rule)
        user = False
    else:
        d = dict(rule)
        user = True
        if "class" in d:
            d["klass"] = d.pop("class")
    allowed = {"name", "family", "pattern", "position", "klass", "models", "lang"}
    unknown = set(d) - allowed
    name = d.get("name")
    if unknown:
        raise ValueError(f"refusal rule {name!r}: unknown key(s) {sorted(unknown)}")
    for key in ("name", "family", "pattern"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise ValueError(f"refusal rule {name!r}: {key!r} must be a non-empty string")
    position = d.get("position") or "opening"
    if position not in ("opening", "anywhere"):
        raise ValueError(f"refusal rule {name!r}: position must be 'opening' or 'anywhere'")
    klass = d.get("klass") or "full_refusal"
    if klass not in ("full_refusal", "partial_refusal"):
        raise ValueError(f"refusal rule {name!r}: class must be 'full_refusal' or 'partial_refusal'")
    models = d.get("models") or ()
    if isinstance(models, str):
        models = (models,)
    if not all(isinstance(m, str) for m in models):
        raise ValueError(f"refusal rule {name!r}: models must be a list of glob strings")
    pattern = d["pattern"]
    if user:
        for ch in _APOSTROPHES:
            pattern = pattern.replace(ch, "'")
        pattern = "(?i)" + pattern.lower()
    _check_regex(name, pattern)
    return RefusalRule(d["name"], d["family"], pattern, position, klass, tuple(models), d.get("lang") or "")


_regex_ok: dict[str, None] = {}
_regex_lock = threading.Lock()


def _check_regex(name: str, pattern: str) -> None:
    if pattern in _regex_ok:
        return
    try:
        duckdb.connect().execute(f"SELECT regexp_matches('', {_lit(pattern)})").fetchall()
    except duckdb.Error as exc:
        raise ValueError(f"refusal rule {name!r}: invalid RE2 pattern: {exc}") from None
    with _regex_lock:
        _regex_ok[pattern] = None


def active_rules(
    extra: Iterable[RefusalRule | Mapping[str, Any]] = (), disabled: Iterable[str] = ()
) -> tuple[RefusalRule, ...]:
    """The ordered rule list: user rules first (they win), then the built-ins, minus ``disabled``.

    >>> names = [r.name for r in active_rules(disabled={"en_decline"})]
    >>> "en_decline" in names, names[0]
    (False, 'en_apology_inability')
    """
    off = set(disabled)
    rules = [coerce_rule(r) for r in extra] + list(RULES)
    return tuple(r for r in rules if r.name not in off)


_BUILTIN = frozenset(RULES)
_sql_cache: dict[tuple[tuple[RefusalRule, ...], bool], str] = {}

# Code points whose lower case differs between Arrow's utf8_lower (newer Unicode tables) and
# DuckDB's lower(); computed once (lazily). Rows holding one are lowered by DuckDB, so the
# normalized text is exactly what DuckDB's lower() gives.
_lower_diff: str | None = None
_lower_lock = threading.Lock()


def _all_code_points() -> tuple[np.ndarray, pa.Array]:
    """Every non-ASCII scalar value, and one string holding them all (UTF-8 built by numpy)."""
    cps, data = [], []
    for lo, hi, n in ((0x80, 0x800, 2), (0x800, 0x10000, 3), (0x10000, 0x110000, 4)):
        c = np.arange(lo, hi, dtype=np.uint32)
        c = c[(c < 0xD800) | (c > 0xDFFF)]
        b = np.empty((len(c), n), dtype=np.uint8)
        b[:, 0] = (0xF0 << (4 - n)) & 0xFF | (c >> (6 * (n - 1)))
        for k in range(1, n):
            b[:, k] = 0x80 | ((c >> (6 * (n - 1 - k))) & 0x3F)
        cps.append(c)
        data.append(b.reshape(-1))
    raw = np.concatenate(data).tobytes()
    offsets = pa.array([0, len(raw)], type=pa.int64()).buffers()[1]
    return np.concatenate(cps), pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(raw))


def _lower_diff_class() -> str:
    """An RE2 character class of the code points where the two lower() differ: "" if none,
    "*" if they cannot be compared code point by code point (then DuckDB lowers every row
    with a non-ASCII character)."""
    global _lower_diff
    if _lower_diff is None:
        with _lower_lock:
            if _lower_diff is None:
                # Both map each code point to one code point: lower one string of all of them.
                cps, text = _all_code_points()
                con = duckdb.connect(":memory:")
                try:
                    con.register("cp", pa.table({"s": text}))
                    duck = con.execute("SELECT lower(s) AS l FROM cp").fetchnumpy()["l"][0]
                finally:
                    con.close()
                arrow = pc.utf8_lower(text)[0].as_py()
                d = np.frombuffer(duck.encode("utf-32-le"), dtype="<u4")
                a = np.frombuffer(arrow.encode("utf-32-le"), dtype="<u4")
                if len(d) != len(cps) or len(a) != len(cps):
                    _lower_diff = "*"
                else:
                    odd = cps[d != a].tolist()
                    _lower_diff = "[" + "".join(f"\\x{{{c:x}}}" for c in odd) + "]" if odd else ""
    return _lower_diff


def _normalize(resp: pa.Array, ascii_only: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(normalized head, its first OPENING_CHARS code points) of every response.

    Arrow compute kernels (RE2, like DuckDB) applying the same steps in the same order as
    DuckDB's ``regexp_replace`` / ``lower`` would (see the module docstring). ``ascii_only``
    marks rows with no byte >= 0x80: no apostrophe to fold, no lower-case divergence.
    """
    head = pc.utf8_slice_codeunits(resp, 0, HEAD_CHARS)
    clean = pc.replace_substring_regex(head, _CLEAN_RE, " ")
    wide = np.flatnonzero(~ascii_only)
    if len(wide):
        mask = pa.array(~ascii_only)
        sub = clean.take(pa.array(wide))
        for ch in _APOSTROPHES:
            sub = pc.replace_substring(sub, ch, "'")
        clean = pc.replace_with_mask(clean, mask, sub)
    low = pc.utf8_lower(clean)
    diff = _lower_diff_class() if len(wide) else ""
    if diff:
        odd = wide if diff == "*" else wide[pc.match_substring_regex(sub, diff).to_numpy(zero_copy_only=False)]
        if len(odd):  # lower these rows with DuckDB itself
            con = _connection(0)
            con.register("lowsrc", pa.table({"i": pa.array(np.arange(len(odd))), "s": clean.take(pa.array(odd))}))
            try:
                fixed = con.execute("SELECT lower(s) AS l FROM lowsrc ORDER BY i").fetchnumpy()["l"]
            finally:
                con.unregister("lowsrc")
            mask = np.zeros(len(clean), dtype=bool)
            mask[odd] = True
            low = pc.replace_with_mask(low, pa.array(mask), pa.array(fixed.tolist(), type=pa.large_string()))
    clean = pc.replace_substring_regex(low, _LEAD, "", max_replacements=1)
    return clean, pc.utf8_slice_codeunits(clean, 0, OPENING_CHARS)


_gate_cache: dict[tuple[RefusalRule, ...], tuple[list[str] | str | None, str | None]] = {}

#: Opening rules per combined RE2 alternation. RE2 runs an alternation as one DFA within a
#: fixed memory budget; past it (about 50 of the built-in opening rules together) it falls
#: back to a matcher about ten times slower. Chunks of this many rules stay well inside it.
OPENING_CHUNK = 20


def _chunks(items: Sequence[Any], size: int | None = None) -> list[Sequence[Any]]:
    """``items`` cut into consecutive pieces of at most ``size`` (default :data:`OPENING_CHUNK`).

    >>> _chunks([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
    size = size or OPENING_CHUNK
    return [items[i:i + size] for i in range(0, len(items), size)]


def _gates(rules: Sequence[RefusalRule]) -> tuple[list[str] | str | None, str | None]:
    """Alternations of the opening rules (one per :data:`OPENING_CHUNK` rules) and one of every
    "anywhere" rule (model globs ignored): a row that matches none gets no rule, so only the
    others go to DuckDB.

    The opening alternation is matched on the first OPENING_CHARS code points of the
    normalized text, of which the opening is a prefix ending, when shorter, in a sentence
    end (not a word character): a match in the opening is a match there too, unless a
    pattern can assert the end of the text (``$``, ``\\z``) or ``\\B``; then "" (every row).
    """
    key = tuple(rules)
    if key not in _gate_cache:
        opening = [r.pattern for r in rules if r.position == "opening"]
        anywhere = [r.pattern for r in rules if r.position == "anywhere"]
        gate_open: list[str] | str | None = [
            "|".join(f"(?:{p})" for p in chunk) for chunk in _chunks(opening)] if opening else None
        if any("$" in p or "\\B" in p or "\\z" in p for p in opening):
            gate_open = ""
        gate_any = "|".join(f"(?:{p})" for p in anywhere) if anywhere else None
        _gate_cache[key] = (gate_open, gate_any)
    return _gate_cache[key]


def _never_empty(pattern: str) -> bool:
    """True if the regex cannot match an empty string (its minimum width, as Python's regex
    parser reads it, is at least one character); False when unsure."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        return _parser.parse(pattern).getwidth()[0] >= 1
    except Exception:
        return False


def _build_sql(rules: Sequence[RefusalRule], any_gate_exact: bool = False) -> str:
    """Rule, matched span and pivot per row of ``src(rid, model, clean, ga)`` (``clean``: the
    normalized head; ``ga``: whether the Arrow "anywhere" gate matched it)."""
    key = (tuple(rules), any_gate_exact)
    if key in _sql_cache:
        return _sql_cache[key]
    opening = f"left(regexp_extract(clean, {_lit(_OPENING_RE)}), {OPENING_CHARS})"
    user = [r for r in rules if r not in _BUILTIN]
    builtin = [r for r in rules if r in _BUILTIN]
    # User rules: an ordered CASE chain (they may be per-model and use capture groups).
    # ``spans`` mirrors ``whens``: the matched text of the rule that decided.
    whens, spans = [], []
    for r in user:
        col = "opening" if r.position == "opening" else "clean"
        cond = f"regexp_matches({col}, {_lit(r.pattern)})"
        if r.models:
            globs = " OR ".join(f"model GLOB {_lit(g)}" for g in r.models)
            cond = f"({globs}) AND {cond}"
        whens.append(f"WHEN {cond} THEN {_lit(r.name)}")
        spans.append(f"WHEN {cond} THEN regexp_extract({col}, {_lit(r.pattern)})")
    # Built-in rules: one combined alternation per position, each rule a named capture group.
    # Opening rules are tried before "anywhere" rules; within one alternation the match that
    # starts earliest wins, ties go to the rule listed first. A regexp_matches gate before the
    # capturing extract is kept only where it changes something or saves work:
    # * opening: dropped when no built-in opening pattern can match the empty string (then a
    #   match leaves exactly its own group non-empty and no match leaves all empty), which
    #   saves compiling the alternation twice per batch;
    # * anywhere: replaced by the Arrow gate column ``ga`` when that gate is this very
    #   alternation (no user "anywhere" rule), else kept.
    # * anywhere: computed only for rows where no opening rule matched (an opening match
    #   decides first, and the capturing extract over the whole head is the dearest step).
    extra_cols: dict[str, str] = {}
    found_open = "FALSE"
    for alias, col, group in (("mo", "opening", [r for r in builtin if r.position == "opening"]),
                              ("ma", "clean", [r for r in builtin if r.position == "anywhere"])):
        if not group:
            continue
        combined = "|".join(f"({r.pattern})" for r in group)
        names = ", ".join(_lit(f"g{i}") for i in range(len(group)))
        extract = f"regexp_extract({col}, {_lit(combined)}, [{names}])"
        def span_of(i: int, r: RefusalRule) -> str:
            g = f"struct_extract({alias}, 'g{i}')"
            # a "lead" rule's match starts with the preamble sentences: report the refusal only
            return f"regexp_replace({g}, {_lit(LEAD)}, '')" if r.pattern.startswith(LEAD) else g

        if alias == "mo" and all(_never_empty(r.pattern) for r in group):
            # One alternation per OPENING_CHUNK rules (one of all overflows RE2's DFA budget).
            # Each chunk's match is its one non-empty group; the chunk whose match starts
            # earliest in the opening wins (``strpos`` of the matched text), ties go to the
            # earlier chunk: the same precedence as one alternation of all the rules.
            cols, pos_cols = [], []
            chunks = _chunks(group)
            for k, chunk in enumerate(chunks):
                comb = "|".join(f"({r.pattern})" for r in chunk)
                nm = ", ".join(_lit(f"g{i}") for i in range(len(chunk)))
                cols.append(f"regexp_extract({col}, {_lit(comb)}, [{nm}]) AS mo{k}")
                text = " || ".join(f"struct_extract(mo{k}, 'g{i}')" for i in range(len(chunk)))
                pos_cols.append(f"CASE WHEN ({text}) <> '' THEN strpos(opening, {text}) END AS po{k}")
            extra_cols[alias] = ", ".join(cols)
            extra_cols["po"] = ", ".join(pos_cols)
            found_open = " OR ".join(f"po{k} IS NOT NULL" for k in range(len(chunks)))
            for k, chunk in enumerate(chunks):
                win = " AND ".join([f"po{k} IS NOT NULL"] + [
                    f"(po{j} IS NULL OR po{j} {'>' if j < k else '>='} po{k})" for j in range(len(chunks)) if j != k])
                g_alias = f"mo{k}"
                whens.extend(f"WHEN {win} AND struct_extract({g_alias}, 'g{i}') <> '' THEN {_lit(r.name)}"
                             for i, r in enumerate(chunk))
                spans.extend(f"WHEN {win} AND struct_extract({g_alias}, 'g{i}') <> '' THEN "
                             + span_of(i, r).replace(f"struct_extract({alias}, ", f"struct_extract({g_alias}, ")
                             for i, r in enumerate(chunk))
            continue
        gate = "ga" if alias == "ma" and any_gate_exact else f"regexp_matches({col}, {_lit(combined)})"
        if alias == "ma":
            gate = f"NOT coalesce({found_open}, FALSE) AND {gate}"
        else:
            found_open = f"{alias} IS NOT NULL AND (" + " OR ".join(
                f"struct_extract({alias}, 'g{i}') <> ''" for i in range(len(group))) + ")"
        extra_cols[alias] = f"CASE WHEN {gate} THEN {extract} END AS {alias}"
        inner = " ".join(f"WHEN struct_extract({alias}, 'g{i}') <> '' THEN {_lit(r.name)}" for i, r in enumerate(group))
        whens.append(f"WHEN {alias} IS NOT NULL THEN CASE {inner} END")
        inner_s = " ".join(f"WHEN struct_extract({alias}, 'g{i}') <> '' THEN {span_of(i, r)}" for i, r in enumerate(group))
        spans.append(f"WHEN {alias} IS NOT NULL THEN CASE {inner_s} END")
    case = "CASE " + " ".join(whens) + " END" if whens else "NULL::VARCHAR"
    span_case = "CASE " + " ".join(spans) + " END" if spans else "NULL::VARCHAR"
    more_o = ", " + extra_cols["mo"] if "mo" in extra_cols else ""
    more_p = ", " + extra_cols["po"] if "po" in extra_cols else ""
    more_a = ", " + extra_cols["ma"] if "ma" in extra_cols else ""
    sql = f"""
WITH o AS (
  SELECT rid, model, clean, ga, {opening} AS opening FROM src
), o1 AS (
  SELECT *{more_o} FROM o
), o1p AS (
  SELECT *{more_p} FROM o1
), o2 AS (
  SELECT *{more_a} FROM o1p
), r AS (
  SELECT rid, clean,
         regexp_matches(opening, {_lit(CLARIFICATION_PATTERN)}) AS clarify,
         CASE WHEN clarify THEN NULL ELSE {case} END AS rule,
         CASE WHEN clarify THEN NULL ELSE {span_case} END AS span
  FROM o2
)
SELECT rid,
       rule,
       CASE WHEN rule IS NULL THEN NULL ELSE trim(span) END AS span,
       CASE WHEN rule IS NULL THEN FALSE
            ELSE regexp_matches(clean, {_lit(PIVOT_PATTERN)}) END AS pivot
FROM r ORDER BY rid
"""
    _sql_cache[key] = sql
    return sql


_local = threading.local()


def _connection(rows: int) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB connections (not the event store), one pair per thread.

    Small batches use a single-threaded connection: per-thread regex compilation dominates
    their cost.
    """
    key = "small" if rows < 20_000 else "large"
    con = getattr(_local, key, None)
    if con is None:
        con = duckdb.connect(":memory:")
        with contextlib.suppress(duckdb.Error):  # refused inside a Jupyter kernel without ipywidgets
            con.execute("SET enable_progress_bar = false")
        if key == "small":
            con.execute("SET threads = 1")
        setattr(_local, key, con)
    return con


def _to_arrow_str(values: Any) -> pa.Array:
    """A large_string Arrow array with nulls (and NaN) replaced by ''."""
    try:
        arr = pa.array(values, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type)):
            raise TypeError
        arr = arr.cast(pa.large_string())
    except (TypeError, pa.ArrowException):
        arr = pa.array([v if isinstance(v, str) else ("" if v is None or v != v else str(v)) for v in values],
                       type=pa.large_string())
    return pc.fill_null(arr, "")


def text_signals(
    responses: pd.Series | Sequence[str],
    models: pd.Series | Sequence[str | None] | None = None,
    rules: Sequence[RefusalRule] | None = None,
) -> pd.DataFrame:
    """Length and refusal signals for a batch: numpy and Arrow kernels over the whole batch,
    then one DuckDB pass over the rows some rule could match (see the module docstring).

    Returns a DataFrame (same index as ``responses`` when it is a Series) with ``chars``
    (Unicode code points), ``words`` (whitespace-separated tokens, like ``str.split()``),
    ``refusal_class``, ``refusal_rule`` (the first matching rule, None for compliance) and
    ``refusal_span`` (the text that rule matched, in the normalized lower-case form it was
    matched in; None for compliance).

    >>> out = text_signals(["Sorry, but I can't assist with that.", "I'm sorry to hear that!",
    ...                     "```\\nI can't help with that\\n```"])
    >>> out["refusal_class"].tolist()
    ['full_refusal', 'compliance', 'compliance']
    >>> out["refusal_rule"].tolist()[0], out["words"].tolist()
    ('en_apology_inability', [7, 5, 7])
    >>> out["refusal_span"].tolist()
    ["sorry, but i can't", None, None]
    """
    if rules is None:
        rules = RULES
    index = responses.index if isinstance(responses, pd.Series) else pd.RangeIndex(len(responses))
    resp = _to_arrow_str(responses)
    n = len(resp)
    if models is None:
        mod = pa.nulls(n, type=pa.large_string())
    else:
        try:
            mod = pa.array(models, from_pandas=True)
            if isinstance(mod, pa.ChunkedArray):
                mod = mod.combine_chunks()
            mod = mod.cast(pa.large_string())
        except (TypeError, pa.ArrowException):
            mod = pa.array([m if isinstance(m, str) else None for m in models], type=pa.large_string())
    chars, words = lengths(resp)
    ascii_only = chars == pc.binary_length(resp).to_numpy(zero_copy_only=False)
    clean, first = _normalize(resp, ascii_only)
    # Only rows that match some rule's pattern (ignoring model globs) can get a rule.
    cand = np.zeros(n, dtype=bool)
    ga = np.zeros(n, dtype=bool)
    gate_open, gate_any = _gates(rules)
    try:
        if gate_open == "":
            cand[:] = True
        elif gate_open is not None:
            for gate in gate_open:
                cand |= pc.match_substring_regex(first, gate).to_numpy(zero_copy_only=False)
        if gate_any is not None:
            ga = pc.match_substring_regex(clean, gate_any).to_numpy(zero_copy_only=False)
            cand |= ga
        # the gate is exactly the built-in "anywhere" alternation when no user rule is "anywhere"
        any_exact = all(r in _BUILTIN for r in rules if r.position == "anywhere")
    except pa.ArrowException:  # a pattern Arrow's RE2 rejects: every row goes to DuckDB
        cand[:] = True
        any_exact = False
    rule_arr = np.full(n, None, dtype=object)
    span_arr = np.full(n, None, dtype=object)
    pivot = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(cand)
    if len(idx):
        take = pa.array(idx)
        src = pa.table({"rid": take, "model": mod.take(take), "clean": clean.take(take),
                        "ga": pa.array(ga[idx])})
        m = len(idx)
        if m >= 20_000:  # several record batches let DuckDB scan in parallel
            src = pa.Table.from_batches(src.to_batches(max_chunksize=max(10_000, m // 16)))
        con = _connection(m)
        try:
            con.register("src", src)
            res = con.execute(_build_sql(rules, any_exact)).fetchnumpy()  # binds once
        finally:
            con.unregister("src")
        got = np.array(np.ma.getdata(res["rule"]), dtype=object)
        got[np.ma.getmaskarray(res["rule"])] = None
        rule_arr[idx] = got
        sp = np.array(np.ma.getdata(res["span"]), dtype=object)
        sp[np.ma.getmaskarray(res["span"])] = None
        span_arr[idx] = sp
        pivot[idx] = np.asarray(res["pivot"], dtype=bool)
    klass = {r.name: r.klass for r in rules}
    rule = pd.Series(rule_arr, dtype=object)
    base = rule.map(klass).to_numpy(object)
    cls = np.where(rule.isna().to_numpy(), "compliance",
                   np.where((base == "full_refusal") & ~pivot, "full_refusal", "partial_refusal"))
    out = pd.DataFrame(
        {
            "chars": pd.Series(chars, index=index, dtype=np.int64),
            "words": pd.Series(words, index=index, dtype=np.int64),
            "refusal_class": pd.Series(cls, index=index, dtype="str"),
            "refusal_rule": pd.Series(rule.to_numpy(object), index=index, dtype=object),
            "refusal_span": pd.Series(span_arr, index=index, dtype=object),
        },
        index=index,
    )
    return out


def classify_text(text: str, model: str | None = None, rules: Sequence[RefusalRule] | None = None) -> tuple[str, str | None]:
    """Classify one response (convenience for tests and the CLI; batches use :func:`text_signals`).

    >>> classify_text("Lo siento, pero no puedo ayudarte con eso.")
    ('full_refusal', 'es_apology_inability')
    >>> classify_text("I cannot stress enough how important sleep is.")
    ('compliance', None)
    """
    out = text_signals([text], [model], rules)
    return out["refusal_class"].iat[0], out["refusal_rule"].iat[0]
