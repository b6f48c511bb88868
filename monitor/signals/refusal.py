"""Length and refusal signals, vectorized per batch (no per-event Python loop before the gate).

* ``chars`` / ``words``: numpy over the Arrow UTF-8 buffer of the whole batch (:func:`lengths`).
* refusal: Arrow compute kernels (RE2) normalize the head of every response; a gate (one
  alternation of the rule patterns per :data:`OPENING_CHUNK` opening rules, one of the
  "anywhere" rules) picks the rows some rule could match, and only those reach the rule engine
  (:class:`_Engine`): the rules as RE2 patterns (``google-re2``) compiled once per process and
  per rule list, applied row by row: user rules as an ordered chain, then the built-in opening
  rules and the built-in "anywhere" rules each as combined alternations whose capture group
  names the rule. The gate runs on the same compiled patterns for batches under
  :data:`GATE_COMPILED_ROWS` rows and in Arrow's vectorized kernel above (which compiles per
  call, a cost only large batches amortize). The engine decides as the DuckDB statement it
  replaced (kept in ``tests/refusal_reference.py``; property-tested equal).

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
import functools
import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import re2

from detectors._lazy import LazyModule

from .lowercase import lower_diff_class
from monitor.pool import later, run_all, threaded
from .refusal_rules import CLARIFICATION_PATTERN, LEAD, OPENING_CHARS, PIVOT_PATTERN, RULES, RefusalRule

if TYPE_CHECKING:  # pandas only for the DataFrame that text_signals hands out
    import duckdb
    import pandas as pd
else:  # DuckDB only where Arrow's lower() differs from it on non-ASCII text (detectors/_lazy.py)
    duckdb = LazyModule("duckdb")

__all__ = [
    "REFUSAL_CLASSES",
    "coerce_rule",
    "active_rules",
    "text_signals",
    "text_signal_columns",
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
#: The characters without which _CLEAN_RE cannot match (fences, inline code, block quotes and
#: the opening quote marks of :data:`_QUOTES`).
_CLEAN_CUE = r"[`~>\"\x{201e}\x{201c}\x{ab}\x{300c}\x{300e}]"
#: Only the first HEAD_CHARS characters of a response are normalized and searched by the
#: refusal rules ("anywhere" means "anywhere in the head"); this bounds the cost per event.
HEAD_CHARS = 2000
_LEAD = r"^[\s*#_>\-]+"

_WS_LUT = np.zeros(256, dtype=bool)
_WS_LUT[[0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F]] = True
_MB_LUT = np.zeros(256, dtype=bool)
_MB_LUT[[0xC2, 0xE1, 0xE2, 0xE3]] = True


def lengths(arr: pa.Array, chars: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Code points and whitespace-separated tokens (``len(s)``, ``len(s.split())``) per string.

    Vectorized over the Arrow UTF-8 buffer with numpy: a token starts at a non-whitespace
    code point that follows whitespace or the start of the string. Whitespace is Python's
    ``str.isspace()`` set. ``chars``: the code points, when the caller has them already.

    >>> c, w = lengths(pa.array(["a  b\u3000c", "", "  ", "héllo wörld"]))
    >>> c.tolist(), w.tolist()
    ([6, 0, 2, 11], [3, 0, 0, 2])
    """
    arr = pa.array(arr).cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    arr = pc.fill_null(arr, "") if arr.null_count else arr
    if chars is None:
        chars = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=arr.offset + n + 1)[arr.offset:]
    if n < 2 or offsets[-1] - offsets[0] <= WORDS_CHUNK_BYTES:
        return chars, _words(arr, chars)
    # Consecutive rows of about WORDS_CHUNK_BYTES each (a longer row alone).
    cuts = np.unique(np.concatenate([[0], np.searchsorted(offsets, np.arange(
        offsets[0], offsets[-1], WORDS_CHUNK_BYTES), side="right") - 1, [n]]))
    return chars, np.concatenate([_words(arr.slice(a, b - a), chars[a:b]) for a, b in zip(cuts[:-1], cuts[1:])])


