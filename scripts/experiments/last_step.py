#!/usr/bin/env python3
"""Every setup's mean accuracy over tasks after the last evaluated step of one sequence of one or more run folders,
side by side (docs/results.md, "Issue 15").

    scripts/experiments/last_step.py RUN_DIR [RUN_DIR ...] [--sequence seed0-order0] [--prefix cil_]
"""
import argparse
import glob
import json
import os


def last_step(run, sequence):
    files = glob.glob(os.path.join(run, sequence, "eval-step*.json"))
    if not files:
        raise SystemExit(f"{run}: no eval-step*.json under {sequence}")
    latest = max(files, key=lambda f: int(f.rsplit("step", 1)[1].split(".")[0]))
    accuracy = json.load(open(latest))["accuracy"]
    return {name: sum(values) / len(values) for name, values in accuracy.items() if values}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--sequence", default="seed0-order0")
    parser.add_argument("--prefix", default="", help="only setups whose name starts with this")
    args = parser.parse_args()
    tables = {run: last_step(run, args.sequence) for run in args.runs}
    names = sorted({n for t in tables.values() for n in t if n.startswith(args.prefix)})
    print("| setup | " + " | ".join(os.path.basename(r.rstrip("/")) for r in args.runs) + " |")
    print("|---|" + "---|" * len(args.runs))
    for name in names:
        cells = [f"{tables[r][name]:.4f}" if name in tables[r] else "–" for r in args.runs]
        print(f"| `{name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
