#!/usr/bin/env python3
"""The routers' prior chosen leave-one-benchmark-out (docs/results.md, "The routers' prior, chosen
leave-one-benchmark-out"). Reads the runs of scripts/experiments/prior_protocol.sh: for each benchmark, the
candidate (by default centroid or gaussian) with the best mean validation CIL over the *other* benchmarks is the one
chosen for it, and its test CIL is set beside the centroid run's and every baseline's (evaluated in the centroid
test run), per seed.

    scripts/experiments/prior_protocol.py [runs/prior-protocol] [--candidates centroid,gaussian] [--reference centroid]

--reference names the candidate whose test runs evaluated the baselines (prior_protocol.sh's BASELINES_WITH); when
they evaluated none, the baseline columns say so. A second table gives every candidate's mean CIL (and routing
accuracy) on both splits.
"""
import argparse
import glob
import os

from last_step import last_step

OWN = {"cil", "cil_top_task", "cil_gated"}


def per_seed(run):
    """seed folder → that sequence's last-step mean accuracies."""
    sequences = sorted(os.path.basename(s) for s in glob.glob(os.path.join(run, "seed*-order*")))
    return {s: last_step(run, s) for s in sequences}


def mean(values):
    values = list(values)
    return sum(values) / len(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default="runs/prior-protocol")
    parser.add_argument("--candidates", default="centroid,gaussian")
    parser.add_argument("--reference", default="centroid")
    args = parser.parse_args()
    root, PRIORS = args.root, tuple(args.candidates.split(","))
    runs = {}
    for path in glob.glob(os.path.join(root, "*-*-*")):
        if not os.path.isdir(path) or not os.path.exists(os.path.join(path, "metrics.json")):
            continue
        benchmark, prior, split = os.path.basename(path).rsplit("-", 2)
        runs[(benchmark, prior, split)] = per_seed(path)
    benchmarks = sorted({b for b, _, _ in runs})
    val = {(b, p): mean(s["cil"] for s in runs[(b, p, "validation")].values())
           for b in benchmarks for p in PRIORS if (b, p, "validation") in runs}
    print(f"| benchmark | validation CIL {' / '.join(PRIORS)} | chosen without it | its test CIL | "
          "reference's test CIL | best baseline (test) | chosen − baseline, per seed | TIL oracle |")
    print("|---|---|---|---|---|---|---|---|")
    for b in benchmarks:
        others = [o for o in benchmarks if o != b and all((o, p) in val for p in PRIORS)]
        if not others or (b, args.reference, "test") not in runs:
            continue
        chosen = max(PRIORS, key=lambda p: mean(val[(o, p)] for o in others))
        test = runs.get((b, chosen, "test"))
        shipped = runs[(b, args.reference, "test")]
        if test is None:
            continue
        baselines = {k for s in shipped.values() for k in s if k.startswith("cil_") and k not in OWN}
        if baselines:
            best = max(baselines, key=lambda k: mean(s[k] for s in shipped.values()))
            gaps = [test[seed]["cil"] - shipped[seed][best] for seed in shipped]
            best_text = f"`{best}` {mean(s[best] for s in shipped.values()):.4f}"
            gaps_text = ", ".join(f"{g:+.3f}" for g in gaps)
        else:
            best_text = gaps_text = "– (the reference run evaluated none)"
        validation = " / ".join(f"{val[(b, p)]:.4f}" if (b, p) in val else "–" for p in PRIORS)
        print(f"| {b} | {validation} "
              f"| {chosen} | {mean(s['cil'] for s in test.values()):.4f} "
              f"| {mean(s['cil'] for s in shipped.values()):.4f} "
              f"| {best_text} "
              f"| {gaps_text} "
              f"| {mean(s['til_oracle'] for s in shipped.values()):.4f} |")
    print()
    print(f"| benchmark | {' | '.join(f'{p}: validation / test CIL (routing)' for p in PRIORS)} |")
    print(f"|---|{'---|' * len(PRIORS)}")
    for b in benchmarks:
        cells = []
        for p in PRIORS:
            parts = []
            for split in ("validation", "test"):
                run = runs.get((b, p, split))
                parts.append("–" if run is None else
                             f"{mean(s['cil'] for s in run.values()):.4f} "
                             f"({mean(s.get('routing', float('nan')) for s in run.values()):.3f})")
            cells.append(" / ".join(parts))
        print(f"| {b} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