#: Bytes of text per numpy pass of the word count: its temporary arrays then stay in the CPU's
#: cache, which makes the count about four times faster on 1.2 KB responses than one pass over
#: a batch (docs/BENCHMARKS.md, "Session 8").
WORDS_CHUNK_BYTES = 256 << 10


def _words(arr: pa.Array, chars: np.ndarray) -> np.ndarray:
    """The word count of :func:`lengths`, in one numpy pass over ``arr``'s bytes (large_string, no nulls)."""
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=arr.offset + n + 1)[arr.offset:]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
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
    # same whitespace status.) Inside a string, the starts are the whitespace -> other
    # transitions; the string's own start counts when its first byte is not whitespace.
    rel = (offsets - start).astype(np.int64)
    turns = np.flatnonzero(ws[:-1] > ws[1:]) + 1
    # (an empty string at a transition would count -1: it has none)
    words = np.maximum(np.searchsorted(turns, rel[1:], side="left") - np.searchsorted(turns, rel[:-1], side="right"), 0)
    some = np.flatnonzero(rel[1:] > rel[:-1])
    words[some] += ~ws[rel[:-1][some]]
    return words.astype(np.int64)



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
        _re(pattern)
    except re2.error as exc:
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
#: The rules this package ships (``_BUILTIN`` may be widened by tests): none matches an empty string.
_SHIPPED = frozenset(RULES)

def _on_rows(arr: pa.Array, mask: np.ndarray, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``fn`` (a row-wise kernel) applied to the rows of ``arr`` where ``mask`` is True only; the
    other rows are kept as they are. Each Arrow kernel is a full pass over what it is given, so
    a step that changes few rows runs on those rows alone.

    >>> _on_rows(pa.array(["a", "b", "c"]), np.array([True, False, True]), pc.utf8_upper).to_pylist()
    ['A', 'b', 'C']
    """
    if mask.all():
        return fn(arr)
    if not mask.any():
        return arr
    return pc.replace_with_mask(arr, pa.array(mask), fn(arr.take(pa.array(np.flatnonzero(mask)))))


def _first_bytes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(first byte, byte length) of every string of a large_string array (first byte 0 for "").

    >>> _first_bytes(pa.array(["ab", "", "é"], type=pa.large_string()))
    (array([ 97,   0, 195], dtype=uint8), array([2, 0, 2]))
    """
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=arr.offset + n + 1)[arr.offset:]
    size = np.diff(offsets)
    first = np.zeros(n, dtype=np.uint8)
    some = np.flatnonzero(size)
    if len(some):
        first[some] = np.frombuffer(bufs[2], dtype=np.uint8, count=int(offsets[-1]))[offsets[:-1][some]]
    return first, size


@functools.lru_cache(maxsize=1)
def _lead_bytes() -> np.ndarray:
    """Which first bytes of a text may start a match of :data:`_LEAD` (its RE2 character class
    read by RE2 itself on every ASCII byte; every byte >= 0x80 counts as "may")."""
    regex = _re(_LEAD)
    may = np.ones(256, dtype=bool)
    may[:128] = [_spans(regex, bytes([b]))[0][0] >= 0 for b in range(128)]
    return may


