#!/usr/bin/env python3
"""The server under abuse (issue 18, item 6), on loopback only, bounded in count and time.

Starts `l2r serve` with a bearer token on a free port (serving --run DIR, --library DIR, or a tiny library it
builds itself from one small CSV), then:

  1. load:    CLIENTS clients classify for SECONDS; 0 errors; p50/p99 per sixth of the run and the server's RSS
              every second, which must stay flat (the last sample at most 10% above the one at a quarter of the run;
              judged on runs of 30 s or more: the first ten seconds or so are the allocator warming up);
     1b.      with the library it built itself: CLIENTS clients classify while `l2r library add` adds a second task;
              0 errors, and answers from the new generation before the end (the server follows without a restart);
  2. slow:    SLOW connections held open at once: half send nothing, half send a request head a byte a second, and
              10 send a whole head and then their body a byte a second. Meanwhile another client must still be
              answered; after --read-timeout-ms every silent and trickling connection must have been closed by the
              server, and every slow body answered 408;
  3. limits:  a body of exactly --max-body-bytes (200) and one byte over (413); --max-texts texts (200) and one
              more (413); a text of --max-text-chars two-byte characters (200) and one more (413); empty texts
              (400); a 1 MiB header (431, or the connection closed);
  4. bodies:  malformed UTF-8 inside a JSON string, a lone surrogate escape, truncated JSON, wrong types, no
              content type, NUL characters: each a 4xx with a JSON error (NULs: 200), and the server still answers;
  5. token:   401 without it and with a wrong one, 200 with it; the median time of a wrong token that differs in
              its first byte against one that differs in its last (reported: the comparison is constant-time);
and finally SIGTERM, which must exit 0. Standard library only; exit 1 if anything failed.

    python3 scripts/reliability/abuse.py [--run DIR | --library DIR] [--seconds 60] [--clients 64] [--slow 500]
    python3 scripts/reliability/abuse.py --quick      # 10 s, 100 slow connections, 2 s read timeout (CI)
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from loadtest import TEXTS, start_server  # noqa: E402  (the same sentences and start-up as the load test)

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FAILURES = []


def check(condition, what):
    print(f"  {'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        FAILURES.append(what)


# ---------------------------------------------------------------------------------------------------------------
# The server


def tiny_library(binary, work):
    """One small two-label task, so that the script needs nothing but the set-up's assets."""
    data = os.path.join(work, "weather.csv")
    with open(data, "w") as f:
        f.write("text,label\n")
        for i in range(12):
            f.write(f"The sky is clear and bright on day {i},sunny\nHeavy rain keeps falling since day {i},rainy\n")
    with open(os.path.join(work, "food.csv"), "w") as f:
        f.write("text,label\n")
        for i in range(12):
            f.write(f"This cake tastes of honey and sugar number {i},sweet\nThe chips are covered in salt batch {i},salty\n")
    config = os.path.join(work, "library.toml")
    with open(config, "w") as f:
        f.write('max_len = 32\n[module]\ntype = "adapter"\nsize = 8\n[train]\nepochs = 2\nbatch_size = 8\n'
                '[memory]\nper_class = 2\n[router]\nepochs = 2\n')
    library = os.path.join(work, "library")
    subprocess.run([binary, "library", "init", library, "--config", config, "--quiet"], check=True)
    subprocess.run([binary, "library", "add", library, "--name", "weather", "--data", data, "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return library


class Server:
    def __init__(self, args, source, key_file):
        self.process, self.host, self.port = start_server(
            args.binary, *source, "--api-key-file", key_file, "--read-timeout-ms", str(args.read_timeout_ms),
            "--max-body-bytes", str(args.max_body_bytes), "--max-texts", str(args.max_texts),
            "--max-text-chars", str(args.max_text_chars))

    def rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


class Client:
    """One keep-alive connection carrying the bearer token."""

    def __init__(self, server, key, timeout=60):
        self.server, self.key, self.timeout = server, key, timeout
        self.conn = None

    def post(self, body, headers=None, key=True):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=self.timeout)
        all_headers = {"Content-Type": "application/json"}
        if key:
            all_headers["Authorization"] = f"Bearer {self.key if key is True else key}"
        all_headers.update(headers or {})
        try:
            self.conn.request("POST", "/v1/classify", body=body, headers=all_headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise

    def classify(self, texts):
        status, payload = self.post(json.dumps({"texts": texts}))
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")
        answer = json.loads(payload)
        if len(answer["predictions"]) != len(texts):
            raise RuntimeError("not one prediction per text")
        return answer["generation"]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")


# ---------------------------------------------------------------------------------------------------------------
# 1. Load


def load(server, key, args, result):
    print(f"1. load: {args.clients} clients for {args.seconds} s")
    started = time.monotonic()
    deadline = started + args.seconds
    latencies, errors, rss = [], [], []

    def client(seed):
        rng, me = random.Random(seed), Client(server, key)
        while time.monotonic() < deadline:
            texts = rng.sample(TEXTS, rng.randint(1, 4))
            t0 = time.monotonic()
            try:
                me.classify(texts)
                latencies.append((t0 - started, time.monotonic() - t0))
            except Exception as error:  # every failure is counted, none stops the test
                errors.append(str(error))

    def sampler():
        while time.monotonic() < deadline:
            rss.append((time.monotonic() - started, server.rss_mib()))
            time.sleep(1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    windows = []
    for w in range(6):
        lo, hi = args.seconds * w / 6, args.seconds * (w + 1) / 6
        inside = [s for at, s in latencies if lo <= at < hi]
        windows.append({"from_s": round(lo, 1), "requests": len(inside), "p50_ms": round(percentile(inside, .5), 1),
                        "p99_ms": round(percentile(inside, .99), 1)})
    quarter = next(r for at, r in rss if at >= args.seconds / 4)
    result["load"] = {"clients": args.clients, "seconds": args.seconds, "requests": len(latencies),
                      "errors": len(errors), "first_errors": errors[:3], "windows": windows,
                      "rss_mib": [round(r, 1) for _, r in rss], "rss_at_quarter_mib": round(quarter, 1),
                      "rss_last_mib": round(rss[-1][1], 1)}
    for w in windows:
        print(f"     from {w['from_s']:>5} s: {w['requests']:>5} requests, p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms")
    print(f"     RSS (MiB, one a second): {', '.join(f'{r:.0f}' for _, r in rss)}")
    check(len(errors) == 0, f"{len(latencies)} requests, {len(errors)} errors")
    flat = f"RSS flat: {rss[-1][1]:.1f} MiB at the end, {quarter:.1f} MiB at a quarter"
    if args.seconds >= 30:
        check(rss[-1][1] <= quarter * 1.10, flat)
    else:  # the allocator is still warming up (new batch shapes) for the first ten seconds or so
        print(f"  --   {flat} (not judged: a run under 30 s is all warm-up)")


# ---------------------------------------------------------------------------------------------------------------
# 1b. A task added while the clients keep classifying (the script's own library only)


def add_under_load(server, key, args, library, work, result):
    print(f"1b. add a task under load: {args.clients} clients while `l2r library add` runs, until 3 s after it ends")
    started = time.monotonic()
    stop = threading.Event()
    answered, errors = {}, []
    lock = threading.Lock()

    def client(seed):
        rng, me = random.Random(seed), Client(server, key)
        while not stop.is_set():
            try:
                generation = me.classify(rng.sample(TEXTS, rng.randint(1, 4)))
                with lock:
                    answered[generation] = answered.get(generation, 0) + 1
            except Exception as error:
                errors.append(str(error))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    time.sleep(2)
    add = subprocess.run([args.binary, "library", "add", library, "--name", "food", "--data",
                          os.path.join(work, "food.csv"), "--quiet"], capture_output=True, text=True, timeout=600)
    added_after = time.monotonic() - started
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    result["add_under_load"] = {"clients": args.clients, "add_seconds": round(added_after - 2, 1),
                                "answered_by_generation": answered, "errors": len(errors),
                                "first_errors": errors[:3]}
    print(f"     the add took {added_after - 2:.1f} s; answers by generation: {answered}")
    check(add.returncode == 0, f"the add under load succeeded{'' if add.returncode == 0 else ': ' + add.stderr[:200]}")
    check(not errors, f"{sum(answered.values())} requests, {len(errors)} errors")
    check(len(answered) >= 2 and answered.get(max(answered), 0) > 0,
          f"the generation changed mid-run ({' then '.join(map(str, sorted(answered)))})")


# ---------------------------------------------------------------------------------------------------------------
# 2. Slow and idle connections


def connect(server):
    sock = socket.create_connection((server.host, server.port), timeout=5)
    return sock


def closed_by_server(sock):
    """True once the server has closed `sock` (EOF or reset); a 408 answer followed by a close counts."""
    sock.settimeout(0.5)
    try:
        data = sock.recv(4096)
        while data:
            if not data.startswith(b"HTTP/1.1 408"):
                return False
            data = sock.recv(4096)
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def slow(server, key, args, result):
    timeout_s = args.read_timeout_ms / 1000
    print(f"2. slow: {args.slow} idle or trickling connections, 10 slow bodies, read timeout {timeout_s} s")
    head = (f"POST /v1/classify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n").encode()
    silent = [connect(server) for _ in range(args.slow // 2)]
    trickling = [connect(server) for _ in range(args.slow - args.slow // 2)]
    slow_bodies = [connect(server) for _ in range(10)]
    for sock in slow_bodies:
        sock.sendall(head)
    stop = threading.Event()

    def trickle():
        sent = 0
        while not stop.is_set():
            for sock in trickling + slow_bodies:
                try:
                    sock.send(b"P" if sock in trickling else b" ")
                except OSError:
                    pass  # closed by the server: what should happen
            sent += 1
            stop.wait(1)

    thread = threading.Thread(target=trickle)
    thread.start()
    answered, failed, latencies = 0, [], []
    other = Client(server, key, timeout=10)
    deadline = time.monotonic() + timeout_s + 3
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            other.classify(TEXTS[:2])
            answered += 1
            latencies.append(time.monotonic() - t0)
        except Exception as error:
            failed.append(str(error))
        time.sleep(0.2)
    stop.set()
    thread.join()
    closed = {name: sum(closed_by_server(s) for s in socks)
              for name, socks in [("silent", silent), ("trickling", trickling)]}
    got_408 = 0
    for sock in slow_bodies:
        sock.settimeout(2)
        try:
            got_408 += sock.recv(4096).startswith(b"HTTP/1.1 408")
        except OSError:
            pass
    for sock in silent + trickling + slow_bodies:
        sock.close()
    result["slow"] = {"silent": len(silent), "trickling": len(trickling), "closed": closed, "slow_bodies": 10,
                      "slow_bodies_408": got_408, "other_answered": answered, "other_failed": len(failed),
                      "other_p99_ms": round(percentile(latencies, .99), 1)}
    check(answered > 0 and not failed,
          f"another client answered meanwhile: {answered} requests, {len(failed)} failures, "
          f"p99 {percentile(latencies, .99):.0f} ms")
    check(closed["silent"] == len(silent), f"silent connections closed: {closed['silent']}/{len(silent)}")
    check(closed["trickling"] == len(trickling),
          f"trickling connections closed: {closed['trickling']}/{len(trickling)}")
    check(got_408 == 10, f"slow bodies answered 408: {got_408}/10")


# ---------------------------------------------------------------------------------------------------------------
# 3. Limits and 4. malformed bodies


def padded(request, size):
    body = json.dumps(request)
    return body + " " * (size - len(body.encode()))


def limits(server, key, args, result):
    print("3. limits")
    me, answers = Client(server, key), {}

    def expect(name, body, wanted, headers=None):
        try:
            status, payload = me.post(body, headers)
        except Exception as error:
            status, payload = f"no answer ({type(error).__name__})", b""
        answers[name] = status
        json_error = status == 200 or (isinstance(status, int) and "error" in json.loads(payload or b"{}"))
        check(status in wanted and json_error, f"{name}: {status} (wanted {' or '.join(map(str, wanted))})")

    expect("body of exactly --max-body-bytes", padded({"texts": ["a calm sunny day"]}, args.max_body_bytes), [200])
    expect("body one byte over", padded({"texts": ["a calm sunny day"]}, args.max_body_bytes + 1), [413])
    expect("--max-texts texts", json.dumps({"texts": ["rain again"] * args.max_texts}), [200])
    expect("one text more", json.dumps({"texts": ["rain again"] * (args.max_texts + 1)}), [413])
    expect("a text of --max-text-chars characters (2 bytes each)",
           json.dumps({"texts": ["é" * args.max_text_chars]}, ensure_ascii=False).encode(), [200])
    expect("one character more", json.dumps({"texts": ["é" * (args.max_text_chars + 1)]}), [413])
    expect("no texts", json.dumps({"texts": []}), [400])
    expect("a blank text", json.dumps({"texts": ["   "]}), [400])
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    try:
        status = sock.recv(64).split(b" ")[1].decode()
    except (OSError, IndexError):
        status = "closed"
    sock.close()
    answers["1 MiB header"] = status
    check(status in ("431", "closed", ""), f"a 1 MiB header: {status or 'closed'}")

    print("4. malformed bodies")
    expect("malformed UTF-8 inside a JSON string", b'{"texts": ["caf\xc3\x28 \xff\xfe"]}', [400])
    expect("a lone surrogate escape", b'{"texts": ["\\ud800 rain"]}', [400, 422])
    expect("truncated JSON", b'{"texts": ["rain', [400])
    expect("texts of the wrong type", b'{"texts": [1, 2]}', [422])
    expect("an unknown field", b'{"texts": ["rain"], "tsak": "x"}', [422])
    expect("no content type", json.dumps({"texts": ["rain"]}), [415], {"Content-Type": "text/plain"})
    expect("NUL characters inside a text", json.dumps({"texts": ["rain\u0000 and wind"]}), [200])
    try:
        Client(server, key).classify(TEXTS[:1])
        alive = True
    except Exception:
        alive = False
    check(alive, "the server still answers")
    result["limits"] = answers


# ---------------------------------------------------------------------------------------------------------------
# 5. The bearer token


def token(server, key, args, result):
    print("5. bearer token")
    me = Client(server, key)
    body = json.dumps({"texts": ["rain"]})
    status_none = me.post(body, key=False)[0]
    status_wrong = me.post(body, key="x" * len(key))[0]
    status_right = me.post(body)[0]
    check(status_none == 401, f"no token: {status_none}")
    check(status_wrong == 401, f"a wrong token: {status_wrong}")
    check(status_right == 200, f"the token: {status_right}")
    first = "#" + key[1:]
    last = key[:-1] + "#"
    times = {first: [], last: []}
    for _ in range(args.token_trials):
        for wrong in (first, last):
            t0 = time.perf_counter_ns()
            me.post(body, key=wrong)
            times[wrong].append(time.perf_counter_ns() - t0)
    medians = {name: statistics.median(times[k]) / 1000 for name, k in [("first", first), ("last", last)]}
    print(f"     median 401 time: wrong first byte {medians['first']:.1f} µs, wrong last byte {medians['last']:.1f} µs"
          f" ({args.token_trials} each, interleaved)")
    result["token"] = {"no_token": status_none, "wrong": status_wrong, "right": status_right,
                       "median_us_wrong_first_byte": round(medians["first"], 1),
                       "median_us_wrong_last_byte": round(medians["last"], 1), "trials": args.token_trials}


# ---------------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", help="run folder to serve")
    source.add_argument("--library", help="task library to serve")
    parser.add_argument("--binary", default=os.path.join(REPO, "target/release/l2r"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--slow", type=int, default=500, help="idle and trickling connections held at once")
    parser.add_argument("--read-timeout-ms", type=int, default=10_000)
    parser.add_argument("--max-body-bytes", type=int, default=1 << 20)
    parser.add_argument("--max-texts", type=int, default=64)
    parser.add_argument("--max-text-chars", type=int, default=10_000)
    parser.add_argument("--token-trials", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="10 s of load, 100 slow connections, 2 s timeout")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    os.environ.setdefault("L2R_ASSETS", os.path.join(REPO, "assets"))
    if args.quick:
        args.seconds, args.slow, args.read_timeout_ms, args.token_trials = 10, 100, 2000, 100

    with tempfile.TemporaryDirectory(prefix="l2r-abuse.") as work:
        own_library = None
        if args.run:
            source = ["--run", args.run]
        elif args.library:
            source = ["--library", args.library]
        else:
            own_library = tiny_library(args.binary, work)
            source = ["--library", own_library]
        key = "".join(random.Random(7).choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
        key_file = os.path.join(work, "key")
        with open(key_file, "w") as f:
            f.write(key + "\n")
        server = Server(args, source, key_file)
        result = {"cpus": os.cpu_count()}
        try:
            Client(server, key).classify(TEXTS[:1])  # warm-up
            load(server, key, args, result)
            if own_library:  # never changes a library it was given
                add_under_load(server, key, args, own_library, work, result)
            slow(server, key, args, result)
            limits(server, key, args, result)
            token(server, key, args, result)
        finally:
            code = server.stop()
        check(code == 0, f"SIGTERM: exit code {code}")
    result["failures"] = FAILURES
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    print("abuse: all held" if not FAILURES else f"abuse: {len(FAILURES)} checks failed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
