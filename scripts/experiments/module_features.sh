#!/usr/bin/env bash
# Classifiers on the modules' own representations (docs/results.md, "Classifiers on the modules' representations"):
# one run per benchmark and split (seed 0, order 0, shipped defaults, routers fitted after the last task) with
# export_scores = true, so that scripts/experiments/module_features.py can fit prototype / LDA / ridge classifiers
# on each example's representation under every module alone, from the memory only. Resumable: finished runs are
# skipped. Needs scripts/setup.sh first.
#
#   scripts/experiments/module_features.sh [far5 verb-cil senti4 wordnet-cil]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=runs/module-features
mkdir -p "$out"
cargo build --release --quiet
set -- ${@:-far5 verb-cil}
for benchmark in "$@"; do
  for split in validation test; do
    run="$out/$benchmark-$split"
    if compgen -G "$run/seed0-order0/memory-step*.jsonl" > /dev/null; then continue; fi
    config="$out/$benchmark-$split.toml"
    {
      echo "module_cache = \"$out/module-cache\""
      echo "evaluate_on = \"$split\""
      echo "export_scores = true"
      sed -e 's/^seeds = .*/seeds = [0]/' -e 's/^orders = .*/orders = [0]/' \
          -e 's/^fit_after = .*/fit_after = "last_task"/' "configs/$benchmark.toml"
    } > "$config"
    echo "== $benchmark ($split)"
    target/release/l2r run "$config" --out "$run" || target/release/l2r run --resume "$run"
  done
done
