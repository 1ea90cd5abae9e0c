#!/usr/bin/env bash
# A task library that grows while it is served: tasks are added one at a time (each a new generation), the server
# follows without a restart, and a client classifies all along. Prints each generation switch the client sees and
# its failed-request count (0). Run scripts/setup.sh first; about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet -p l2r-cli
L2R=./target/release/l2r
LIB=runs/demo-library
rm -rf "$LIB" && mkdir -p runs
echo "== a new library; its first task"
$L2R library init "$LIB" --config configs/library-demo.toml
$L2R library add "$LIB" --name bbc --data bbc --quiet
echo "== the server follows the library"
$L2R serve --library "$LIB" --addr 127.0.0.1:0 --json --quiet > "$LIB.serve" &
SERVER=$!
CLIENT=
trap 'kill $SERVER ${CLIENT:-} 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$LIB.serve" 2>/dev/null && break; sleep 0.2; done
ADDR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$LIB.serve")
python3 - "$ADDR" "$LIB.stop" > "$LIB.client" <<'PY' &
import json, os, sys, time, urllib.request
addr, stop = sys.argv[1], sys.argv[2]
texts = ["Shares fell after the results.", "Win a free cruise, click now!!!", "This film was a joy to watch."]
requests = failed = 0
seen = []
while not os.path.exists(stop):
    body = json.dumps({"texts": texts}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"http://{addr}/v1/classify", body,
                                    {"Content-Type": "application/json"}), timeout=30) as r:
            generation = json.load(r)["generation"]
        if not seen or seen[-1] != generation:
            seen.append(generation)
            print(f"client: now answered by generation {generation}", flush=True)
    except Exception as e:
        failed += 1
        print(f"client: request failed: {e}", flush=True)
    requests += 1
    time.sleep(0.05)
print(f"client: {requests} requests, {failed} failed, generations seen {seen}", flush=True)
PY
CLIENT=$!
for task in spam vader-movie wordnet-noun; do
  echo "== add $task (the server keeps answering)"
  $L2R library add "$LIB" --name "$task" --data "$task" --quiet
  sleep 2
done
echo "== forget spam"
$L2R library remove "$LIB" spam --quiet
sleep 2
touch "$LIB.stop"; wait "$CLIENT"
cat "$LIB.client"
echo "== history"
$L2R library history "$LIB"
