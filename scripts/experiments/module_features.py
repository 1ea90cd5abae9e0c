#!/usr/bin/env python3
"""Classifiers on the modules' own representations, fitted on the memory only (docs/results.md, "Classifiers on
the modules' representations").

Reads what `l2r run` exports with `export_scores = true` after the last task: per evaluated example and per memory
example, the representation every head reads with each module alone (`alone_pooled`: T slices of the hidden size),
plus the training-free classifiers' class scores. EASE-style (Zhou et al., CVPR 2024): an input passed through every
task's module gives T task-specific views; a class's prototype in each view is the mean of its memory examples
there. Classifiers, all fitted on the memory alone (what a finished task legitimately leaves behind):

    proto       cosine to class prototypes on the concatenation of the T L2-normalised views
    proto_own   cosine to each class's prototype in its own task's view only
    proto_rho   Σ_t (ρ if t is the class's task else 1) · cos(view_t, prototype_{c,t}), ρ chosen out of sample
    ridge       kernel ridge regression of one-hot labels on the concatenated views, λ by exact leave-one-out
    + frozen    each of the above added to the frozen-feature ridge's (RanPAC-style, all layers) log-probabilities

Weights (ρ, the mixing weight with the frozen ridge) are chosen leave-one-benchmark-out on the validation runs and
scored on the held-out benchmark's test run, as in decision_rules.py.

    scripts/experiments/module_features.py BENCHMARK=VALIDATION_RUN,TEST_RUN ...

Needs numpy.
"""
import glob
import json
import os
import sys

import numpy as np

RIDGE = "RandomRidge(AllLayers)"
RHOS = (0, 0.5, 1, 2, 4, 8)
MIX = (0, 0.25, 0.5, 1, 2, 4)
TEMPERATURE = 20.0  # cosine scores → logits, as prototype classifiers' softmax scale


def last(run, pattern):
    paths = sorted(glob.glob(os.path.join(run, "seed*-order*", pattern)),
                   key=lambda p: int(p.rsplit("step", 1)[1].split(".")[0]))
    if not paths:
        sys.exit(f"{run}: no {pattern} (run it with export_scores = true)")
    return paths[-1]


def views(rows, modules):
    x = np.array(rows, dtype=np.float64)
    x = x.reshape(len(x), modules, -1)
    return x / np.linalg.norm(x, axis=2, keepdims=True)


def log_softmax(x):
    s = x - x.max(1, keepdims=True)
    return s - np.log(np.exp(s).sum(1, keepdims=True))


def load(run):
    records = [json.loads(line) for line in open(last(run, "scores-step*.jsonl"))]
    memory = json.loads(open(last(run, "memory-step*.jsonl")).read())
    offsets = np.array(memory["offsets"])
    modules = len(offsets)
    test = [{
        "views": views(r["alone_pooled"], modules),
        "target": offsets[r["task"]] + np.array(r["labels"]),
        "ridge": log_softmax(np.array(r["scorers"][RIDGE])),
        "scorers": {k: np.array(v) for k, v in r["scorers"].items()},
    } for r in records]
    total = test[0]["ridge"].shape[1]
    return {
        "test": test,
        "memory_views": views(memory["alone_pooled"], modules),
        "memory_target": offsets[np.array(memory["tasks"])] + np.array(memory["labels"]),
        "task_of": np.searchsorted(offsets, np.arange(total), side="right") - 1,
        "classes": total,
    }


def prototypes(data):
    """(classes, T, hidden): each class's mean memory view, per module, L2-normalised."""
    x, y = data["memory_views"], data["memory_target"]
    means = np.stack([x[y == c].mean(0) for c in range(data["classes"])])
    return means / np.linalg.norm(means, axis=2, keepdims=True)


def cosines(protos, x):
    """(n, classes, T): cosine of each view to each class's prototype in that view."""
    return np.einsum("nth,cth->nct", x, protos)


def proto_scores(data, protos, x, rho):
    own = np.eye(protos.shape[1])[data["task_of"]]  # (classes, T): 1 where t is the class's task
    weights = 1 + (rho - 1) * own
    return TEMPERATURE * (cosines(protos, x) * weights).sum(2) / weights.sum(1)


def ridge_fit(data):
    """Kernel ridge on the concatenated views of the memory; λ chosen by exact leave-one-out accuracy."""
    x = data["memory_views"].reshape(len(data["memory_views"]), -1)
    y = np.eye(data["classes"])[data["memory_target"]]
    gram = x @ x.T
    eigval, eigvec = np.linalg.eigh(gram)
    best = None
    for lam in 10.0 ** np.arange(-3, 4):
        hat = (eigvec * (eigval / (eigval + lam))) @ eigvec.T
        fitted = hat @ y
        loo = (fitted - np.diag(hat)[:, None] * y) / (1 - np.diag(hat))[:, None]
        score = np.mean(loo.argmax(1) == data["memory_target"])
        if best is None or score > best[0]:
            best = (score, lam)
    alpha = np.linalg.solve(gram + best[1] * np.eye(len(x)), y)
    return x.T @ alpha


def classifiers(data):
    """name → function(task record, weight) → (n, classes) scores; the weight is ρ or the frozen-ridge mix."""
    protos = prototypes(data)
    ridge = ridge_fit(data)
    base = {
        "proto": lambda t, _: proto_scores(data, protos, t["views"], 1),
        "proto_own": lambda t, _: proto_scores(data, protos, t["views"], 1e6),
        "proto_rho": lambda t, rho: proto_scores(data, protos, t["views"], rho),
        "ridge": lambda t, _: TEMPERATURE * t["views"].reshape(len(t["views"]), -1) @ ridge,
    }
    mixed = {
        f"{name} + frozen": (lambda f: lambda t, mix: log_softmax(f(t, 2)) + mix * t["ridge"])(f)
        for name, f in base.items()
    }
    return {**base, **mixed}


def cil(data, score, weight):
    return float(np.mean([np.mean(score(t, weight).argmax(1) == t["target"]) for t in data["test"]]))


def weights_of(name):
    if name == "proto_rho":
        return RHOS
    return MIX if name.endswith("+ frozen") else (None,)


def best_scorer(data):
    scores = {k: cil(data, lambda t, _, k=k: t["scorers"][k], None) for k in data["test"][0]["scorers"]}
    name = max(scores, key=scores.get)
    return name, scores[name]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    runs = dict(arg.split("=", 1) for arg in sys.argv[1:])
    loaded = {b: [load(r) for r in pair.split(",")] for b, pair in runs.items()}
    val = {b: {} for b in loaded}
    test = {b: {} for b in loaded}
    for b, (v, t) in loaded.items():
        for name, f in classifiers(v).items():
            val[b][name] = {w: cil(v, f, w) for w in weights_of(name)}
        for name, f in classifiers(t).items():
            test[b][name] = {w: cil(t, f, w) for w in weights_of(name)}
    names = list(test[next(iter(test))])
    print("| classifier | " + " | ".join(f"{b} (weight chosen without it)" for b in loaded) + " |")
    print("|---|" + "---|" * len(loaded))
    for name in names:
        cells = []
        for b in loaded:
            others = [o for o in loaded if o != b] or [b]
            chosen = max(weights_of(name), key=lambda w: np.mean([val[o][name][w] for o in others]))
            shown = "" if chosen is None else f" ({chosen})"
            cells.append(f"{test[b][name][chosen]:.4f}{shown}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for b, (_, t) in loaded.items():
        scorer, score = best_scorer(t)
        cells.append(f"{scorer} {score:.4f}")
    print("| best training-free classifier (full training statistics, no module) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
