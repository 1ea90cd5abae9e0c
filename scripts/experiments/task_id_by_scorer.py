#!/usr/bin/env python3
"""Which scorer identifies the task, and what a ridge task posterior would give in CIL (docs/results.md, "A SetFit-style
contrastive loss for the modules", the observation at its end).

Reads the last step's `scores-step{N}.jsonl` of each run's first sequence (runs of `l2r run` with
`export_scores = true`, e.g. runs/decision-e10/<benchmark>-<split>) and prints, per run:
- task identification: the routers' largest weight, the shared Gaussian's task posterior, and the ridge's
  (the task whose classes hold most of softmax(κ × ridge scores), κ = 10);
- CIL of "ridge task posterior × within-task scores" (within the task: the heads alone with their own module, plus
  κ/3 × the ridge), of the ridge alone, and of L2R as run (the sequence's eval file).

    scripts/experiments/task_id_by_scorer.py RUN [RUN ...]

Needs numpy.
"""
import glob
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decision_rules import GAUSS, RIDGE, log_softmax, per_task  # noqa: E402

KAPPA = 10


def by_step(path):
    return int(path.rsplit("step", 1)[1].split(".")[0])


def task_log_posterior(log_probs, task_of, num_tasks):
    cols = []
    for t in range(num_tasks):
        s = log_probs[:, task_of == t]
        m = s.max(1, keepdims=True)
        cols.append((m + np.log(np.exp(s - m).sum(1, keepdims=True)))[:, 0])
    return np.stack(cols, 1)


def summarise(run):
    sequence = sorted(glob.glob(os.path.join(run, "seed*-order*")))[0]
    scores = sorted(glob.glob(os.path.join(sequence, "scores-step*.jsonl")), key=by_step)
    evals = sorted(glob.glob(os.path.join(sequence, "eval-step*.json")), key=by_step)
    if not scores or not evals:
        sys.exit(f"{run}: no scores-step*.jsonl / eval-step*.json (run it with export_scores = true)")
    records = [json.loads(line) for line in open(scores[-1])]
    offsets = records[0]["offsets"]
    num_tasks = len(offsets)
    task_of = np.searchsorted(np.array(offsets), np.arange(len(records[0]["parts"][0])), side="right") - 1
    found = {k: [] for k in ("routers", "gaussian", "ridge", "cil_ridge_posterior", "cil_ridge")}
    for r in records:
        ridge = np.array(r["scorers"][RIDGE])
        target = np.array(offsets[r["task"]]) + np.array(r["labels"])
        ridge_posterior = task_log_posterior(log_softmax(KAPPA * ridge), task_of, num_tasks)
        gaussian = task_log_posterior(log_softmax(np.array(r["scorers"][GAUSS])), task_of, num_tasks)
        found["routers"].append(np.mean(np.array(r["w"]).argmax(1) == r["task"]))
        found["gaussian"].append(np.mean(gaussian.argmax(1) == r["task"]))
        found["ridge"].append(np.mean(ridge_posterior.argmax(1) == r["task"]))
        within = per_task(np.array(r["alone"]) + KAPPA / 3 * ridge, task_of, log_softmax)
        decision = ridge_posterior[:, task_of] + within
        found["cil_ridge_posterior"].append(np.mean(decision.argmax(1) == target))
        found["cil_ridge"].append(np.mean(ridge.argmax(1) == target))
    l2r = float(np.mean(json.load(open(evals[-1]))["accuracy"]["cil"]))
    return {k: float(np.mean(v)) for k, v in found.items()}, l2r


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| run | task identified: routers / Gaussian / ridge | CIL: ridge posterior × within-task / ridge alone / L2R |")
    print("|---|---|---|")
    for run in sys.argv[1:]:
        s, l2r = summarise(run)
        print(f"| {run} | {s['routers']:.3f} / {s['gaussian']:.3f} / {s['ridge']:.3f} "
              f"| {s['cil_ridge_posterior']:.4f} / {s['cil_ridge']:.4f} / {l2r:.4f} |")


if __name__ == "__main__":
    main()
