//! Evaluation after a step: every task seen so far, through the routed composition (CIL over the
//! concatenated heads; TIL routed with the task's own head), the uniform composition, and the oracle.

use crate::compose::{CompositionMode, FixedWeights, Routed};
use crate::error::Result;
use crate::metrics::classification_scores;
use crate::router::{adapt_router, CentroidWeights, MemoryBatch, RouterNetwork, RouterWeights};
use candle_core::{Device, IndexOp, Tensor, D};
use serde::{Deserialize, Serialize};

/// Accuracies on each seen task (in run order) after one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEvaluation {
    pub step: usize,
    pub tasks: Vec<String>,
    /// Task id given: the task's own module and head.
    pub til_oracle: Vec<f64>,
    /// Task id given for the head only: routed composition, the task's head.
    pub til_routed: Vec<f64>,
    /// No task id: routed composition, the router's CIL rule (`objective`): by default argmax over all heads'
    /// concatenated logits.
    pub cil: Vec<f64>,
    /// CIL with every gate equal (the uniform average of all modules).
    pub cil_uniform: Vec<f64>,
    /// CIL predicted with the head of the task whose module gets the largest weight (route, then classify).
    pub cil_top_task: Vec<f64>,
    /// CIL over the joint distribution: each head's class probabilities times its module's (layer-averaged) weight.
    #[serde(default)]
    pub cil_gated: Vec<f64>,
    /// The DAM-style baseline: top-2 centroid routing, modules merged per example, argmax over all heads.
    #[serde(default)]
    pub cil_dam: Vec<f64>,
    /// DAM-style routing, then the head of the nearest centroid's task.
    #[serde(default)]
    pub cil_dam_top_task: Vec<f64>,
    /// Share of examples whose nearest task centroid is their own task (DAM-style routing accuracy).
    #[serde(default)]
    pub dam_routing_accuracy: Vec<f64>,
    /// Support-weighted F1 of the CIL predictions over the concatenated label space.
    pub cil_weighted_f1: Vec<f64>,
    /// Share of examples whose largest (layer-averaged) weight is on their own task's module.
    pub routing_accuracy: Vec<f64>,
    /// `mean_weights[j][i]`: average weight of module i on task j's test examples.
    pub mean_weights: Vec<Vec<f64>>,
}

/// Argmax within head `task`'s slice of concatenated logits.
fn head_argmax(
    routed: &Routed,
    logits: &Tensor,
    offsets: &[usize],
    task: usize,
) -> Result<Vec<usize>> {
    argmax(&logits.i((
        ..,
        offsets[task]..offsets[task] + routed.heads[task].num_labels(),
    ))?)
}

fn argmax(logits: &Tensor) -> Result<Vec<usize>> {
    Ok(logits
        .argmax(D::Minus1)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|v| v as usize)
        .collect())
}

/// Evaluates tasks `0..tests.len()` (all seen so far); `oracle[j]` is task j's own-module test accuracy.
/// `memory` is what the routers were fitted on; local adaptation, when configured, draws from it.
pub fn evaluate_step(
    routed: &Routed,
    network: &RouterNetwork,
    memory: &MemoryBatch,
    tests: &[&MemoryBatch],
    oracle: &[f64],
    names: &[String],
    show_progress: bool,
) -> Result<StepEvaluation> {
    let total: usize = tests.iter().map(|t| t.len()).sum();
    let bar = crate::train::progress_bar(show_progress, total as u64);
    bar.set_message("evaluating");
    let mut eval = StepEvaluation {
        step: tests.len().saturating_sub(1),
        tasks: names.to_vec(),
        til_oracle: oracle.to_vec(),
        til_routed: vec![],
        cil: vec![],
        cil_uniform: vec![],
        cil_top_task: vec![],
        cil_gated: vec![],
        cil_dam: vec![],
        cil_dam_top_task: vec![],
        dam_routing_accuracy: vec![],
        cil_weighted_f1: vec![],
        routing_accuracy: vec![],
        mean_weights: vec![],
    };
    for (task, test) in tests.iter().enumerate() {
        let t = evaluate_task(routed, network, memory, test, task)?;
        bar.inc(test.len() as u64);
        let share = |hits: usize| hits as f64 / test.len().max(1) as f64;
        let targets: Vec<usize> = test.labels.iter().map(|l| t.offset + l).collect();
        let cil = classification_scores(&t.global, &targets, routed.total_labels());
        eval.cil.push(cil.accuracy);
        eval.cil_weighted_f1.push(cil.weighted_f1);
        eval.cil_uniform.push(share(
            t.uniform
                .iter()
                .zip(&targets)
                .filter(|(p, t)| p == t)
                .count(),
        ));
        eval.til_routed.push(share(
            t.own
                .iter()
                .zip(&test.labels)
                .filter(|(p, t)| p == t)
                .count(),
        ));
        let hits = |predicted: &[usize]| {
            share(
                predicted
                    .iter()
                    .zip(&targets)
                    .filter(|(p, t)| p == t)
                    .count(),
            )
        };
        eval.cil_top_task.push(hits(&t.top_task));
        eval.cil_gated.push(hits(&t.gated));
        eval.cil_dam.push(hits(&t.dam));
        eval.cil_dam_top_task.push(hits(&t.dam_top_task));
        eval.routing_accuracy
            .push(share(t.top_module.iter().filter(|&&m| m == task).count()));
        eval.dam_routing_accuracy.push(share(
            t.dam_top_module.iter().filter(|&&m| m == task).count(),
        ));
        eval.mean_weights.push(
            t.weight_sums
                .iter()
                .map(|s| s / test.len().max(1) as f64)
                .collect(),
        );
    }
    bar.finish_and_clear();
    Ok(eval)
}

