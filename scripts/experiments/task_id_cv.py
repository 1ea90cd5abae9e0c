#!/usr/bin/env python3
"""How well can the frozen encoder tell which task an example belongs to? Cross-validated task identification
on a run's memory (5-fold, stratified by class, 3 repeats) with different frozen representations and rules:
nearest task centroid (what DAM-style routing does) vs logistic regression (what a linear router can learn),
on the final sentence embedding or on every layer's mean-pooled state.

    bench/.venv/bin/python scripts/experiments/task_id_cv.py runs/report/far5/l2r-wavg/seed0-order0/memory.json

Needs scripts/setup-python.sh (PyTorch, transformers) and the MiniLM asset.
"""
import json
import pathlib
import sys

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertModel

ROOT = pathlib.Path(__file__).resolve().parents[2]


def embed_layers(texts, assets):
    tokenizer = Tokenizer.from_file(str(assets / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(128)
    model = BertModel.from_pretrained(str(assets), add_pooling_layer=False).eval()
    rows = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tokenizer.encode(text).ids])
            states = model(input_ids=ids, output_hidden_states=True).hidden_states
            rows.append(np.stack([torch.nn.functional.normalize(h.mean(1), dim=-1)[0].numpy() for h in states]))
    return np.array(rows, dtype=np.float32)  # (n, layers + 1, d)


def folds(classes, k, rng):
    out = [[] for _ in range(k)]
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        rng.shuffle(members)
        for i, j in enumerate(members):
            out[i % k].append(j)
    return [np.array(f) for f in out]


def normalize(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def nearest_centroid(x, tasks, train, test, num_tasks):
    centroids = normalize(np.stack([x[train][tasks[train] == t].mean(0) for t in range(num_tasks)]))
    return (x[test] @ centroids.T).argmax(1)


def logistic_regression(x, tasks, train, test, num_tasks, weight_decay=1e-3, steps=300):
    xt, yt = torch.tensor(x[train]), torch.tensor(tasks[train])
    w = torch.zeros(x.shape[1], num_tasks, requires_grad=True)
    b = torch.zeros(num_tasks, requires_grad=True)
    optimizer = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + weight_decay * (w ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (torch.tensor(x[test]) @ w + b).argmax(1).numpy()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    entries = json.loads(pathlib.Path(sys.argv[1]).read_text())["entries"]
    tasks = np.array([e["task"] for e in entries])
    classes = tasks * 1000 + np.array([e["label"] for e in entries])
    layers = embed_layers([e["text"] for e in entries], ROOT / "assets/minilm")
    num_tasks = int(tasks.max()) + 1
    representations = {"final sentence embedding": layers[:, -1]}
    for l in range(layers.shape[1]):
        representations[f"layer {l} mean pool"] = layers[:, l]
    representations["every layer (pooled_layers)"] = (layers.reshape(len(entries), -1) / np.sqrt(layers.shape[1])).astype(np.float32)
    print(f"{len(entries)} memory examples, {num_tasks} tasks, counts {np.bincount(tasks).tolist()}")
    print("| representation | nearest task centroid | logistic regression |")
    print("|---|---|---|")
    for name, x in representations.items():
        scores = {"centroid": [], "logreg": []}
        rng = np.random.default_rng(0)
        for _ in range(3):
            parts = folds(classes, 5, rng)
            for i, test in enumerate(parts):
                train = np.concatenate([p for j, p in enumerate(parts) if j != i])
                scores["centroid"].append((nearest_centroid(x, tasks, train, test, num_tasks) == tasks[test]).mean())
                scores["logreg"].append((logistic_regression(x, tasks, train, test, num_tasks) == tasks[test]).mean())
        print(f"| {name} | {np.mean(scores['centroid']):.3f} | {np.mean(scores['logreg']):.3f} |")


if __name__ == "__main__":
    main()
