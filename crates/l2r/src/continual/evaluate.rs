//! Evaluation after a step: every task seen so far, through the routed composition (CIL over the
//! concatenated heads; TIL routed with the task's own head), the uniform composition, and the oracle.

use crate::baselines::{
    stacked_keys, ArrowRouting, EpiIdentifier, MoclWeights, TaskStatistics, ARROW_TOP_K,
};
use crate::compose::{label_offsets, CompositionMode, FixedWeights, Routed};
use crate::error::Result;
use crate::metrics::classification_scores;
use crate::router::{adapt_router, CentroidWeights, MemoryBatch, RouterNetwork, RouterWeights};
use crate::train::{shortest_first, unsort};
use candle_core::{Device, IndexOp, Tensor, D};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// The other routing baselines on the same modules, one row per name (see [`BASELINE_SETUPS`]).
    #[serde(default)]
    pub baselines: BTreeMap<String, Vec<f64>>,
}

impl StepEvaluation {
    /// A step that was not evaluated (its row of every matrix stays empty).
    pub fn skipped(step: usize, names: &[String]) -> Self {
        StepEvaluation {
            step,
            tasks: names.to_vec(),
            til_oracle: vec![],
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
            baselines: BTreeMap::new(),
        }
    }
}

/// Rows of [`StepEvaluation::baselines`]: `cil_*` over all heads seen so far, `til_*` with the task's own head,
/// `routing_*` the share of examples whose largest weight is on their own task's module.
/// - `dam`: DAM-style (TIL: its merged module with the task's head);
/// - `epi`: EPI-style Mahalanobis task identification, then that task's module and head (its TIL is the oracle);
/// - `mocl`: MoCL-style keys, `softmax(8 · cos)` weights, module outputs averaged;
/// - `arrow`: Arrow's per-token routing by the LoRA updates' singular vectors (LoRA modules only).
pub const BASELINE_SETUPS: [&str; 8] = [
    "til_dam",
    "cil_epi",
    "routing_epi",
    "til_mocl",
    "cil_mocl",
    "routing_mocl",
    "til_arrow",
    "cil_arrow",
];

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

/// The tasks seen so far, in run order.
pub struct SeenTasks<'a> {
    pub names: &'a [String],
    pub tests: &'a [&'a MemoryBatch],
    /// Each task's own-module test accuracy.
    pub oracle: &'a [f64],
    /// What the similarity baselines keep of each task.
    pub statistics: &'a [&'a TaskStatistics],
}

/// Evaluates every task seen so far. `memory` is what the routers were fitted on; local adaptation, when
/// configured, draws from it.
pub fn evaluate_step(
    routed: &Routed,
    network: &RouterNetwork,
    memory: &MemoryBatch,
    seen: &SeenTasks,
    show_progress: bool,
) -> Result<StepEvaluation> {
    let (tests, oracle, names) = (seen.tests, seen.oracle, seen.names);
    let similarity = SimilarityRouters::new(routed, seen.statistics, memory)?;
    let total: usize = tests.iter().map(|t| t.len()).sum();
    let bar = crate::train::progress_bar(show_progress, total as u64);
    bar.set_message("evaluating");
    let mut eval = StepEvaluation {
        til_oracle: oracle.to_vec(),
        ..StepEvaluation::skipped(tests.len().saturating_sub(1), names)
    };
    for (task, test) in tests.iter().enumerate() {
        let t = evaluate_task(routed, network, memory, &similarity, test, task)?;
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
        let own_task = vec![task; test.len()];
        for (name, predicted) in &t.baselines {
            let correct: &[usize] = match name.split('_').next() {
                Some("cil") => &targets,
                Some("til") => &test.labels,
                _ => &own_task,
            };
            let accuracy = share(
                predicted
                    .iter()
                    .zip(correct)
                    .filter(|(p, t)| p == t)
                    .count(),
            );
            eval.baselines
                .entry(name.to_string())
                .or_default()
                .push(accuracy);
        }
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
    /// Per [`BASELINE_SETUPS`] name: CIL predictions (concatenated space), TIL predictions (own head) or routes.
    baselines: BTreeMap<&'static str, Vec<usize>>,
}

impl TaskPredictions {
    /// Predictions made in `order` (the k-th belongs to example `order[k]`), put back in the test set's order.
    fn in_item_order(self, order: &[usize]) -> Self {
        let back = |values: Vec<usize>| unsort(&values, order);
        TaskPredictions {
            offset: self.offset,
            global: back(self.global),
            own: back(self.own),
            top_task: back(self.top_task),
            gated: back(self.gated),
            uniform: back(self.uniform),
            top_module: back(self.top_module),
            weight_sums: self.weight_sums,
            dam: back(self.dam),
            dam_top_task: back(self.dam_top_task),
            dam_top_module: back(self.dam_top_module),
            baselines: self
                .baselines
                .into_iter()
                .map(|(name, values)| (name, back(values)))
                .collect(),
        }
    }
}

/// What the similarity-routing baselines route with after a step, built once for every task's test set (the
/// covariance's pseudo-inverse and the LoRA updates' singular vectors are SVDs).
struct SimilarityRouters<'a> {
    /// DAM-style routing: each task's memory centroid.
    dam_centroids: Tensor,
    epi: EpiIdentifier,
    mocl_keys: Tensor,
    arrow: Option<ArrowRouting<'a>>,
}

