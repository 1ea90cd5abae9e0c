#!/usr/bin/env python3
"""The shipped defaults at full size against the best baseline (docs/results.md, "The shipped defaults at full
size"). Reads the runs of scripts/experiments/full_size.sh: per benchmark, L2R-wavg's CIL per seed, the best baseline
(by its mean over the seeds) and the gap to it per sequence, and the TIL oracle and routed TIL; then, for the
benchmarks whose orders 1 and 2 were run too (`<benchmark>-orders`), the 3 × 3 table of orders.py, each sequence
paired with its seed's order-0 baselines.

    scripts/experiments/full_size.py [runs/full-size]
"""
import argparse
import glob
import os

from orders import COLUMNS, print_table, report, sequences
from prior_protocol import OWN, mean


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default="runs/full-size")
    args = parser.parse_args()
    print("| benchmark | sequences | L2R-wavg CIL (per seed) | best baseline | gap per seed | mean gap | "
          "TIL oracle − CIL | TIL routed vs oracle |")
    print("|---|---|---|---|---|---|---|---|")
    # A run still going counts with the sequences it has finished (fitted after the last task, a sequence writes
    # its one evaluation when it is done).
    runs = sorted(os.path.dirname(c) for c in glob.glob(os.path.join(args.root, "*", "config.toml")))
    runs = [run for run in runs if not run.endswith("-orders") and sequences(run)]
    for run in runs:
        seeds = sequences(run)
        baselines = {k for s in seeds.values() for k in s if k.startswith("cil_") and k not in OWN}
        if not baselines:
            print(f"| {os.path.basename(run)} | no baselines evaluated | | | | | | |")
            continue
        best = max(baselines, key=lambda k: mean(s[k] for s in seeds.values()))
        gaps = [s["cil"] - s[best] for s in seeds.values()]
        cil = mean(s["cil"] for s in seeds.values())
        oracle = mean(s["til_oracle"] for s in seeds.values())
        print(f"| {os.path.basename(run)} | {len(seeds)} "
              f"| {cil:.4f} ({', '.join('%.3f' % s['cil'] for s in seeds.values())}) "
              f"| `{best}` {mean(s[best] for s in seeds.values()):.4f} "
              f"| {', '.join(f'{g:+.3f}' for g in gaps)} | {100 * mean(gaps):+.1f} "
              f"| {100 * (oracle - cil):.1f} "
              f"| {mean(s['til_routed'] for s in seeds.values()):.3f} vs {oracle:.3f} |")

    grids = [run for run in runs if os.path.isdir(f"{run}-orders") and sequences(f"{run}-orders")]
    if grids:
        print()
        # Without the last column: the orders runs evaluate no baselines, so there is nothing to check there.
        print_table([report(os.path.basename(run), run, f"{run}-orders", run) for run in grids], COLUMNS[:-1])


if __name__ == "__main__":
    main()
