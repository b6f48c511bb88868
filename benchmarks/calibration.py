"""Calibration of the detectors and the alert policy (prints Markdown tables; not a timed test).

    python benchmarks/calibration.py             # full run (several minutes on 2 cores)
    python benchmarks/calibration.py --quick     # smaller Monte-Carlo sizes, for a smoke test

Sections:
1. A/A null simulation: realistic segments (lognormal lengths, 1-10% rates), 20 segments x 4
   metrics tested together per run through ``apply_policy``; the false-alert rate per run with
   its exact (Clopper-Pearson) 95% Monte-Carlo interval, per metric and overall.
1b. A/A over small windows (``--only aa-small``): 20 segments of 20-200 events a window, every
   metric (JSON-invalid and schema violations as two tests, their union out of BH), floors 0, so the
   exact tests (Boschloo, the Anderson-Darling permutation test) and BH are checked together.
2. Power: detection probability (alert under the default policy) versus effect and window size,
   for a single comparison and for the target changes also embedded in a run of 20 segments x 4
   metrics where everything else is unchanged (BH then has 80 tests to correct for).
3. Sidecar: 30 simulated days of checks at 10 events/s with no change -> false alerts per
   metric-segment per 30 days; step changes -> detection delay (events, minutes).
4. Change-point: coverage of the reported interval on simulated step changes.
5. Coverage of the effect confidence intervals (rate difference, median and p90 ratios).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.changepoint import changepoint_length, changepoint_rate  # noqa: E402
from detectors.finding import METRICS, Finding  # noqa: E402
from detectors.histogram import IntHistogram  # noqa: E402
from detectors.policy import PolicyConfig, apply_policy, compare_length, compare_rate  # noqa: E402
from detectors.sequential import (  # noqa: E402
    BernoulliSRDetector,
    LengthMonitor,
    RateMonitor,
    bernoulli_log_lr,
    sr_log_update,
)

RATE_METRICS = ("refusal_rate", "parse_failure_rate", "task_success_rate")


def cp_interval(k: int, n: int) -> str:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return f"{k / n:.4f} [{ci.low:.4f}, {ci.high:.4f}]"


def lengths(rng: np.random.Generator, n: int, median: float, sigma: float) -> IntHistogram:
    return IntHistogram.from_samples(np.rint(rng.lognormal(math.log(median), sigma, n)).astype(np.int64))


# ---------------------------------------------------------------------------- segments
@dataclass
class Segment:
    n_base: int
    n_cur: int
    median: float
    sigma: float
    refusal: float
    json_frac: float
    parse_fail: float
    label_frac: float
    success: float


def random_segments(rng: np.random.Generator, k: int = 20,
                    sizes: tuple[int, ...] = (300, 500, 1000, 2000, 3000, 5000), smallest: int = 50) -> list[Segment]:
    segs = []
    for _ in range(k):
        nb = int(rng.choice(sizes))
        segs.append(Segment(
            n_base=nb, n_cur=max(smallest, int(nb * rng.uniform(0.5, 1.5))),
            median=float(rng.uniform(200, 1500)), sigma=float(rng.uniform(0.4, 0.9)),
            refusal=float(rng.uniform(0.01, 0.10)), json_frac=float(rng.uniform(0.3, 1.0)),
            parse_fail=float(rng.uniform(0.01, 0.10)), label_frac=float(rng.uniform(0.2, 1.0)),
            success=float(rng.uniform(0.6, 0.9)),
        ))
    return segs


def segment_findings(rng: np.random.Generator, seg: Segment, sid: int, policy: PolicyConfig,
                     parts: bool = False) -> list[Finding]:
    """One A/A comparison of one segment: all four metrics, baseline and current from the same law.

    With ``parts`` the structured-output failures are drawn as JSON-invalid (60%) and schema
    violations among the parsed rest, and reported as ``json_invalid_rate``, ``schema_violation_rate``
    and their union ``parse_failure_rate`` (as ``check`` does: the union stays out of BH)."""
    out = []
    label = {"segment": sid}
    out.append(compare_length(label, lengths(rng, seg.n_base, seg.median, seg.sigma),
                              lengths(rng, seg.n_cur, seg.median, seg.sigma), policy))
    out.append(compare_rate("refusal_rate", label, int(rng.binomial(seg.n_base, seg.refusal)), seg.n_base,
                            int(rng.binomial(seg.n_cur, seg.refusal)), seg.n_cur, policy))
    jb, jc = int(rng.binomial(seg.n_base, seg.json_frac)), int(rng.binomial(seg.n_cur, seg.json_frac))
    if parts:
        ib, ic = int(rng.binomial(jb, 0.6 * seg.parse_fail)), int(rng.binomial(jc, 0.6 * seg.parse_fail))
        sb, sc = int(rng.binomial(jb - ib, 0.4 * seg.parse_fail)), int(rng.binomial(jc - ic, 0.4 * seg.parse_fail))
        out.append(compare_rate("json_invalid_rate", label, ib, jb, ic, jc, policy))
        out.append(compare_rate("schema_violation_rate", label, sb, jb - ib, sc, jc - ic, policy))
        out.append(compare_rate("parse_failure_rate", label, ib + sb, jb, ic + sc, jc, policy))
    else:
        out.append(compare_rate("parse_failure_rate", label, int(rng.binomial(jb, seg.parse_fail)), jb,
                                int(rng.binomial(jc, seg.parse_fail)), jc, policy))
    lb, lc = int(rng.binomial(seg.n_base, seg.label_frac)), int(rng.binomial(seg.n_cur, seg.label_frac))
    out.append(compare_rate("task_success_rate", label, int(rng.binomial(lb, seg.success)), lb,
                            int(rng.binomial(lc, seg.success)), lc, policy))
    return out


# ---------------------------------------------------------------------------- 1. A/A
def aa_simulation(runs: int, seed: int, policy: PolicyConfig) -> None:
    rng = np.random.default_rng(seed)
    any_alert = {m: 0 for m in METRICS}
    any_overall = 0
    any_no_floor = 0
    tested = 0
    untested = 0
    # the same findings under a policy without floors isolate the BH / test calibration
    no_floor = PolicyConfig(alpha=policy.alpha, floors={m: 0.0 for m in METRICS})
    t0 = time.perf_counter()
    for _ in range(runs):
        segs = random_segments(rng)
        fs = [f for i, s in enumerate(segs) for f in segment_findings(rng, s, i, policy)]
        out = apply_policy(fs, policy)
        tested += sum(f.testable for f in out)
        untested += sum(not f.testable for f in out)
        alerted = {m: any(f.alert for f in out if f.metric == m) for m in METRICS}
        for m in METRICS:
            any_alert[m] += alerted[m]
        any_overall += any(alerted.values())
        any_no_floor += any(f.alert for f in apply_policy(fs, no_floor))
    dt = time.perf_counter() - t0
    print(f"\n## 1. A/A null simulation ({runs} runs x 20 segments x 4 metrics, alpha={policy.alpha}, default floors)\n")
    print(f"Tested findings {tested}, untested (below min_samples) {untested}; {dt:.1f} s.\n")
    print("| metric | runs with >= 1 false alert | rate [95% MC interval] | target |")
    print("|---|---|---|---|")
    for m in METRICS:
        print(f"| {m} | {any_alert[m]} / {runs} | {cp_interval(any_alert[m], runs)} | <= {policy.alpha} |")
    print(f"| all 80 findings of the run | {any_overall} / {runs} | {cp_interval(any_overall, runs)} | <= {policy.alpha} |")
    print(f"| all 80, floors set to 0 (pure BH calibration) | {any_no_floor} / {runs} | {cp_interval(any_no_floor, runs)} | <= {policy.alpha} |")


def aa_small_simulation(runs: int, seed: int, policy: PolicyConfig) -> None:
    """A/A over small windows (issue 17): 20 segments of 20-200 events a window, every metric, BH per run."""
    rng = np.random.default_rng(seed)
    alphas = (policy.alpha, 0.05, 0.10)
    hits = {a: 0 for a in alphas}
    tested = untested = 0
    methods: dict[str, int] = {}
    t0 = time.perf_counter()
    for _ in range(runs):
        segs = random_segments(rng, sizes=(20, 30, 50, 75, 100, 150, 200), smallest=10)
        fs = [f for i, s in enumerate(segs) for f in segment_findings(rng, s, i, policy, parts=True)]
        for a in alphas:
            out = apply_policy(fs, PolicyConfig(alpha=a, floors={m: 0.0 for m in policy.floors}))
            hits[a] += any(f.alert for f in out)
            if a == policy.alpha:
                tested += sum(f.testable for f in out)
                untested += sum(not f.testable for f in out)
        for f in fs:
            methods[f.details.get("method", "")] = methods.get(f.details.get("method", ""), 0) + 1
    dt = time.perf_counter() - t0
    print(f"\n## 1b. A/A over small windows ({runs} runs x 20 segments of 20-200 events a window x 6 findings, floors 0)\n")
    print(f"Tested findings {tested}, untested {untested}; tests used: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(methods.items())) + f"; {dt:.1f} s.\n")
    print("| alpha | runs with >= 1 false alert | rate [95% MC interval] | target |")
    print("|---|---|---|---|")
    for a in alphas:
        print(f"| {a} | {hits[a]} / {runs} | {cp_interval(hits[a], runs)} | <= {a} |")


# ---------------------------------------------------------------------------- 2. power
def rate_power(metric: str, p0: float, p1: float, n: int, reps: int, rng: np.random.Generator, policy: PolicyConfig) -> float:
    hits = 0
    for _ in range(reps):
        f = compare_rate(metric, {}, int(rng.binomial(n, p0)), n, int(rng.binomial(n, p1)), n, policy)
        hits += apply_policy([f], policy)[0].alert
    return hits / reps


def length_power(rel: float, n: int, sigma: float, reps: int, rng: np.random.Generator, policy: PolicyConfig) -> float:
    hits = 0
    for _ in range(reps):
        f = compare_length({}, lengths(rng, n, 600, sigma), lengths(rng, n, 600 * (1 + rel), sigma), policy)
        hits += apply_policy([f], policy)[0].alert
    return hits / reps


TARGETS = [
    ("refusal_rate", "2% -> 4%", 3000, lambda rng, n: (rng.binomial(n, 0.02), rng.binomial(n, 0.04))),
    ("parse_failure_rate", "1% -> 3%", 2000, lambda rng, n: (rng.binomial(n, 0.01), rng.binomial(n, 0.03))),
    ("task_success_rate", "80% -> 75%", 3000, lambda rng, n: (rng.binomial(n, 0.80), rng.binomial(n, 0.75))),
]


def target_power(reps: int, seed: int, policy: PolicyConfig) -> None:
    print(f"\n## 2a. Power at the target changes (default policy, alpha={policy.alpha}; {reps} runs each)\n")
    print("Single = the comparison alone; in-run = the same changed finding tested together with 79 unchanged")
    print("findings (20 realistic segments x 4 metrics), BH across all 80.\n")
    print("| metric | change | n per window | power single [95% MC] | power in-run [95% MC] | target |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(seed)
    for metric, label, n, draw in TARGETS + [("response_length", "median +15%, sigma 0.6", 1000, None),
                                             ("response_length", "median +15%, sigma 0.8", 1000, None)]:
        single = inrun = 0
        sigma = 0.8 if "0.8" in label else 0.6
        for _ in range(reps):
            if draw is None:
                f = compare_length({"segment": "x"}, lengths(rng, n, 600, sigma), lengths(rng, n, 690, sigma), policy)
            else:
                xb, xc = draw(rng, n)
                f = compare_rate(metric, {"segment": "x"}, int(xb), n, int(xc), n, policy)
            single += apply_policy([f], policy)[0].alert
            segs = random_segments(rng)
            fs = [g for i, s in enumerate(segs) for g in segment_findings(rng, s, i, policy)]
            # replace segment 0's finding of this metric with the changed one
            k = next(i for i, g in enumerate(fs) if g.metric == metric)
            fs[k] = f
            inrun += apply_policy(fs, policy)[k].alert
        print(f"| {metric} | {label} | {n} | {cp_interval(single, reps)} | {cp_interval(inrun, reps)} | >= 0.9 |")


def power_grid(reps: int, seed: int, policy: PolicyConfig) -> None:
    rng = np.random.default_rng(seed)
    print(f"\n## 2b. Power grid (single comparison, default policy; {reps} runs per cell)\n")
    grids = [
        ("refusal_rate", 0.02, [0.025, 0.03, 0.035, 0.04, 0.05, 0.06], [1000, 3000, 10000]),
        ("parse_failure_rate", 0.01, [0.015, 0.02, 0.025, 0.03, 0.04], [1000, 2000, 5000]),
        ("task_success_rate", 0.80, [0.78, 0.77, 0.75, 0.72, 0.70], [1000, 3000, 10000]),
    ]
    for metric, p0, p1s, ns in grids:
        print(f"\n{metric}, baseline {p0:.0%}:\n")
        print("| n per window | " + " | ".join(f"-> {p:.1%}" for p in p1s) + " |")
        print("|---|" + "---|" * len(p1s))
        for n in ns:
            row = [rate_power(metric, p0, p1, n, reps, rng, policy) for p1 in p1s]
            print(f"| {n} | " + " | ".join(f"{x:.2f}" for x in row) + " |")
    rels = [0.05, 0.10, 0.15, 0.20, 0.30]
    for sigma in (0.6, 0.8):
        print(f"\nresponse_length, lognormal(median 600 chars, sigma {sigma}), median change:\n")
        print("| n per window | " + " | ".join(f"+{r:.0%}" for r in rels) + " |")
        print("|---|" + "---|" * len(rels))
        for n in (300, 1000, 3000):
            row = [length_power(r, n, sigma, max(reps // 2, 50), rng, policy) for r in rels]
            print(f"| {n} | " + " | ".join(f"{x:.2f}" for x in row) + " |")


# ---------------------------------------------------------------------------- 3. sidecar
def _stack(dets: list[BernoulliSRDetector]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.stack([d.p0 for d in dets]), np.stack([d.p1 for d in dets]), np.stack([d.log_weights for d in dets]))


def simulate_stream(p0: np.ndarray, p1: np.ndarray, logw: np.ndarray, log_threshold: float, true_p: np.ndarray,
                    steps: int, batch: int, seconds: float, rng: np.random.Generator,
                    change_step: int | None = None, true_p_after: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised replicate streams of one Bernoulli SR detector. Returns (#alarms, first alarm step after change)."""
    reps = p0.shape[0]
    log_r = np.full(p0.shape, -np.inf)
    alarms = np.zeros(reps, dtype=np.int64)
    first = np.full(reps, -1, dtype=np.int64)
    log_dt = math.log(seconds)
    for t in range(steps):
        p = true_p if change_step is None or t < change_step else true_p_after
        x = rng.binomial(batch, p)
        log_r = sr_log_update(log_r, log_dt, bernoulli_log_lr(x[:, None], batch, p0, p1))
        stat = np.logaddexp.reduce(log_r + logw, axis=1)
        hit = stat >= log_threshold
        if hit.any():
            alarms += hit
            if change_step is not None and t >= change_step:
                newly = hit & (first < 0)
                first[newly] = t - change_step
            log_r[hit] = -np.inf  # reset after an alarm
    return alarms, first


