#!/usr/bin/env bash
# Builds l2r with the `cuda` feature (candle's CUDA backend), on a machine with or without a GPU: nvcc compiles
# candle's kernels to PTX (and its MoE kernels to a static library) for CUDA_COMPUTE_CAP, and the CUDA libraries
# are loaded at run time (cudarc's dynamic loading), so only libcudart is linked. The toolkit comes from PyPI:
# `scripts/setup.sh --with-cuda` unpacks CUDA 13.0 into assets/cuda (or point CUDA_ROOT at an installed one).
#
#   scripts/build-cuda.sh [cargo build options]     e.g. --bin l2r
#   CUDA_COMPUTE_CAP=80 scripts/build-cuda.sh       another GPU generation (default 90: H100, H200)
#   L2R_CUDA_CARGO=test scripts/build-cuda.sh -p l2r --test gpu --no-run     the GPU tests (scripts/gpu-bundle.sh)
#
# The binary is target/cuda/release/l2r (a target folder of its own, so the CPU build stays as it is). On the GPU
# machine it needs the driver (r580 or later for CUDA 13.0's PTX) and libcudart.so.13 on LD_LIBRARY_PATH
# (assets/cuda/lib has it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CUDA="${CUDA_ROOT:-${L2R_ASSETS:-$ROOT/assets}/cuda}"
if [ ! -x "$CUDA/bin/nvcc" ]; then
  echo "build-cuda: error: no nvcc in $CUDA; run scripts/setup.sh --with-cuda (or set CUDA_ROOT)" >&2
  exit 1
fi
export CUDA_ROOT="$CUDA" CUDA_PATH="$CUDA" PATH="$CUDA/bin:$PATH"
export LIBRARY_PATH="$CUDA/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
# Without a GPU nothing can detect the compute capability; H100 and H200 are 9.0.
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
cd "$ROOT"
started=$(date +%s)
cargo "${L2R_CUDA_CARGO:-build}" --release --features cuda --target-dir target/cuda "$@"
echo "build-cuda: cargo ${L2R_CUDA_CARGO:-build} $* done in $(( $(date +%s) - started )) s (compute capability $CUDA_COMPUTE_CAP; target/cuda/release)"
