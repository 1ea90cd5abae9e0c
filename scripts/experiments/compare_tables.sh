#!/usr/bin/env bash
# Rebuilds the issue-5 tables of docs/results.md from finished `l2r compare` runs (no training: every run named
# here must be complete, or `l2r compare` would start it). Each call writes OUT/compare.{md,csv,json}; the copy
# goes to docs/results/. The grids themselves come from compare_jobs.sh with the job lists beside this script.
#   scripts/experiments/compare_tables.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN="${L2R_BIN:-./target/release/l2r}"
MAIN=oracle,uniform,mocl,epi,dam,dam-top-task,l2r-wavg

table() { # NAME OUT CONFIGS... -- ARGS...
  local name="$1" out="$2"; shift 2
  local configs=()
  while [ "$1" != "--" ]; do configs+=("$1"); shift; done
  shift
  RAYON_NUM_THREADS=1 "$BIN" compare "${configs[@]}" --out "$out" --quiet "$@" > /dev/null
  cp "$out/compare.md" "docs/results/$name.md"
  cp "$out/compare.csv" "docs/results/$name.csv"
  echo "docs/results/$name.md"
}

# Quick size, 3 seeds × 3 orders: every method of the main comparison, bounds, merge, Arrow and L2R-LoRA.
table compare-quick-3x3 runs/compare-quick configs/far5.toml configs/senti4.toml configs/wordnet-cil.toml -- \
  --methods "$MAIN,sequential,multitask,l2r-merge,arrow,l2r-lora" --seeds 3 --orders 3
# Gates and composition on the hierarchical benchmark, 3 × 3.
table gates-composition-wordnet-cil-3x3 runs/compare-quick configs/wordnet-cil.toml -- \
  --methods l2r-wavg,l2r-merge,l2r-softmax --seeds 3 --orders 3
# Composition on far5, 3 × 3.
table composition-far5-3x3 runs/compare-quick configs/far5.toml -- --methods l2r-wavg,l2r-merge --seeds 3 --orders 3
# far5 at full size, seed 0 × order 0.
table compare-far5-full runs/compare-full configs/far5-full.toml -- \
  --methods "$MAIN,sequential,multitask,l2r-merge,arrow,l2r-lora" --seeds 1 --orders 1
# The ablations on far5 quick, seed 0 × order 0.
table ablations-far5-seed0 runs/compare-quick configs/far5.toml -- --methods l2r-wavg,ablations --seeds 1 --orders 1
# far5 quick, 3 seeds × order 0, every method (bounds, merge, Arrow and LoRA included).
table compare-far5-quick runs/compare-quick configs/far5.toml -- \
  --methods oracle,sequential,multitask,uniform,mocl,epi,dam,dam-top-task,arrow,l2r-wavg,l2r-merge,l2r-lora \
  --seeds 3 --orders 1
