//! Evaluation after a step: every task seen so far, through the routed composition (CIL over the
//! concatenated heads; TIL routed with the task's own head), the uniform composition, and the oracle.

use crate::compose::{FixedWeights, LayerWeights, Routed};
use crate::error::Result;
use crate::metrics::classification_scores;
use crate::router::{MemoryBatch, RouterNetwork, RouterWeights};
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
    /// No task id: routed composition, argmax over all heads' concatenated logits.
    pub cil: Vec<f64>,
    /// CIL with every gate equal (the uniform average of all modules).
    pub cil_uniform: Vec<f64>,
    /// CIL predicted with the head of the task whose module gets the largest weight (route, then classify).
    pub cil_top_task: Vec<f64>,
    /// Support-weighted F1 of the CIL predictions over the concatenated label space.
    pub cil_weighted_f1: Vec<f64>,
    /// Share of examples whose largest (layer-averaged) weight is on their own task's module.
    pub routing_accuracy: Vec<f64>,
    /// `mean_weights[j][i]`: average weight of module i on task j's test examples.
    pub mean_weights: Vec<Vec<f64>>,
}

/// The composed forward pass of one batch: all heads' concatenated logits, calibrated by `network` if given.
fn composed_logits(
    routed: &Routed,
    weights: &dyn LayerWeights,
    ids: &[&[u32]],
    network: Option<&RouterNetwork>,
) -> Result<Tensor> {
    let batch = routed.backbone.tokenizer.pad(ids)?;
    match network {
        Some(network) => network.combine_heads(&routed.head_logits(&batch, weights)?),
        None => routed.logits(&batch, weights),
    }
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
pub fn evaluate_step(
    routed: &Routed,
    network: &RouterNetwork,
    tests: &[&MemoryBatch],
    oracle: &[f64],
    names: &[String],
) -> Result<StepEvaluation> {
    let mut eval = StepEvaluation {
        step: tests.len().saturating_sub(1),
        tasks: names.to_vec(),
        til_oracle: oracle.to_vec(),
        til_routed: vec![],
        cil: vec![],
        cil_uniform: vec![],
        cil_top_task: vec![],
        cil_weighted_f1: vec![],
        routing_accuracy: vec![],
        mean_weights: vec![],
    };
    for (task, test) in tests.iter().enumerate() {
        let t = evaluate_task(routed, network, test, task)?;
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
        let top_task_hits = t.top_module.iter().zip(&t.top_head).zip(&test.labels);
        eval.cil_top_task.push(share(
            top_task_hits
                .filter(|((m, p), l)| **m == task && p == l)
                .count(),
        ));
        eval.routing_accuracy
            .push(share(t.top_module.iter().filter(|&&m| m == task).count()));
        eval.mean_weights.push(
            t.weight_sums
                .iter()
                .map(|s| s / test.len().max(1) as f64)
                .collect(),
        );
    }
    Ok(eval)
}

/// Raw predictions on one task's test examples.
struct TaskPredictions {
    offset: usize,
    global: Vec<usize>,
    own: Vec<usize>,
    /// Prediction within the head of the top-weighted module.
    top_head: Vec<usize>,
    uniform: Vec<usize>,
    top_module: Vec<usize>,
    weight_sums: Vec<f64>,
}

fn evaluate_task(
    routed: &Routed,
    network: &RouterNetwork,
    test: &MemoryBatch,
    task: usize,
) -> Result<TaskPredictions> {
    let offsets = routed.label_offsets();
    let num_tasks = routed.num_tasks();
    let mut p = TaskPredictions {
        offset: offsets[task],
        global: vec![],
        own: vec![],
        top_head: vec![],
        uniform: vec![],
        top_module: vec![],
        weight_sums: vec![0.0; num_tasks],
    };
    for start in (0..test.len()).step_by(64) {
        let end = (start + 64).min(test.len());
        let ids: Vec<&[u32]> = test.ids[start..end].iter().map(Vec::as_slice).collect();
        let weights = RouterWeights::new(network, test.frozen.narrow(0, start, end - start)?, None);
        let logits = composed_logits(routed, &weights, &ids, Some(network))?;
        p.global.extend(argmax(&logits)?);
        p.own.extend(head_argmax(routed, &logits, &offsets, task)?);
        let mean = weights.mean_weights()?;
        let top = argmax(&mean)?;
        for (row, &module) in top.iter().enumerate() {
            p.top_head
                .push(head_argmax(routed, &logits.narrow(0, row, 1)?, &offsets, module)?[0]);
        }
        p.top_module.extend(top);
        for (sum, value) in p.weight_sums.iter_mut().zip(mean.sum(0)?.to_vec1::<f32>()?) {
            *sum += value as f64;
        }
        let uniform = FixedWeights(vec![Tensor::full(
            1.0 / num_tasks as f32,
            (end - start, num_tasks),
            &Device::Cpu,
        )?]);
        p.uniform
            .extend(argmax(&composed_logits(routed, &uniform, &ids, None)?)?);
    }
    Ok(p)
}
