#!/usr/bin/env bash
# Router variants on one benchmark, all sharing the same trained modules (module_cache), so each variant costs
# only its router fits and evaluations. Usage: scripts/experiments/router_study.sh [BENCHMARK] [SEEDS]
#   e.g. scripts/experiments/router_study.sh far5 "0"      (seed list as a TOML array body: "0, 1, 2")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH="${1:-far5}"
SEEDS="${2:-0}"
OUT="runs/study/$BENCH"
mkdir -p "$OUT/configs"
cargo build --release --quiet -p l2r-cli

write_config() { # name, composition, router lines...
  local name="$1" composition="$2"; shift 2
  {
    echo "benchmark = \"$BENCH\""
    echo "size = \"quick\""
    echo "max_len = 128"
    echo "seeds = [$SEEDS]"
    echo "orders = [0]"
    echo "composition = \"$composition\""
    echo "module_cache = \"runs/study/module-cache\""
    echo "[module]"; echo "type = \"adapter\""; echo "size = 64"
    echo "[train]"; echo "epochs = 3"; echo "learning_rate = 3e-3"
    echo "[memory]"; echo "per_class = 10"
    echo "[router]"; printf '%s\n' "$@"
  } > "$OUT/configs/$name.toml"
}

NOCAL='calibrate_heads = false'
write_config cls-plain        wavg 'input = "layer_cls"'   'similarity_prior = false' "$NOCAL"
write_config pooled-plain     wavg 'input = "mean_pooled"' 'similarity_prior = false' "$NOCAL"
write_config pooled-prior     wavg 'input = "mean_pooled"' 'similarity_prior = true' "$NOCAL"
write_config pooled-prior-cal wavg 'input = "mean_pooled"' 'similarity_prior = true' 'calibrate_heads = true'
write_config pooled-prior-tid wavg 'input = "mean_pooled"' 'similarity_prior = true' 'task_id_loss = 1.0' "$NOCAL"
write_config softmax-prior    wavg 'input = "mean_pooled"' 'similarity_prior = true' 'gate = "softmax"' "$NOCAL"
write_config merge-prior      merge 'input = "mean_pooled"' 'similarity_prior = true' "$NOCAL"
write_config joint            wavg 'objective = "joint"'
write_config joint-softmax    wavg 'objective = "joint"' 'gate = "softmax"'
write_config joint-merge      merge 'objective = "joint"'
write_config joint-local      wavg 'objective = "joint"' '[router.local_adaptation]' 'neighbours = 8' 'steps = 3'

for config in "$OUT"/configs/*.toml; do
  name="$(basename "$config" .toml)"
  echo "== $BENCH $name"
  ./target/release/l2r run "$config" --out "$OUT/runs/$name" --quiet || echo "variant $name failed"
done
python3 scripts/experiments/run_table.py "$OUT"/runs/*
