"""Cost of the small-window exact tests (issue 17): a check of small segments, three ways, one run.

A run of ``--segments`` segments with ``--n`` events a window (lognormal lengths, 5% refusals,
2% JSON-invalid, 1% schema violations, one segment with a real change) goes through the API the
way ``check`` does (``compare_length`` / ``compare_rate`` for every metric, then ``apply_policy``),
timed three ways in one process:

* ``sequential``: the defaults (Boschloo below the asymptotic range; the length permutation test
  with the Besag-Clifford stopping rule, ``PERMUTATION_EXCEEDANCES`` = 20);
* ``fixed 9,999``: the same tests with the permutation test drawing all 9,999 splits every time
  (the previous behaviour);
* ``scipy Boschloo, fixed 9,999``: as the previous release ran: ``scipy.stats.boschloo_exact`` (a
  32-point Sobol search per table) and all 9,999 splits;
* ``asymptotic``: no exact test at all (z / Fisher, the Bonferroni KS + Mann-Whitney), the cost
  floor of the statistics themselves.

Boschloo's p-values are cached per table (``functools.lru_cache``), so each mode starts with an
empty cache; the ``sequential, warm cache`` row repeats the default run with the cache filled.
A warm-up run on other windows comes first (imports, first calls); the binomial grids of
Boschloo's search stay cached per window size, as they do in a long-running process.
Also printed: the largest difference of p-values between the sequential and fixed-size modes
among findings with p < 0.002 (where both use every split, so they differ by Monte Carlo noise only).

    python benchmarks/small_windows.py                  # 20 segments x 50 events, 3 repeats
    python benchmarks/small_windows.py --segments 5 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors import length as _length  # noqa: E402
from detectors import rates as _rates  # noqa: E402
from detectors.histogram import IntHistogram  # noqa: E402
from detectors.policy import PolicyConfig, apply_policy, compare_length, compare_rate  # noqa: E402


def _windows(segments: int, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for s in range(segments):
        shift = 1.3 if s == 0 else 1.0
        w = {}
        for side, k in (("b", 1.0), ("c", shift)):
            ref = rng.random(n) < 0.05 * k
            lens = np.rint(k * rng.lognormal(6.0, 0.6, n)).astype(int)[~ref]
            w[side] = {"len": IntHistogram.from_samples(lens), "n": n, "ref": int(ref.sum()),
                       "inv": int(rng.binomial(n, 0.02 * k)), "sch": int(rng.binomial(n, 0.01))}
        out.append(w)
    return out


def _check(wins: list[dict], policy: PolicyConfig) -> list:
    fs = []
    for s, w in enumerate(wins):
        seg, b, c = {"route": f"r{s}"}, w["b"], w["c"]
        fs.append(compare_length(seg, b["len"], c["len"], policy, events_baseline=b["n"], events_current=c["n"]))
        fs.append(compare_rate("refusal_rate", seg, b["ref"], b["n"], c["ref"], c["n"], policy))
        fs.append(compare_rate("json_invalid_rate", seg, b["inv"], b["n"], c["inv"], c["n"], policy))
        fs.append(compare_rate("schema_violation_rate", seg, b["sch"], b["n"] - b["inv"], c["sch"], c["n"] - c["inv"], policy))
    return apply_policy(fs, policy)


def _scipy_boschloo(x1: int, n1: int, x2: int, n2: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.boschloo_exact([[x1, x2], [n1 - x1, n2 - x2]], alternative="two-sided").pvalue)
    return p if np.isfinite(p) else 1.0


def _timed(wins: list[dict], mode: str, clear_cache: bool = True) -> tuple[float, list]:
    saved = (_length.PERMUTATION_EXCEEDANCES, _length.PERMUTATION_MAX_N, _rates.EXACT_MAX_N, _rates._boschloo_pvalue)
    try:
        if mode == "previous":
            _length.PERMUTATION_EXCEEDANCES = _length.PERMUTATION_RESAMPLES + 1
            _rates._boschloo_pvalue = _scipy_boschloo
        elif mode == "fixed":
            _length.PERMUTATION_EXCEEDANCES = _length.PERMUTATION_RESAMPLES + 1  # never stops early
        elif mode == "asymptotic":
            _length.PERMUTATION_MAX_N, _rates.EXACT_MAX_N = 0, 0
        if clear_cache:
            saved[3].cache_clear()
        t0 = time.perf_counter()
        out = _check(wins, PolicyConfig())
        return time.perf_counter() - t0, out
    finally:
        _length.PERMUTATION_EXCEEDANCES, _length.PERMUTATION_MAX_N, _rates.EXACT_MAX_N, _rates._boschloo_pvalue = saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=20)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args(argv)
    rows: dict[str, list[float]] = {"sequential": [], "sequential, warm cache": [], "fixed 9,999": [],
                                   "scipy Boschloo, fixed 9,999": [], "asymptotic": []}
    worst = 0.0
    n_exact: dict[str, int] = {}
    _timed(_windows(2, a.n, a.seed - 1), "fixed")  # warm-up: imports and first calls are not timed
    for r in range(a.repeats):
        wins = _windows(a.segments, a.n, a.seed + r)
        t_seq, f_seq = _timed(wins, "sequential")
        t_warm, _ = _timed(wins, "sequential", clear_cache=False)
        t_fix, f_fix = _timed(wins, "fixed")
        t_prev, _ = _timed(wins, "previous")
        t_asy, _ = _timed(wins, "asymptotic")
        for k, t in zip(rows, (t_seq, t_warm, t_fix, t_prev, t_asy)):
            rows[k].append(t)
        for x, y in zip(f_seq, f_fix):
            if x.p_value is not None and y.p_value is not None and min(x.p_value, y.p_value) < 0.002:
                worst = max(worst, abs(x.p_value - y.p_value))
        for f in f_seq:
            test = f.details.get("method", "")
            n_exact[test] = n_exact.get(test, 0) + 1
    base = float(np.median(rows["sequential"]))
    print(f"check of {a.segments} segments x {a.n} events a window, {4 * a.segments} findings; "
          f"median of {a.repeats} runs (s), ratio to the default")
    print("\n| mode | median s | min s | max s | ratio |\n|---|---|---|---|---|")
    for k, ts in rows.items():
        print(f"| {k} | {np.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} | {np.median(ts) / base:.2f} |")
    print("\ntests used (default mode): " + ", ".join(f"{k or 'none'}: {v}" for k, v in sorted(n_exact.items())))
    print(f"largest |p_sequential - p_fixed| among findings with p < 0.002: {worst:.2g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
