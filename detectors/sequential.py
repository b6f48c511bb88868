"""Sequential (always-on) monitoring for the sidecar, with a false-alarm budget per unit time.

A sidecar checks every few seconds; re-running a fixed-alpha test each time guarantees nothing.
Here the state is updated from sufficient statistics (counts, histograms) as events arrive and
may be checked at any moment, as often as wanted: checking does not change the statistic.

Method: a mixture **Shiryaev-Roberts e-detector** (Shin, Ramdas & Rinaldo 2023, "E-detectors:
a nonparametric framework for sequential change detection", New England J. Stat. Data Sci.;
the classic SR procedure: Pollak 1985, Ann. Stat. 13:206).  For each alternative ``j`` on a
small grid of log-odds shifts of the baseline rate ``p0`` the state is

    R_j <- (R_j + w) * L_j,        L_j = (p1_j / p0)^x ((1 - p1_j) / (1 - p0))^(n - x)

for a batch of ``x`` events out of ``n`` that arrived during ``w`` seconds.  Under no change
``E[L_j] <= 1``, so ``R_t - (elapsed seconds)`` is a supermartingale and so is the weighted
average ``R = sum_j pi_j R_j``.  Alarming when ``R >= A`` gives, by optional stopping,

    E[time to false alarm] >= A seconds.

With ``A = 86400 / false_alarms_per_day`` the long-run false-alarm rate (with a reset after
every alarm) is at most the budget, **whatever the check frequency**.  Batches of any size are
allowed; a change is credited at the start of the batch it falls in.

Unknown baseline: ``p0`` comes from the baseline window.  To keep the guarantee when ``p0`` is
estimated, increase alternatives are tested against the upper and decrease alternatives
against the lower Wilson bound of the baseline rate (``baseline_confidence``, default 0.99),
so that ``E[L] <= 1`` holds for every true rate inside that interval.

Also reported: the mixture likelihood ratio since the last reset (``e_value``), an e-process
for "the rate has equalled the baseline throughout", and the anytime-valid p-value
``pvalue = min(1, 1 / max e_value so far)`` (Ville's inequality).

Response length is monitored through two Bernoulli streams: "longer than the baseline median"
(both directions) and "longer than the baseline p90" (tail), each with half the budget.

Example:
    >>> m = RateMonitor(baseline_count=200, baseline_n=10_000, false_alarms_per_day=1 / 30)
    >>> rng = np.random.default_rng(0)
    >>> for minute in range(60):                       # one hour at 10 events/s, no change
    ...     m.update(int(rng.binomial(600, 0.02)), 600, elapsed_seconds=60)
    >>> m.check().alert
    False
    >>> for minute in range(10):                       # refusal rate jumps to 6%
    ...     m.update(int(rng.binomial(600, 0.06)), 600, elapsed_seconds=60)
    >>> r = m.check(); r.alert, r.statistic > r.threshold
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .metrics import HIGHER_IS_WORSE
from .histogram import IntHistogram
from .rates import wilson_ci

__all__ = [
    "SequentialResult",
    "BernoulliSRDetector",
    "RateMonitor",
    "LengthMonitor",
    "DEFAULT_SHIFTS",
    "bernoulli_log_lr",
    "sr_log_update",
    "threshold_seconds",
]

DEFAULT_SHIFTS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
"""Log-odds shifts of the alternatives (e.g. at p0 = 2%: 2.6%, 3.2%, 5.3%, 8.3%, 13%, 29%)."""


def threshold_seconds(false_alarms_per_day: float) -> float:
    """Alarm threshold ``A`` (seconds) giving mean time to false alarm >= 1 / budget days.

    Example:
        >>> threshold_seconds(1 / 30)
        2592000.0
    """
    if not false_alarms_per_day > 0:
        raise ValueError("false_alarms_per_day must be > 0")
    return 86400.0 / false_alarms_per_day


def bernoulli_log_lr(count: np.ndarray | int, n: np.ndarray | int, p0: np.ndarray | float, p1: np.ndarray | float) -> np.ndarray:
    """Log likelihood ratio of ``count`` events in ``n`` trials, rate ``p1`` versus ``p0`` (broadcasts).

    Example:
        >>> round(float(bernoulli_log_lr(3, 10, 0.1, 0.3)), 4)
        1.5366
    """
    count = np.asarray(count, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64)
    p1 = np.asarray(p1, dtype=np.float64)
    return count * (np.log(p1) - np.log(p0)) + (n - count) * (np.log1p(-p1) - np.log1p(-p0))


def expit(x: float) -> float:
    """``scipy.special.expit`` for a float (the same formula, so the same result; the sidecar
    creates detectors without importing scipy, docs/TAIL.md "Footprint").

    >>> expit(0.0), expit(-800.0)
    (0.5, 0.0)
    """
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:
        return 0.0


def logit(p: float) -> float:
    """``scipy.special.logit`` for a float in (0, 1) (scipy's formula: ``log1p`` terms near 0.5).

    >>> logit(0.5), round(logit(0.9), 6)
    (0.0, 2.197225)
    """
    if p < 0.3 or p > 0.65:
        return math.log(p / (1.0 - p))
    s = 2.0 * (p - 0.5)
    return math.log1p(s) - math.log1p(-s)


def logsumexp(a: np.ndarray) -> float:
    """``scipy.special.logsumexp`` of a 1-D float array (scipy's algorithm: the largest terms are
    taken out of the sum and added back through ``log1p``; -inf for no mass, NaN with a NaN).

    >>> logsumexp(np.array([0.0, 0.0])) == math.log(2.0), logsumexp(np.array([-np.inf, -np.inf]))
    (True, -inf)
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    if a.size == 0:
        return -math.inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a_max = a.max()
        top = a == a_max
        m = float(np.count_nonzero(top))
        total = np.exp(np.where(top, -np.inf, a) - a_max).sum()
        if total != 0:
            total = total / m
        out = float(np.log1p(total) + np.log(m) + a_max)
        if not math.isfinite(out):  # infinite terms: the direct sum, as scipy does
            out = float(np.log(np.exp(a).sum()))
    return out


def sr_log_update(log_r: np.ndarray, log_w: float | np.ndarray, log_lr: np.ndarray) -> np.ndarray:
    """One Shiryaev-Roberts step in log space: ``log((R + w) * L)``.

    Example:
        >>> round(float(np.exp(sr_log_update(np.log(2.0), np.log(1.0), np.log(3.0)))), 9)
        9.0
    """
    return np.logaddexp(log_r, log_w) + log_lr


@dataclass(frozen=True)
class SequentialResult:
    """Result of ``check()``.

    ``statistic``: log of the mixture SR statistic; ``threshold``: log of the alarm threshold;
    ``alert``: ``statistic >= threshold``; ``e_value``: mixture likelihood ratio since reset;
    ``pvalue``: anytime-valid p-value ``min(1, 1/max e_value)``; ``estimate`` / ``baseline``:
    rate since reset and baseline rate; ``elapsed_seconds``, ``n``, ``count`` since reset.
    """

    alert: bool
    statistic: float
    threshold: float
    e_value: float
    pvalue: float
    estimate: float
    baseline: float
    n: int
    count: int
    elapsed_seconds: float
    reason: str


class BernoulliSRDetector:
    """Mixture Shiryaev-Roberts e-detector for a stream of Bernoulli counts.

    ``p0_up`` is the null rate for increase alternatives, ``p0_down`` for decrease ones
    (equal for a known baseline). ``direction``: "increase", "decrease" or "both".
    ``threshold``: alarm level ``A`` in the same unit as ``elapsed_seconds`` of ``update``.

    Example:
        >>> d = BernoulliSRDetector(0.02, 0.02, direction="increase", threshold=1e6)
        >>> d.update(30, 500, elapsed_seconds=50)
        >>> d.check().alert
        True
    """

    def __init__(
        self,
        p0_up: float,
        p0_down: float,
        *,
        direction: str = "both",
        threshold: float = threshold_seconds(1 / 30),
        shifts: Sequence[float] = DEFAULT_SHIFTS,
        baseline: float | None = None,
    ) -> None:
        if direction not in ("increase", "decrease", "both"):
            raise ValueError("direction must be 'increase', 'decrease' or 'both'")
        if not threshold > 1:
            raise ValueError("threshold must be > 1")
        alts: list[tuple[float, float]] = []
        shifts = [abs(float(s)) for s in shifts if s != 0]
        if direction in ("increase", "both") and 0 < p0_up < 1:
            alts += [(p0_up, float(expit(logit(p0_up) + s))) for s in shifts]
        if direction in ("decrease", "both") and 0 < p0_down < 1:
            alts += [(p0_down, float(expit(logit(p0_down) - s))) for s in shifts]
        self.direction = direction
        self.p0 = np.array([a[0] for a in alts], dtype=np.float64)
        self.p1 = np.array([a[1] for a in alts], dtype=np.float64)
        self.log_weights = np.full(len(alts), -math.log(len(alts))) if alts else np.zeros(0)
        self.log_threshold = math.log(threshold)
        self.baseline = float(baseline if baseline is not None else (p0_up + p0_down) / 2)
        self.reset()

    def reset(self) -> None:
        """Forget everything since the last reset (call after acting on an alarm)."""
        k = self.p0.size
        self.log_r = np.full(k, -np.inf)
        self.log_m = np.zeros(k)
        self.max_log_e = 0.0
        self.n = 0
        self.count = 0
        self.elapsed = 0.0

    def update(self, count: int, n: int, elapsed_seconds: float) -> None:
        """Add a batch: ``count`` events out of ``n`` observed over ``elapsed_seconds``."""
        count, n = int(count), int(n)
        if n < 0 or not 0 <= count <= n:
            raise ValueError(f"need 0 <= count <= n, got count={count}, n={n}")
        if elapsed_seconds < 0:
            raise ValueError("elapsed_seconds must be >= 0")
        self.n += n
        self.count += count
        self.elapsed += float(elapsed_seconds)
        if self.p0.size == 0:
            return
        log_lr = bernoulli_log_lr(count, n, self.p0, self.p1)
        log_w = math.log(elapsed_seconds) if elapsed_seconds > 0 else -math.inf
        self.log_r = sr_log_update(self.log_r, log_w, log_lr)
        self.log_m = self.log_m + log_lr
        self.max_log_e = max(self.max_log_e, float(logsumexp(self.log_m + self.log_weights)))

    def check(self) -> SequentialResult:
        """Current statistic and alarm decision (does not change the state)."""
        if self.p0.size == 0:
            stat, loge = -math.inf, 0.0
        else:
            stat = float(logsumexp(self.log_r + self.log_weights))
            loge = float(logsumexp(self.log_m + self.log_weights))
        alert = stat >= self.log_threshold
        est = self.count / self.n if self.n else math.nan
        pval = float(min(1.0, math.exp(-self.max_log_e)))
        reason = (f"rate {self.baseline * 100:.2f}% -> {est * 100:.2f}% over {self.n} events, "
                  f"log SR {stat:.1f} vs threshold {self.log_threshold:.1f}: {'alert' if alert else 'no alert'}")
        return SequentialResult(alert=alert, statistic=stat, threshold=self.log_threshold, e_value=float(math.exp(min(loge, 700))),
                                pvalue=pval, estimate=est, baseline=self.baseline, n=self.n, count=self.count,
                                elapsed_seconds=self.elapsed, reason=reason)


class RateMonitor(BernoulliSRDetector):
    """Sequential monitor of one rate metric in one segment against a baseline window.

    ``direction`` defaults to the "worse" direction of ``metric`` (``HIGHER_IS_WORSE``);
    pass "both" to also catch improvements.  ``false_alarms_per_day`` is the budget per
    metric-segment (default 1 per 30 days).

    Example:
        >>> m = RateMonitor(2400, 3000, metric="task_success_rate")
        >>> m.direction
        'decrease'
        >>> m.update(700, 1000, elapsed_seconds=100); m.check().alert
        True
    """

    def __init__(
        self,
        baseline_count: int,
        baseline_n: int,
        *,
        metric: str = "refusal_rate",
        false_alarms_per_day: float = 1 / 30,
        direction: str | None = None,
        baseline_confidence: float = 0.99,
        shifts: Sequence[float] = DEFAULT_SHIFTS,
    ) -> None:
        if baseline_n <= 0:
            raise ValueError("a sequential monitor needs a non-empty baseline")
        if direction is None:
            direction = "increase" if HIGHER_IS_WORSE.get(metric, True) else "decrease"
        lo, hi = wilson_ci(baseline_count, baseline_n, baseline_confidence)
        super().__init__(hi, lo, direction=direction, threshold=threshold_seconds(false_alarms_per_day),
                         shifts=shifts, baseline=baseline_count / baseline_n)
        self.metric = metric
        self.false_alarms_per_day = false_alarms_per_day


class LengthMonitor:
    """Sequential monitor of response length against a baseline histogram.

    Two Bernoulli streams: "length > baseline median" (both directions: longer *or* shorter)
    and "length > baseline p90" (both directions), each with half the false-alarm budget.
    Update with the histogram of the newly arrived responses.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> base = IntHistogram.from_samples(np.rint(rng.lognormal(6, 0.6, 20000)).astype(int))
        >>> m = LengthMonitor(base)
        >>> for _ in range(5):
        ...     m.update(IntHistogram.from_samples(np.rint(1.3 * rng.lognormal(6, 0.6, 600)).astype(int)), 60)
        >>> m.check().alert
        True
    """

    def __init__(
        self,
        baseline: IntHistogram,
        *,
        false_alarms_per_day: float = 1 / 30,
        baseline_confidence: float = 0.99,
        shifts: Sequence[float] = DEFAULT_SHIFTS,
    ) -> None:
        if baseline.n == 0:
            raise ValueError("a sequential monitor needs a non-empty baseline")
        self.median = baseline.quantile(0.5)
        self.p90 = baseline.quantile(0.9)
        self.detectors: list[BernoulliSRDetector] = []
        for cut in (self.median, self.p90):
            above = baseline.count_above(cut)
            lo, hi = wilson_ci(above, baseline.n, baseline_confidence)
            self.detectors.append(BernoulliSRDetector(
                hi, lo, direction="both", threshold=threshold_seconds(false_alarms_per_day / 2),
                shifts=shifts, baseline=above / baseline.n))
        self.false_alarms_per_day = false_alarms_per_day

    def reset(self) -> None:
        """Forget everything since the last reset."""
        for d in self.detectors:
            d.reset()

    def update(self, current: IntHistogram, elapsed_seconds: float) -> None:
        """Add the histogram of responses that arrived during ``elapsed_seconds``."""
        n = current.n
        for d, cut in zip(self.detectors, (self.median, self.p90)):
            d.update(current.count_above(cut), n, elapsed_seconds)

    def check(self) -> SequentialResult:
        """Alarm if either stream alarms; statistic/threshold of the stream closest to alarming."""
        results = [d.check() for d in self.detectors]
        best = max(results, key=lambda r: r.statistic - r.threshold)
        pval = min(1.0, 2.0 * min(r.pvalue for r in results))
        which = "median" if best is results[0] else "p90"
        reason = (f"share above baseline {which} {best.baseline * 100:.1f}% -> {best.estimate * 100:.1f}% "
                  f"over {best.n} responses, log SR {best.statistic:.1f} vs {best.threshold:.1f}: "
                  f"{'alert' if any(r.alert for r in results) else 'no alert'}")
        return SequentialResult(alert=any(r.alert for r in results), statistic=best.statistic, threshold=best.threshold,
                                e_value=best.e_value, pvalue=pval, estimate=best.estimate, baseline=best.baseline,
                                n=best.n, count=best.count, elapsed_seconds=best.elapsed_seconds, reason=reason)