def sidecar(days: int, reps: int, check_seconds: float, seed: int, baseline_n: int) -> None:
    rng = np.random.default_rng(seed)
    rate = 10.0
    batch = int(rate * check_seconds)
    steps = int(days * 86400 / check_seconds)
    print(f"\n## 3. Sidecar: {days} simulated days, {rate:.0f} events/s, a check every {check_seconds:g} s "
          f"({steps} checks), budget 1 false alert / 30 days / metric-segment, baseline window {baseline_n} events\n")
    print("| metric | true rate | replicate segments | segments with a false alert | false alerts | per metric-segment per 30 days [95% CI] | budget |")
    print("|---|---|---|---|---|---|---|")
    scenarios = [("refusal_rate", 0.02), ("parse_failure_rate", 0.01), ("task_success_rate", 0.80)]
    for metric, p in scenarios:
        dets = [RateMonitor(int(rng.binomial(baseline_n, p)), baseline_n, metric=metric) for _ in range(reps)]
        p0, p1, lw = _stack(dets)
        alarms, _ = simulate_stream(p0, p1, lw, dets[0].log_threshold, np.full(reps, p), steps, batch, check_seconds, rng)
        tot = int(alarms.sum())
        ci = stats.poisson.interval(0.95, tot) if tot else (0.0, 3.689)
        scale = 30.0 / (days * reps)
        print(f"| {metric} | {p:.0%} | {reps} | {int((alarms > 0).sum())} | {tot} | {tot * scale:.3f} [{ci[0] * scale:.3f}, {ci[1] * scale:.3f}] | 1 |")
    # length: two Bernoulli streams against baseline median and p90 cuts (half budget each)
    sigma, med = 0.6, 600.0
    tot = 0
    seg_alarms = np.zeros(reps, dtype=np.int64)
    for which in (0, 1):
        dets, truth = [], []
        for _ in range(reps):
            base = lengths(rng, baseline_n, med, sigma)
            lm = LengthMonitor(base)
            d = lm.detectors[which]
            cut = lm.median if which == 0 else lm.p90
            dets.append(d)
            truth.append(stats.lognorm.sf(math.floor(cut) + 0.5, sigma, scale=med))
        p0, p1, lw = _stack(dets)
        alarms, _ = simulate_stream(p0, p1, lw, dets[0].log_threshold, np.array(truth), steps, batch, check_seconds, rng)
        tot += int(alarms.sum())
        seg_alarms += alarms
    ci = stats.poisson.interval(0.95, tot) if tot else (0.0, 3.689)
    scale = 30.0 / (days * reps)
    print(f"| response_length | lognormal sigma {sigma} | {reps} | {int((seg_alarms > 0).sum())} | {tot} | {tot * scale:.3f} [{ci[0] * scale:.3f}, {ci[1] * scale:.3f}] | 1 |")

    print(f"\nDetection delay after a step change (checks every {check_seconds:g} s, {reps} replicates, "
          "change after 6 h of unchanged traffic):\n")
    print("| metric | change | detected | median delay (events / minutes) | p90 delay (events / minutes) | target |")
    print("|---|---|---|---|---|---|")
    warm = int(6 * 3600 / check_seconds)
    horizon = warm + int(2 * 3600 / check_seconds)
    delay_cases = [("refusal_rate", 0.02, 0.06, "median < 5 min"), ("refusal_rate", 0.02, 0.04, ""),
                   ("parse_failure_rate", 0.01, 0.03, ""), ("task_success_rate", 0.80, 0.75, "")]
    for metric, pa, pb, target in delay_cases:
        dets = [RateMonitor(int(rng.binomial(baseline_n, pa)), baseline_n, metric=metric) for _ in range(reps)]
        p0, p1, lw = _stack(dets)
        _, first = simulate_stream(p0, p1, lw, dets[0].log_threshold, np.full(reps, pa), horizon, batch, check_seconds,
                                   rng, change_step=warm, true_p_after=np.full(reps, pb))
        _print_delay(metric, f"{pa:.0%} -> {pb:.0%}", first, batch, check_seconds, target)
    # length +15% median: both streams; alarm when either alarms
    firsts = []
    for which in (0, 1):
        dets, before, after = [], [], []
        for _ in range(reps):
            lm = LengthMonitor(lengths(rng, baseline_n, med, sigma))
            cut = lm.median if which == 0 else lm.p90
            dets.append(lm.detectors[which])
            before.append(stats.lognorm.sf(math.floor(cut) + 0.5, sigma, scale=med))
            after.append(stats.lognorm.sf(math.floor(cut) + 0.5, sigma, scale=med * 1.15))
        p0, p1, lw = _stack(dets)
        _, first = simulate_stream(p0, p1, lw, dets[0].log_threshold, np.array(before), horizon, batch, check_seconds,
                                   rng, change_step=warm, true_p_after=np.array(after))
        firsts.append(first)
    # per replicate the monitor alarms at the earlier stream (independent replicate sets per stream: conservative)
    f0, f1 = firsts
    first = np.where((f0 >= 0) & (f1 >= 0), np.minimum(f0, f1), np.maximum(f0, f1))
    _print_delay("response_length", "median +15%", first, batch, check_seconds, "")


