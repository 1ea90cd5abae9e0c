#!/usr/bin/env bash
# A two-minute tour on the real MiniLM: sentence similarity, then one task's adapter trained in isolation,
# evaluated, and compared with a linear probe. Run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet -p l2r-cli
L2R=./target/release/l2r
echo "== similarity with the frozen encoder"
$L2R embed --similarity "A man is eating pasta." "A man is eating food." "A cheetah is running behind its prey."
echo "== train a bottleneck adapter on BBC topics (60 articles per class, 2 epochs)"
$L2R train-task --task bbc --peft adapter --max-train-per-class 60 --epochs 2 --lr 3e-3 --max-len 96 --out runs/demo-bbc-adapter
echo "== evaluate it again from disk"
$L2R eval-task runs/demo-bbc-adapter
echo "== the linear probe on frozen features, same split"
$L2R probe --task bbc --max-train-per-class 60 --max-len 96
