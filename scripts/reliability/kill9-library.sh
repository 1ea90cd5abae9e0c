#!/usr/bin/env bash
# Random kill -9 of `l2r library add` (issue 18, item 3; issue 16's check): a library (configs/library-demo.toml)
# holds one task; adding a second is SIGKILLed at KILLS random instants (drawn with SEED) and restarted each time
# (`--resume` when the add left a plan, a fresh add when it was killed before). After every kill the library must
# still serve the previous generation (CURRENT unchanged, `library show` reads it); at the end the new generation's
# evaluation.json and router.safetensors must be byte-identical to those of an add that was never interrupted.
#
#   scripts/reliability/kill9-library.sh [KILLS=20] [SEED=1] [FIRST=bbc] [SECOND=spam]
#
# Work goes to runs/kill9-library/ (reference/, killed/, kills.log); the reference is reused by a second call.
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=${1:-20}
seed=${2:-1}
first_task=${3:-bbc}
second_task=${4:-spam}
cargo build --release --quiet -p l2r-cli
l2r=target/release/l2r
export L2R_ASSETS=${L2R_ASSETS:-$(pwd)/assets}
out=runs/kill9-library
mkdir -p "$out"

one_task_library() {
  rm -rf "$1"
  "$l2r" library init "$1" --config configs/library-demo.toml --quiet
  "$l2r" library add "$1" --name "$first_task" --data "$first_task" --quiet > /dev/null
}

if [ ! -f "$out/reference.seconds" ]; then
  one_task_library "$out/reference"
  start=$(date +%s.%N)
  "$l2r" library add "$out/reference" --name "$second_task" --data "$second_task" --quiet > /dev/null
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' > "$out/reference.seconds"
fi
duration=$(cat "$out/reference.seconds")
one_task_library "$out/killed"
before=$(cut -d' ' -f1 "$out/killed/CURRENT")
: > "$out/kills.log"
# Uniform in (0.5, 2·duration/KILLS + 3) seconds after each (re)start, from an LCG seeded with SEED.
instants=$(awk -v n="$kills" -v s="$seed" -v d="$duration" 'BEGIN {
  span = 2 * d / n + 2.5; x = s
  for (i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%.2f\n", 0.5 + span * x / 2147483648 } }')

add_or_resume() {
  local resume=()
  compgen -G "$out/killed/staging/*/plan.json" > /dev/null && resume=(--resume)
  # exec: in `add_or_resume &` the l2r process itself gets the pid that is killed.
  exec "$l2r" library add "$out/killed" --name "$second_task" --data "$second_task" "${resume[@]}" --quiet > /dev/null
}

done_adding=0
for instant in $instants; do
  add_or_resume & pid=$!
  sleep "$instant"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    now=$(cut -d' ' -f1 "$out/killed/CURRENT")
    if [ "$now" != "$before" ]; then
      # The kill came after the new generation was published (the rename is the commit point).
      echo "killed after ${instant}s, once the new generation $now was published" >> "$out/kills.log"
      done_adding=1
      break
    fi
    "$l2r" library show "$out/killed" > /dev/null \
      || { echo "FAIL: after a kill at ${instant}s the library does not load" >&2; exit 1; }
    echo "killed after ${instant}s; still serving generation $now" >> "$out/kills.log"
  else
    wait "$pid"
    echo "finished before ${instant}s" >> "$out/kills.log"
    done_adding=1
    break
  fi
done
[ $done_adding = 1 ] || (add_or_resume)
killed=$(grep -c '^killed' "$out/kills.log" || true)
generation=$(printf '%06d' "$(cut -d' ' -f1 "$out/killed/CURRENT")")
for file in evaluation.json router.safetensors; do
  cmp "$out/reference/generations/$generation/$file" "$out/killed/generations/$generation/$file" \
    || { echo "FAIL: after $killed kills (seed $seed) $file differs from the uninterrupted add's" >&2; exit 1; }
done
echo "kill -9 of library add: $killed kills (seed $seed), the previous generation served after each, and the" \
  "resumed add's evaluation.json and router.safetensors are byte-identical to the uninterrupted add's"