/// Raw predictions on one task's test examples; CIL predictions are indices in the concatenated label space.
struct TaskPredictions {
    offset: usize,
    global: Vec<usize>,
    own: Vec<usize>,
    /// Prediction within the head of the top-weighted module.
    top_task: Vec<usize>,
    gated: Vec<usize>,
    uniform: Vec<usize>,
    top_module: Vec<usize>,
    weight_sums: Vec<f64>,
    dam: Vec<usize>,
    dam_top_task: Vec<usize>,
    dam_top_module: Vec<usize>,
}

fn evaluate_task(
    routed: &Routed,
    network: &RouterNetwork,
    memory: &MemoryBatch,
    test: &MemoryBatch,
    task: usize,
) -> Result<TaskPredictions> {
    let local = network.config.local_adaptation.as_ref();
    let centroids = memory.centroids(routed.num_tasks())?;
    let offsets = routed.label_offsets();
    let num_tasks = routed.num_tasks();
    let merged = Routed {
        mode: CompositionMode::Merge,
        ..*routed
    };
    let mut p = TaskPredictions {
        offset: offsets[task],
        global: vec![],
        own: vec![],
        top_task: vec![],
        gated: vec![],
        uniform: vec![],
        top_module: vec![],
        weight_sums: vec![0.0; num_tasks],
        dam: vec![],
        dam_top_task: vec![],
        dam_top_module: vec![],
    };
    let chunk = local.map_or(64, |l| l.batch_size);
    for start in (0..test.len()).step_by(chunk) {
        let end = (start + chunk).min(test.len());
        let ids: Vec<&[u32]> = test.ids[start..end].iter().map(Vec::as_slice).collect();
        // One padded batch serves the routed, uniform and DAM-style forward passes.
        let batch = routed.backbone.tokenizer.pad(&ids)?;
        let frozen = test.frozen.narrow(0, start, end - start)?;
        let routing = test
            .routing(network.config.input)
            .narrow(0, start, end - start)?;
        let adapted;
        let network = match local {
            Some(config) => {
                let seed = ((task as u64) << 32) | start as u64;
                adapted = adapt_router(network, routed, memory, &routing, config, seed)?;
                &adapted
            }
            None => network,
        };
        let weights = RouterWeights::new(network, routing, None);
        let parts = routed.head_logits(&batch, &weights)?;
        let logits = network.combine_heads(&parts)?;
        let mean = weights.mean_weights()?;
        p.global
            .extend(argmax(&network.cil_scores(&parts, &mean)?)?);
        p.own.extend(head_argmax(routed, &logits, &offsets, task)?);
        let top = argmax(&mean)?;
        p.top_task
            .extend(top_task_predictions(routed, &logits, &offsets, &top)?);
        p.gated
            .extend(argmax(&network.joint_log_probs(&parts, &mean)?)?);
        p.top_module.extend(top);
        for (sum, value) in p.weight_sums.iter_mut().zip(mean.sum(0)?.to_vec1::<f32>()?) {
            *sum += value as f64;
        }
        let uniform = FixedWeights(vec![Tensor::full(
            1.0 / num_tasks as f32,
            (end - start, num_tasks),
            &Device::Cpu,
        )?]);
        p.uniform.extend(argmax(&routed.logits(&batch, &uniform)?)?);
        let dam = CentroidWeights::dam(&frozen, &centroids)?;
        let dam_logits = merged.logits(&batch, &dam)?;
        let dam_top = argmax(dam.weights())?;
        p.dam.extend(argmax(&dam_logits)?);
        p.dam_top_task.extend(top_task_predictions(
            routed,
            &dam_logits,
            &offsets,
            &dam_top,
        )?);
        p.dam_top_module.extend(dam_top);
    }
    Ok(p)
}

/// Route, then classify: each row's argmax within the head of its top module, as a concatenated-space index.
fn top_task_predictions(
    routed: &Routed,
    logits: &Tensor,
    offsets: &[usize],
    top: &[usize],
) -> Result<Vec<usize>> {
    top.iter()
        .enumerate()
        .map(|(row, &module)| {
            let within = head_argmax(routed, &logits.narrow(0, row, 1)?, offsets, module)?[0];
            Ok(offsets[module] + within)
        })
        .collect()
}
