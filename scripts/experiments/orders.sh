#!/usr/bin/env bash
# The shipped defaults over the issue's 3 × 3 grid (issue 15, item 5): each benchmark's shipped config at quick size,
# 3 seeds × task orders 1 and 2, routers fitted after the last task, test split, modules from the module cache of
# scripts/experiments/prior_protocol.sh (order 0 is its run `<benchmark>-heldoutridge-test`, the same settings).
# Baselines are evaluated with BASELINES=1; without it they are not, since every statistics-based baseline (EPI, LDA, nearest mean, ridge)
# is the same after the last task whatever the order: its statistics are sums over the tasks, and the modules do
# not depend on the order. Resumable. Then: scripts/experiments/orders.py
#
# OUT names the runs' folder (default runs/orders), so that the grid of another default keeps the earlier one; PRIOR
# sets the routers' prior_reference in place of the shipped one (e.g. PRIOR=ridge).
#
#   [BASELINES=1] [L2R=binary] [OUT=runs/orders] [PRIOR=ridge] scripts/experiments/orders.sh [far5 verb-cil senti4 wordnet-cil]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-runs/orders}
mkdir -p "$out"
source scripts/experiments/run_config.sh
l2r=${L2R:-target/release/l2r}
[ -n "${L2R:-}" ] || cargo build --release --quiet
set -- ${@:-far5 verb-cil senti4 wordnet-cil}
for benchmark in "$@"; do
  run="$out/$benchmark-test"
  [ -f "$run/metrics.json" ] && continue
  config="$out/$benchmark-test.toml"
  prior=()
  [ -z "${PRIOR:-}" ] || prior=(-e "s/^prior_reference = .*/prior_reference = \"$PRIOR\"/")
  run_config "$benchmark" runs/module-features/module-cache test "1, 2" "${BASELINES:-0}" "${prior[@]}" > "$config"
  echo "== $benchmark (orders 1, 2)"
  run_or_resume "$l2r" "$config" "$run"
done
