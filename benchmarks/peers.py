"""Small windows beside a peer: detection and A/A rates of llm-monitor and Evidently (issue 17).

Three changes, each between two real (or generated) sources, drawn down to ``n`` events a window:

* ``length``: non-refusal answers of two models (XSTest dev set, /work/shared/data/refusal_dev_xstest.jsonl,
  ``full_compliance`` rows: gpt4 -> mistralguard, median 728 -> 522 chars);
* ``refusal``: both models on XSTest's *safe* prompts (gpt4 refuses 8%, mistralguard 19%, human labels);
* ``structured``: invoice extraction outputs from the demo generator (``monitor.demo._invoice``):
  2% failures of every kind -> 2% plus 12 pp JSON-invalid (truncated, Python literal, not JSON, fenced).

Each draw samples (with replacement) one baseline window and two current windows per change, one
unchanged (A/A) and one changed. This project runs the way ``check`` does: per-event signals
(``monitor.signals.derive_signals``), sufficient statistics per segment (a segment per change),
``compare_length`` / ``compare_rate`` for every metric, then ``apply_policy`` over the whole run (BH
over all findings of the three segments); a change run changes one segment and leaves the other two
unchanged. Evidently 0.7 (its own virtual environment, created under ``benchmarks/.peers-venv`` when
missing) gets the text descriptors TextLength, IsValidJSON and Contains(refusal phrases) and then
DataDriftPreset with its defaults (per column K-S or Z-test, p < 0.05).

"Matched" rates, per kind of change and on equal terms: each tool's score for a change is its own
p-value for that change's metric in that segment (ours: the finding's p-value, the smaller of
``json_invalid_rate`` and ``schema_violation_rate`` for structured output; Evidently: the column's drift
p-value), the threshold is set on the A/A p-values of the same draws so that the A/A alarm rate is exactly
``--matched`` (default 0.05, Evidently's nominal level), randomizing at a tied p-value (``matched_rate``), and
the detection rate is read at it. "Defaults": our alerts after ``apply_policy`` (BH over the whole run,
alpha 0.01) for that metric and segment; Evidently's p < 0.05. Evidently's answers are cached by the job's
content in ``benchmarks/.peers-venv/cache.json`` (the same draws give the same answer).

    python benchmarks/peers.py                     # n = 50 100 200 400, 50 draws (Evidently's answers are cached)
    python benchmarks/peers.py --n 50 100 --draws 200   # 668 s with Evidently cached, machine load about 10
    python benchmarks/peers.py --draws 10 --n 50   # smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.histogram import IntHistogram  # noqa: E402
from detectors.policy import PolicyConfig, apply_policy, compare_length, compare_rate  # noqa: E402
from monitor.demo import INVOICE_SCHEMA, _invoice  # noqa: E402
from monitor.signals import derive_signals  # noqa: E402

XSTEST = ROOT.parent / "shared" / "data" / "refusal_dev_xstest.jsonl"
VENV = ROOT / "benchmarks" / ".peers-venv"
CHANGES = ("length", "refusal", "structured")
METRIC_OF = {"length": ("response_length",), "refusal": ("refusal_rate",),
             "structured": ("json_invalid_rate", "schema_violation_rate")}
COLUMN_OF = {"length": "length", "refusal": "refusal", "structured": "json_valid"}
REFUSAL_PHRASES = ["I'm sorry", "I am sorry", "I apologize", "I can't", "I cannot", "I won't", "As an AI",
                   "I'm not able", "I am not able", "I'm unable", "I am unable", "not appropriate"]
JSON_INVALID = {"not_json", "truncated", "python_literal", "fenced"}  # fenced counts in strict mode

EVIDENTLY_RUNNER = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from evidently import Dataset, DataDefinition, Report
from evidently.presets import DataDriftPreset
from evidently.descriptors import TextLength, IsValidJSON, Contains
jobs = json.load(open(sys.argv[1]))
phrases = jobs["phrases"]
def ds(w):
    n = max(len(w["length"]), len(w["refusal"]), len(w["json"]))
    df = pd.DataFrame({k: w[k] for k in ("length", "refusal", "json")})
    return Dataset.from_pandas(df, data_definition=DataDefinition(text_columns=["length", "refusal", "json"]),
        descriptors=[TextLength("length", alias="length_chars"), Contains("refusal", items=phrases, alias="refusal_phrase"),
                     IsValidJSON("json", alias="json_valid")])
out = []
for job in jobs["jobs"]:
    snap = Report([DataDriftPreset(columns=["length_chars", "refusal_phrase", "json_valid"])]).run(ds(job["cur"]), ds(job["ref"]))
    res = {}
    for m in snap.dict()["metrics"]:
        cfg = m["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            res[cfg["column"]] = {"p": float(m["value"]), "threshold": float(cfg["threshold"]), "method": cfg["method"]}
    out.append(res)
json.dump(out, open(sys.argv[2], "w"))
"""


