"""The refusal rules as the DuckDB statement they ran in before the RE2 engine (the reference).

Until 2026-11-30 ``monitor.signals.refusal`` applied the rules to the gated rows in one DuckDB
SQL statement, built here by :func:`_build_sql` (moved verbatim). The package now applies them
with RE2 patterns compiled once per process (``refusal._Engine``); this module keeps the old
statement so that tests (``tests/test_refusal_engine.py``) and the speed benchmark
(``benchmarks/refusal_quality.py --speed``) can compare the two on the same normalized rows.
Not used by the package.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from monitor.signals.refusal import (
    _BUILTIN,
    _OPENING_RE,
    OPENING_CHARS,
    _chunks,
    _connection,
    _never_empty,
    _text_signals,
)
from monitor.signals.refusal_rules import CLARIFICATION_PATTERN, LEAD, PIVOT_PATTERN, RULES, RefusalRule

_sql_cache: dict[tuple[tuple[RefusalRule, ...], bool], str] = {}


def _lit(s: str) -> str:
    """SQL string literal (DuckDB does not process backslashes in '...')."""
    return "'" + s.replace("'", "''") + "'"


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


def decide_duckdb(clean: pa.Array, mod: pa.Array, ga: np.ndarray, idx: np.ndarray, rules: Sequence[RefusalRule],
                  any_exact: bool, hits: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rule, span and pivot of the candidate rows ``idx``: the old DuckDB statement."""
    n = len(clean)
    rule_arr = np.full(n, None, dtype=object)
    span_arr = np.full(n, None, dtype=object)
    pivot = np.zeros(n, dtype=bool)
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
    return rule_arr[idx], span_arr[idx], pivot[idx]


def text_signals(responses: pd.Series | Sequence[str], models: Sequence[str | None] | None = None,
                 rules: Sequence[RefusalRule] | None = None) -> pd.DataFrame:
    """``refusal.text_signals`` with the old DuckDB statement as the rule step."""
    return _text_signals(responses, models, RULES if rules is None else rules, decide_duckdb)