impl<'a> SimilarityRouters<'a> {
    fn new(routed: &Routed<'a>, stats: &[&TaskStatistics], memory: &MemoryBatch) -> Result<Self> {
        Ok(SimilarityRouters {
            dam_centroids: memory.centroids(routed.num_tasks())?,
            epi: EpiIdentifier::new(&stats.iter().map(|s| &s.epi).collect::<Vec<_>>())?,
            mocl_keys: stacked_keys(stats)?,
            arrow: match routed.stack.loras.is_empty() {
                true => None,
                false => Some(ArrowRouting::new(routed.stack, ARROW_TOP_K)?),
            },
        })
    }
}

fn evaluate_task(
    routed: &Routed,
    network: &RouterNetwork,
    memory: &MemoryBatch,
    similarity: &SimilarityRouters,
    test: &MemoryBatch,
    task: usize,
) -> Result<TaskPredictions> {
    let local = network.config.local_adaptation.as_ref();
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
        baselines: BTreeMap::new(),
    };
    let averaged = Routed {
        mode: CompositionMode::Wavg,
        ..*routed
    };
    let chunk = local.map_or(64, |l| l.batch_size);
    // Shortest first pads little and changes no prediction; local adaptation keeps the test stream's order, since
    // its batches are what it adapts to.
    let order: Vec<usize> = match local {
        Some(_) => (0..test.len()).collect(),
        None => shortest_first(&test.ids.iter().map(Vec::len).collect::<Vec<_>>()),
    };
    for (index, rows) in order.chunks(chunk).enumerate() {
        let start = index * chunk;
        let ids: Vec<&[u32]> = rows.iter().map(|&i| test.ids[i].as_slice()).collect();
        // One padded batch serves the routed, uniform and DAM-style forward passes.
        let batch = routed.backbone.tokenizer.pad(&ids)?;
        let rows = Tensor::new(
            rows.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            &Device::Cpu,
        )?;
        let frozen = test.frozen.index_select(&rows, 0)?;
        let routing = test.routing(network.config.input).index_select(&rows, 0)?;
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
            (ids.len(), num_tasks),
            &Device::Cpu,
        )?]);
        p.uniform.extend(argmax(&routed.logits(&batch, &uniform)?)?);
        let dam = CentroidWeights::dam(&frozen, &similarity.dam_centroids)?;
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
        let mut record = |name: &'static str, values: Vec<usize>| {
            p.baselines.entry(name).or_default().extend(values);
        };
        record("til_dam", head_argmax(routed, &dam_logits, &offsets, task)?);
        let epi_tasks = similarity.epi.identify(&frozen)?;
        let one_hot = FixedWeights(vec![one_hot(&epi_tasks, num_tasks)?]);
        let epi_logits = averaged.logits(&batch, &one_hot)?;
        record(
            "cil_epi",
            top_task_predictions(routed, &epi_logits, &offsets, &epi_tasks)?,
        );
        record("routing_epi", epi_tasks);
        let mocl = MoclWeights::new(&frozen, &similarity.mocl_keys)?;
        let mocl_logits = averaged.logits(&batch, &mocl)?;
        record(
            "til_mocl",
            head_argmax(routed, &mocl_logits, &offsets, task)?,
        );
        record("cil_mocl", argmax(&mocl_logits)?);
        record("routing_mocl", argmax(mocl.weights())?);
        if let Some(arrow) = &similarity.arrow {
            let arrow_logits = routed.logits_with(&batch, arrow)?;
            record(
                "til_arrow",
                head_argmax(routed, &arrow_logits, &offsets, task)?,
            );
            record("cil_arrow", argmax(&arrow_logits)?);
        }
    }
    Ok(p.in_item_order(&order))
}

