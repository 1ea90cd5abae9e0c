#!/usr/bin/env bash
# Validates the manifests of `l2r library plan --k8s` against the Kubernetes schemas, strictly (unknown fields are
# errors), with `kubernetes-validate` from PyPI in a private virtual environment (its schemas ship in the package).
#
#   scripts/cluster/k8s-validate.sh [KUBERNETES_VERSION ...]      (default: 1.31.0 and the validator's newest)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
cargo build --release --quiet
l2r="$repo/target/release/l2r"
venv=${L2R_K8S_VENV:-$repo/.venv-k8s}
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kubernetes-validate
fi
work=$(mktemp -d /tmp/l2r-k8s.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
export L2R_ASSETS=${L2R_ASSETS:-$repo/assets}
"$l2r" library init lib --quiet
mkdir -p lib/data
printf 'text,label\nthe sky is clear,sunny\nrain again,rainy\n' > lib/data/weather.csv
printf '[[tasks]]\nname = "weather"\ndata = "lib/data/weather.csv"\n\n[[tasks]]\nname = "bbc"\ndata = "bbc"\n' > tasks.toml
"$l2r" library plan lib --k8s tasks.toml --quiet > /dev/null
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.31.0 "")
for version in "${versions[@]}"; do
  "$venv/bin/kubernetes-validate" --strict ${version:+-k "$version"} lib/cluster/k8s/train-job.yaml lib/cluster/k8s/publish-job.yaml
done
# The validator must be able to fail: a manifest with a wrong type is refused.
sed 's/completionMode: Indexed/completionMode: 7/; s/completions: 2/completions: two/' lib/cluster/k8s/train-job.yaml > broken.yaml
if "$venv/bin/kubernetes-validate" --strict --quiet broken.yaml > /dev/null 2>&1; then
  echo "FAIL: the validator accepted a broken manifest" >&2
  exit 1
fi
echo "kubernetes manifests valid against the Kubernetes schemas (strict)"
