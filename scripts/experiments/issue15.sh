#!/usr/bin/env bash
# The issue-15 study (docs/results.md, "Issue 15"): L2R's router variants against every baseline at every
# representation, on far5 and verb-cil, seed 0, order 0, evaluated on the test splits and (for choosing settings)
# on the validation splits. Resumable: re-running skips finished runs. Needs scripts/setup.sh first.
#
#   scripts/experiments/issue15.sh [far5 verb-cil ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
benchmarks=("${@:-far5 verb-cil}")
out=runs/issue15
mkdir -p "$out"
cargo build --release --quiet
for benchmark in ${benchmarks[@]}; do
  for variant in default gaussian ridge centroid-ridge; do
    for split in test validation; do
      config="$out/$benchmark-$variant-$split.toml"
      # Each variant names the keys whose defaults changed after this study (the Gaussian prior held out, ridge heads,
      # within-task weights on validation), so that it runs as it ran then.
      case $variant in
        default) keys='prior_reference = "centroid"\nridge_heads = false' ;;
        gaussian) keys='prior_reference = "gaussian"\nprior_fit = "in_sample"\nridge_heads = false' ;;
        ridge) keys='prior_reference = "gaussian"\nprior_fit = "in_sample"\nridge_heads = true' ;;
        centroid-ridge) keys='prior_reference = "centroid"\nridge_heads = true' ;;
      esac
      {
        echo "module_cache = \"$out/module-cache\""
        echo "evaluate_on = \"$split\""
        sed -e 's/^seeds = .*/seeds = [0]/' -e 's/^orders = .*/orders = [0]/' -e '/^ridge_heads = /d' \
            -e '/^prior_fit = /d' -e 's/^calibrate_on = .*/calibrate_on = "memory"/' \
            -e "s/^prior_reference = .*/$keys/" "configs/$benchmark.toml"
      } > "$config"
      echo "== $benchmark $variant ($split)"
      target/release/l2r run "$config" --out "$out/$benchmark-$variant-$split" \
        || target/release/l2r run --resume "$out/$benchmark-$variant-$split"
    done
  done
  scripts/experiments/last_step.py "$out/$benchmark"-*-test
  scripts/experiments/last_step.py "$out/$benchmark"-*-validation
done
