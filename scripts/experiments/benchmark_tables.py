#!/usr/bin/env python3
"""Per benchmark, every method at every representation: CIL, TIL and routing accuracy after the last task (mean ±
std over the run's sequences) and what the method keeps (docs/results.md, "Where L2R stands, per benchmark").

    scripts/experiments/benchmark_tables.py NAME=RUN[,L2R_VARIANT_RUN...] ...

RUN is a finished `l2r run` folder whose evaluations hold every baseline (`[baselines] evaluate = true`); each
extra run adds its `cil` / `til_routed` / `routing` as one more L2R row, named by the run folder. Storage follows
`compare/storage.rs`: per task, the module and head files (measured in the run's module cache), the memory texts,
the statistics' shapes in f32; "once" is what is paid whatever the number of tasks (the routers' file after the
last task, whose Gaussian prior holds a precision matrix; a shared covariance; the ridge's Gram matrix).
"""
import glob
import json
import os
import statistics
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

F32 = 4
# name in the evaluation → (method, representation, storage kind)
METHODS = [
    ("", "L2R-wavg (routers)", "layers", "l2r"),
    ("_top_task", "L2R, top module only", "layers", "l2r"),
    ("_uniform", "uniform average of the modules", "—", "modules"),
    ("_epi", "EPI-style", "final", "epi"),
    ("_epi_layers", "EPI-style", "layers", "epi"),
    ("_dam", "DAM-style", "final", "dam"),
    ("_dam_layers", "DAM-style", "layers", "dam"),
    ("_dam_top_task", "DAM-style, route then classify", "final", "dam"),
    ("_dam_top_task_layers", "DAM-style, route then classify", "layers", "dam"),
    ("_mocl", "MoCL-style", "final", "dam"),
    ("_mocl_layers", "MoCL-style", "layers", "dam"),
    ("_ncm", "nearest class mean (no module)", "final", "ncm"),
    ("_ncm_layers", "nearest class mean (no module)", "layers", "ncm"),
    ("_lda", "LDA, shared covariance (no module)", "final", "lda"),
    ("_lda_layers", "LDA, shared covariance (no module)", "layers", "lda"),
    ("_ridge", "RanPAC-style ridge (no module)", "final", "ridge"),
    ("_ridge_layers", "RanPAC-style ridge (no module)", "layers", "ridge"),
]


def last_accuracy(sequence):
    files = glob.glob(os.path.join(sequence, "eval-step*.json"))
    latest = max(files, key=lambda f: int(f.rsplit("step", 1)[1].split(".")[0]))
    evaluation = json.load(open(latest))
    return evaluation, {k: sum(v) / len(v) for k, v in evaluation["accuracy"].items() if v}


def sequences(run):
    found = sorted(glob.glob(os.path.join(run, "seed*-order*")))
    if not found:
        sys.exit(f"{run}: no seed*-order* folders")
    return [last_accuracy(s) for s in found]


def cell(values):
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def symmetric(dim):
    """Bytes of a symmetric dim × dim matrix kept as its upper triangle (compare/storage.rs)."""
    return dim * (dim + 1) // 2 * F32


def megabytes(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def storage_facts(run, evaluation):
    """Mean module + head bytes, memory bytes and classes per task, the routers' bytes, and the widths."""
    config = tomllib.load(open(os.path.join(run, "config.toml"), "rb")) if tomllib else {}
    cache = config.get("module_cache")
    tasks = evaluation["tasks"]
    module, classes = [], []
    for name in tasks:
        found = glob.glob(os.path.join(cache or run, "*", "seed0", name)) if cache else []
        if found:
            module.append(sum(os.path.getsize(os.path.join(found[0], f)) for f in ("module.safetensors",
                                                                                   "head.safetensors")))
            classes.append(len(json.load(open(os.path.join(found[0], "task.json")))["labels"]))
    sequence = sorted(glob.glob(os.path.join(run, "seed*-order*")))[0]
    routers = sorted(glob.glob(os.path.join(sequence, "router-step*.safetensors")))
    memory = json.load(open(os.path.join(sequence, "memory.json")))
    entries = memory["entries"] if isinstance(memory, dict) else memory
    return {
        "tasks": len(tasks),
        "module": statistics.mean(module) if module else float("nan"),
        "classes": statistics.mean(classes) if classes else float("nan"),
        "memory": sum(len(e["text"].encode()) for e in entries) / len(tasks),
        "router": os.path.getsize(routers[-1]) if routers else 0,
        "dims": {"final": 384, "layers": 7 * 384},  # MiniLM: the embeddings' and six layers' mean-pooled states
        "ridge_dim": config.get("baselines", {}).get("ridge_dim", 2048),
    }


def storage(kind, representation, facts):
    d = facts["dims"].get(representation, 0)
    means = facts["classes"] * d * F32
    per_task, once = {
        "l2r": (facts["module"] + facts["memory"], facts["router"]),
        "modules": (facts["module"], 0),
        "epi": (facts["module"] + means, symmetric(d)),
        "dam": (facts["module"] + d * F32, 0),
        "ncm": (means, 0),
        "lda": (means, symmetric(d)),
        "ridge": (facts["classes"] * facts["ridge_dim"] * F32, symmetric(facts["ridge_dim"])),
    }[kind]
    return megabytes(per_task), (megabytes(once) if once else "—")


def table(name, runs):
    base = sequences(runs[0])
    facts = storage_facts(runs[0], base[0][0])
    print(f"#### {name} ({len(base)} sequences)\n")
    print("| method | representation | CIL | TIL | routing | kept per task | kept once |")
    print("|---|---|---|---|---|---|---|")
    for suffix, method, representation, kind in METHODS:
        cil = [a.get("cil" + suffix) for _, a in base]
        if all(v is None for v in cil):
            continue
        # EPI classifies with the task's own module once the task is known: its TIL is the oracle's.
        til_key = {"": "til_routed", "_top_task": None, "_uniform": None, "_epi": "til_oracle",
                   "_epi_layers": "til_oracle"}.get(suffix, "til" + suffix.replace("_top_task", ""))
        til = [a.get(til_key) for _, a in base] if til_key else []
        routing_key = {"": "routing", "_top_task": "routing", "_uniform": None}.get(
            suffix, "routing" + suffix.replace("_top_task", ""))
        routing = [a.get(routing_key) for _, a in base] if routing_key else []
        kept, once = storage(kind, representation, facts)
        print(f"| {method} | {representation} | {cell(cil)} | {cell(til)} | {cell(routing)} | {kept} | {once} |")
    for extra in runs[1:]:
        seqs = sequences(extra)
        extra_facts = storage_facts(extra, seqs[0][0])
        kept, once = storage("l2r", "layers", extra_facts)
        label = os.path.basename(extra.rstrip("/"))
        print(f"| L2R-wavg, `{label}` | layers | {cell([a['cil'] for _, a in seqs])} | "
              f"{cell([a.get('til_routed') for _, a in seqs])} | {cell([a.get('routing') for _, a in seqs])} | "
              f"{kept} | {once} |")
    print(f"| TIL oracle (the task's own module) | — | — | {cell([a.get('til_oracle') for _, a in base])} | — | "
          f"{megabytes(facts['module'])} | — |\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        name, runs = arg.split("=", 1)
        table(name, runs.split(","))


if __name__ == "__main__":
    main()
