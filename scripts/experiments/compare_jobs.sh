#!/usr/bin/env bash
# Runs parts of an `l2r compare` grid one after another, one single-thread process per part, so that two (or more)
# instances with disjoint method groups share a machine's cores (on 2 cores two single-thread jobs beat one
# two-thread job; docs/design.md, "Performance design"). Each line of JOBS is `CONFIG METHODS SEEDS ORDERS`; every
# part writes into OUT and resumes where it stopped; the table of everything comes from one last `l2r compare` over
# all the methods (it finds the runs done and only reads them).
#   scripts/experiments/compare_jobs.sh runs/compare-quick jobs-a.txt &
#   scripts/experiments/compare_jobs.sh runs/compare-quick jobs-b.txt &
#   l2r compare configs/far5.toml --methods default --seeds 3 --orders 1 --out runs/compare-quick
# With the shipped module cache of earlier studies, link it first so modules are reused:
#   ln -s "$PWD/runs/study/module-cache" runs/compare-quick/far5/module-cache
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT="${1:?output folder}"
JOBS="${2:?job file: lines of CONFIG METHODS SEEDS ORDERS}"
BIN="${L2R_BIN:-./target/release/l2r}"
mkdir -p "$OUT/logs"
while read -r config methods seeds orders; do
  [ -z "$config" ] || [ "${config#\#}" != "$config" ] && continue
  name="$(basename "$config" .toml)-${methods//,/+}-s$seeds-o$orders"
  echo "== $name ($(date +%H:%M:%S))"
  RAYON_NUM_THREADS=1 /usr/bin/time -f "$name: wall %e s, peak RSS %M KiB" \
    "$BIN" compare "$config" --methods "$methods" --seeds "$seeds" --orders "$orders" --out "$OUT" \
    > "$OUT/logs/$name.log" 2>&1 || echo "$name FAILED (see $OUT/logs/$name.log)"
  tail -n 1 "$OUT/logs/$name.log"
done < "$JOBS"
