#!/usr/bin/env python3
"""Cost as a task library grows (issue 16, item 6): adds up to 50 tasks, one at a time, and measures each add (wall
time, peak memory, and where the generation's time went: loading and embedding the memory, fitting the routers,
evaluating the tasks: the new one whole, the earlier ones on the library's `evaluation_budget`), at 10, 25 and 50
tasks that evaluation against every test example (`l2r library evaluate`, evaluate.jsonl), and at 2, 10, 25 and 50
tasks the server's throughput and memory, with top-k sparse composition (the library's `[router] top_k`, K modules
per text) and with every module (dense).

The tasks are cut from the shipped corpora with `l2r tasks --export`: every pair of labels of bbc, the four VADER
domains, spam, WordNet nouns and WordNet verbs (66 pairs), taken round-robin across the corpora so that every prefix
mixes domains; PER_CLASS examples of each label (a seeded sample). Settings: configs/library-demo.toml with
`top_k = K` added to its [router] (none with --top-k 0); a library evaluates no baselines on its adds.

    python3 scripts/library-cost.py [--tasks 50] [--per-class 100] [--serve-at 2,10,25,50] [--serve-seconds 20]
                                    [--evaluate-at 10,25,50] [--top-k 2] [--out runs/library-cost]

`--serve-again ROUNDS` re-measures only the serving ratios in one sitting, alternating ROUNDS times: a copy of the
library rolled back to generation 2 (top-k), the current library with top-k, and with every module (rows in
serving-again.jsonl).

Resumable: the library and the results live in runs/library-cost/ (adds.jsonl, serving.jsonl); a second call adds
only the tasks still missing. Prints the table that BENCHMARKS.md holds. Standard library only.
"""
import argparse
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from loadtest import start_server  # the same start-up as the load test (this folder is on sys.path)

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CORPORA = ["bbc", "vader-tweets", "wordnet-noun", "vader-movie", "wordnet-verb", "vader-amazon", "spam",
           "vader-nyt"]
TEXTS = ["Shares fell after the quarterly results.", "The striker scored twice in the final.",
         "A warm, funny and beautifully acted story.", "Win a free cruise, click here now!!!",
         "a large wild animal of the cat family", "to move quickly on foot",
         "The new phone has a foldable screen.", "This movie was a complete waste of time."]


def l2r(args, *command, json_out=False):
    full = [args.binary, *command, "--quiet"] + (["--json"] if json_out else [])
    done = subprocess.run(full, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"l2r {' '.join(command)} failed: {done.stderr}")
    return json.loads(done.stdout) if json_out else done.stdout


def task_list(args):
    """(name, corpus, labels) for every label pair of the corpora, round-robin across corpora."""
    builtin = {row["task"]: row["labels"] for row in l2r(args, "tasks", json_out=True)}
    pairs = {c: list(itertools.combinations(builtin[c], 2)) for c in CORPORA}
    tasks = []
    for round_ in range(max(len(p) for p in pairs.values())):
        for corpus in CORPORA:
            if round_ < len(pairs[corpus]):
                a, b = pairs[corpus][round_]
                short = lambda label: label.split(".")[-1]  # noun.animal -> animal
                tasks.append((f"{corpus}-{short(a)}-{short(b)}", corpus, [a, b]))
    return tasks[: args.tasks]


def timed_add(args, library, name, data):
    """Runs `l2r library add` under /usr/bin/time: (wall seconds, peak RSS MiB, the add's JSON)."""
    command = ["/usr/bin/time", "-v", args.binary, "library", "add", library, "--name", name, "--data", data,
               "--quiet", "--json"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"adding {name} failed: {done.stderr[-2000:]}")
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return wall, rss_kib / 1024, json.loads(done.stdout)