# --------------------------------------------------------------------------- pools
def _pools(seed: int) -> dict[str, dict[str, pd.DataFrame]]:
    rows = [json.loads(line) for line in XSTEST.open()]
    df = pd.DataFrame(rows)
    rng = np.random.default_rng(seed)

    def invoices(n: int, invalid_extra: float) -> pd.DataFrame:
        kinds_all = ["fenced", "truncated", "python_literal", "schema_violation", "not_json"]
        bodies = []
        for i in range(n):
            u = rng.random()
            if u < 0.02:
                kind = str(rng.choice(kinds_all))
            elif u < 0.02 + invalid_extra:
                kind = str(rng.choice(["fenced", "truncated", "python_literal", "not_json"]))
            else:
                kind = None
            bodies.append(_invoice(rng, i, kind))
        return pd.DataFrame({"response": [b[0] for b in bodies], "finish_reason": [b[1] for b in bodies],
                             "schema": [json.dumps(INVOICE_SCHEMA)] * n, "model": "extractor"})

    comp = df[df.label_refusal == "full_compliance"]
    safe = df[df.prompt_safe]
    pools = {
        "length": {"base": comp[comp.model == "gpt4"], "changed": comp[comp.model == "mistralguard"]},
        "refusal": {"base": safe[safe.model == "gpt4"], "changed": safe[safe.model == "mistralguard"]},
        "structured": {"base": invoices(2000, 0.0), "changed": invoices(2000, 0.12)},
    }
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for change, sides in pools.items():
        out[change] = {}
        for side, frame in sides.items():
            frame = frame.reset_index(drop=True)
            cols = {"response": frame["response"], "model": frame.get("model")}
            for c in ("finish_reason", "schema"):
                if c in frame:
                    cols[c] = frame[c]
            sig = derive_signals(pd.DataFrame(cols))
            frame = frame.assign(refusal=sig["refusal"].to_numpy(bool), parse_status=sig["parse_status"].to_numpy(object),
                                 chars=frame["response"].str.len().to_numpy(np.int64))
            out[change][side] = frame
    return out


# --------------------------------------------------------------------------- ours
def _stats(frame: pd.DataFrame, expects_json: bool) -> dict:
    ref = frame["refusal"].to_numpy(bool)
    st = frame["parse_status"].to_numpy(object)
    s = {"n": len(frame), "refusals": int(ref.sum()), "length": IntHistogram.from_samples(frame["chars"].to_numpy()[~ref])}
    if expects_json:
        invalid = np.isin(st, list(JSON_INVALID))
        s.update(json_n=len(frame), json_invalid=int(invalid.sum()), parsed=int((~invalid).sum()),
                 schema_violation=int((st == "schema_violation").sum()))
    return s


def _segment_findings(route: str, b: dict, c: dict, policy: PolicyConfig) -> list:
    seg = {"route": route}
    fs = [compare_length(seg, b["length"], c["length"], policy, events_baseline=b["n"], events_current=c["n"]),
          compare_rate("refusal_rate", seg, b["refusals"], b["n"], c["refusals"], c["n"], policy)]
    if "json_n" in b:
        fs += [compare_rate("parse_failure_rate", seg, b["json_invalid"] + b["schema_violation"], b["json_n"],
                            c["json_invalid"] + c["schema_violation"], c["json_n"], policy),
               compare_rate("json_invalid_rate", seg, b["json_invalid"], b["json_n"], c["json_invalid"], c["json_n"], policy),
               compare_rate("schema_violation_rate", seg, b["schema_violation"], b["parsed"],
                            c["schema_violation"], c["parsed"], policy)]
    return fs


