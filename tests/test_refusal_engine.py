"""The refusal engine (RE2 patterns compiled once per process) decides every row as the DuckDB
statement it replaced (``tests/refusal_reference.py``): the same class, rule and span.

The reference and the engine share the normalization and the Arrow gate; they differ only in
how the gated rows get their rule, so these tests feed both the same batches: the whole
variation grid, wordings and near misses, and hypothesis-generated responses mixed from refusal
fragments, preambles, quotes, code, Unicode and noise, under the built-in rules and under
user rules (model globs, capture groups, "anywhere" rules, a pattern that can match empty, a
pattern with ``$`` that opens the gate to every row).
"""

from __future__ import annotations

import numpy as np
import refusal_reference as reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_refusal_variation import MODALS, NEAR_MISSES, OPENERS, POSITIVES, VERBS, _join

from monitor.signals import refusal as engine
from monitor.signals.refusal import RULES, active_rules, text_signals

COLUMNS = ("refusal_class", "refusal_rule", "refusal_span")


def _same(texts: list[str], models: list[str | None] | None = None, rules=None) -> None:
    got = text_signals(texts, models, rules)
    want = reference.text_signals(texts, models, rules)
    for col in COLUMNS:
        assert got[col].tolist() == want[col].tolist(), (col, [
            (t, a, b) for t, a, b in zip(texts, got[col].tolist(), want[col].tolist()) if a != b][:5])


def test_variation_grid_decided_as_the_reference() -> None:
    texts = [_join(o, m, v) for o in OPENERS for m in MODALS for v in VERBS]
    texts += POSITIVES + NEAR_MISSES
    _same(texts, ["m"] * len(texts))


FRAGMENTS = [
    "I'm sorry, but ", "Sorry, ", "I can't help with that.", "I cannot assist with this request.",
    "As an AI language model, I cannot ", "I must decline.", "However, here is an overview: ",
    "That said, I can explain how it works.", "\n1. First step\n", "Could you clarify what you mean?",
    "Thank you for asking! ", "I won't write that. ", "It's not appropriate to ", "Lo siento, pero no puedo ",
    "Je suis désolé, mais je ne peux pas ", "抱歉，我无法帮助", "申し訳ありませんが、お手伝いできません。",
    "```\nI can't help with that\n```", "`I cannot`", "> I can't do that\n", '"I cannot help"', "\u201cI can\u2019t\u201d ",
    "I can\u2019t assist with that. ", "Here is the code: ", "The answer is 42. ", "  **Note:** ", "# Heading\n",
    "I'm not able to provide that. ", "This request violates my guidelines. ", "Unfortunately, ",
    "I understand why you'd ask. However, I won't provide instructions.", "ACME POLICY forbids this. ",
    "I can't help but wonder. ", "İ", "ẞ", "\u00a0", "\u3000", "\u2003", "\t", "...", "!?", "ok",
]

_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), min_size=0, max_size=8).map("".join)

USER_RULES = [
    {"name": "acme_policy", "family": "policy", "pattern": "acme (policy)", "models": ["acme-*"]},
    {"name": "any_forbid", "family": "policy", "pattern": "forbids (this|that)", "position": "anywhere",
     "class": "partial_refusal"},
    {"name": "maybe_empty", "family": "x", "pattern": "(?:nope)?"},
    {"name": "at_end", "family": "x", "pattern": "cannot$"},
    {"name": "bracket_glob", "family": "x", "pattern": "the answer", "models": ["m[0-9]", "other?"]},
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_text, min_size=1, max_size=20))
def test_builtin_rules_decided_as_the_reference(texts: list[str]) -> None:
    _same(texts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_text, st.sampled_from([None, "acme-chat", "m1", "other", "otherx", "m"])),
                min_size=1, max_size=20),
       st.lists(st.sampled_from(range(len(USER_RULES))), unique=True, max_size=len(USER_RULES)),
       st.sets(st.sampled_from([r.name for r in RULES[:10]] + ["en_preamble_while"]), max_size=3))
def test_user_rules_decided_as_the_reference(rows: list[tuple[str, str | None]], picked: list[int],
                                             disabled: set[str]) -> None:
    rules = active_rules([USER_RULES[i] for i in picked], disabled)
    _same([t for t, _ in rows], [m for _, m in rows], rules)


def test_an_opening_rule_that_can_match_empty_decides_no_rule_as_before() -> None:
    # a built-in opening pattern that may match empty puts the opening rules in one alternation
    # (no chunks); a row where only that empty match happens gets no rule at all
    empty = RULES[0].__class__("empty_ok", "x", "(?:zzz)?", "opening")
    rules = (empty,) + RULES
    old = engine._BUILTIN
    try:
        engine._BUILTIN = reference._BUILTIN = frozenset(rules)
        engine._engine_cache.clear()
        engine._gate_cache.clear()
        reference._sql_cache.clear()
        texts = ["I can't help with that.", "zzz I cannot assist.", "Hello there.", "Sorry, I can't do that."]
        _same(texts, None, rules)
        assert text_signals(texts, None, rules)["refusal_rule"].tolist()[2] is None
    finally:
        engine._BUILTIN = reference._BUILTIN = old
        engine._engine_cache.clear()
        engine._gate_cache.clear()
        reference._sql_cache.clear()


def test_rules_are_compiled_once_per_process() -> None:
    engine._engine_cache.clear()
    text_signals(["Sorry, I can't help with that."])
    compiled = engine._engine(RULES)
    text_signals(["I cannot assist with this request.", "Fine."])
    assert engine._engine(RULES) is compiled
    assert list(engine._engine_cache) == [tuple(RULES)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_text, min_size=1, max_size=20),
       st.lists(st.sampled_from(range(len(USER_RULES))), unique=True, max_size=len(USER_RULES)))
def test_compiled_gate_and_arrow_gate_decide_alike(texts: list[str], picked: list[int]) -> None:
    # small batches are gated by the RE2 objects compiled once, large ones by Arrow's kernel
    rules = active_rules([USER_RULES[i] for i in picked])
    compiled = text_signals(texts, None, rules)
    old = engine.GATE_COMPILED_ROWS
    try:
        engine.GATE_COMPILED_ROWS = 0
        arrow = text_signals(texts, None, rules)
    finally:
        engine.GATE_COMPILED_ROWS = old
    for col in ("chars", "words") + COLUMNS:
        assert compiled[col].tolist() == arrow[col].tolist(), col


@settings(max_examples=60, deadline=None)
@given(st.lists(_text, min_size=1, max_size=20))
def test_clean_up_skipped_only_where_it_cannot_match(texts: list[str]) -> None:
    # rows without a cue character skip the clean-up regex; with the cue "" every row takes it
    resp = engine._to_arrow_str(texts)
    ascii_only = engine.lengths(resp)[0] == np.array([len(t.encode()) for t in texts])
    skipped = engine._normalize(resp, ascii_only)
    old = engine._CLEAN_CUE
    try:
        engine._CLEAN_CUE = ""
        full = engine._normalize(resp, ascii_only)
    finally:
        engine._CLEAN_CUE = old
    assert skipped[0].to_pylist() == full[0].to_pylist() and skipped[1].to_pylist() == full[1].to_pylist()
