//! `export_scores = true`: every ingredient a CIL decision rule could combine, per evaluated example after the last
//! step, written as JSON lines (one per task) for studying decision rules offline
//! (`scripts/experiments/decision_rules.py`; docs/results.md, "Decision rules on the exported scores").
//!
//! Per task's evaluated examples: their labels; the routers' layer-averaged module weights `w` (batch, T); every
//! head's raw logits on the routed composition `parts` (batch, Σ labels); each head's raw logits with its own module
//! alone `alone` (batch, Σ labels: slice t is head t on module t); the representation every head reads with each
//! module alone `alone_pooled` (batch, T · hidden: slice t is module t's); the routers' ridge scores `ridge_router`
//! when `ridge_heads` is on (batch, Σ labels), and with the within-task weights fitted on validation splits the tasks'
//! own ridges' scores side by side `ridge_own` (batch, Σ labels); and the training-free classifiers' class scores
//! `scorers`, by name.
//!
//! The memory gets its own file (`memory-step{N}.jsonl`, one line): its tasks, labels and `alone_pooled`, so that
//! classifiers on the modules' representations can be fitted offline on what a finished task leaves behind.

use super::evaluate::SeenTasks;
use crate::backbone::TokenBatch;
use crate::baselines::{step_baselines, BaselinesConfig};
use crate::compose::Routed;
use crate::embedded::EmbeddedExamples;
use crate::error::Result;
use crate::router::{RouterNetwork, RouterWeights};
use candle_core::{Tensor, D};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// Examples per forward pass.
const CHUNK: usize = 64;

/// Writes the scores of every task in `seen` to `path` and the memory's representations to `memory_path` (JSON
/// lines, atomically).
pub fn export_scores(
    path: &Path,
    memory_path: &Path,
    routed: &Routed,
    network: &RouterNetwork,
    memory: &EmbeddedExamples,
    seen: &SeenTasks,
    baselines: &BaselinesConfig,
) -> Result<()> {
    let scorers = step_baselines(
        routed,
        seen.statistics,
        memory,
        &BaselinesConfig {
            evaluate: true,
            ..baselines.clone()
        },
    )?
    .scorers;
    let mut lines = String::new();
    for (task, test) in seen.tests.iter().enumerate() {
        let mut by_scorer = BTreeMap::new();
        for scorer in &scorers {
            let scores = scorer.scores(&test.all_features())?.to_vec2::<f32>()?;
            by_scorer.insert(format!("{:?}", scorer.approach()), scores);
        }
        let mut record = routed_scores(routed, network, test)?;
        record["task"] = json!(task);
        record["offsets"] = json!(routed.label_offsets());
        record["labels"] = json!(test.labels);
        record["scorers"] = json!(by_scorer);
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    crate::io::write_atomic(path, lines.as_bytes())?;
    let mut memory_pooled = Vec::with_capacity(memory.len());
    for pass in passes(routed, memory) {
        let (rows, batch) = pass?;
        memory_pooled.extend(own_module_outputs(routed, &batch, rows.len())?.1);
    }
    let record = json!({
        "tasks": memory.tasks,
        "labels": memory.labels,
        "offsets": routed.label_offsets(),
        "alone_pooled": memory_pooled,
    });
    crate::io::write_atomic(memory_path, format!("{record}\n").as_bytes())
}

/// `w`, `parts`, `alone`, `alone_pooled`, `ridge_router` and `ridge_own` of every example of `test`, in its order.
fn routed_scores(
    routed: &Routed,
    network: &RouterNetwork,
    test: &EmbeddedExamples,
) -> Result<Value> {
    let (mut weights, mut parts, mut ridge, mut ridge_own) = (vec![], vec![], vec![], vec![]);
    let (mut alone, mut alone_pooled) = (vec![], vec![]);
    for pass in passes(routed, test) {
        let (rows, batch) = pass?;
        let index = Tensor::new(
            rows.clone().map(|i| i as u32).collect::<Vec<_>>(),
            routed.backbone.device(),
        )?;
        let frozen = test
            .features(network.config.input.representation())
            .index_select(&index, 0)?;
        if let Some(scores) = network.class_scores(&frozen)? {
            ridge.extend(scores.shared.to_vec2::<f32>()?);
            if let Some(own) = scores.own {
                ridge_own.extend(own.to_vec2::<f32>()?);
            }
        }
        let routers = RouterWeights::new(network, frozen, None);
        let composed = routed.head_logits(&batch, &routers)?;
        weights.extend(routers.mean_weights()?.to_vec2::<f32>()?);
        parts.extend(Tensor::cat(&composed, D::Minus1)?.to_vec2::<f32>()?);
        let (logits, pooled) = own_module_outputs(routed, &batch, rows.len())?;
        alone.extend(logits);
        alone_pooled.extend(pooled);
    }
    Ok(json!({
        "w": weights,
        "parts": parts,
        "alone": alone,
        "alone_pooled": alone_pooled,
        "ridge_router": ridge,
        "ridge_own": ridge_own,
    }))
}

/// `examples` in forward passes of at most [`CHUNK`]: each pass's rows and their padded batch.
pub(super) fn passes<'a>(
    routed: &'a Routed,
    examples: &'a EmbeddedExamples,
) -> impl Iterator<Item = Result<(Range<usize>, TokenBatch)>> + 'a {
    (0..examples.len()).step_by(CHUNK).map(move |start| {
        let rows = start..(start + CHUNK).min(examples.len());
        let ids: Vec<&[u32]> = rows.clone().map(|i| examples.ids[i].as_slice()).collect();
        Ok((rows, routed.backbone.tokenizer.pad(&ids)?))
    })
}

/// One row of numbers per example.
type Rows = Vec<Vec<f32>>;

/// Per example of `batch` (`rows` examples): head t's logits with module t alone, and module t's pooled final-layer
/// representation, for every t, each concatenated over t (one pass per module).
fn own_module_outputs(routed: &Routed, batch: &TokenBatch, rows: usize) -> Result<(Rows, Rows)> {
    let mut logits = vec![Vec::new(); rows];
    let mut pooled = vec![Vec::new(); rows];
    for module in 0..routed.num_tasks() {
        let alone = routed.pooled_alone(batch, module)?;
        let head = routed.heads[module].forward_features(&alone)?;
        for (row, values) in logits.iter_mut().zip(head.to_vec2::<f32>()?) {
            row.extend(values);
        }
        for (row, values) in pooled.iter_mut().zip(alone.final_layer().to_vec2::<f32>()?) {
            row.extend(values);
        }
    }
    Ok((logits, pooled))
}
