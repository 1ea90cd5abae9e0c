#!/usr/bin/env bash
# The cluster checks of issue 17 (run by .ci/run): a real one-node Slurm cluster runs a planned job array and its
# publish job (slurm-test.sh), and the Kubernetes manifests validate against the Kubernetes schemas (k8s-validate.sh).
set -euo pipefail
cd "$(dirname "$0")"
bash slurm-test.sh
bash k8s-validate.sh
