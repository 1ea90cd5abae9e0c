#!/usr/bin/env python3
"""The shipped defaults against the best baseline over 3 seeds × 3 orders (issue 15, item 5; docs/results.md).
Order 0 is prior_protocol.sh's run `<benchmark>-<order0>-test` (the shipped defaults: `--order0`, default
heldoutridgepool since the eighth session; heldoutridge before), orders 1 and 2
orders.sh's `<benchmark>-test`. A sequence's baselines are its own where its run evaluated them, else those of the same seed's order-0 sequence of
`<benchmark>-<reference>-test` (`--reference`, default centroid; the statistics-based baselines do not depend on the order after the last task; the
sequences that evaluated them in both places check it; DAM, which routes by the memory, does, and is never the
best baseline).

    scripts/experiments/orders.py [--protocol runs/prior-protocol] [--orders runs/orders] [--order0 heldoutridgepool]
                                  [--reference centroid] [far5 verb-cil ...]
"""
import argparse
import glob
import os
import statistics

from last_step import last_step

OWN = {"cil", "cil_top_task", "cil_gated"}


def sequences(run):
    """'seedS-orderO' → that sequence's last-step mean accuracies."""
    names = sorted(os.path.basename(s) for s in glob.glob(os.path.join(run, "seed*-order*")))
    return {n: last_step(run, n) for n in names if glob.glob(os.path.join(run, n, "eval-step*.json"))}


def baselines_of(accuracies):
    return {k: v for k, v in accuracies.items() if k.startswith("cil_") and k not in OWN}


def mean_std(values):
    values = list(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


COLUMNS = ["benchmark", "sequences", "L2R-wavg CIL", "best baseline CIL", "mean gap", "ahead", "TIL oracle − CIL",
           "TIL routed vs oracle", "statistics baselines: largest difference from order 0"]


def print_table(rows, columns=COLUMNS):
    """`report`'s rows as a markdown table of `columns` (its first ones)."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(v) for v in list(row.values())[:len(columns)]) + " |")


def report(benchmark, order0_run, orders_run, reference_run):
    """The row of `benchmark` from its run folders: order 0, the other orders, and the one whose order-0 sequences
    evaluated the baselines."""
    l2r = sequences(order0_run)
    l2r.update(sequences(orders_run))
    reference = sequences(reference_run)
    rows, checks = [], []
    for name, own in sorted(l2r.items()):
        seed = name.split("-")[0]
        base = reference.get(f"{seed}-order0", {})
        mine = baselines_of(own)
        if mine and base:
            # DAM routes by the memory, which depends on the order; the others are sums over the tasks.
            checks.extend(abs(mine[k] - base[k]) for k in mine if k in base and "dam" not in k)
        rows.append((name, own, mine or baselines_of(base)))
    if not rows:
        return None
    names = {k for _, _, b in rows for k in b}
    if not names:
        return None
    best = max(names, key=lambda k: statistics.mean(b[k] for _, _, b in rows if k in b))
    gaps = [own["cil"] - b[best] for _, own, b in rows]
    oracle_gaps = [own["til_oracle"] - own["cil"] for _, own, _ in rows]
    til_gaps = [own["til_oracle"] - own["til_routed"] for _, own, _ in rows]
    return {
        "benchmark": benchmark,
        "sequences": len(rows),
        "l2r": mean_std(own["cil"] for _, own, _ in rows),
        "best": f"`{best}` {mean_std(b[best] for _, _, b in rows)}",
        "gap": f"{statistics.mean(gaps):+.4f}",
        "ahead": f"{sum(g > 0 for g in gaps)} of {len(gaps)}",
        "oracle": f"{statistics.mean(oracle_gaps):.4f}",
        "til": f"{mean_std(own['til_routed'] for _, own, _ in rows)} vs {mean_std(own['til_oracle'] for _, own, _ in rows)} ({statistics.mean(til_gaps):.4f} under)",
        "check": f"{max(checks):.4f}" if checks else "–",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmarks", nargs="*", default=["far5", "senti4", "verb-cil", "wordnet-cil"])
    parser.add_argument("--protocol", default="runs/prior-protocol")
    parser.add_argument("--orders", default="runs/orders")
    parser.add_argument("--order0", default="heldoutridgepool")
    parser.add_argument("--reference", default="centroid")
    args = parser.parse_args()
    rows = [report(benchmark, os.path.join(args.protocol, f"{benchmark}-{args.order0}-test"),
                   os.path.join(args.orders, f"{benchmark}-test"),
                   os.path.join(args.protocol, f"{benchmark}-{args.reference}-test"))
            for benchmark in args.benchmarks]
    print_table([row for row in rows if row])

if __name__ == "__main__":
    main()
