# Sourced by the experiment scripts (prior_protocol.sh, orders.sh, full_size.sh): how each writes a run's config from
# a benchmark's shipped one, and runs it.

# run_config BENCHMARK CACHE SPLIT ORDERS BASELINES [SED_ARGS ...]: the shipped config of BENCHMARK with modules from
# the module cache CACHE, evaluated on SPLIT, 3 seeds × ORDERS (e.g. "0" or "1, 2"), routers fitted after the last task
# only, every SED_ARGS applied too; the baselines are evaluated only when BASELINES is 1. Written to standard output.
run_config() {
  local benchmark=$1 cache=$2 split=$3 orders=$4 baselines=$5
  shift 5
  echo "module_cache = \"$cache\""
  echo "evaluate_on = \"$split\""
  sed -e 's/^seeds = .*/seeds = [0, 1, 2]/' -e "s/^orders = .*/orders = [$orders]/" \
      -e 's/^fit_after = .*/fit_after = "last_task"/' "$@" "configs/$benchmark.toml"
  if [ "$baselines" != 1 ]; then printf '\n[baselines]\nevaluate = false\n'; fi
}

# run_or_resume BINARY CONFIG RUN: runs CONFIG into RUN, or resumes RUN when it was started before.
run_or_resume() {
  "$1" run "$2" --out "$3" || "$1" run --resume "$3"
}
