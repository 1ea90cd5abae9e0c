"""Markdown table of continual runs: mean ± std over seeds × orders of each setup's average accuracy after the
last task, plus routing accuracy, from the metrics.json of each run folder given on the command line. A
sequence folder (<run>/seed<S>-order<O>) gives that one sequence's numbers; NAME=DIR1,DIR2,... pools the
sequences of several run folders (e.g. one run per seed) into one row."""
import json
import pathlib
import sys

SETUPS = ["cil", "cil_gated", "cil_top_task", "cil_uniform", "cil_dam", "cil_dam_top_task", "til_routed",
          "til_oracle"]


def cell(stat):
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}" if stat else "—"


print("| run | n | " + " | ".join(SETUPS) + " | routing acc. | DAM routing acc. | CIL weighted F1 | CIL BWT |")
print("|---|---|" + "---|" * (len(SETUPS) + 4))
def mean_std(values):
    n = len(values)
    mean = sum(values) / max(n, 1)
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"mean": mean, "std": var ** 0.5, "n": n}


def pooled(folders):
    """A run summary over the sequences of every folder."""
    sequences = []
    for folder in folders:
        sequences += json.loads((pathlib.Path(folder) / "metrics.json").read_text())["sequences"]
    mean = lambda v: sum(v) / max(len(v), 1)
    setups = sequences[0]["summaries"].keys()
    return {
        "average_accuracy": {k: mean_std([q["summaries"][k]["average_accuracy"] for q in sequences]) for k in setups},
        "bwt": {k: mean_std([q["summaries"][k]["bwt"] for q in sequences]) for k in setups},
        "routing_accuracy": mean_std([mean(q["final_routing_accuracy"]) for q in sequences]),
        "dam_routing_accuracy": mean_std([mean(q.get("final_dam_routing_accuracy", [])) for q in sequences]),
        "cil_weighted_f1": mean_std([mean(q["final_cil_weighted_f1"]) for q in sequences]),
    }


for folder in sys.argv[1:]:
    if "=" in folder:
        name, dirs = folder.split("=", 1)
        dirs = dirs.split(",")
        missing = [d for d in dirs if not (pathlib.Path(d) / "metrics.json").exists()]
        if missing:
            print(f"| {name} | (unfinished: {', '.join(missing)}) |")
            continue
        m = pooled(dirs)
        folder = name
    else:
        path = pathlib.Path(folder) / "metrics.json"
        if not path.exists():
            print(f"| {folder} | (unfinished) |")
            continue
        m = json.loads(path.read_text())
    if "summaries" in m:  # one sequence's metrics.json
        one = lambda v: {"mean": v, "std": 0.0}
        mean = lambda v: sum(v) / max(len(v), 1)
        m = {"average_accuracy": {k: one(v["average_accuracy"]) for k, v in m["summaries"].items()},
             "bwt": {k: one(v["bwt"]) for k, v in m["summaries"].items()},
             "routing_accuracy": dict(one(mean(m["final_routing_accuracy"])), n=1),
             "dam_routing_accuracy": one(mean(m.get("final_dam_routing_accuracy", []))),
             "cil_weighted_f1": one(mean(m["final_cil_weighted_f1"]))}
    avg = m["average_accuracy"]
    cells = [cell(avg.get(s)) for s in SETUPS]
    n = m["routing_accuracy"]["n"]
    print(f"| {pathlib.Path(folder).name} | {n} | " + " | ".join(cells)
          + f" | {cell(m['routing_accuracy'])} | {cell(m.get('dam_routing_accuracy'))}"
          + f" | {cell(m['cil_weighted_f1'])} | {cell(m['bwt'].get('cil'))} |")
