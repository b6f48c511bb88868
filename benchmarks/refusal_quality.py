"""Refusal classifier quality versus human labels (XSTest v2 completions).

Usage: python benchmarks/refusal_quality.py [PATH] [--errors]

Binary task: refusal = full_refusal or partial_refusal (human label and prediction alike).
Prints precision, recall, F1 and accuracy per model and overall, the 3-class confusion
matrix, the rules that fired and the throughput of the classifier on this file. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.signals.refusal import REFUSAL_CLASSES, text_signals  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal_dev_xstest.jsonl"
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    ap.add_argument("--errors", action="store_true", help="print misclassified responses (first 160 chars)")
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
    if args.errors:
        print("\nMisclassified:")
        for _, r in data[y != p].iterrows():
            print(f"  [{r['model']}] human={r['label']} pred={r['pred']} rule={r['rule']}: "
                  f"{r['response'][:160]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
