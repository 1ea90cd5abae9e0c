#!/usr/bin/env python3
"""Decision rules studied offline on exported scores (docs/results.md, "Decision rules on the exported scores").

Reads the `scores-step{N}.jsonl` that `l2r run` writes with `export_scores = true` (the last step of each run's
first sequence) and evaluates CIL rules built from what a finished task leaves behind: the routers' module weights
w, each head with its own module alone, the ridge's class scores (RanPAC-style, all layers) and the shared-Gaussian
(LDA / EPI) task posterior. The rule family

    score(c) = log softmax(κ · ridge)_c + β · log softmax_t(head_t alone)_c + α · log w_t + γ · log p_gauss(t)

(t the task of class c) has its (κ, β, α, γ) chosen leave-one-benchmark-out: on the validation runs of every other
benchmark (mean CIL), then applied to the held-out benchmark's test run. Also printed, as a ceiling of the family
and NOT a result, the best grid point on each test run itself.

    scripts/experiments/decision_rules.py BENCHMARK=VALIDATION_RUN,TEST_RUN[,BASELINE_RUN] ...

BASELINE_RUN names a run whose `seed0-order0` sequence evaluated the baselines on the same modules, for a test run
that evaluated none (e.g. prior_protocol.sh's `<benchmark>-epochs10-test`).

Needs numpy.
"""
import glob
import itertools
import json
import os
import sys

import numpy as np

RIDGE = "RandomRidge(AllLayers)"
GAUSS = "SharedGaussian(AllLayers)"
GRID = {"kappa": (0, 3, 10, 30), "beta": (0, 0.5, 1), "alpha": (0, 0.5, 1), "gamma": (0, 0.1, 1, 10)}


def log_softmax(x):
    s = x - x.max(1, keepdims=True)
    return s - np.log(np.exp(s).sum(1, keepdims=True))


def per_task(x, task_of, fn):
    out = np.empty_like(x)
    for t in range(task_of.max() + 1):
        out[:, task_of == t] = fn(x[:, task_of == t])
    return out


def task_log_posterior(log_probs, task_of):
    cols = []
    for t in range(task_of.max() + 1):
        s = log_probs[:, task_of == t]
        m = s.max(1, keepdims=True)
        cols.append((m + np.log(np.exp(s - m).sum(1, keepdims=True)))[:, 0])
    return np.stack(cols, 1)


def load(run):
    paths = sorted(glob.glob(os.path.join(run, "seed*-order*", "scores-step*.jsonl")),
                   key=lambda p: int(p.rsplit("step", 1)[1].split(".")[0]))
    if not paths:
        sys.exit(f"{run}: no scores-step*.jsonl (run it with export_scores = true)")
    records = [json.loads(line) for line in open(paths[-1])]
    offsets = records[0]["offsets"]
    total = len(records[0]["parts"][0])
    task_of = np.searchsorted(np.array(offsets), np.arange(total), side="right") - 1
    tasks = []
    for r in records:
        ridge = np.array(r["scorers"][RIDGE])
        tasks.append({
            "target": np.array(offsets[r["task"]]) + np.array(r["labels"]),
            "ridge": {k: log_softmax(k * ridge) for k in GRID["kappa"]},
            "alone": per_task(np.array(r["alone"]), task_of, log_softmax),
            "log_w": np.log(np.clip(np.array(r["w"]), 1e-12, 1))[:, task_of],
            "gauss": task_log_posterior(log_softmax(np.array(r["scorers"][GAUSS])), task_of)[:, task_of],
            "til": np.mean(np.array(r["alone"])[:, task_of == r["task"]].argmax(1) == np.array(r["labels"])),
            "til_ridge": np.mean(ridge[:, task_of == r["task"]].argmax(1) == np.array(r["labels"])),
        })
    return tasks


def cil(tasks, score):
    return float(np.mean([np.mean(score(t).argmax(1) == t["target"]) for t in tasks]))


def rule(kappa, beta, alpha, gamma):
    return lambda t: t["ridge"][kappa] + beta * t["alone"] + alpha * t["log_w"] + gamma * t["gauss"]


def best_baseline(run, sequence="seed*-order*"):
    evals = sorted(glob.glob(os.path.join(run, sequence, "eval-step*.json")),
                   key=lambda p: int(p.rsplit("step", 1)[1].split(".")[0]))
    accuracy = json.load(open(evals[-1]))["accuracy"]
    own = {"cil", "cil_top_task", "cil_gated"}
    scores = {k: float(np.mean(v)) for k, v in accuracy.items() if k.startswith("cil_") and k not in own}
    name = max(scores, key=scores.get)
    return name, scores[name]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    benchmarks = {}
    for arg in sys.argv[1:]:
        name, runs = arg.split("=", 1)
        benchmarks[name] = runs.split(",")
    points = list(itertools.product(*GRID.values()))
    val, test, extra = {}, {}, {}
    for name, (val_run, test_run, *baseline_run) in benchmarks.items():
        v, t = load(val_run), load(test_run)
        val[name] = {p: cil(v, rule(*p)) for p in points}
        test[name] = {p: cil(t, rule(*p)) for p in points}
        extra[name] = {
            "til_oracle": float(np.mean([x["til"] for x in t])),
            "til_ridge": float(np.mean([x["til_ridge"] for x in t])),
            "epi_alone": cil(t, lambda x: 1e3 * x["gauss"] + x["alone"]),
            "joint_alone": cil(t, lambda x: x["log_w"] + x["alone"]),
            "baseline": best_baseline(*baseline_run, "seed0-order0") if baseline_run else best_baseline(test_run),
        }
    print("| benchmark | rule chosen without it (κ, β, α, γ) | its CIL (test) | best baseline (test) | difference "
          "| ceiling of the family on test | TIL oracle |")
    print("|---|---|---|---|---|---|---|")
    for name in benchmarks:
        others = [o for o in benchmarks if o != name] or [name]
        chosen = max(points, key=lambda p: np.mean([val[o][p] for o in others]))
        base_name, base = extra[name]["baseline"]
        ceiling = max(test[name].values())
        print(f"| {name} | {chosen} | {test[name][chosen]:.4f} | {base_name} {base:.4f} | "
              f"{test[name][chosen] - base:+.4f} | {ceiling:.4f} | {extra[name]['til_oracle']:.4f} |")
    print()
    print("| benchmark | EPI rule, heads alone | routers' weights × heads alone | ridge alone (κ any, β = α = γ = 0) "
          "| within the true task (TIL): ridge / modules' heads |")
    print("|---|---|---|---|---|")
    for name in benchmarks:
        e = extra[name]
        print(f"| {name} | {e['epi_alone']:.4f} | {e['joint_alone']:.4f} | {test[name][(10, 0, 0, 0)]:.4f} "
              f"| {e['til_ridge']:.4f} / {e['til_oracle']:.4f} |")


if __name__ == "__main__":
    main()
