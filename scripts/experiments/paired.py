#!/usr/bin/env python3
"""Paired per-sequence CIL differences of the issue-5 grid (docs/results.md, "Where L2R stands").

Reads the last eval-step*.json of every seed*-order* folder of the runs under runs/compare-quick and prints, per
benchmark and pair of methods, the means, the mean / min / max difference in points and on how many sequences the
first method is ahead. A method is (run folder, metric): L2R's own CIL is `cil`; the baselines evaluated inside a
run are under `baselines` (cil_epi, cil_mocl, cil_arrow).
    python3 scripts/experiments/paired.py [runs/compare-quick]
"""
import glob
import json
import os
import statistics
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "runs/compare-quick"
PAIRS = [  # (name A, run A, metric A), (name B, run B, metric B)
    (("l2r-wavg", "base", "cil"), ("epi", "base", "cil_epi")),
    (("l2r-wavg", "base", "cil"), ("dam-top-task", "base", "cil_dam_top_task")),
    (("l2r-wavg", "base", "cil"), ("mocl", "base", "cil_mocl")),
    (("l2r-merge", "merge", "cil"), ("l2r-wavg", "base", "cil")),
    (("l2r-lora", "lora", "cil"), ("arrow", "lora", "cil_arrow")),
    (("l2r-lora", "lora", "cil"), ("epi", "base", "cil_epi")),
    (("l2r-lora", "lora", "cil"), ("l2r-wavg", "base", "cil")),
    (("l2r-softmax", "softmax-gates", "cil"), ("l2r-wavg", "base", "cil")),
]


def final_accuracy(benchmark, run, metric):
    """Mean over tasks of `metric` after the last step, per sequence folder."""
    values = {}
    for folder in sorted(glob.glob(os.path.join(ROOT, benchmark, run, "seed*-order*"))):
        steps = glob.glob(os.path.join(folder, "eval-step*.json"))
        if not steps:
            continue
        last = max(steps, key=lambda p: int(p.rsplit("step", 1)[1].split(".")[0]))
        evaluation = json.load(open(last))
        per_task = evaluation.get(metric)
        if per_task is None:
            per_task = evaluation.get("baselines", {}).get(metric)
        if per_task:
            values[os.path.basename(folder)] = sum(per_task) / len(per_task)
    return values


for benchmark in ("far5", "senti4", "wordnet-cil"):
    for (name_a, run_a, metric_a), (name_b, run_b, metric_b) in PAIRS:
        a = final_accuracy(benchmark, run_a, metric_a)
        b = final_accuracy(benchmark, run_b, metric_b)
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
