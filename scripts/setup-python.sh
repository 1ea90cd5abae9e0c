#!/usr/bin/env bash
# The Python side of l2r's comparisons: PyTorch + transformers + HF PEFT in bench/.venv (git-ignored), used by
# the PEFT interop check (scripts/peft_interop.py) and the PyTorch reference benchmarks. Not needed to build,
# test or run l2r. PyPI's Linux torch wheel carries its CUDA libraries (about 5.6 GiB installed, ~3 min); it
# runs on the CPU as well.
#
#   scripts/setup-python.sh && bench/.venv/bin/python scripts/peft_interop.py
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/bench/.venv"
command -v python3 >/dev/null || { echo "setup-python: python3 is missing" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check \
  torch==2.15.0 transformers==5.24.0 peft==0.21.2 safetensors tokenizers
"$VENV/bin/python" -c "import torch, transformers, peft; print('setup-python: torch', torch.__version__, '· transformers', transformers.__version__, '· peft', peft.__version__)"
