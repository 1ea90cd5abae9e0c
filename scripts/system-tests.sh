#!/usr/bin/env bash
# Checks against real systems, after `cargo test` (run by .ci/run; as root): a one-node Slurm cluster runs a planned
# job array and its publish job (cluster/slurm-test.sh), the Kubernetes manifests validate against the Kubernetes
# schemas (cluster/k8s-validate.sh), and a library add on a full disk fails cleanly and resumes
# (reliability/full-disk.sh).
set -euo pipefail
cd "$(dirname "$0")"
bash cluster/slurm-test.sh
bash cluster/k8s-validate.sh
bash reliability/full-disk.sh