def serve_throughput(args, library, tasks, top_k):
    """Texts per second and peak RSS of `l2r serve --library` (TOP_K modules per text; every module when it is
    at least the number of tasks) under CLIENTS clients for SECONDS."""
    server, host, port = start_server(args.binary, "--library", library, "--top-k", str(top_k), "--quiet")
    body = json.dumps({"texts": TEXTS})

    def post(conn):
        conn.request("POST", "/v1/classify", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")

    post(http.client.HTTPConnection(host, port, timeout=120))  # warm-up
    done, errors = [0], []
    deadline = time.monotonic() + args.serve_seconds

    def client():
        conn = http.client.HTTPConnection(host, port, timeout=120)
        while time.monotonic() < deadline:
            try:
                post(conn)
                done[0] += 1
            except Exception as error:
                errors.append(str(error))
                conn = http.client.HTTPConnection(host, port, timeout=120)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/v1/stats")
    stats = json.loads(conn.getresponse().read())
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    return {"tasks": tasks, "top_k": min(top_k, tasks), "texts_per_s": round(done[0] * len(TEXTS) / elapsed, 1), "requests": done[0],
            "errors": len(errors), "peak_rss_mib": round(stats.get("peak_rss_mib") or 0, 1), "clients": args.clients,
            "seconds": round(elapsed, 1)}


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def append_jsonl(path, row):
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(REPO, "target/release/l2r"))
    parser.add_argument("--out", default=os.path.join(REPO, "runs/library-cost"))
    parser.add_argument("--config", default=os.path.join(REPO, "configs/library-demo.toml"))
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--serve-at", default="2,10,25,50")
    parser.add_argument("--serve-seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=2, help="the library's [router] top_k (0: every module)")
    parser.add_argument("--evaluate-at", default="10,25,50",
                        help="after these adds, also evaluate every example (`l2r library evaluate`) and compare "
                             "with the add's budgeted evaluation (rows in evaluate.jsonl)")
    parser.add_argument("--serve-again", type=int, default=0, metavar="ROUNDS",
                        help="only re-measure serving: 2 tasks vs the current library, alternated ROUNDS times")
    args = parser.parse_args()
    os.environ.setdefault("L2R_ASSETS", os.path.join(REPO, "assets"))
    os.makedirs(os.path.join(args.out, "data"), exist_ok=True)
    library = os.path.join(args.out, "library")
    adds_path, serving_path = os.path.join(args.out, "adds.jsonl"), os.path.join(args.out, "serving.jsonl")
    if args.serve_again:
        return serve_again(args, library, len(read_jsonl(adds_path)))
    if not os.path.exists(os.path.join(library, "library.toml")):
        config = args.config
        if args.top_k:
            config = os.path.join(args.out, "library.toml")
            with open(args.config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(text.replace("[router]\n", f"[router]\ntop_k = {args.top_k}\n", 1))
        l2r(args, "library", "init", library, "--config", config)
    serve_at = {int(n) for n in args.serve_at.split(",")}
    evaluate_at = {int(n) for n in args.evaluate_at.split(",") if n}
    evaluate_path = os.path.join(args.out, "evaluate.jsonl")
    evaluated = {row["tasks"] for row in read_jsonl(evaluate_path)}
    added = {row["task"] for row in read_jsonl(adds_path)}
    served = {(row["tasks"], row.get("top_k", row["tasks"])) for row in read_jsonl(serving_path)}
    for index, (name, corpus, labels) in enumerate(task_list(args), start=1):
        if name not in added:
            data = os.path.join(args.out, "data", f"{name}.csv")
            l2r(args, "tasks", "--export", corpus, "--labels", ",".join(labels), "--per-class",
                str(args.per_class), "--out", data)
            wall, rss, published = timed_add(args, library, name, data)
            timings = published.get("timings") or {}
            row = {"tasks": index, "task": name, "add_seconds": round(wall, 2), "peak_rss_mib": round(rss, 1),
                   **{k: round(v, 2) for k, v in timings.items()},
                   "cil": round(published["manifest"]["cil"], 4),
                   "routing": round(published["manifest"]["routing"], 4)}
            append_jsonl(adds_path, row)
            print(json.dumps(row), flush=True)
        if index in evaluate_at and index not in evaluated:
            row = every_example(args, library, index)
            append_jsonl(evaluate_path, row)
            print(json.dumps(row), flush=True)
        for top_k in sorted({min(args.top_k or index, index), index}):
            if index in serve_at and (index, top_k) not in served:
                row = serve_throughput(args, library, index, top_k)
                append_jsonl(serving_path, row)
                print(json.dumps(row), flush=True)
    print_table(read_jsonl(adds_path), read_jsonl(serving_path))


def every_example(args, library, tasks):
    """The current generation on every test example against its add's evaluation (earlier tasks on a budget)."""
    started = time.monotonic()
    both = l2r(args, "library", "evaluate", library, json_out=True)
    seconds = time.monotonic() - started
    published, full = both["at_publish"], both["every_example"]
    mean = lambda row: sum(row) / len(row)
    row = {"tasks": tasks, "evaluate_seconds": round(seconds, 2),
           "published_examples": sum(len(h) for h in published["hits"]["cil"]),
           "test_examples": sum(len(h) for h in full["hits"]["cil"])}
    for setup in ["cil", "til_routed", "routing"]:
        a, b = published["accuracy"][setup], full["accuracy"][setup]
        row[f"{setup}_published"], row[f"{setup}_full"] = round(mean(a), 4), round(mean(b), 4)
        row[f"{setup}_task_abs_error"] = round(mean([abs(x - y) for x, y in zip(a, b)]), 4)
    return row


def serve_again(args, library, tasks):
    """Serving at 2 tasks (a copy rolled back to generation 2) and at `tasks`, top-k and every module, alternated."""
    at_two = os.path.join(args.out, "library-at-2")
    if not os.path.exists(at_two):
        subprocess.run(["cp", "-r", library, at_two], check=True)
        l2r(args, "library", "rollback", at_two, "2")
    top_k = args.top_k or tasks
    for _ in range(args.serve_again):
        for path, n, k in [(at_two, 2, min(top_k, 2)), (library, tasks, top_k), (library, tasks, tasks)]:
            row = serve_throughput(args, path, n, k)
            append_jsonl(os.path.join(args.out, "serving-again.jsonl"), row)
            print(json.dumps(row), flush=True)


def print_table(adds, serving):
    by_tasks = {row["tasks"]: row for row in adds}
    dense = {row["tasks"]: row for row in serving if row.get("top_k", row["tasks"]) == row["tasks"]}
    sparse = {row["tasks"]: row for row in serving if row.get("top_k", row["tasks"]) < row["tasks"]}
    print("| tasks | add (s) | load + embed memory (s) | router fit (s) | evaluation (s) | add peak RSS (MiB) "
          "| L2R CIL | routing | serving texts/s, top-k | every module | serving peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sorted(set(by_tasks) & (set(dense) | set(sparse) | {2, 10, 25, 50})):
        a, d, s = by_tasks[n], dense.get(n, {}), sparse.get(n, dense.get(n, {}))
        print(f"| {n} | {a['add_seconds']} | {a.get('load_seconds', '—')} | {a.get('router_fit_seconds', '—')} | "
              f"{a.get('evaluation_seconds', '—')} | {a['peak_rss_mib']} | {a['cil']} | {a['routing']} | "
              f"{s.get('texts_per_s', '—')} | {d.get('texts_per_s', '—')} | {s.get('peak_rss_mib', '—')} |")


if __name__ == "__main__":
    main()
