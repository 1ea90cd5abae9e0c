#!/usr/bin/env bash
# The issue-4 report runs: a benchmark at quick size, 3 seeds (task order 0), L2R-wavg and L2R-merge with the
# shipped defaults; every run also evaluates the uniform average and the DAM-style baseline on the same modules.
# Modules are shared through `module_cache` (trained once per seed). Usage:
#   scripts/experiments/cl_report.sh far5 "0, 1, 2"        then: python3 scripts/experiments/run_table.py runs/report/far5/*
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH="${1:?benchmark: far5, senti4 or wordnet-cil}"
SEEDS="${2:-0, 1, 2}"
BIN="${L2R_BIN:-./target/release/l2r}"
OUT="runs/report/$BENCH"
mkdir -p "$OUT/configs"
[ -n "${L2R_BIN:-}" ] || cargo build --release --quiet -p l2r-cli
for composition in wavg merge; do
  config="$OUT/configs/l2r-$composition.toml"
  sed -e "s/^seeds = .*/seeds = [$SEEDS]/" -e 's/^orders = .*/orders = [0]/' \
      -e "s/^composition = .*/composition = \"$composition\"/" \
      -e '/^composition = /a module_cache = "runs/study/module-cache"' \
      "configs/$BENCH.toml" > "$config"
  echo "== $BENCH l2r-$composition ($(date +%H:%M:%S))"
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$BIN" run "$config" --out "$OUT/l2r-$composition" --quiet
done
python3 scripts/experiments/run_table.py "$OUT"/l2r-*
