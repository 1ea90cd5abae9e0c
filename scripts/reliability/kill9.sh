#!/usr/bin/env bash
# Random kill -9 (issue 18, item 3): runs CONFIG once without interruption, then again while SIGKILLing it at
# KILLS random instants (drawn with SEED), resuming with `l2r run --resume` after every kill, and compares the two
# metrics.json byte for byte.
#
#   scripts/reliability/kill9.sh [KILLS=20] [SEED=1] [CONFIG=configs/demo.toml]
#
# Exit 0 when the files are identical. Work goes to runs/kill9/ (reference/ and killed/; kills.log lists the
# instants), so a second call reuses the reference run.
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=${1:-20}
seed=${2:-1}
config=${3:-configs/demo.toml}
cargo build --release --quiet
l2r=target/release/l2r
out=runs/kill9
mkdir -p "$out"
if [ ! -f "$out/reference/metrics.json" ]; then
  rm -rf "$out/reference"
  start=$(date +%s.%N)
  "$l2r" run "$config" --out "$out/reference" --quiet
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' > "$out/reference.seconds"
fi
duration=$(cat "$out/reference.seconds")
rm -rf "$out/killed"
: > "$out/kills.log"
# The instants, each after a (re)start: KILLS draws, uniform in (1, 2·duration/KILLS + 5) seconds, so that the kills
# spread over the whole run; from an LCG seeded with SEED (reproducible without python).
instants=$(awk -v n="$kills" -v s="$seed" -v d="$duration" 'BEGIN {
  span = 2 * d / n + 4; x = s
  for (i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%.2f\n", 1 + span * x / 2147483648 } }')
first=1
for instant in $instants; do
  if [ $first = 1 ]; then
    "$l2r" run "$config" --out "$out/killed" --quiet & pid=$!
    first=0
  else
    "$l2r" run --resume "$out/killed" --quiet & pid=$!
  fi
  sleep "$instant"
  if kill -9 "$pid" 2>/dev/null; then
    echo "killed after ${instant}s" >> "$out/kills.log"
  else
    echo "finished before ${instant}s" >> "$out/kills.log"
  fi
  wait "$pid" 2>/dev/null || true
  [ -f "$out/killed/metrics.json" ] && break
done
[ -f "$out/killed/metrics.json" ] || "$l2r" run --resume "$out/killed" --quiet
killed=$(grep -c '^killed' "$out/kills.log" || true)
if cmp "$out/reference/metrics.json" "$out/killed/metrics.json"; then
  echo "kill -9: $killed kills (seed $seed), metrics.json identical to the uninterrupted run's"
else
  echo "FAIL: after $killed kills (seed $seed) metrics.json differs from the uninterrupted run's:" >&2
  diff <(tr ',' '\n' < "$out/reference/metrics.json") <(tr ',' '\n' < "$out/killed/metrics.json") | head -20 >&2
  exit 1
fi