# --------------------------------------------------------------------------- matching
def matched_rate(aa_scores, chg_scores, rate: float) -> tuple[float, float]:
    """Detection rate at false-alarm rate ``rate`` on the A/A scores (p-values: small = alarm).

    The Neyman-Pearson randomized threshold: alarm when ``p < t``, and with probability ``g`` when
    ``p == t``, with ``t`` and ``g`` chosen so that the A/A alarm rate is exactly ``rate``.  A test
    with discrete p-values (an exact test at one failure a window) is then compared at the same
    false-alarm rate as a continuous one, instead of at the last atom below ``rate`` (which can
    sit far below it).  Returns ``(detection rate, A/A rate)``; the detection rate is the expected
    rate of the randomized rule, i.e. the ROC curve interpolated linearly at ``rate``.

    Example:
        >>> matched_rate([0.5, 0.5, 1.0, 1.0], [0.5, 0.01, 0.01, 1.0], 0.25)
        (0.625, 0.25)
        >>> matched_rate([0.2, 0.4, 0.6, 0.8], [0.1, 0.3, 0.5, 0.7], 0.25)
        (0.5, 0.25)
    """

    aa = np.sort(np.nan_to_num(np.asarray(aa_scores, dtype=float), nan=1.0))
    chg = np.nan_to_num(np.asarray(chg_scores, dtype=float), nan=1.0)
    for t in np.unique(aa):
        below, at = float(np.mean(aa < t)), float(np.mean(aa == t))
        if below <= rate < below + at or t == aa[-1]:
            g = min(1.0, (rate - below) / at)
            return float(np.mean(chg < t) + g * np.mean(chg == t)), below + g * at
    return float(np.mean(chg <= 1.0)), 1.0


def _score(findings: list, metrics: set, route: str) -> float:
    """The p-value of a change's own metric in its segment (the smaller of two for structured output)."""
    ps = [f.p_value for f in findings if f.metric in metrics and f.segment["route"] == route]
    return min([p if p is not None and math.isfinite(p) else 1.0 for p in ps], default=1.0)


# --------------------------------------------------------------------------- main
def run(ns: list[int], draws: int, seed: int, matched: float) -> dict:
    pools = _pools(seed)
    rng = np.random.default_rng(seed + 1)
    policy = PolicyConfig()
    results: dict = {}
    ev_jobs, ev_index = [], []
    timing = []
    for n in ns:
        ours = {"aa_any": 0, "untested": 0, "tested": 0,
                **{ch: {"aa_p": [], "chg_p": [], "aa_alert": 0, "chg_alert": 0} for ch in CHANGES}}
        for d in range(draws):
            win = {}
            for change in CHANGES:
                base, changed = pools[change]["base"], pools[change]["changed"]
                win[change] = {k: src.iloc[rng.integers(0, len(src), n)]
                               for k, src in (("ref", base), ("aa", base), ("chg", changed))}
            stats = {ch: {k: _stats(w, ch == "structured") for k, w in win[ch].items()} for ch in CHANGES}
            t0 = time.perf_counter()
            seg_aa = {ch: _segment_findings(ch, stats[ch]["ref"], stats[ch]["aa"], policy) for ch in CHANGES}
            aa = apply_policy([f for ch in CHANGES for f in seg_aa[ch]], policy)
            timing.append((time.perf_counter() - t0, len(aa)))
            ours["tested"] += sum(f.testable for f in aa)
            ours["untested"] += sum(not f.testable for f in aa)
            ours["aa_any"] += any(f.alert for f in aa)
            for ch in CHANGES:
                metrics = set(METRIC_OF[ch])
                run_fs = apply_policy([f for o in CHANGES for f in (
                    _segment_findings(o, stats[o]["ref"], stats[o]["chg"], policy) if o == ch else seg_aa[o])], policy)
                o = ours[ch]
                o["aa_p"].append(_score(aa, metrics, ch))
                o["chg_p"].append(_score(run_fs, metrics, ch))
                o["aa_alert"] += any(f.alert for f in aa if f.metric in metrics and f.segment["route"] == ch)
                o["chg_alert"] += any(f.alert for f in run_fs if f.metric in metrics and f.segment["route"] == ch)

            def texts(kind: str) -> dict:
                return {"length": win["length"][kind]["response"].tolist(), "refusal": win["refusal"][kind]["response"].tolist(),
                        "json": win["structured"][kind]["response"].tolist()}
            ev_jobs.append({"ref": texts("ref"), "cur": texts("aa")}); ev_index.append((n, d, "aa"))
            ev_jobs.append({"ref": texts("ref"), "cur": texts("chg")}); ev_index.append((n, d, "chg"))
        results[n] = ours

    table: dict = {}
    for n, ours in results.items():
        for ch in CHANGES:
            o = ours[ch]
            det, aa_rate = matched_rate(o["aa_p"], o["chg_p"], matched)
            table[(n, ch, "ours")] = {"default": o["chg_alert"] / draws, "aa_default": o["aa_alert"] / draws,
                                      "matched": det, "aa_matched": aa_rate}
        table[(n, "run", "ours")] = {"aa_any": ours["aa_any"] / draws, "untested": ours["untested"], "tested": ours["tested"]}

    ev = _evidently(ev_jobs)
    for n in ns:
        for ch in CHANGES:
            col = {"length": "length_chars", "refusal": "refusal_phrase"}.get(ch, COLUMN_OF[ch])
            aa_p = np.array([ev[i][col]["p"] for i, (nn, d, k) in enumerate(ev_index) if nn == n and k == "aa"])
            ch_p = np.array([ev[i][col]["p"] for i, (nn, d, k) in enumerate(ev_index) if nn == n and k == "chg"])
            aa_p, ch_p = np.nan_to_num(aa_p, nan=1.0), np.nan_to_num(ch_p, nan=1.0)
            det, aa_rate = matched_rate(aa_p, ch_p, matched)
            table[(n, ch, "evidently")] = {"default": float(np.mean(ch_p < 0.05)), "aa_default": float(np.mean(aa_p < 0.05)),
                                           "matched": det, "aa_matched": aa_rate}
        aa_any = np.mean([any(v["p"] < 0.05 for v in ev[i].values()) for i, (nn, d, k) in enumerate(ev_index)
                          if nn == n and k == "aa"])
        table[(n, "run", "evidently")] = {"aa_any": float(aa_any)}
    per_run = np.array([t for t, _ in timing])
    return {"table": table, "ns": ns, "draws": draws, "matched": matched,
            "ours_compare_seconds_per_run": {"median": float(np.median(per_run)), "max": float(per_run.max()),
                                             "findings": int(np.median([k for _, k in timing]))}}


