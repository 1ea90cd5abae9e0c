#!/usr/bin/env bash
# Router variants on one benchmark, all sharing the same trained modules (module_cache), so each variant costs
# only its router fits and evaluations. Usage: scripts/experiments/router_study.sh [BENCHMARK] [SEEDS] [VARIANTS]
#   e.g. scripts/experiments/router_study.sh far5 "0"      (seed list as a TOML array body: "0, 1, 2")
#        scripts/experiments/router_study.sh far5 "0" "layers-joint pooled-joint"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH="${1:-far5}"
SEEDS="${2:-0}"
OUT="runs/study/$BENCH"
mkdir -p "$OUT/configs"
BIN="${L2R_BIN:-./target/release/l2r}"
[ -n "${L2R_BIN:-}" ] || cargo build --release --quiet -p l2r-cli

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

# The first study (mean-pooled input, concat objective); its numbers in docs/results.md predate the prior's
# shift to the best task (commit 4750295), which changes sigmoid gates.
OLD=('objective = "concat"' 'calibrate_heads = false')
write_config cls-plain        wavg 'input = "layer_cls"'   'similarity_prior = false' "${OLD[@]}"
write_config pooled-plain     wavg 'input = "mean_pooled"' 'similarity_prior = false' "${OLD[@]}"
write_config pooled-prior     wavg 'input = "mean_pooled"' "${OLD[@]}"
write_config pooled-prior-tid wavg 'input = "mean_pooled"' 'task_id_loss = 1.0' "${OLD[@]}"
write_config pooled-prior-cal wavg 'input = "mean_pooled"' 'objective = "concat"'
write_config softmax-prior    wavg 'input = "mean_pooled"' 'gate = "softmax"' "${OLD[@]}"
write_config merge-prior      merge 'input = "mean_pooled"' "${OLD[@]}"
# The second study: the joint objective, then every layer's pooled state as the routers' input (the defaults).
write_config pooled-joint     wavg 'input = "mean_pooled"'
write_config pooled-joint-ex  wavg 'input = "mean_pooled"' 'prior_reference = "examples"'
write_config layers-joint     wavg
write_config layers-joint-merge merge
write_config layers-joint-softmax wavg 'gate = "softmax"'
write_config layers-joint-local wavg '[router.local_adaptation]' 'neighbours = 8' 'steps = 3'

VARIANTS="${3:-}"   # optional: only these variant names (space-separated)
for config in "$OUT"/configs/*.toml; do
  name="$(basename "$config" .toml)"
  if [ -n "$VARIANTS" ] && [[ " $VARIANTS " != *" $name "* ]]; then continue; fi
  echo "== $BENCH $name"
  "$BIN" run "$config" --out "$OUT/runs/$name" --quiet || echo "variant $name failed"
done
python3 scripts/experiments/run_table.py "$OUT"/runs/*
