#!/usr/bin/env python3
"""Paired per-sequence CIL differences between methods of an `l2r compare` grid (docs/results.md, "Where L2R
stands").

Reads the grid's compare.json: each row names a benchmark, a method, the run folder its numbers come from and the
setup that holds its CIL accuracy (`cil_setup`). For each pair of methods below and each benchmark, the script reads
every sequence's metrics.json (<run>/seed<S>-order<O>/metrics.json) and prints the means, the mean / min / max
difference in points and on how many sequences the first method is ahead.
    python3 scripts/experiments/paired.py [runs/compare-quick/compare.json]
"""
import glob
import json
import os
import statistics
import sys

TABLE = sys.argv[1] if len(sys.argv) > 1 else "runs/compare-quick/compare.json"
PAIRS = [
    ("l2r-wavg", "epi"),
    ("l2r-wavg", "dam-top-task"),
    ("l2r-wavg", "mocl"),
    ("l2r-merge", "l2r-wavg"),
    ("l2r-lora", "arrow"),
    ("l2r-lora", "epi"),
    ("l2r-lora", "l2r-wavg"),
    ("l2r-softmax", "l2r-wavg"),
]


def final_accuracy(row):
    """Per sequence folder, the row's CIL setup's average accuracy after the last task."""
    values = {}
    for path in sorted(glob.glob(os.path.join(row["run_dir"], "seed*-order*", "metrics.json"))):
        summary = json.load(open(path))["summaries"].get(row["cil_setup"])
        if summary is not None:
            values[os.path.basename(os.path.dirname(path))] = summary["average_accuracy"]
    return values


rows = json.load(open(TABLE))["rows"]
by_key = {(r["benchmark"], r["method"]): r for r in rows if r.get("cil_setup")}
benchmarks = list(dict.fromkeys(r["benchmark"] for r in rows))
for benchmark in benchmarks:
    for name_a, name_b in PAIRS:
        if (benchmark, name_a) not in by_key or (benchmark, name_b) not in by_key:
            continue
        a = final_accuracy(by_key[(benchmark, name_a)])
        b = final_accuracy(by_key[(benchmark, name_b)])
        common = sorted(set(a) & set(b))
        if not common:
            continue
        diffs = [100 * (a[k] - b[k]) for k in common]
        print(
            f"{benchmark:12} {name_a} vs {name_b}: n={len(common)} "
            f"{statistics.mean(a[k] for k in common):.3f} vs {statistics.mean(b[k] for k in common):.3f}, "
            f"difference mean {statistics.mean(diffs):+.1f} (min {min(diffs):+.1f}, max {max(diffs):+.1f}), "
            f"{name_a} ahead on {sum(d > 0 for d in diffs)}"
        )
