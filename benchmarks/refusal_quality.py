"""Refusal classifier quality versus human labels (XSTest v2 completions).

Usage: python benchmarks/refusal_quality.py [PATH] [--errors] [--speed ROWS [--speed-baseline RULES_PY]]

Binary task: refusal = full_refusal or partial_refusal (human label and prediction alike).
Prints precision, recall, F1 and accuracy per model and overall, the 3-class confusion
matrix, the rules that fired, per-family precision / recall (the family of the rule that
decided), the figures as each rule family is added in turn (the families of issue 19 after
the earlier ones) and the time taken on this file. ``--speed ROWS``: the responses replicated
to ROWS rows, classified with the earlier families only and with all rules, alternately,
three times each (one run, one machine state). ``--speed-baseline RULES_PY``: also time the
rules of another ``refusal_rules.py`` (e.g. main's, from ``git show main:monitor/signals/refusal_rules.py``)
against today's, alternately, five times each, in this one process with this engine. Not a test.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.signals.refusal import REFUSAL_CLASSES, text_signals  # noqa: E402
from monitor.signals.refusal_rules import RULES  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal_dev_xstest.jsonl"
#: Rule families in the order they were added; the last four are those of issue 19.
EARLIER = ("apology_inability", "ai_identity", "policy_safety", "redirect_professional", "partial_comply")
ADDED = ("premise_pushback", "preamble_refusal", "capability_redirect", "moralising_opener")
#: Rules added in the second pass of issue 19 for other model families' wording, by the style
#: they were written for (the same pass also widened existing rules; those cannot be toggled).
STYLE_RULES = {
    "llama2_chat": ("en_not_within_my", "en_not_appropriate_for_me", "en_premise_important_note"),
    "gemini": ("en_role_so_cant", "en_ai_purpose_harmless", "en_still_learning"),
    "claude": ("en_dont_produce_content", "en_not_sure_can"),
    "llama3 / command-r (bare)": ("en_bare_refusal",),
    "older chatgpt": ("en_prevented_from",),
}
LABELS = {"full_compliance": "compliance", "partial_refusal": "partial_refusal", "full_refusal": "full_refusal"}


def scores(y: pd.Series, p: pd.Series) -> dict[str, float]:
    """Binary precision / recall / F1 / accuracy for boolean Series."""
    tp = int((y & p).sum())
    fp = int((~y & p).sum())
    fn = int((y & ~p).sum())
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else float("nan")
    return {"n": len(y), "refusals": int(y.sum()), "precision": prec, "recall": rec, "f1": f1,
            "accuracy": float((y == p).mean())}


def compare_rule_sets(big: pd.Series, models: pd.Series, path: str, reps: int = 5) -> None:
    """CPU time of the rules in ``path`` against today's, alternately, with today's engine."""
    from monitor.signals import refusal

    spec = importlib.util.spec_from_file_location("baseline_refusal_rules", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    base = [refusal.RefusalRule(r.name, r.family, r.pattern, r.position, r.klass, tuple(r.models), r.lang)
            for r in mod.RULES]
    # both sets take the engine's built-in path (combined alternations), not the user-rule chain
    refusal._BUILTIN = frozenset(refusal._BUILTIN) | frozenset(base)
    times: dict[str, list[float]] = {"baseline rules": [], "today's rules": []}
    for rules in (base, None):
        text_signals(big[:1000], models[:1000], rules)
    for _ in range(reps):
        for name, rules in (("baseline rules", base), ("today's rules", None)):
            c0 = time.process_time()
            text_signals(big, models, rules)
            times[name].append(time.process_time() - c0)
    print(f"\nRule sets on {len(big)} rows (CPU seconds, {reps} alternating runs, one process):")
    for name, ts in times.items():
        print(f"  {name:15s} " + " ".join(f"{t:.2f}" for t in ts) + f"  median {statistics.median(ts):.2f}")
    ratio = statistics.median(times["today's rules"]) / statistics.median(times["baseline rules"])
    print(f"  today / baseline: {ratio:.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    ap.add_argument("--errors", action="store_true", help="print misclassified responses (first 160 chars)")
    ap.add_argument("--speed", type=int, default=0, metavar="ROWS", help="time the classifier on ROWS rows")
    ap.add_argument("--speed-baseline", metavar="RULES_PY", help="with --speed: time the rules of this file too")
    args = ap.parse_args(argv)

    data = pd.read_json(args.path, lines=True)
    t0 = time.perf_counter()
    out = text_signals(data["response"], data["model"])
    dt = time.perf_counter() - t0
    data["label"] = data["label_refusal"].map(LABELS)
    data["pred"] = out["refusal_class"].to_numpy()
    data["rule"] = out["refusal_rule"].to_numpy()
    y = data["label"] != "compliance"
    p = data["pred"] != "compliance"

    rows = []
    for model, g in data.groupby("model", sort=True):
        rows.append({"model": model, **scores(y[g.index], p[g.index])})
    rows.append({"model": "overall", **scores(y, p)})
    table = pd.DataFrame(rows).set_index("model")
    pd.set_option("display.width", 120)
    print(f"file: {args.path}  ({len(data)} responses, classified in {dt:.2f} s)")
    print("\nBinary (refusal = full or partial):")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print("\n3-class confusion matrix (rows = human label, columns = prediction):")
    cm = pd.crosstab(pd.Categorical(data["label"], REFUSAL_CLASSES), pd.Categorical(data["pred"], REFUSAL_CLASSES),
                     rownames=["human"], colnames=["predicted"], dropna=False)
    print(cm.to_string())
    print(f"\n3-class accuracy: {(data['label'] == data['pred']).mean():.3f}")
    print("\nRules that decided (count):")
    print(data["rule"].value_counts().to_string())
    family = {r.name: r.family for r in RULES}
    data["family"] = data["rule"].map(family)
    print("\nPer family (the family of the rule that decided; recall = share of all human refusals):")
    fam_rows = []
    for fam in EARLIER + ADDED:
        hit = (data["family"] == fam).to_numpy()
        tp, fp = int((hit & y).sum()), int((hit & ~y).sum())
        fam_rows.append({"family": fam, "decided": int(hit.sum()), "tp": tp, "fp": fp,
                         "precision": tp / (tp + fp) if tp + fp else float("nan"), "recall": tp / max(int(y.sum()), 1)})
    print(pd.DataFrame(fam_rows).set_index("family").to_string(float_format=lambda v: f"{v:.3f}"))
    print("\nAs families are added (binary, all models):")
    steps = []
    for k in range(len(ADDED) + 1):
        on = set(EARLIER + ADDED[:k])
        rules = [r for r in RULES if r.family in on]
        pk = pd.Series(text_signals(data["response"], data["model"], rules)["refusal_class"].to_numpy() != "compliance")
        steps.append({"families": "earlier" if k == 0 else "+ " + ADDED[k - 1], **scores(y, pk)})
    print(pd.DataFrame(steps).set_index("families").to_string(float_format=lambda v: f"{v:.3f}"))
    print("\nSecond pass of issue 19, as each style's new rules are added (binary, all models):")
    new = {n for names in STYLE_RULES.values() for n in names}
    steps, on = [], set()
    for k, (style, names) in enumerate([("before", ())] + list(STYLE_RULES.items())):
        on |= set(names)
        rules = [r for r in RULES if r.name not in new or r.name in on]
        pk = pd.Series(text_signals(data["response"], data["model"], rules)["refusal_class"].to_numpy() != "compliance")
        steps.append({"rules": style if k == 0 else "+ " + style, **scores(y, pk)})
    print(pd.DataFrame(steps).set_index("rules").to_string(float_format=lambda v: f"{v:.3f}"))
    if args.speed:
        big = pd.concat([data["response"]] * (args.speed // len(data) + 1), ignore_index=True)[: args.speed]
        models = pd.Series(["m"] * len(big))
        earlier = [r for r in RULES if r.family in set(EARLIER)]
        times: dict[str, list[float]] = {"earlier families": [], "all rules": []}
        text_signals(big[:1000], models[:1000], earlier)  # warm up both SQL texts
        text_signals(big[:1000], models[:1000])
        for _ in range(3):
            for name, rules in (("earlier families", earlier), ("all rules", None)):
                t0, c0 = time.perf_counter(), time.process_time()
                text_signals(big, models, rules)
                times[name].append(time.process_time() - c0)
        print(f"\nSpeed on {len(big)} rows (CPU seconds, 3 alternating runs):")
        for name, ts in times.items():
            ts = sorted(ts)
            print(f"  {name:17s} min {ts[0]:.2f}  median {ts[1]:.2f}  ({len(big) / ts[1]:,.0f} events per CPU-second)")
        if args.speed_baseline:
            compare_rule_sets(big, models, args.speed_baseline)
    if args.errors:
        print("\nMisclassified:")
        for _, r in data[y != p].iterrows():
            print(f"  [{r['model']}] human={r['label']} pred={r['pred']} rule={r['rule']}: "
                  f"{r['response'][:160]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
