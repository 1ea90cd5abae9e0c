#!/usr/bin/env bash
# The issue-4 report runs: a benchmark at quick size, task order 0, one run folder per seed and composition
# (L2R-wavg and L2R-merge with the shipped defaults); every run also evaluates the uniform average and the DAM-style
# baseline on the same modules. Seeds run as parallel single-thread processes (on 2 cores two single-thread jobs
# beat one two-thread job; docs/design.md, "Performance design"); modules are shared through `module_cache`.
#   scripts/experiments/cl_report.sh far5 "0 1 2" "wavg merge"
# Table: python3 scripts/experiments/run_table.py "l2r-wavg=runs/report/far5/l2r-wavg-seed0,...seed1,...seed2"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH="${1:?benchmark: far5, senti4 or wordnet-cil}"
SEEDS="${2:-0 1 2}"
COMPOSITIONS="${3:-wavg merge}"
BIN="${L2R_BIN:-./target/release/l2r}"
JOBS="${JOBS:-$(nproc)}"
OUT="runs/report/$BENCH"
mkdir -p "$OUT/configs"
[ -n "${L2R_BIN:-}" ] || cargo build --release --quiet -p l2r-cli
names=()
for composition in $COMPOSITIONS; do
  for seed in $SEEDS; do
    name="l2r-$composition-seed$seed"
    sed -e "s/^seeds = .*/seeds = [$seed]/" -e 's/^orders = .*/orders = [0]/' \
        -e "s/^composition = .*/composition = \"$composition\"/" \
        -e '/^composition = /a module_cache = "runs/study/module-cache"' \
        "configs/$BENCH.toml" > "$OUT/configs/$name.toml"
    names+=("$name")
  done
done
export BIN OUT
printf '%s\n' "${names[@]}" | xargs -P "$JOBS" -I{} sh -c \
  'echo "== {} ($(date +%H:%M:%S))"; RAYON_NUM_THREADS=1 /usr/bin/time -f "{}: wall %e s, peak RSS %M KiB" \
     "$BIN" run "$OUT/configs/{}.toml" --out "$OUT/{}" --quiet > "$OUT/{}.log" 2>&1; tail -n 1 "$OUT/{}.log"'
rows=()
for composition in $COMPOSITIONS; do
  dirs=""
  for seed in $SEEDS; do dirs="$dirs${dirs:+,}$OUT/l2r-$composition-seed$seed"; done
  rows+=("l2r-$composition=$dirs")
done
python3 scripts/experiments/run_table.py "${rows[@]}"