def _job_key(job: dict) -> str:
    return hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()


def _evidently(jobs: list[dict]) -> list[dict]:
    """Evidently's per-column drift p-values for each job, cached by the job's content (same draws, same answer)."""
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {VENV} (pip install evidently 'pandas<3') ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "evidently", "pandas<3"], check=True)
    cache_file = VENV / "cache.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    keys = [_job_key(j) for j in jobs]
    todo = sorted({k: j for k, j in zip(keys, jobs) if k not in cache}.items())
    if todo:
        tmp, out = VENV / "jobs.json", VENV / "out.json"
        tmp.write_text(json.dumps({"phrases": REFUSAL_PHRASES, "jobs": [j for _, j in todo]}))
        subprocess.run([str(py), "-c", EVIDENTLY_RUNNER, str(tmp), str(out)], check=True)
        cache.update(zip([k for k, _ in todo], json.loads(out.read_text())))
        cache_file.write_text(json.dumps(cache))
    return [cache[k] for k in keys]


def render(res: dict) -> str:
    t = res["table"]
    lines = [f"{res['draws']} draws per n; matched = each tool's p-value threshold (randomized at ties) giving A/A rate {res['matched']} on the same draws.",
             "", "| change | n | ours, defaults (A/A) | Evidently, defaults (A/A) | ours at matched (A/A) | Evidently at matched (A/A) |",
             "|---|---|---|---|---|---|"]
    for ch in CHANGES:
        for n in res["ns"]:
            o, e = t[(n, ch, "ours")], t[(n, ch, "evidently")]
            lines.append(f"| {ch} | {n} | {o['default']:.2f} ({o['aa_default']:.2f}) | {e['default']:.2f} ({e['aa_default']:.2f}) | "
                         f"{o['matched']:.2f} ({o['aa_matched']:.2f}) | {e['matched']:.2f} ({e['aa_matched']:.2f}) |")
    lines += ["", "| n | ours: runs with any false alert (all findings, defaults) | Evidently: runs with any column drifted | ours: untested findings |",
              "|---|---|---|---|"]
    for n in res["ns"]:
        o, e = t[(n, "run", "ours")], t[(n, "run", "evidently")]
        lines.append(f"| {n} | {o['aa_any']:.2f} | {e['aa_any']:.2f} | {o['untested']} of {o['untested'] + o['tested']} |")
    s = res["ours_compare_seconds_per_run"]
    lines += ["", f"Our compare step (all findings of a run, {s['findings']} findings): median {s['median']:.2f} s, max {s['max']:.2f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[50, 100, 200, 400])
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--matched", type=float, default=0.05)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    t0 = time.time()
    res = run(a.n, a.draws, a.seed, a.matched)
    print(render(res))
    print(f"\n({time.time() - t0:.0f} s)")
    if a.json:
        a.json.write_text(json.dumps({**res, "table": {"|".join(map(str, k)): v for k, v in res["table"].items()}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
