"""Markdown table of continual runs: mean ± std over seeds × orders of each setup's average accuracy after the
last task, and each routing setup's routing accuracy, from the metrics.json of each run folder given on the
command line. The setups are the ones the runs hold (their names as `l2r` stores them: `cil`, `cil_epi`,
`routing_dam`, …), so nothing here copies the list. A sequence folder (<run>/seed<S>-order<O>) gives that one
sequence's numbers; NAME=DIR1,DIR2,... pools the sequences of several run folders (e.g. one run per seed) into one
row."""
import json
import pathlib
import sys


def cell(stat):
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}" if stat else "—"


def mean_std(values):
    n = len(values)
    mean = sum(values) / max(n, 1)
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"mean": mean, "std": var ** 0.5, "n": n}


def pooled(sequences):
    """A run summary over sequences (each a sequence's metrics.json)."""
    mean = lambda v: sum(v) / max(len(v), 1)
    setups = [k for k in sequences[0]["summaries"] if all(k in q["summaries"] for q in sequences)]
    routing = [k for k in sequences[0].get("final_routing", {}) if all(k in q["final_routing"] for q in sequences)]
    return {
        "n": len(sequences),
        "average_accuracy": {k: mean_std([q["summaries"][k]["average_accuracy"] for q in sequences]) for k in setups},
        "bwt": {k: mean_std([q["summaries"][k]["bwt"] for q in sequences]) for k in setups},
        "routing_accuracy": {k: mean_std([q["final_routing"][k] for q in sequences]) for k in routing},
        "cil_weighted_f1": mean_std([mean(q["final_cil_weighted_f1"]) for q in sequences]),
    }


def sequences_of(folder):
    metrics = json.loads((pathlib.Path(folder) / "metrics.json").read_text())
    return metrics["sequences"] if "sequences" in metrics else [metrics]


rows = []
for arg in sys.argv[1:]:
    name, dirs = arg.split("=", 1) if "=" in arg else (pathlib.Path(arg).name, arg)
    dirs = dirs.split(",")
    missing = [d for d in dirs if not (pathlib.Path(d) / "metrics.json").exists()]
    if missing:
        rows.append((name, None, f"(unfinished: {', '.join(missing)})"))
        continue
    rows.append((name, pooled([q for d in dirs for q in sequences_of(d)]), None))

done = [m for _, m, _ in rows if m]
setups = list(dict.fromkeys(k for m in done for k in m["average_accuracy"]))
routing = list(dict.fromkeys(k for m in done for k in m["routing_accuracy"]))
print("| run | n | " + " | ".join(setups + routing) + " | CIL weighted F1 | CIL BWT |")
print("|---|---|" + "---|" * (len(setups) + len(routing) + 2))
for name, m, note in rows:
    if m is None:
        print(f"| {name} | {note} |")
        continue
    cells = [cell(m["average_accuracy"].get(s)) for s in setups] + [cell(m["routing_accuracy"].get(s)) for s in routing]
    print(f"| {name} | {m['n']} | " + " | ".join(cells)
          + f" | {cell(m['cil_weighted_f1'])} | {cell(m['bwt'].get('cil'))} |")
