#!/usr/bin/env bash
# Checks against real systems, after `cargo test` (run by .ci/run; as root): a one-node Slurm cluster runs a planned
# job array and its publish job (cluster/slurm-test.sh), the Kubernetes manifests validate against the Kubernetes
# schemas (cluster/k8s-validate.sh), a library add on a full disk fails cleanly and resumes
# (reliability/full-disk.sh), and the server holds under a short abuse run (reliability/abuse.py --quick: load, slow
# and idle connections, limits, malformed bodies, the token), and every file of a library and a run folder, cut or
# with a bit flipped, gives an error naming it or the same answer (reliability/corrupt.py).
set -euo pipefail
cd "$(dirname "$0")"
bash cluster/slurm-test.sh
bash cluster/k8s-validate.sh
bash reliability/full-disk.sh
python3 reliability/abuse.py --quick
python3 reliability/corrupt.py
