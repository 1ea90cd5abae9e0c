#!/usr/bin/env bash
# The cluster path on a real Slurm (issue 17): a one-node cluster on localhost (scripts/cluster/slurm-cluster.sh),
# `l2r library plan --slurm` for three small tasks, the job array and the publish job submitted and waited for;
# then the same three tasks trained and published by hand in a second library. The two generations must hold the
# same tasks with byte-identical evaluations. Everything started is stopped on exit, also on failure.
#
#   scripts/cluster/slurm-test.sh          (as root; run by .ci/run)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/cluster/slurm-cluster.sh
slurm_workspace slurm-test

# Three small tasks, and a small library (the settings of the library test).
cd "$work"
cities=(Paris Lima Oslo Cairo Delhi Quito Rome Tokyo Accra Bern Hanoi Doha)
printf 'text,label\n' > weather.csv; printf 'text,label\n' > food.csv; printf 'text,label\n' > sport.csv
for i in "${!cities[@]}"; do
  c=${cities[$i]}
  printf 'The sky over %s is clear and bright on day %d,sunny\nHeavy rain keeps falling on %s since day %d,rainy\n' "$c" "$i" "$c" "$i" >> weather.csv
  printf 'This cake from %s tastes of honey and sugar number %d,sweet\nThe chips sold in %s are covered in salt batch %d,salty\n' "$c" "$i" "$c" "$i" >> food.csv
  printf 'The football team won the final match number %d,football\nA tennis player served an ace in set number %d,tennis\n' "$i" "$i" >> sport.csv
done
cat > library.toml <<'TOML'
max_len = 32
[module]
type = "adapter"
size = 8
[train]
epochs = 2
batch_size = 8
patience = 5
[memory]
per_class = 2
[router]
epochs = 3
batch_size = 4
TOML
for name in weather food sport; do printf '[[tasks]]\nname = "%s"\ndata = "%s.csv"\n\n' "$name" "$name"; done > tasks.toml


# On the cluster: plan, submit, wait.
"$l2r" library init cluster-lib --config library.toml --quiet
"$l2r" library plan cluster-lib --slurm tasks.toml --max-parallel 2
bash cluster-lib/cluster/slurm/submit.sh
for _ in $(seq 600); do
  [ -z "$(squeue -h -o %i)" ] && break
  sleep 2
done
if [ -n "$(squeue -h -o %i)" ]; then
  echo "FAIL: jobs still queued after 20 minutes" >&2; squeue >&2; exit 1
fi
logs=cluster-lib/cluster/slurm/logs
ls "$logs"
[ "$(ls "$logs" | grep -c '^train-')" = 3 ] || { echo "FAIL: expected 3 array elements' logs" >&2; exit 1; }
if [ "$(cut -d' ' -f1 cluster-lib/CURRENT 2>/dev/null)" != 1 ]; then
  echo "FAIL: the publish job published no generation" >&2
  tail -n 30 "$logs"/* >&2 || true
  exit 1
fi

# By hand, with the same seeds and one thread as the jobs had.
"$l2r" library init hand-lib --config library.toml --quiet
for index in 0 1 2; do
  RAYON_NUM_THREADS=1 "$l2r" library train hand-lib --tasks tasks.toml --index "$index" --quiet
done
RAYON_NUM_THREADS=1 "$l2r" library publish hand-lib --tasks tasks.toml --quiet

"$l2r" library list cluster-lib
for file in evaluation.json router.safetensors; do
  if ! cmp "cluster-lib/generations/000001/$file" "hand-lib/generations/000001/$file"; then
    echo "FAIL: $file differs between the Slurm-published and the hand-published generation" >&2
    exit 1
  fi
done
[ "$("$l2r" library list cluster-lib)" = "$("$l2r" library list hand-lib)" ] || { echo "FAIL: task lists differ" >&2; exit 1; }
echo "slurm test: 3 array elements and the publish job ran; the generation equals the one published by hand"
