#!/usr/bin/env bash
# Rebuilds vendor/candle-core: candle-core 0.11.1 exactly as published on crates.io (sha256 pinned below), plus
# vendor/candle-core-backprop.patch. The workspace uses it through [patch.crates-io] in Cargo.toml.
#
# Why: candle's backprop starts every gradient as `zeros_like` and then adds the first contribution into it, so
# each of the ~20 large activation gradients of a training step costs a memset and an add pass (read twice,
# write once) that do nothing. The patch stores the first gradient as it is (made contiguous if it is a view,
# as before) and adds only from the second on. Values are bit-identical (0 + g = g); a training step is about
# 20% faster (BENCHMARKS.md, 2026-11-25, fifth session). candle's own autograd tests pass on the patched copy:
#   cargo test --release --manifest-path vendor/candle-core/Cargo.toml --test grad_tests
#
#   scripts/vendor-candle.sh [PATH/TO/candle-core-0.11.1.crate]
# Without an argument it takes the crate from cargo's download cache (~/.cargo/registry/cache), where any
# project that depended on candle-core 0.11.1 from crates.io left it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SHA256=d11c8be87cfbaef9ebb62fb3f850d1fc8e00cc1d11d393fdbe55a4d5c2cdb325
CRATE="${1:-$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/candle-core-0.11.1.crate 2>/dev/null | head -n 1)}"
if [ -z "$CRATE" ] || [ ! -f "$CRATE" ]; then
  echo "error: candle-core-0.11.1.crate not found; pass its path (download: https://static.crates.io/crates/candle-core/candle-core-0.11.1.crate)" >&2
  exit 1
fi
echo "$SHA256  $CRATE" | sha256sum --check --quiet || {
  echo "error: $CRATE is not candle-core 0.11.1 as published (sha256 differs)" >&2
  exit 1
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar xzf "$CRATE" -C "$work"
patch --quiet -d "$work/candle-core-0.11.1" -p1 < vendor/candle-core-backprop.patch
# The `cuda` feature loads the CUDA libraries at run time (cudarc's dynamic-loading) instead of linking them, so
# that it builds on a machine without a GPU driver (libcuda.so comes only with the driver).
sed -i 's/^    "dynamic-linking",$/    "dynamic-loading",/' "$work/candle-core-0.11.1/Cargo.toml"
grep -q '"dynamic-loading",' "$work/candle-core-0.11.1/Cargo.toml" || {
  echo "error: candle-core's cudarc features changed; the dynamic-loading edit did not apply" >&2
  exit 1
}
rm -rf vendor/candle-core
mv "$work/candle-core-0.11.1" vendor/candle-core
echo "vendor/candle-core: candle-core 0.11.1 + vendor/candle-core-backprop.patch + cudarc dynamic-loading"
