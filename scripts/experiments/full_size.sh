#!/usr/bin/env bash
# The shipped defaults at full size (at most 400 / 50 / 200 examples per class; docs/design.md §8), against every
# baseline on the same sequences (docs/results.md, "The shipped defaults at full size"): each named benchmark's
# shipped config with size = "full", 3 seeds, order 0, routers fitted after the last task, test split, baselines
# evaluated. Resumable: a finished run is skipped, an interrupted one resumed. Then scripts/experiments/full_size.py.
# ORDERS="1, 2" runs those task orders instead, into <benchmark>-orders, on the same modules and without the
# baselines: the statistics-based ones do not depend on the order after the last task (docs/results.md, "The seventh
# session's defaults over 3 seeds × 3 orders"), so full_size.py pairs each sequence with its seed's order-0 ones.
#
#     [ORDERS="1, 2"] scripts/experiments/full_size.sh [benchmark ...]       (default: verb-cil wordnet-cil senti4 far5)
#
# L2R names a binary to run instead of building target/release/l2r (so that building can go on meanwhile); OUT a
# folder for the runs and their module cache instead of runs/full-size (e.g. to measure other module settings beside
# the earlier runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-runs/full-size}
mkdir -p "$out"
source scripts/experiments/run_config.sh
l2r=${L2R:-target/release/l2r}
[ -n "${L2R:-}" ] || cargo build --release --quiet
orders=${ORDERS:-0}
for benchmark in ${@:-verb-cil wordnet-cil senti4 far5}; do
  run="$out/$benchmark"
  baselines=1
  if [ "$orders" != 0 ]; then run="$run-orders"; baselines=0; fi
  [ -f "$run/metrics.json" ] && continue
  config="$run.toml"
  run_config "$benchmark" "$out/module-cache" test "$orders" "$baselines" -e 's/^size = "quick"/size = "full"/' > "$config"
  echo "== $benchmark (full size, orders $orders)"
  run_or_resume "$l2r" "$config" "$run"
done
