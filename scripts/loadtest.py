#!/usr/bin/env python3
"""Load test of `l2r serve` on loopback: starts the server on a free port, sends a bounded number of requests
from N concurrent clients (each a thread with its own keep-alive connection), then reports throughput,
p50/p99 latency, errors and the server's peak memory, and stops the server with SIGTERM (which must exit 0).

    python3 scripts/loadtest.py --run runs/demo [--clients 64] [--requests 2000] [--max-seconds 120]

Standard library only. The numbers are printed as a table and, with --out, written as JSON.
"""
import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time

TEXTS = [
    "Shares in the bank fell sharply after it reported lower quarterly profits.",
    "The striker scored twice as the home side won the cup final.",
    "The government will publish its plans for tax reform next week.",
    "A new smartphone with a foldable screen goes on sale in March.",
    "The film's lead actor won an award at the festival.",
    "Get a free loan approved in minutes, click here now!!!",
    "Hi Bob, the meeting moved to Thursday, see the attached agenda.",
    "This movie was a complete waste of two hours.",
    "A warm, funny and beautifully acted story.",
    "The plot is predictable but the music is fine.",
    "a large wild animal of the cat family with a striped coat",
    "a tool for cutting wood with a toothed blade",
    "the part of the body between the neck and the abdomen",
    "a sweet baked food made of flour, eggs and sugar",
    "to move quickly on foot",
    "to express something in words",
    "to cause to become warm",
    "Unsubscribe from this list to stop receiving offers.",
    "Markets rallied as inflation slowed for the third month.",
    "The band's new album tops the charts.",
]


def request(conn, texts):
    body = json.dumps({"texts": texts})
    conn.request("POST", "/v1/classify", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
    predictions = json.loads(payload)["predictions"]
    if len(predictions) != len(texts):
        raise RuntimeError(f"{len(predictions)} predictions for {len(texts)} texts")


def client(host, port, counter, lock, deadline, max_texts, latencies, errors, seed):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    while time.monotonic() < deadline:
        with lock:
            if counter[0] <= 0:
                break
            counter[0] -= 1
        texts = rng.sample(TEXTS, rng.randint(1, max_texts))
        started = time.perf_counter()
        try:
            request(conn, texts)
            latencies.append((time.perf_counter() - started, len(texts)))
        except Exception as error:  # every failure is counted, none stops the test
            errors.append(str(error))
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.close()


def get_json(host, port, path):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", path)
    data = json.loads(conn.getresponse().read())
    conn.close()
    return data


def start_server(binary, *serve_args):
    """Starts `l2r serve SERVE_ARGS` on a free local port and waits until it listens: (process, host, port). The
    load test, reliability/abuse.py and library-cost.py all start their servers here."""
    server = subprocess.Popen([binary, "serve", *serve_args, "--addr", "127.0.0.1:0", "--json"],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line:
        sys.exit(f"the server did not start (exit code {server.wait()})")
    host, port = json.loads(line)["listening"].rsplit(":", 1)
    return server, host, int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="run folder to serve")
    parser.add_argument("--binary", default="target/release/l2r")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=2000, help="total requests (bounded)")
    parser.add_argument("--max-seconds", type=float, default=120, help="stop sending after this long")
    parser.add_argument("--texts-per-request", type=int, default=4, help="each request sends 1..N texts")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()

    server, host, port = start_server(args.binary, "--run", args.run)
    try:
        request(http.client.HTTPConnection(host, port, timeout=60), TEXTS[:1])  # warm-up
        counter, lock = [args.requests], threading.Lock()
        latencies, errors = [], []
        deadline = time.monotonic() + args.max_seconds
        threads = [threading.Thread(target=client, args=(host, port, counter, lock, deadline,
                                                         args.texts_per_request, latencies, errors, i))
                   for i in range(args.clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        stats = get_json(host, port, "/v1/stats")
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    seconds = sorted(s for s, _ in latencies)
    texts = sum(n for _, n in latencies)
    pct = lambda p: seconds[min(len(seconds) - 1, int(p * len(seconds)))] * 1000 if seconds else float("nan")
    result = {
        "clients": args.clients, "requests_ok": len(latencies), "errors": len(errors),
        "first_errors": errors[:5], "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1), "texts_per_s": round(texts / elapsed, 1),
        "latency_ms_p50": round(pct(0.50), 1), "latency_ms_p99": round(pct(0.99), 1),
        "latency_ms_mean": round(statistics.mean(seconds) * 1000, 1) if seconds else None,
        "mean_batch_texts": round(stats["texts"] / max(stats["batches"], 1), 1),
        "server_peak_rss_mib": stats.get("peak_rss_mib"), "server_exit_code": code,
        "cpus": os.cpu_count(),
    }
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    sys.exit(0 if result["errors"] == 0 and code == 0 else 1)


if __name__ == "__main__":
    main()
