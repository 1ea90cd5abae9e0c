#!/usr/bin/env bash
# Choosing the routers' prior by the protocol of issue 15 (docs/results.md, "The routers' prior, chosen
# leave-one-benchmark-out"): each benchmark's shipped config with prior_reference = centroid (the shipped default
# until this study) and = gaussian, 3 seeds, order 0, routers fitted after the last task, evaluated on the
# validation split (to choose) and on the test split (to report). Baselines are evaluated once per benchmark (the
# centroid test run); modules come from one cache, so the variants share them. Resumable: finished runs are
# skipped. Then: scripts/experiments/prior_protocol.py runs/prior-protocol
#
#   scripts/experiments/prior_protocol.sh [far5 verb-cil senti4 wordnet-cil]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=runs/prior-protocol
mkdir -p "$out"
cargo build --release --quiet
set -- ${@:-far5 verb-cil senti4 wordnet-cil}
for benchmark in "$@"; do
  for split in validation test; do
    for prior in centroid gaussian; do
      run="$out/$benchmark-$prior-$split"
      [ -f "$run/metrics.json" ] && continue
      config="$out/$benchmark-$prior-$split.toml"
      {
        echo "module_cache = \"runs/module-features/module-cache\""
        echo "evaluate_on = \"$split\""
        sed -e 's/^seeds = .*/seeds = [0, 1, 2]/' -e 's/^orders = .*/orders = [0]/' \
            -e 's/^fit_after = .*/fit_after = "last_task"/' \
            -e "s/^prior_reference = .*/prior_reference = \"$prior\"/" "configs/$benchmark.toml"
        if [ "$prior-$split" != centroid-test ]; then printf '\n[baselines]\nevaluate = false\n'; fi
      } > "$config"
      echo "== $benchmark $prior ($split)"
      target/release/l2r run "$config" --out "$run" || target/release/l2r run --resume "$run"
    done
  done
done