def _normalize(resp: pa.Array, ascii_only: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(normalized head, its first OPENING_CHARS code points) of every response.

    Arrow compute kernels (RE2, like DuckDB) applying the same steps in the same order as
    DuckDB's ``regexp_replace`` / ``lower`` would (see the module docstring). ``ascii_only``
    marks rows with no byte >= 0x80: no apostrophe to fold, no lower-case divergence, and
    ASCII lower-casing (a cheaper kernel) is exact. Each step runs only on the rows it can
    change (:func:`_on_rows`): cutting to HEAD_CHARS or OPENING_CHARS code points only on rows
    of more bytes than that, the clean-up only on rows holding one of its cues, the leading
    decoration only on rows whose first byte may start it.
    """
    size = pc.binary_length(resp).to_numpy(zero_copy_only=False)
    head = _on_rows(resp, size > HEAD_CHARS, lambda a: pc.utf8_slice_codeunits(a, 0, HEAD_CHARS))
    # Every alternative of _CLEAN_RE starts with (or, for block quotes, holds) one of these
    # characters: rows without any are left as they are, at the cost of one small DFA pass.
    marked = pc.match_substring_regex(head, _CLEAN_CUE).to_numpy(zero_copy_only=False)
    clean = _on_rows(head, marked, lambda a: pc.replace_substring_regex(a, _CLEAN_RE, " "))
    wide = np.flatnonzero(~ascii_only)
    if len(wide):
        sub = clean.take(pa.array(wide))
        for ch in _APOSTROPHES:
            sub = pc.replace_substring(sub, ch, "'")
        mask = np.zeros(len(clean), dtype=bool)
        mask[wide] = True
        low = pc.replace_with_mask(pc.ascii_lower(clean), pa.array(mask), pc.utf8_lower(sub))
        clean = pc.replace_with_mask(clean, pa.array(mask), sub)
    else:
        low = pc.ascii_lower(clean)
    diff = lower_diff_class() if len(wide) else ""
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
    first, _ = _first_bytes(low)
    clean = _on_rows(low, _lead_bytes()[first], lambda a: pc.replace_substring_regex(a, _LEAD, "", max_replacements=1))
    size = pc.binary_length(clean).to_numpy(zero_copy_only=False)
    return clean, _on_rows(clean, size > OPENING_CHARS, lambda a: pc.utf8_slice_codeunits(a, 0, OPENING_CHARS))


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
    """Alternations of the opening rules (one per :data:`OPENING_CHUNK` rules: the built-in
    ones first, in the chunks the engine uses, then the user rules) and one of every
    "anywhere" rule (model globs ignored): a row that matches none gets no rule, so only the
    others reach the rule engine, which skips the built-in chunks whose gate did not match.

    The opening alternation is matched on the first OPENING_CHARS code points of the
    normalized text, of which the opening is a prefix ending, when shorter, in a sentence
    end (not a word character): a match in the opening is a match there too, unless a
    pattern can assert the end of the text (``$``, ``\\z``) or ``\\B``; then "" (every row).
    """
    key = tuple(rules)
    if key not in _gate_cache:
        opening = ([r.pattern for r in rules if r.position == "opening" and r in _BUILTIN]
                   + [r.pattern for r in rules if r.position == "opening" and r not in _BUILTIN])
        anywhere = [r.pattern for r in rules if r.position == "anywhere"]
        n_builtin = sum(r.position == "opening" and r in _BUILTIN for r in rules)
        gate_open: list[str] | str | None = [
            "|".join(f"(?:{p})" for p in chunk)
            for part in (opening[:n_builtin], opening[n_builtin:]) for chunk in _chunks(part)] if opening else None
        if any("$" in p or "\\B" in p or "\\z" in p for p in opening):
            gate_open = ""
        gate_any = "|".join(f"(?:{p})" for p in anywhere) if anywhere else None
        _gate_cache[key] = (gate_open, gate_any)
    return _gate_cache[key]


#: Batches of fewer rows than this are gated by the RE2 objects compiled once per process, one
#: call per row; larger ones by Arrow's vectorized kernel, which compiles the gate patterns and
#: builds their DFA afresh on every call (15-25 ms for the built-in rules), a cost that a
#: batch of a few thousand rows amortizes. Crossover measured in docs/BENCHMARKS.md
#: ("Refusal engine"): 2,000-3,000 rows on short plain text, beyond 5,000 on the dev texts.
GATE_COMPILED_ROWS = 2_000


@functools.lru_cache(maxsize=64)
def _compiled_gates(gate_open: tuple[str, ...], gate_any: str | None) -> tuple[tuple[Any, ...], Any]:
    """The gate alternations compiled by RE2, once per process."""
    return tuple(_re(g) for g in gate_open), (None if gate_any is None else _re(gate_any))


def _matches(text: pa.Array, pattern: str) -> np.ndarray:
    """Which rows of ``text`` the RE2 ``pattern`` matches (Arrow's vectorized kernel)."""
    return pc.match_substring_regex(text, pattern).to_numpy(zero_copy_only=False)


def _gate(rules: Sequence[RefusalRule], clean: pa.Array, first: pa.Array, use_pool: bool = False
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """Which rows some rule could match (``cand``), which matched the "anywhere" gate
    (``ga``), which opening gates each row matched (``hits``: one row per gate; True also
    stands for "not tried"; None when unknown), and whether ``ga`` is exactly the built-in
    "anywhere" alternation (``any_exact``: no user rule is "anywhere"). ``use_pool``: run the
    Arrow passes on the thread pool (:mod:`.pool`)."""
    n = len(clean)
    cand = np.zeros(n, dtype=bool)
    ga = np.zeros(n, dtype=bool)
    hits: np.ndarray | None = None
    gate_open, gate_any = _gates(rules)
    any_exact = all(r in _BUILTIN for r in rules if r.position == "anywhere")
    if n < GATE_COMPILED_ROWS:
        opens, anyw = _compiled_gates(tuple(gate_open or ()), gate_any)
        if gate_open == "":
            cand[:] = True
        elif opens:
            hits = np.ones((len(opens), n), dtype=bool)
            matchers = [regex._regexp.Match for regex in opens]  # see _spans
            for i, text in enumerate(pc.cast(first, pa.large_binary()).to_pylist()):
                size = len(text)
                for k, match in enumerate(matchers):
                    if match(_UNANCHORED, text, 0, size)[0][0] >= 0:
                        cand[i] = True
                        break  # the later gates stay True: not tried
                    hits[k, i] = False
        if anyw is not None:
            match = anyw._regexp.Match
            ga = np.fromiter((match(_UNANCHORED, t, 0, len(t))[0][0] >= 0
                              for t in pc.cast(clean, pa.large_binary()).to_pylist()), dtype=bool, count=n)
            cand |= ga
        return cand, ga, hits, any_exact
    # Arrow's kernel, one pass per alternation; the passes are independent (on the pool when
    # ``use_pool``: each still runs once over every row, so each pattern is compiled once).
    texts = [(first, gate) for gate in (gate_open or ())] + ([(clean, gate_any)] if gate_any is not None else [])
    try:
        found = run_all([functools.partial(_matches, text, gate) for text, gate in texts], use_pool)
        if gate_open == "":
            cand[:] = True
        elif gate_open is not None:
            hits = np.stack(found[:len(gate_open)])
            cand |= hits.any(axis=0)
        if gate_any is not None:
            ga = found[-1]
            cand |= ga
    except pa.ArrowException:  # a pattern Arrow's RE2 rejects: every row goes to the rules
        cand[:] = True
        hits, any_exact = None, False
    return cand, ga, hits, any_exact


def _never_empty(pattern: str) -> bool:
    """True if the regex cannot match an empty string (its minimum width, as Python's regex
    parser reads it, is at least one character); False when unsure."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        return _parser.parse(pattern).getwidth()[0] >= 1
    except Exception:
        return False


# --------------------------------------------------------------------------- the rule engine
#: A decider maps the candidate rows ``idx`` of a batch (their normalized head ``clean``,
#: ``model``, whether the Arrow "anywhere" gate matched, ``ga``, and which opening gates
#: matched, ``hits``: one row per gate of :func:`_gates` and one column per candidate, or
#: None when unknown) to (rule, span, pivot) arrays of ``len(idx)``. :func:`_decide` is the
#: one the package uses.
Decider = Callable[[pa.Array, pa.Array, np.ndarray, np.ndarray, Sequence[RefusalRule], bool, "np.ndarray | None"],
                   tuple[np.ndarray, np.ndarray, np.ndarray]]


def _re(pattern: str) -> Any:
    """``pattern`` compiled by RE2 for UTF-8 bytes (the options DuckDB and Arrow use: ``.``
    does not match a newline, ``^``/``$`` anchor the text, case-sensitive). Raises
    ``re2.error`` on a pattern RE2 rejects."""
    return re2.compile(pattern.encode("utf-8"))


# google-re2's compiled object and its search anchor: the ``Match`` call below returns the
# byte spans of every group in one call, without building a match object (most of the cost of
# a search of a short text through the Python wrapper).
_UNANCHORED = re2._Anchor.UNANCHORED


def _spans(regex: Any, text: bytes) -> Sequence[tuple[int, int]]:
    """Byte spans of the groups of the first match (``(-1, -1)`` for a group that did not
    take part; the whole list starts with ``(-1, -1)`` when nothing matched).

    >>> _spans(_re("(a)|(b+)"), b"xbb")
    [(1, 3), (-1, -1), (1, 3)]
    """
    return regex._regexp.Match(_UNANCHORED, text, 0, len(text))


@dataclass(frozen=True)
class _Alternation:
    """Rules matched as one alternation, each rule one capture group (in rule order)."""

    regex: Any
    rules: tuple[RefusalRule, ...]

    @classmethod
    def of(cls, rules: Sequence[RefusalRule]) -> "_Alternation":
        return cls(_re("|".join(f"({r.pattern})" for r in rules)), tuple(rules))

    def first(self, text: bytes) -> tuple[int, bytes] | None:
        """The first rule (index) whose group matched non-empty, with its text; None when
        nothing matched; (-1, b"") when only empty groups did."""
        spans = _spans(self.regex, text)
        if spans[0][0] < 0:
            return None
        for i in range(1, len(spans)):
            s, e = spans[i]
            if e > s:
                return i - 1, text[s:e]
        return -1, b""


@dataclass(frozen=True)
class _Engine:
    """The rules of one rule list, compiled once per process (:func:`_engine`).

    It decides a row as the DuckDB statement it replaced did (``tests/refusal_reference.py``
    keeps that statement; the two are property-tested equal): user rules in order first (model
    globs, then their pattern), then the built-in opening rules (one alternation per
    :data:`OPENING_CHUNK` rules; the chunk whose matched text occurs first in the opening wins,
    ties to the earlier chunk), then, when no opening rule matched, the built-in "anywhere"
    rules as one alternation. A clarification request in the opening overrides every rule.
    """

    opening: Any
    clarify: Any
    pivot: Any
    lead: Any
    user: tuple[tuple[RefusalRule, Any], ...]
    chunks: tuple[_Alternation, ...]  # built-in opening rules that never match empty
    opening_all: _Alternation | None  # ... or all of them at once when one may match empty
    anywhere: _Alternation | None

    def span(self, rule: RefusalRule, text: bytes) -> bytes:
        """The reported span: a "lead" rule's preamble sentences are cut off."""
        if rule.pattern.startswith(LEAD):
            s, e = _spans(self.lead, text)[0]
            if s >= 0:
                return text[:s] + text[e:]
        return text

    def decide(self, clean: bytes, model: str | None, ga: bool, any_exact: bool,
               tried: Sequence[bool]) -> tuple[str | None, bytes | None, bool]:
        """(rule name, untrimmed span as UTF-8 bytes, pivot) of one normalized head; ``tried[k]``: may
        chunk ``k`` match (its gate matched the head)?"""
        opening = clean[: _spans(self.opening, clean)[0][1]]
        if len(opening) > OPENING_CHARS:  # bytes >= code points: cut by code points
            opening = opening.decode("utf-8")[:OPENING_CHARS].encode("utf-8")
        if _spans(self.clarify, opening)[0][0] >= 0:
            return None, None, False
        found: tuple[RefusalRule, bytes] | None = None
        decided = False
        for rule, regex in self.user:
            if rule.models and not (model is not None and any(_glob(model, g) for g in rule.models)):
                continue
            text = opening if rule.position == "opening" else clean
            s, e = _spans(regex, text)[0]
            if s >= 0:
                found, decided = (rule, text[s:e]), True
                break
        opened = False
        if not decided and self.chunks:
            best: tuple[int, RefusalRule, bytes] | None = None
            for alt, maybe in zip(self.chunks, tried):
                hit = alt.first(opening) if maybe else None
                if hit is None or hit[0] < 0:
                    continue
                pos = opening.find(hit[1])
                if best is None or pos < best[0]:
                    best = (pos, alt.rules[hit[0]], hit[1])
            if best is not None:
                found, decided, opened = (best[1], self.span(best[1], best[2])), True, True
        elif not decided and self.opening_all is not None:
            hit = self.opening_all.first(opening)
            if hit is not None:
                decided = True  # a match of empty groups only decides "no rule"
                if hit[0] >= 0:
                    rule = self.opening_all.rules[hit[0]]
                    found, opened = (rule, self.span(rule, hit[1])), True
        if not decided and not opened and self.anywhere is not None and (ga or not any_exact):
            hit = self.anywhere.first(clean)
            if hit is not None and hit[0] >= 0:
                rule = self.anywhere.rules[hit[0]]
                found = (rule, self.span(rule, hit[1]))
        if found is None:
            return None, None, False
        return found[0].name, found[1], _spans(self.pivot, clean)[0][0] >= 0


#: What the reported span is trimmed of: Unicode's space separators (category Zs), as
#: DuckDB's ``trim`` did in the statement the engine replaced (not tabs or newlines).
_SPACE_SEPARATORS = "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"

_engine_cache: dict[tuple[RefusalRule, ...], _Engine] = {}
_engine_lock = threading.Lock()


def _engine(rules: Sequence[RefusalRule]) -> _Engine:
    """The compiled engine of ``rules``: built on first use, then kept for the process."""
    key = tuple(rules)
    eng = _engine_cache.get(key)
    if eng is None:
        user = tuple(r for r in rules if r not in _BUILTIN)
        opening = [r for r in rules if r in _BUILTIN and r.position == "opening"]
        anywhere = [r for r in rules if r in _BUILTIN and r.position == "anywhere"]
        # The shipped rules never match an empty string (a test checks it): parsing their
        # patterns with Python's parser to see that would cost 0.2 s at each process's first batch.
        chunked = bool(opening) and all(r in _SHIPPED or _never_empty(r.pattern) for r in opening)
        eng = _Engine(
            opening=_re(_OPENING_RE),
            clarify=_re(CLARIFICATION_PATTERN),
            pivot=_re(PIVOT_PATTERN),
            lead=_re(LEAD),
            user=tuple((r, _re(r.pattern)) for r in user),
            chunks=tuple(_Alternation.of(c) for c in _chunks(opening)) if chunked else (),
            opening_all=_Alternation.of(opening) if opening and not chunked else None,
            anywhere=_Alternation.of(anywhere) if anywhere else None,
        )
        with _engine_lock:
            _engine_cache[key] = eng
    return eng


@functools.lru_cache(maxsize=4096)
def _glob(model: str, glob: str) -> bool:
    """``model GLOB glob`` as DuckDB evaluates it (one query per distinct pair, cached).

    >>> _glob("acme-chat", "acme-*"), _glob("other", "acme-*")
    (True, False)
    """
    con = duckdb.connect(":memory:")
    try:
        return bool(con.execute("SELECT ? GLOB ?", [model, glob]).fetchone()[0])
    finally:
        con.close()


def _decide(clean: pa.Array, mod: pa.Array, ga: np.ndarray, idx: np.ndarray, rules: Sequence[RefusalRule],
            any_exact: bool, hits: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rule, span and pivot of the candidate rows ``idx`` with the compiled engine (RE2)."""
    eng = _engine(rules)
    take = pa.array(idx)
    texts = pc.cast(clean.take(take), pa.large_binary()).to_pylist()
    models = mod.take(take).to_pylist()
    m = len(idx)
    rule, span, pivot = np.full(m, None, dtype=object), np.full(m, None, dtype=object), np.zeros(m, dtype=bool)
    every = (True,) * len(eng.chunks)
    tried = every if hits is None else hits[: len(eng.chunks)].T.tolist()
    for k, (text, model, g) in enumerate(zip(texts, models, ga[idx].tolist())):
        r, s, p = eng.decide(text, model, g, any_exact, every if hits is None else tried[k])
        if r is not None:
            rule[k], span[k], pivot[k] = r, s.decode("utf-8").strip(_SPACE_SEPARATORS), p
    return rule, span, pivot


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
        arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type)):
            raise TypeError
        arr = arr.cast(pa.large_string())
    except (TypeError, pa.ArrowException):
        arr = pa.array([v if isinstance(v, str) else ("" if v is None or v != v else str(v)) for v in values],
                       type=pa.large_string())
    return pc.fill_null(arr, "")


def _to_arrow_models(models: Any, n: int) -> pa.Array:
    """The batch's model names as a large_string Arrow array (null where unknown)."""
    if models is None:
        return pa.nulls(n, type=pa.large_string())
    try:
        mod = models if isinstance(models, (pa.Array, pa.ChunkedArray)) else pa.array(models, from_pandas=True)
        if isinstance(mod, pa.ChunkedArray):
            mod = mod.combine_chunks()
        return mod.cast(pa.large_string())
    except (TypeError, pa.ArrowException):
        return pa.array([m if isinstance(m, str) else None for m in models], type=pa.large_string())


def text_signals(
    responses: pd.Series | Sequence[str],
    models: pd.Series | Sequence[str | None] | None = None,
    rules: Sequence[RefusalRule] | None = None,
) -> pd.DataFrame:
    """Length and refusal signals for a batch: numpy and Arrow kernels over the whole batch,
    then the compiled rules (RE2, compiled once per process) over the rows some rule could
    match (see the module docstring).

    Returns a DataFrame (same index as ``responses`` when it is a Series) with ``chars``
    (Unicode code points), ``words`` (whitespace-separated tokens, like ``str.split()``),
    ``refusal_class``, ``refusal_rule`` (the first matching rule, None for compliance) and
    ``refusal_span`` (the text that rule matched, in the normalized lower-case form it was
    matched in; None for compliance). :func:`text_signal_columns` gives the same columns as
    arrays, without pandas.

    >>> out = text_signals(["Sorry, but I can't assist with that.", "I'm sorry to hear that!",
    ...                     "```\\nI can't help with that\\n```"])
    >>> out["refusal_class"].tolist()
    ['full_refusal', 'compliance', 'compliance']
    >>> out["refusal_rule"].tolist()[0], out["words"].tolist()
    ('en_apology_inability', [7, 5, 7])
    >>> out["refusal_span"].tolist()
    ["sorry, but i can't", None, None]
    """
    return _text_signals(responses, models, RULES if rules is None else rules, _decide)


def text_signal_columns(
    responses: pa.Array | Sequence[str],
    models: pa.Array | Sequence[str | None] | None = None,
    rules: Sequence[RefusalRule] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`text_signals` as numpy columns (no pandas): the sidecar's and ingest's batch path.

    ``chars`` and ``words`` are int64 arrays; ``refusal_class``, ``refusal_rule`` and
    ``refusal_span`` are object arrays (None where no rule matched).

    >>> cols = text_signal_columns(pa.array(["I'm unable to help with that.", "Sure: 4."]))
    >>> cols["refusal_class"].tolist(), cols["chars"].tolist()
    (['full_refusal', 'compliance'], [29, 8])
    """
    return _signal_columns(responses, models, RULES if rules is None else rules, _decide)


def _text_signals(
    responses: pd.Series | Sequence[str],
    models: pd.Series | Sequence[str | None] | None,
    rules: Sequence[RefusalRule],
    decide: Decider,
) -> pd.DataFrame:
    """:func:`text_signals` with the rules applied to the gated rows by ``decide``."""
    import pandas as pd

    index = responses.index if isinstance(responses, pd.Series) else pd.RangeIndex(len(responses))
    cols = _signal_columns(responses, models, rules, decide)
    return pd.DataFrame(
        {
            "chars": pd.Series(cols["chars"], index=index, dtype=np.int64),
            "words": pd.Series(cols["words"], index=index, dtype=np.int64),
            "refusal_class": pd.Series(cols["refusal_class"], index=index, dtype="str"),
            "refusal_rule": pd.Series(cols["refusal_rule"], index=index, dtype=object),
            "refusal_span": pd.Series(cols["refusal_span"], index=index, dtype=object),
        },
        index=index,
    )


def _signal_columns(responses: Any, models: Any, rules: Sequence[RefusalRule], decide: Decider,
                    use_pool: bool | None = None) -> dict[str, np.ndarray]:
    """The signal columns of a batch, with the rules applied to the gated rows by ``decide``.

    ``use_pool`` (default: :func:`~.pool.threaded` of the batch size): the word count runs on
    the thread pool beside the normalization, and the gate's passes beside each other; each
    kernel still runs once over the whole batch, so the columns are those of one thread.
    """
    resp = _to_arrow_str(responses)
    n = len(resp)
    use_pool = threaded(n) if use_pool is None else use_pool
    chars = pc.utf8_length(resp).to_numpy(zero_copy_only=False).astype(np.int64)
    words = later(lambda: lengths(resp, chars)[1], use_pool)
    ascii_only = chars == pc.binary_length(resp).to_numpy(zero_copy_only=False)
    clean, first = _normalize(resp, ascii_only)
    # Only rows that match some rule's pattern (ignoring model globs) can get a rule.
    cand, ga, hits, any_exact = _gate(rules, clean, first, use_pool)
    rule_arr = np.full(n, None, dtype=object)
    span_arr = np.full(n, None, dtype=object)
    pivot = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(cand)
    if len(idx):
        mod = _to_arrow_models(models, n)
        rule_arr[idx], span_arr[idx], pivot[idx] = decide(clean, mod, ga, idx, rules, any_exact,
                                                           None if hits is None else hits[:, idx])
    klass = {r.name: r.klass for r in rules}
    cls = np.full(n, "compliance", dtype=object)
    for k in idx:
        if rule_arr[k] is not None:
            cls[k] = "full_refusal" if klass.get(rule_arr[k]) == "full_refusal" and not pivot[k] else "partial_refusal"
    return {"chars": chars, "words": words(), "refusal_class": cls, "refusal_rule": rule_arr,
            "refusal_span": span_arr}


def classify_text(text: str, model: str | None = None, rules: Sequence[RefusalRule] | None = None) -> tuple[str, str | None]:
    """Classify one response (convenience for tests and the CLI; batches use :func:`text_signals`).

    >>> classify_text("Lo siento, pero no puedo ayudarte con eso.")
    ('full_refusal', 'es_apology_inability')
    >>> classify_text("I cannot stress enough how important sleep is.")
    ('compliance', None)
    """
    out = text_signals([text], [model], rules)
    return out["refusal_class"].iat[0], out["refusal_rule"].iat[0]