def _print_delay(metric: str, label: str, first: np.ndarray, batch: int, seconds: float, target: str) -> None:
    ok = first >= 0
    if not ok.any():
        print(f"| {metric} | {label} | 0 / {first.size} | - | - | {target} |")
        return
    steps = first[ok] + 1
    med, p90 = np.median(steps), np.quantile(steps, 0.9)
    print(f"| {metric} | {label} | {int(ok.sum())} / {first.size} | {med * batch:.0f} / {med * seconds / 60:.1f} | "
          f"{p90 * batch:.0f} / {p90 * seconds / 60:.1f} | {target} |")


# ---------------------------------------------------------------------------- 4. change point
def changepoint_coverage(runs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    print(f"\n## 4. Change-point localisation ({runs} runs per case, 48 hourly buckets, change hour uniform in 4..43, "
          "95% interval)\n")
    print("| case | events per hour | coverage [95% MC] | median interval width (hours) | MAP exact |")
    print("|---|---|---|---|---|")
    cases = [("refusal 2% -> 4%", 500), ("refusal 2% -> 4%", 2000), ("refusal 2% -> 6%", 500),
             ("task success 80% -> 75%", 500), ("length median +15%", 300), ("length median +15%", 1000)]
    for label, per_hour in cases:
        hits = exact = 0
        widths = []
        for _ in range(runs):
            tau = int(rng.integers(4, 44))
            after = np.arange(48) >= tau
            if label.startswith("length"):
                hs = [lengths(rng, per_hour, 600 * (1.15 if a else 1.0), 0.6) for a in after]
                r = changepoint_length(hs)
            else:
                pa, pb = {"refusal 2% -> 4%": (0.02, 0.04), "refusal 2% -> 6%": (0.02, 0.06),
                          "task success 80% -> 75%": (0.80, 0.75)}[label]
                n = rng.poisson(per_hour, 48)
                x = rng.binomial(n, np.where(after, pb, pa))
                r = changepoint_rate(x, n)
            hits += r.index_low <= tau <= r.index_high
            exact += r.index == tau
            widths.append(r.index_high - r.index_low + 1)
        print(f"| {label} | {per_hour} | {cp_interval(hits, runs)} | {np.median(widths):.0f} | {exact / runs:.2f} |")


# ---------------------------------------------------------------------------- 5. interval coverage
def interval_coverage(runs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    policy = PolicyConfig()
    print(f"\n## 5. Coverage of the reported 95% effect intervals ({runs} runs per case)\n")
    print("| effect | case | n per window | coverage [95% MC] |")
    print("|---|---|---|---|")
    for p0, p1, n in [(0.02, 0.04, 3000), (0.01, 0.03, 2000), (0.02, 0.02, 300), (0.80, 0.75, 3000), (0.005, 0.01, 1000)]:
        hits = 0
        for _ in range(runs):
            f = compare_rate("refusal_rate", {}, int(rng.binomial(n, p0)), n, int(rng.binomial(n, p1)), n, policy)
            hits += f.ci_low <= p1 - p0 <= f.ci_high
        print(f"| rate difference (Newcombe) | {p0:.1%} -> {p1:.1%} | {n} | {cp_interval(hits, runs)} |")
    for rel, n, sigma in [(0.15, 1000, 0.6), (0.0, 300, 0.8), (0.15, 3000, 0.8)]:
        hits_med = hits_p90 = 0
        for _ in range(runs):
            f = compare_length({}, lengths(rng, n, 600, sigma), lengths(rng, n, 600 * (1 + rel), sigma), policy)
            hits_med += f.ci_low <= rel <= f.ci_high
            hits_p90 += f.details["p90_ratio_ci_low"] <= 1 + rel <= f.details["p90_ratio_ci_high"]
        print(f"| median ratio (order-statistic, log scale) | lognormal sigma {sigma}, +{rel:.0%} | {n} | {cp_interval(hits_med, runs)} |")
        print(f"| p90 ratio (order-statistic, log scale) | lognormal sigma {sigma}, +{rel:.0%} | {n} | {cp_interval(hits_p90, runs)} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1000, help="A/A runs (default 1000)")
    ap.add_argument("--power-reps", type=int, default=300)
    ap.add_argument("--target-reps", type=int, default=300)
    ap.add_argument("--sidecar-days", type=int, default=30)
    ap.add_argument("--sidecar-reps", type=int, default=40, help="independent metric-segments per scenario")
    ap.add_argument("--check-seconds", type=float, default=10.0)
    ap.add_argument("--baseline-n", type=int, default=100_000, help="baseline window of the sidecar (events)")
    ap.add_argument("--cp-runs", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ci-runs", type=int, default=1000)
    ap.add_argument("--only", choices=["aa", "aa-small", "target", "grid", "sidecar", "cp", "ci"], action="append")
    ap.add_argument("--small-runs", type=int, default=300, help="A/A runs over small windows (default 300)")
    a = ap.parse_args(argv)
    if a.quick:
        a.runs, a.power_reps, a.target_reps, a.sidecar_days, a.sidecar_reps, a.cp_runs, a.ci_runs = 100, 60, 60, 3, 10, 60, 100
        a.small_runs = 20
    policy = PolicyConfig()
    only = set(a.only or ["aa", "aa-small", "target", "grid", "sidecar", "cp", "ci"])
    t0 = time.perf_counter()
    print(f"# Calibration (seed {a.seed}; policy alpha={policy.alpha}, min_samples={policy.min_samples}, floors={policy.floors})")
    if "aa" in only:
        aa_simulation(a.runs, a.seed, policy)
    if "aa-small" in only:
        aa_small_simulation(a.small_runs, a.seed + 1, policy)
    if "target" in only:
        target_power(a.target_reps, a.seed + 2, policy)
    if "grid" in only:
        power_grid(a.power_reps, a.seed + 3, policy)
    if "sidecar" in only:
        sidecar(a.sidecar_days, a.sidecar_reps, a.check_seconds, a.seed + 4, a.baseline_n)
    if "cp" in only:
        changepoint_coverage(a.cp_runs, a.seed + 5)
    if "ci" in only:
        interval_coverage(a.ci_runs, a.seed + 6)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
