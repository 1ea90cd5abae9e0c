#!/usr/bin/env bash
# The GPU checks of issue 19, run from the repository root on a machine with an NVIDIA GPU (driver r580 or later),
# with the bundle scripts/gpu-bundle.sh made here. Every result goes under $OUT (default gpu-results/).
#
#   bash scripts/gpu-check.sh agreement   # GPU vs CPU on random MiniLM-shaped weights: outputs and every gradient of
#                                         # an adapter and a LoRA module within 1e-4; router fits with the same losses
#   bash scripts/gpu-check.sh bench       # the real MiniLM (bf16 weights widened to fp32): embeddings GPU vs CPU within
#                                         # 1e-4; a small continual run on each device, CIL within 1 point;
#                                         # bench/compare.py --device cuda: l2r against PyTorch + PEFT on the
#                                         # same GPU (infer, train-lora, train-adapter, routed-wavg-10; fp32 and bf16)
#   bash scripts/gpu-check.sh all
#
# BENCHMARKS.md's GPU table is read from $OUT/compare.md. The machine needs python3 with torch, transformers and peft
# (bench/torch_bench.py); nothing is downloaded there.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PART="${1:-all}"
BUNDLE="${L2R_GPU_BUNDLE:-gpu-bundle}"
OUT="${OUT:-gpu-results}"
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
status=0
unpack() { gzip -dc "$BUNDLE/$1.gz" > "$BUNDLE/$1" && chmod +x "$BUNDLE/$1"; }
step() { # name, command...: runs it; its stdout in $OUT/name.txt (JSON where asked), stderr in name.err
  local name="$1"; shift
  echo "== $name: $*" | tee -a "$OUT/summary.txt"
  local started; started=$(date +%s)
  "$@" > "$OUT/$name.txt" 2> "$OUT/$name.err"
  local rc=$?
  echo "   exit $rc in $(( $(date +%s) - started )) s" | tee -a "$OUT/summary.txt"
  [ $rc -eq 0 ] || status=1
}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "no nvidia-smi" >> "$OUT/summary.txt"
unpack l2r
L2R="$BUNDLE/l2r"
if [ "$PART" = agreement ] || [ "$PART" = all ]; then
  unpack gpu-tests
  step agreement "$BUNDLE/gpu-tests" --test-threads 1 --nocapture
fi
if [ "$PART" = bench ] || [ "$PART" = all ]; then
  export L2R_ASSETS="$BUNDLE/assets"
  texts=("A man is eating pasta." "A man is eating food." "A cheetah is running behind its prey." "Shares fell.")
  step embed-cpu "$L2R" embed --device cpu --json --quiet "${texts[@]}"
  step embed-cuda "$L2R" embed --device cuda --json --quiet "${texts[@]}"
  step embed-agreement python3 - "$OUT/embed-cpu.txt" "$OUT/embed-cuda.txt" <<'PY'
import json, sys
cpu, gpu = (json.load(open(p))["embeddings"] for p in sys.argv[1:3])
diff = max(abs(a - b) for r, s in zip(cpu, gpu) for a, b in zip(r, s))
print(f"largest difference of the embeddings, GPU vs CPU: {diff:.2e}")
sys.exit(0 if diff < 1e-4 else 1)
PY
  # A small continual run (four 2-label tasks, quick size) on each device: the same CIL within 1 point.
  config="$OUT/gpu-run.toml"
  {
    printf 'size = "quick"\nmax_len = 64\nseeds = [0]\norders = [0]\n\n'
    for task in bbc tweets nouns verbs; do
      printf '[[tasks]]\nname = "%s"\npath = "%s"\n\n' "$task" "$PWD/$BUNDLE/data/$task.csv"
    done
    printf '[train]\nepochs = 3\nlearning_rate = 3e-3\n\n[router]\nepochs = 5\n'
  } > "$config"
  for device in cpu cuda; do
    rm -rf "$OUT/run-$device"
    step "run-$device" "$L2R" run "$config" --out "$OUT/run-$device" --device "$device" --json --quiet
  done
  step run-agreement python3 - "$OUT/run-cpu.txt" "$OUT/run-cuda.txt" <<'PY'
import json, sys
cpu, gpu = (json.load(open(p))["average_accuracy"] for p in sys.argv[1:3])
worst = 0.0
for key in ("cil", "til_oracle", "til_routed"):
    a, b = cpu[key]["mean"], gpu[key]["mean"]
    worst = max(worst, abs(a - b))
    print(f"{key}: CPU {a:.4f}, GPU {b:.4f}")
sys.exit(0 if worst <= 0.01 else 1)
PY
  step bench-l2r "$L2R" bench --device cuda --work infer,train-lora,train-adapter,routed-wavg-10 --json --quiet
  step compare python3 bench/compare.py --device cuda --l2r "$L2R" --dtypes fp32,bf16 \
    --works infer,train-lora,train-adapter,routed-wavg-10 --rounds 3 --out "$OUT/compare.json"
  cp "$OUT/compare.txt" "$OUT/compare.md" 2>/dev/null
fi
echo "gpu-check: $( [ $status -eq 0 ] && echo passed || echo FAILED ) (results in $OUT)" | tee -a "$OUT/summary.txt"
exit $status
