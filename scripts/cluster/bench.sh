#!/usr/bin/env bash
# Where the time goes when a library's tasks train as Slurm array elements on this machine (issue 17, item 5):
# four built-in tasks at the library demo's settings (configs/library-demo.toml), trained by a job array
#   (a) two elements at once, one core each      (--max-parallel 2 --cpus-per-task 1)
#   (b) one element at a time, two cores each    (--max-parallel 1 --cpus-per-task 2)
# on a real one-node Slurm cluster (scripts/cluster/slurm-cluster.sh). Prints the wall time from submission until
# the array finished, and the throughput ratio. Needs an otherwise idle machine; about 10 minutes on 2 cores.
#
#   scripts/cluster/bench.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
repeats=${1:-1}
source scripts/cluster/slurm-cluster.sh
slurm_workspace slurm-bench
cd "$work"
for name in bbc spam vader-tweets vader-amazon; do printf '[[tasks]]\nname = "%s"\ndata = "%s"\n\n' "$name" "$name"; done > tasks.toml
echo "| layout | repeat | wall seconds for 4 tasks |"
echo "|---|---|---|"
declare -A total
for repeat in $(seq "$repeats"); do
  for layout in "2 1" "1 2"; do
    read -r parallel cpus <<< "$layout"
    lib="lib-$parallel-$cpus-$repeat"
    "$l2r" library init "$lib" --config "$repo/configs/library-demo.toml" --quiet
    "$l2r" library plan "$lib" --slurm tasks.toml --max-parallel "$parallel" --cpus-per-task "$cpus" --quiet > /dev/null
    start=$(date +%s.%N)
    job=$(sbatch --parsable "$lib/cluster/slurm/train.sbatch")
    # Polled every 0.2 s (`sbatch --wait` polls at growing intervals, which quantises the time).
    while [ -n "$(squeue -h -j "${job%%;*}" -o %i 2>/dev/null)" ]; do sleep 0.2; done
    end=$(date +%s.%N)
    staged=$(ls "$lib/staged" | grep -vc '\.lock$' || true)
    [ "$staged" = 4 ] || { echo "FAIL: $staged of 4 tasks staged" >&2; tail -n 20 "$lib"/cluster/slurm/logs/* >&2; exit 1; }
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    total[$layout]=$(awk -v a="${total[$layout]:-0}" -v b="$seconds" 'BEGIN { print a + b }')
    echo "| $parallel at once × $cpus core(s) | $repeat | $seconds |"
  done
done
ratio=$(awk -v a="${total[1 2]}" -v b="${total[2 1]}" 'BEGIN { printf "%.2f", a / b }')
echo
echo "two one-core elements at once: ${ratio}× the throughput of one two-core element at a time ($(nproc) cores, $(date -u +%F))"