/// (batch, T) rows with a one at each row's task.
fn one_hot(tasks: &[usize], num_tasks: usize) -> Result<Tensor> {
    let mut flat = vec![0f32; tasks.len() * num_tasks];
    for (row, &t) in tasks.iter().enumerate() {
        flat[row * num_tasks + t] = 1.0;
    }
    Ok(Tensor::from_vec(
        flat,
        (tasks.len(), num_tasks),
        &Device::Cpu,
    )?)
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

/// One module shared by every task (sequential fine-tuning, multitask training), evaluated under `name`: rows
/// `til_<name>` (each task's own classes) and `cil_<name>` (all classes seen so far) of
/// [`StepEvaluation::baselines`]. `logits` gives a test batch's scores over the concatenated label space of the
/// tasks seen so far, in run order; `label_counts[j]` is task j's number of classes.
pub fn evaluate_shared_module(
    logits: &dyn Fn(&crate::backbone::TokenBatch) -> Result<Tensor>,
    tokenizer: &crate::backbone::TextTokenizer,
    tests: &[&MemoryBatch],
    label_counts: &[usize],
    names: &[String],
    name: &str,
) -> Result<StepEvaluation> {
    let offsets = label_offsets(label_counts.iter().copied());
    let mut baselines = BTreeMap::new();
    for (task, test) in tests.iter().enumerate() {
        let (mut til_hits, mut cil_hits) = (0usize, 0usize);
        let order = shortest_first(&test.ids.iter().map(Vec::len).collect::<Vec<_>>());
        for rows in order.chunks(64) {
            let ids: Vec<&[u32]> = rows.iter().map(|&i| test.ids[i].as_slice()).collect();
            let scores = logits(&tokenizer.pad(&ids)?)?;
            let all = scores.narrow(1, 0, label_counts.iter().sum())?;
            let own = scores.narrow(1, offsets[task], label_counts[task])?;
            let labels: Vec<usize> = rows.iter().map(|&i| test.labels[i]).collect();
            cil_hits += argmax(&all)?
                .iter()
                .zip(&labels)
                .filter(|(p, l)| **p == offsets[task] + **l)
                .count();
            til_hits += argmax(&own)?
                .iter()
                .zip(&labels)
                .filter(|(p, l)| p == l)
                .count();
        }
        let share = |hits: usize| hits as f64 / test.len().max(1) as f64;
        let mut push =
            |setup: String, value: f64| baselines.entry(setup).or_insert_with(Vec::new).push(value);
        push(format!("til_{name}"), share(til_hits));
        push(format!("cil_{name}"), share(cil_hits));
    }
    Ok(StepEvaluation {
        baselines,
        ..StepEvaluation::skipped(tests.len().saturating_sub(1), names)
    })
}
