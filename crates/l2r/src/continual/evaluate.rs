//! Evaluation after a step: every task seen so far, through the routed composition (CIL over the
//! concatenated heads; TIL routed with the task's own head), the uniform composition, and the oracle.

use crate::backbone::{mean_pool, Backbone};
use crate::compose::{Composition, CompositionMode, FixedWeights, LayerWeights, ModuleStack};
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::metrics::classification_scores;
use crate::router::{
    concatenated_logits, label_offsets, MemoryBatch, RouterNetwork, RouterWeights,
};
use candle_core::{DType, Device, IndexOp, Tensor, D};
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
    /// Support-weighted F1 of the CIL predictions over the concatenated label space.
    pub cil_weighted_f1: Vec<f64>,
    /// Share of examples whose largest (layer-averaged) weight is on their own task's module.
    pub routing_accuracy: Vec<f64>,
    /// `mean_weights[j][i]`: average weight of module i on task j's test examples.
    pub mean_weights: Vec<Vec<f64>>,
}

/// Predictions of one composed forward pass over a batch.
struct Composed {
    global: Vec<usize>,
    own_head: Vec<usize>,
}

fn composed_predictions(
    backbone: &Backbone,
    stack: &ModuleStack,
    heads: &[&ClassifierHead],
    mode: CompositionMode,
    weights: &dyn LayerWeights,
    ids: &[&[u32]],
    task: usize,
    offsets: &[usize],
) -> Result<Composed> {
    let batch = backbone.tokenizer.pad(ids)?;
    let composition = Composition::new(stack, mode, weights);
    let pooled = mean_pool(
        &backbone.encoder.forward(&batch, &composition)?,
        &batch.attention_mask,
    )?;
    let logits = concatenated_logits(heads, &pooled)?;
    let global = argmax(&logits)?;
    let own = logits.i((.., offsets[task]..offsets[task] + heads[task].num_labels()))?;
    Ok(Composed {
        global,
        own_head: argmax(&own)?,
    })
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
#[allow(clippy::too_many_arguments)]
pub fn evaluate_step(
    backbone: &Backbone,
    stack: &ModuleStack,
    heads: &[&ClassifierHead],
    network: &RouterNetwork,
    mode: CompositionMode,
    tests: &[&MemoryBatch],
    oracle: &[f64],
    names: &[String],
    step: usize,
) -> Result<StepEvaluation> {
    let offsets = label_offsets(heads);
    let total_labels: usize = heads.iter().map(|h| h.num_labels()).sum();
    let num_tasks = heads.len();
    let mut eval = StepEvaluation {
        step,
        tasks: names.to_vec(),
        til_oracle: oracle.to_vec(),
        til_routed: vec![],
        cil: vec![],
        cil_uniform: vec![],
        cil_weighted_f1: vec![],
        routing_accuracy: vec![],
        mean_weights: vec![],
    };
    for (task, test) in tests.iter().enumerate() {
        let (mut global, mut own, mut uniform, mut top, mut weight_sums) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            vec![0f64; num_tasks],
        );
        for start in (0..test.len()).step_by(64) {
            let end = (start + 64).min(test.len());
            let ids: Vec<&[u32]> = test.ids[start..end].iter().map(Vec::as_slice).collect();
            let routed =
                RouterWeights::new(network, test.frozen.narrow(0, start, end - start)?, None);
            let p =
                composed_predictions(backbone, stack, heads, mode, &routed, &ids, task, &offsets)?;
            global.extend(p.global);
            own.extend(p.own_head);
            let mean = routed.mean_weights()?;
            top.extend(argmax(&mean)?);
            for (sum, value) in weight_sums.iter_mut().zip(mean.sum(0)?.to_vec1::<f32>()?) {
                *sum += value as f64;
            }
            let flat = FixedWeights(vec![Tensor::full(
                1.0 / num_tasks as f32,
                (end - start, num_tasks),
                &Device::Cpu,
            )?
            .to_dtype(DType::F32)?]);
            uniform.extend(
                composed_predictions(backbone, stack, heads, mode, &flat, &ids, task, &offsets)?
                    .global,
            );
        }
        let targets: Vec<usize> = test.labels.iter().map(|l| offsets[task] + l).collect();
        let share = |hits: usize| hits as f64 / test.len().max(1) as f64;
        let cil = classification_scores(&global, &targets, total_labels);
        eval.cil.push(cil.accuracy);
        eval.cil_weighted_f1.push(cil.weighted_f1);
        eval.cil_uniform.push(share(
            uniform.iter().zip(&targets).filter(|(p, t)| p == t).count(),
        ));
        eval.til_routed.push(share(
            own.iter().zip(&test.labels).filter(|(p, t)| p == t).count(),
        ));
        eval.routing_accuracy
            .push(share(top.iter().filter(|&&t| t == task).count()));
        eval.mean_weights.push(
            weight_sums
                .iter()
                .map(|s| s / test.len().max(1) as f64)
                .collect(),
        );
    }
    Ok(eval)
}
