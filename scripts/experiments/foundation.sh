#!/usr/bin/env bash
# Test accuracy of the bottleneck adapter, LoRA and the linear probe on four real tasks (docs/results.md).
# Resumable: a finished run (its task.json / probe.json exists) is skipped. Outputs: runs/foundation/.
#   scripts/experiments/foundation.sh [SEED]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SEED="${1:-0}"
OUT="runs/foundation/seed$SEED"
mkdir -p "$OUT"
cargo build --release --quiet -p l2r-cli
L2R=./target/release/l2r

# task  training examples per class (cap)
TASKS=("bbc 100" "spam 200" "vader-movie 1000" "wordnet-noun 300")
COMMON=(--epochs 5 --lr 3e-3 --patience 2 --seed "$SEED")

for entry in "${TASKS[@]}"; do
  read -r task cap <<<"$entry"
  for peft in adapter lora; do
    dir="$OUT/$task-$peft"
    [ -f "$dir/task.json" ] && continue
    echo "== $task $peft"
    /usr/bin/time -f "%e s wall, %M KiB peak" $L2R train-task --task "$task" --peft "$peft" \
      --max-train-per-class "$cap" "${COMMON[@]}" --out "$dir" 2>&1 | grep -v '^$'
  done
  probe="$OUT/$task-probe.json"
  if [ ! -f "$probe" ]; then
    echo "== $task linear probe"
    $L2R probe --task "$task" --max-train-per-class "$cap" --seed "$SEED" --json > "$probe.tmp"
    mv "$probe.tmp" "$probe"
  fi
done
python3 scripts/experiments/foundation_table.py "$OUT"
