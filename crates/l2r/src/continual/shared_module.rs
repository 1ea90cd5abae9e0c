//! The two bounds of docs/design.md, "Shared-module bounds", where every task shares one module and no router is
//! needed: sequential fine-tuning (lower bound: the module forgets) and multitask joint training (upper bound: it
//! sees every task's data at once). Their accuracies are the setups of approaches `Sequential` and `Multitask`
//! (`til_sequential`, `cil_multitask`, …); where their files live: [`super::layout`].

use super::config::RunConfig;
use super::evaluate::evaluate_shared_module;
use super::evaluation::StepEvaluation;
use super::layout::{RunLayout, SequenceLayout};
use super::modules::{ensure_trained, test_sets, TrainingStart};
use super::summary::step_line;
use crate::backbone::{Backbone, TokenBatch};
use crate::compose::heads_on_encoder;
use crate::data::{BenchmarkTask, Example};
use crate::embedded::EmbeddedExamples;
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::metrics::Approach;
use crate::peft::PeftModule;
use crate::train::TaskModel;
use candle_core::{Device, Tensor};

/// The name of the sequential bound's evaluation files.
const SEQUENTIAL: &str = "sequential";
/// The name of the multitask bound's evaluation files.
const MULTITASK: &str = "multitask";

/// Logits of `module` under each of `heads`, concatenated in order.
fn concatenated_logits(
    backbone: &Backbone,
    module: &PeftModule,
    heads: &[&ClassifierHead],
    batch: &TokenBatch,
) -> Result<Tensor> {
    Ok(Tensor::cat(
        &heads_on_encoder(backbone, module, heads, batch)?,
        1,
    )?)
}

/// Sequential fine-tuning: task t's module starts from task t−1's. Evaluated after every task on all tasks so far,
/// with the current module and each task's own head. Returns the evaluations and each task's accuracy right
/// after its training.
pub(super) fn sequential_sequence(
    config: &RunConfig,
    sequence: &SequenceLayout,
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    seed: u64,
    show_progress: bool,
) -> Result<(Vec<StepEvaluation>, Vec<f64>)> {
    let (mut models, mut just_trained, mut tests, mut evaluations): (Vec<TaskModel>, _, _, _) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    for (step, task) in tasks.iter().enumerate() {
        let artifacts = sequence.sequential(&task.name);
        let start = match models.last() {
            Some(previous) => TrainingStart::From(&previous.module),
            None => TrainingStart::Fresh,
        };
        let (model, accuracy) = ensure_trained(
            config,
            &artifacts,
            backbone,
            task,
            seed,
            start,
            show_progress,
        )?;
        models.push(model);
        just_trained.push(accuracy);
        tests.push(None);
        let heads: Vec<&ClassifierHead> = models.iter().map(|m| &m.head).collect();
        let current = &models[step].module;
        let eval =
            crate::io::json_or_compute(&sequence.bound_evaluation(SEQUENTIAL, step), || {
                evaluate_shared_module(
                    &|batch| concatenated_logits(backbone, current, &heads, batch),
                    &backbone.tokenizer,
                    &test_sets(backbone, tasks, config.evaluate_on, &mut tests)?,
                    &label_counts(&tasks[..=step]),
                    &names[..=step],
                    Approach::Sequential,
                )
            })?;
        if show_progress {
            eprintln!("{}", step_line(&eval));
        }
        evaluations.push(eval);
    }
    Ok((evaluations, just_trained))
}

/// Multitask training on the union of all tasks (one head over every class, tasks sorted by name so that every
/// order shares the model). Only the final step is evaluated; the earlier rows of the matrix stay empty.
pub(super) fn multitask_sequence(
    config: &RunConfig,
    layout: &RunLayout,
    sequence: &SequenceLayout,
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    seed: u64,
    show_progress: bool,
) -> Result<(Vec<StepEvaluation>, Vec<f64>)> {
    let mut sorted: Vec<&BenchmarkTask> = tasks.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let joint = joint_task(&sorted);
    let artifacts = layout.multitask_module(seed);
    let (model, _) = ensure_trained(
        config,
        &artifacts,
        backbone,
        &joint,
        seed,
        TrainingStart::Fresh,
        show_progress,
    )?;
    let columns = run_order_columns(tasks, &sorted)?.to_device(backbone.device())?;
    let mut tests: Vec<Option<EmbeddedExamples>> = tasks.iter().map(|_| None).collect();
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let last = tasks.len() - 1;
    let eval = crate::io::json_or_compute(&sequence.bound_evaluation(MULTITASK, last), || {
        evaluate_shared_module(
            &|batch| {
                let logits = concatenated_logits(backbone, &model.module, &[&model.head], batch)?;
                Ok(logits.index_select(&columns, 1)?)
            },
            &backbone.tokenizer,
            &test_sets(backbone, tasks, config.evaluate_on, &mut tests)?,
            &label_counts(tasks),
            &names,
            Approach::Multitask,
        )
    })?;
    if show_progress {
        eprintln!("{}", step_line(&eval));
    }
    // Rows before the last are empty: there is no sequence to measure forgetting on.
    let mut evaluations: Vec<StepEvaluation> = (0..last)
        .map(|step| StepEvaluation::empty(step, &names[..=step]))
        .collect();
    evaluations.push(eval);
    Ok((evaluations, vec![]))
}

fn label_counts(tasks: &[&BenchmarkTask]) -> Vec<usize> {
    tasks.iter().map(|t| t.labels.len()).collect()
}

/// Every task's examples with labels shifted into the concatenated label space; label names `task/label`.
fn joint_task(tasks: &[&BenchmarkTask]) -> BenchmarkTask {
    let mut offset = 0;
    let mut joint = BenchmarkTask {
        name: "multitask".into(),
        train: vec![],
        validation: vec![],
        test: vec![],
        labels: vec![],
    };
    for task in tasks {
        let shifted = |examples: &[Example]| -> Vec<Example> {
            examples
                .iter()
                .map(|e| Example {
                    text: e.text.clone(),
                    label: e.label + offset,
                })
                .collect()
        };
        joint.train.extend(shifted(&task.train));
        joint.validation.extend(shifted(&task.validation));
        joint.test.extend(shifted(&task.test));
        joint
            .labels
            .extend(task.labels.iter().map(|l| format!("{}/{l}", task.name)));
        offset += task.labels.len();
    }
    joint
}

/// For each class of the run-order concatenated label space, its column in the joint head (`sorted` order).
fn run_order_columns(run_order: &[&BenchmarkTask], sorted: &[&BenchmarkTask]) -> Result<Tensor> {
    let mut offsets = std::collections::HashMap::new();
    let mut offset = 0u32;
    for task in sorted {
        offsets.insert(task.name.as_str(), offset);
        offset += task.labels.len() as u32;
    }
    let columns: Vec<u32> = run_order
        .iter()
        .flat_map(|t| {
            let start = offsets[t.name.as_str()];
            (0..t.labels.len() as u32).map(move |l| start + l)
        })
        .collect();
    let len = columns.len();
    Ok(Tensor::from_vec(columns, len, &Device::Cpu)?)
}
