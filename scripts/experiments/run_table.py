"""Markdown table of continual runs: mean ± std over seeds × orders of each setup's average accuracy after the
last task, plus routing accuracy, from the metrics.json of each run folder given on the command line."""
import json
import pathlib
import sys

SETUPS = ["cil", "cil_gated", "cil_top_task", "cil_uniform", "cil_dam", "cil_dam_top_task", "til_routed",
          "til_oracle"]


def cell(stat):
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}" if stat else "—"


print("| run | n | " + " | ".join(SETUPS) + " | routing acc. | DAM routing acc. | CIL weighted F1 | CIL BWT |")
print("|---|---|" + "---|" * (len(SETUPS) + 4))
for folder in sys.argv[1:]:
    path = pathlib.Path(folder) / "metrics.json"
    if not path.exists():
        print(f"| {folder} | (unfinished) |")
        continue
    m = json.loads(path.read_text())
    avg = m["average_accuracy"]
    cells = [cell(avg.get(s)) for s in SETUPS]
    n = m["routing_accuracy"]["n"]
    print(f"| {pathlib.Path(folder).name} | {n} | " + " | ".join(cells)
          + f" | {cell(m['routing_accuracy'])} | {cell(m.get('dam_routing_accuracy'))}"
          + f" | {cell(m['cil_weighted_f1'])} | {cell(m['bwt'].get('cil'))} |")
