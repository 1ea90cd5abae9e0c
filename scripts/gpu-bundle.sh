#!/usr/bin/env bash
# Packs here, on a machine without a GPU, what the GPU check (scripts/gpu-check.sh, issue 19) runs there, into the
# git-ignored gpu-bundle/: a device call carries at most 64 MiB, so the parts are gzipped and split between two calls.
#
#   scripts/setup.sh --with-cuda && scripts/gpu-bundle.sh      # ~15 min from scratch on 2 cores (the cuda build)
#
#   gpu-bundle/l2r.gz          l2r built with --features cuda (scripts/build-cuda.sh), stripped      ~18 MB
#   gpu-bundle/gpu-tests.gz    crates/l2r/tests/gpu.rs built the same way: GPU against CPU on random MiniLM-shaped
#                              weights (outputs and gradients within 1e-4, router fits alike)
#   gpu-bundle/lib/            libcudart.so.13 (the only CUDA library linked; the driver brings the rest)
#   gpu-bundle/assets/minilm/  MiniLM with its weights in bf16 (scripts/bf16-weights.py; 91 → 45 MB, 36 MB gzipped):
#                              both devices and both bench sides widen them to the same fp32 values
#   gpu-bundle/data/           four 2-label tasks (100 examples a label) for a small continual run on both devices
#
# Call 1 carries l2r.gz, gpu-tests.gz and lib/ (33 MB) and runs `scripts/gpu-check.sh agreement`; call 2, on the
# still-warm machine (it keeps what call 1 brought), carries assets/ and data/ (45 MB) and runs `scripts/gpu-check.sh
# bench` (a fresh machine needs l2r.gz and lib/ again: 63 MB, just under 64 MiB).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ASSETS="${L2R_ASSETS:-$ROOT/assets}"
OUT=gpu-bundle
rm -rf "$OUT" && mkdir -p "$OUT/lib" "$OUT/assets/minilm"
scripts/build-cuda.sh --bin l2r
L2R_CUDA_CARGO=test scripts/build-cuda.sh -p l2r --test gpu --no-run
pack() { # a binary, stripped and gzipped
  local tmp; tmp="$(mktemp)"
  cp "$1" "$tmp" && strip "$tmp" && gzip -9 -c "$tmp" > "$2" && rm -f "$tmp"
}
pack target/cuda/release/l2r "$OUT/l2r.gz"
tests="$(ls -t target/cuda/release/deps/gpu-* | grep -v '\.d$' | head -1)"
pack "$tests" "$OUT/gpu-tests.gz"
cp -L "$ASSETS"/cuda/lib/libcudart.so.13 "$OUT/lib/"
for f in config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do
  cp "$ASSETS/minilm/$f" "$OUT/assets/minilm/"
done
touch "$OUT/assets/minilm/.done"
python3 scripts/bf16-weights.py "$ASSETS/minilm/model.safetensors" "$OUT/assets/minilm/model.safetensors"
# Four small tasks cut from the shipped corpora (100 examples a label) for the continual run on both devices.
mkdir -p "$OUT/data"
while read -r corpus labels name; do
  target/cuda/release/l2r tasks --quiet --export "$corpus" --labels "$labels" --per-class 100 \
    --out "$OUT/data/$name.csv"
done <<'TASKS'
bbc business,sports bbc
vader-tweets negative,positive tweets
wordnet-noun noun.animal,noun.food nouns
wordnet-verb verb.motion,verb.emotion verbs
TASKS
du -ah "$OUT" | sort -h | tail -8
