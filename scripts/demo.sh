#!/usr/bin/env bash
# A tour on the real MiniLM (about 5 minutes on 2 cores after the build: 4 min 50 s on 2026-12-06): sentence similarity with the frozen encoder, then a
# small continual run (configs/demo.toml: far5 at quick size — five tasks with different label sets, one adapter
# each, routers fitted on a memory of 10 examples per class), predictions with the learned routing, and the
# HTML report. Run scripts/setup.sh first. A second run resumes from runs/demo and finishes at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet -p l2r-cli
L2R=./target/release/l2r
echo "== similarity with the frozen encoder"
$L2R embed --similarity "A man is eating pasta." "A man is eating food." "A cheetah is running behind its prey."
echo "== continual learning on far5 (quick): train each task's adapter, fit the routers, evaluate TIL and CIL"
$L2R run configs/demo.toml --out runs/demo
echo "== classify new texts without a task id: label, task, score, routing gates"
$L2R predict --run runs/demo --quiet \
  "Shares in the bank fell sharply after it reported lower quarterly profits." \
  "Get a free loan approved in minutes, click here now!!!" \
  "This movie was a complete waste of two hours." \
  "a large wild animal of the cat family with a striped coat"
echo "== the report"
$L2R report runs/demo
