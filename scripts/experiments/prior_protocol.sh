#!/usr/bin/env bash
# Choosing the routers' prior by the protocol of issue 15 (docs/results.md, "The routers' prior, chosen
# leave-one-benchmark-out"): each benchmark's shipped config with prior_reference = centroid (the shipped default
# until this study) and = gaussian, 3 seeds, order 0, routers fitted after the last task, evaluated on the
# validation split (to choose) and on the test split (to report). Baselines are evaluated once per benchmark (the
# centroid test run); modules come from one cache, so the variants share them. Resumable: finished runs are
# skipped. Then: scripts/experiments/prior_protocol.py runs/prior-protocol
#
# PRIORS picks the candidates (default "centroid gaussian"); "gaussian" is the Gaussian prior with
# prior_fit = "in_sample" (how the first study ran it, before held_out became the default); "heldout" is it with
# prior_fit = "held_out" (the routers fitted on the memory scored by the Gaussian without the memory's examples),
# "heldoutridge" the same with ridge_heads = true (every other candidate has none; these four fit the heads' weights
# on the memory, calibrate_on = "memory");
# "heldoutridgeval" that with calibrate_on = "validation" (each task's within-task weights fitted on its own
# validation split instead of the memory); "heldoutridgepool" with calibrate_on = "pooled_validation" (one pair for
# every task, on all their validation splits together; the shipped default since); "herding" and "kcenter" are
# "heldoutridgepool" with the memory chosen by herding or greedy k-center on the routers' frozen features
# ([memory] selection) instead of at random; "replay" is "heldoutridgepool" with gaussian_replay = 20 (each fit epoch,
# 20 rows per class drawn from the class Gaussians of the statistics beside the memory); "epochs10" is "heldoutridgepool"
# with modules trained for 10 epochs (best epoch on validation kept) instead of 3 (the shipped default since);
# "lora10" is that with LoRA modules instead of adapters; "probe10" is "epochs10" with each head started as a linear
# probe on the frozen features ([train] head_init = "probe", LP-FT); "layers10" is "epochs10" with heads that read every
# layer's mean pool ([train] head_input = "all_layers"); "setfit10" is "epochs10" with the SetFit-style pairwise cosine
# loss added to the modules' cross-entropy ([train] contrastive_weight = 1); "ridgeprior" is "epochs10" with the ridge's
# task posterior as the routers' prior (prior_reference = "ridge", held out) in place of the Gaussian's. BASELINES_WITH names the candidate whose test run evaluates every baseline
# (default centroid; prior_protocol.py --reference must name the same).
# L2R names a binary to run instead of building target/release/l2r (so that building can go on meanwhile).
#
#   [PRIORS="gaussian heldout"] scripts/experiments/prior_protocol.sh [far5 verb-cil senti4 wordnet-cil]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=runs/prior-protocol
mkdir -p "$out"
source scripts/experiments/run_config.sh
prior_keys() {
  case "$1" in
    gaussian) printf 'prior_reference = "gaussian"\\nprior_fit = "in_sample"\\nridge_heads = false\\ncalibrate_on = "memory"' ;;
    heldout) printf 'prior_reference = "gaussian"\\nprior_fit = "held_out"\\nridge_heads = false\\ncalibrate_on = "memory"' ;;
    ridgeprior) printf 'prior_reference = "ridge"\\nprior_fit = "held_out"\\nridge_heads = true\\ncalibrate_on = "pooled_validation"' ;;
    heldoutridge) printf 'prior_reference = "gaussian"\\nprior_fit = "held_out"\\nridge_heads = true\\ncalibrate_on = "memory"' ;;
    heldoutridgepool | herding | kcenter | epochs10 | lora10 | probe10 | layers10 | setfit10) printf 'prior_reference = "gaussian"\\nprior_fit = "held_out"\\nridge_heads = true\\ncalibrate_on = "pooled_validation"' ;;
    replay) printf 'prior_reference = "gaussian"\\nprior_fit = "held_out"\\nridge_heads = true\\ncalibrate_on = "pooled_validation"\\ngaussian_replay = 20' ;;
    heldoutridgeval) printf 'prior_reference = "gaussian"\\nprior_fit = "held_out"\\nridge_heads = true\\ncalibrate_on = "validation"' ;;
    *) printf 'prior_reference = "%s"\\nridge_heads = false\\ncalibrate_on = "memory"' "$1" ;;
  esac
}
# The [memory] selection a candidate names (random for every prior candidate), as a sed expression.
memory_sed() {
  case "$1" in
    herding) echo 's/^per_class = .*/&\nselection = "herding"/' ;;
    kcenter) echo 's/^per_class = .*/&\nselection = "k_center"/' ;;
    *) echo 's/^per_class = .*/&/' ;;
  esac
}
# The [train] settings a candidate names, as a sed expression. Since the eleventh session the shipped configs train
# modules for 10 epochs (patience 10): "epochs10" and "lora10" are that; every earlier candidate trained for 3
# (patience 2, the default then), so the sed puts that back and their modules keep their cache keys.
train_sed() {
  case "$1" in
    epochs10 | lora10 | ridgeprior) echo 's/^batch_size = .*/&/' ;;
    probe10) echo 's/^\[train\]$/&\nhead_init = "probe"/' ;;
    layers10) echo 's/^\[train\]$/&\nhead_input = "all_layers"/' ;;
    setfit10) echo 's/^\[train\]$/&\ncontrastive_weight = 1.0/' ;;
    *) echo '/^\[train\]/,/^\[/{s/^epochs = .*/epochs = 3\npatience = 2/;/^patience = 10$/d}' ;;
  esac
}
# The [module] a candidate names: "lora10" swaps the adapter for LoRA (rank 8, alpha 16, on query and value).
module_sed() {
  case "$1" in
    lora10) echo '/^\[module\]/,/^\[/{s/^type = .*/type = "lora"/;s/^size = .*/rank = 8\nalpha = 16\ntargets = ["query", "value"]/}' ;;
    *) echo 's/^batch_size = .*/&/' ;;
  esac
}
l2r=${L2R:-target/release/l2r}
[ -n "${L2R:-}" ] || cargo build --release --quiet
set -- ${@:-far5 verb-cil senti4 wordnet-cil}
for benchmark in "$@"; do
  for split in validation test; do
    for prior in ${PRIORS:-centroid gaussian}; do
      run="$out/$benchmark-$prior-$split"
      [ -f "$run/metrics.json" ] && continue
      config="$out/$benchmark-$prior-$split.toml"
      baselines=0
      [ "$prior-$split" != "${BASELINES_WITH:-centroid}-test" ] || baselines=1
      run_config "$benchmark" runs/module-features/module-cache "$split" 0 "$baselines" \
        -e '/^ridge_heads = /d' -e '/^calibrate_on = /d' -e "s/^prior_reference = .*/$(prior_keys "$prior")/" \
        -e "$(memory_sed "$prior")" -e "$(train_sed "$prior")" -e "$(module_sed "$prior")" > "$config"
      echo "== $benchmark $prior ($split)"
      run_or_resume "$l2r" "$config" "$run"
    done
  done
done
