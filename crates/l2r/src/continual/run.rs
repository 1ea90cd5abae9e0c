//! The run loop and its directory. Every stage writes its result atomically and is skipped when its file is
//! already there, and every stage is deterministic in the seed, so `--resume` after a crash at any point
//! finishes with the same metrics as an uninterrupted run.
//!
//! ```text
//! <run>/config.toml
//! <run>/modules/seed<S>/<task>/{module,head}.safetensors, task.json   shared by all orders of a seed
//!                                                   (or in the `module_cache` folder, shared across runs)
//! <run>/seed<S>-order<O>/memory.json, router-step<k>.safetensors, eval-step<k>.json, metrics.json
//! <run>/metrics.json                                                   mean ± std over seeds × orders
//! ```

use super::config::{ModuleTraining, RunConfig};
use super::evaluate::{evaluate_step, SeenTasks, StepEvaluation};
use super::shared_module::{multitask_sequence, sequential_sequence};
use crate::backbone::Backbone;
use crate::baselines::TaskStatistics;
use crate::compose::{ModuleStack, Routed};
use crate::data::{benchmark_from_datasets, load_benchmark, Benchmark, BenchmarkTask, Example};
use crate::error::{Error, Result};
use crate::head::ClassifierHead;
use crate::memory::Memory;
use crate::metrics::{summarize_matrix, MatrixSummary, MeanStd};
use crate::peft::PeftModule;
use crate::router::{fit_router, FitSchedule, MemoryBatch, RouterNetwork};
use crate::train::{
    tokenize_examples, train_task, SplitSpec, TaskArtifacts, TaskModel, TaskRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Metrics of one (seed, order) sequence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceMetrics {
    pub seed: u64,
    pub order: usize,
    pub tasks: Vec<String>,
    /// Accuracy matrices per setup: `matrices[setup][i][j]`.
    pub matrices: BTreeMap<String, Vec<Vec<f64>>>,
    pub summaries: BTreeMap<String, MatrixSummary>,
    /// Routing accuracy on each task's test split after the last task.
    pub final_routing_accuracy: Vec<f64>,
    /// The same for the DAM-style baseline's nearest-centroid routing.
    #[serde(default)]
    pub final_dam_routing_accuracy: Vec<f64>,
    pub final_cil_weighted_f1: Vec<f64>,
}

/// Everything `metrics.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub sequences: Vec<SequenceMetrics>,
    /// Per setup: mean ± std over sequences of the average accuracy after the last task.
    pub average_accuracy: BTreeMap<String, MeanStd>,
    pub bwt: BTreeMap<String, MeanStd>,
    pub forgetting: BTreeMap<String, MeanStd>,
    pub routing_accuracy: MeanStd,
    pub dam_routing_accuracy: MeanStd,
    pub cil_weighted_f1: MeanStd,
}

/// Every setup a run reports; `cil` is the method's own CIL rule, the others are decision-rule variants and
/// baselines evaluated on the same modules, memory and test examples.
pub const SETUPS: [&str; 8] = [
    "til_oracle",
    "til_routed",
    "cil",
    "cil_uniform",
    "cil_top_task",
    "cil_gated",
    "cil_dam",
    "cil_dam_top_task",
];

/// One setup's row of accuracies in a step's evaluation; empty for a step not evaluated or a baseline the
/// evaluation predates.
fn setup_row<'a>(eval: &'a StepEvaluation, setup: &str) -> &'a [f64] {
    match setup {
        "til_oracle" => &eval.til_oracle,
        "til_routed" => &eval.til_routed,
        "cil" => &eval.cil,
        "cil_uniform" => &eval.cil_uniform,
        "cil_top_task" => &eval.cil_top_task,
        "cil_gated" => &eval.cil_gated,
        "cil_dam" => &eval.cil_dam,
        "cil_dam_top_task" => &eval.cil_dam_top_task,
        other => eval.baselines.get(other).map_or(&[], Vec::as_slice),
    }
}

/// Runs (or resumes) every seed × order of `config` in `dir`.
pub fn run(config: &RunConfig, dir: &Path, show_progress: bool) -> Result<RunSummary> {
    prepare_dir(config, dir)?;
    let backbone =
        Backbone::load(config.backbone, config.max_len)?.with_precision(config.precision)?;
    let mut sequences = Vec::new();
    for &seed in &config.seeds {
        let benchmark = load_tasks(config, seed)?;
        for &order in &config.orders {
            let tasks = benchmark.ordered_tasks(order)?;
            sequences.push(run_sequence(
                config,
                dir,
                &backbone,
                &tasks,
                seed,
                order,
                show_progress,
            )?);
        }
    }
    let summary = summarize(sequences);
    crate::io::write_json_atomic(&dir.join("metrics.json"), &summary)?;
    Ok(summary)
}

/// Writes the config on a first run. On resume, refuses a config that differs from the one the run began with,
/// except in its seeds and orders: every sequence has its own folder, so a run can grow (or be read in part). The
/// folder's config keeps every seed and order it has held, so reading part of a run never shrinks it.
fn prepare_dir(config: &RunConfig, dir: &Path) -> Result<()> {
    let path = dir.join("config.toml");
    let mut record = config.clone();
    if path.is_file() {
        let existing = RunConfig::from_file(&path)?;
        let same_sequences = RunConfig {
            seeds: config.seeds.clone(),
            orders: config.orders.clone(),
            ..existing.clone()
        };
        if &same_sequences != config {
            return Err(Error::invalid(format!(
                "{} holds a run with a different config (beyond its seeds and orders); resume it with `l2r run --resume {}` or choose another --out",
                dir.display(),
                dir.display()
            )));
        }
        record.seeds = union(&existing.seeds, &config.seeds);
        record.orders = union(&existing.orders, &config.orders);
        if record == existing {
            return Ok(());
        }
    }
    crate::io::write_atomic(&path, record.to_toml()?.as_bytes())
}

/// `first`, then the items of `second` it lacks, in order.
fn union<T: Copy + PartialEq>(first: &[T], second: &[T]) -> Vec<T> {
    let mut all = first.to_vec();
    all.extend(second.iter().filter(|item| !first.contains(item)));
    all
}

fn load_tasks(config: &RunConfig, seed: u64) -> Result<Benchmark> {
    match &config.benchmark {
        Some(name) => load_benchmark(name, config.size, seed),
        None => {
            let datasets = config
                .tasks
                .iter()
                .map(|t| t.load())
                .collect::<Result<Vec<_>>>()?;
            benchmark_from_datasets("user", datasets, config.size, seed)
        }
    }
}

fn sequence_dir(dir: &Path, seed: u64, order: usize) -> PathBuf {
    dir.join(format!("seed{seed}-order{order}"))
}

/// Loads the task's module from the run directory, or trains it in isolation and saves it.
fn ensure_module(
    config: &RunConfig,
    dir: &Path,
    backbone: &Backbone,
    task: &BenchmarkTask,
    seed: u64,
    show_progress: bool,
) -> Result<(TaskModel, f64)> {
    let artifacts = TaskArtifacts::new(config.modules_dir(dir, seed)?.join(&task.name));
    ensure_trained(
        config,
        &artifacts,
        backbone,
        task,
        seed,
        TrainingStart::Fresh,
        show_progress,
    )
}

/// How a new module starts its training.
pub(super) enum TrainingStart<'a> {
    /// A seeded initialisation, trained alone.
    Fresh,
    /// The weights of another module (sequential fine-tuning).
    From(&'a PeftModule),
    /// A seeded initialisation, trained with these earlier modules active beside it (progressive ablation).
    Alongside(ModuleStack),
}

/// Loads a trained module and head from `artifacts`, or trains them on `task` as `start` says and saves them
/// there. Returns the model and its test accuracy.
pub(super) fn ensure_trained(
    config: &RunConfig,
    artifacts: &TaskArtifacts,
    backbone: &Backbone,
    task: &BenchmarkTask,
    seed: u64,
    start: TrainingStart,
    show_progress: bool,
) -> Result<(TaskModel, f64)> {
    if artifacts.record_path().is_file() {
        let (record, model) = artifacts.load(&backbone.encoder.config)?;
        let oracle = record.test.map(|t| t.accuracy).unwrap_or(0.0);
        return Ok((model, oracle));
    }
    if show_progress {
        eprintln!(
            "training the {} module of task {} (seed {seed})",
            config.module.kind(),
            task.name
        );
    }
    let encoder = &backbone.encoder.config;
    let module = PeftModule::new(&config.module, encoder, seed)?;
    let mut model = TaskModel::new(
        module,
        ClassifierHead::new(encoder.hidden_size, task.labels.len(), seed)?,
    );
    match start {
        TrainingStart::Fresh => {}
        TrainingStart::From(init) => {
            let tensors = crate::peft::varmap_tensors(init.varmap())?
                .into_iter()
                .collect();
            model
                .module
                .set_tensors(&tensors, artifacts.module_path().as_path())?;
        }
        TrainingStart::Alongside(previous) => model.previous = Some(previous),
    }
    let train = tokenize_examples(&backbone.tokenizer, &task.train)?;
    let validation = tokenize_examples(&backbone.tokenizer, &task.validation)?;
    let train_config = crate::train::TrainConfig {
        seed,
        ..config.train.clone()
    };
    let report = train_task(
        backbone,
        &model,
        &train,
        &validation,
        &train_config,
        show_progress,
    )?;
    let test = model.scores(
        backbone,
        &tokenize_examples(&backbone.tokenizer, &task.test)?,
        train_config.eval_batch_size,
    )?;
    let record = TaskRecord {
        task: task.name.clone(),
        labels: task.labels.clone(),
        backbone: config.backbone,
        max_len: config.max_len,
        peft: config.module.clone(),
        train: train_config,
        split: SplitSpec {
            seed,
            ..SplitSpec::default()
        },
        report: Some(report),
        test: Some(test),
    };
    artifacts.save(&record, &model)?;
    Ok((model, test.accuracy))
}

/// Loads the baselines' statistics of `task` from beside its module, or computes them from its training split.
fn ensure_statistics(
    config: &RunConfig,
    dir: &Path,
    backbone: &Backbone,
    task: &BenchmarkTask,
    seed: u64,
) -> Result<TaskStatistics> {
    let path = config
        .modules_dir(dir, seed)?
        .join(&task.name)
        .join("baselines.safetensors");
    let dim = backbone.encoder.hidden_size();
    if path.is_file() {
        return TaskStatistics::load(&path, task.labels.len(), dim);
    }
    let train = batch_of(backbone, &task.train, 0)?;
    let statistics = TaskStatistics::fit(
        &train.frozen,
        &train.labels,
        task.labels.len(),
        &config.baselines.mocl_key,
        seed,
    )?;
    statistics.save(&path)?;
    Ok(statistics)
}

/// The test batches of every task seen so far, each tokenized and embedded the first time it is needed (a resumed
/// run whose evaluations are all on disk never needs them).
pub(super) fn test_batches<'a>(
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    tests: &'a mut [Option<MemoryBatch>],
) -> Result<Vec<&'a MemoryBatch>> {
    for (task, slot) in tests.iter_mut().enumerate() {
        if slot.is_none() {
            *slot = Some(batch_of(backbone, &tasks[task].test, task)?);
        }
    }
    Ok(tests.iter().flatten().collect())
}

pub(super) fn batch_of(
    backbone: &Backbone,
    examples: &[Example],
    task: usize,
) -> Result<MemoryBatch> {
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    MemoryBatch::new(
        backbone,
        &texts,
        vec![task; examples.len()],
        examples.iter().map(|e| e.label).collect(),
    )
}

fn run_sequence(
    config: &RunConfig,
    dir: &Path,
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    seed: u64,
    order: usize,
    show_progress: bool,
) -> Result<SequenceMetrics> {
    let seq_dir = sequence_dir(dir, seed, order);
    std::fs::create_dir_all(&seq_dir).map_err(|e| Error::io(&seq_dir, e))?;
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let (evaluations, oracle) = match config.module_training {
        ModuleTraining::Isolated | ModuleTraining::Progressive => {
            routed_sequence(config, dir, &seq_dir, backbone, tasks, seed, show_progress)?
        }
        ModuleTraining::Sequential => {
            sequential_sequence(config, &seq_dir, backbone, tasks, seed, show_progress)?
        }
        ModuleTraining::Multitask => {
            multitask_sequence(config, dir, &seq_dir, backbone, tasks, seed, show_progress)?
        }
    };
    let metrics = sequence_metrics(seed, order, names, &evaluations, &oracle);
    crate::io::write_json_atomic(&seq_dir.join("metrics.json"), &metrics)?;
    Ok(metrics)
}

/// The method: isolated modules, routers fitted on the memory after each task, every baseline evaluated on the
/// same modules. Returns each step's evaluation and each task's own-module accuracy.
fn routed_sequence(
    config: &RunConfig,
    dir: &Path,
    seq_dir: &Path,
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    seed: u64,
    show_progress: bool,
) -> Result<(Vec<StepEvaluation>, Vec<f64>)> {
    let memory_path = seq_dir.join("memory.json");
    let mut memory = if memory_path.is_file() {
        Memory::load(&memory_path)?
    } else {
        Memory::default()
    };
    let (mut models, mut oracle, mut tests, mut evaluations, mut stats) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    for (step, task) in tasks.iter().enumerate() {
        let (model, accuracy) = match (config.module_training, step) {
            (ModuleTraining::Progressive, 1..) => {
                let artifacts = TaskArtifacts::new(seq_dir.join("progressive").join(&task.name));
                let earlier: Vec<&PeftModule> =
                    models.iter().map(|m: &TaskModel| &m.module).collect();
                let stack = ModuleStack::new(&earlier, backbone.encoder.num_layers())?
                    .with_precision(backbone.precision)?;
                let start = TrainingStart::Alongside(stack);
                ensure_trained(
                    config,
                    &artifacts,
                    backbone,
                    task,
                    seed,
                    start,
                    show_progress,
                )?
            }
            // The first module has no earlier one beside it: it is the isolated one.
            _ => ensure_module(config, dir, backbone, task, seed, show_progress)?,
        };
        models.push(model);
        oracle.push(accuracy);
        tests.push(None);
        if !memory.entries.iter().any(|e| e.task == step) {
            memory.add_task(step, &task.train, config.memory.per_class, seed)?;
            memory.save(&memory_path)?;
        }
        if config.router.fit_after == FitSchedule::LastTask && step + 1 < tasks.len() {
            evaluations.push(StepEvaluation::skipped(step, &names[..=step]));
            continue;
        }
        let eval_path = seq_dir.join(format!("eval-step{step}.json"));
        if eval_path.is_file() {
            evaluations.push(crate::io::read_json::<StepEvaluation>(&eval_path)?);
            continue;
        }
        while stats.len() <= step {
            let task = tasks[stats.len()];
            stats.push(ensure_statistics(config, dir, backbone, task, seed)?);
        }
        let modules: Vec<&PeftModule> = models.iter().map(|m| &m.module).collect();
        let heads: Vec<&ClassifierHead> = models.iter().map(|m| &m.head).collect();
        let stack = ModuleStack::new(&modules, backbone.encoder.num_layers())?
            .with_precision(backbone.precision)?;
        let routed = Routed {
            backbone,
            stack: &stack,
            heads: &heads,
            mode: config.composition,
        };
        let memory_batch = memory_batch(backbone, &memory, step)?;
        let network = ensure_router(
            config,
            seq_dir,
            &routed,
            &memory_batch,
            step,
            seed,
            show_progress,
        )?;
        let test_refs = test_batches(backbone, tasks, &mut tests)?;
        let stat_refs: Vec<&TaskStatistics> = stats.iter().collect();
        let seen = SeenTasks {
            names: &names[..=step],
            tests: &test_refs,
            oracle: &oracle,
            statistics: &stat_refs,
        };
        let eval = evaluate_step(&routed, &network, &memory_batch, &seen, show_progress)?;
        if show_progress {
            eprintln!("{}", step_line(&eval));
        }
        crate::io::write_json_atomic(&eval_path, &eval)?;
        evaluations.push(eval);
    }
    Ok((evaluations, oracle))
}

/// The memory of tasks `0..=step`, tokenized, with frozen embeddings.
fn memory_batch(backbone: &Backbone, memory: &Memory, step: usize) -> Result<MemoryBatch> {
    let entries = memory.up_to(step);
    let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    MemoryBatch::new(
        backbone,
        &texts,
        entries.iter().map(|e| e.task).collect(),
        entries.iter().map(|e| e.label).collect(),
    )
}

/// Loads the routers fitted after `step`, or fits them on the memory of tasks `0..=step` and saves them.
fn ensure_router(
    config: &RunConfig,
    seq_dir: &Path,
    routed: &Routed,
    memory: &MemoryBatch,
    step: usize,
    seed: u64,
    show_progress: bool,
) -> Result<RouterNetwork> {
    let path = seq_dir.join(format!("router-step{step}.safetensors"));
    let encoder = &routed.backbone.encoder;
    if path.is_file() {
        return RouterNetwork::load(
            &path,
            &config.router,
            encoder.num_layers(),
            encoder.hidden_size(),
        );
    }
    let fit_seed = seed.wrapping_mul(1000).wrapping_add(step as u64);
    let (network, _) = fit_router(routed, memory, &config.router, fit_seed, show_progress)?;
    network.save(&path)?;
    Ok(network)
}

fn step_line(eval: &StepEvaluation) -> String {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let arrow = eval
        .baselines
        .get("cil_arrow")
        .map_or_else(String::new, |v| format!(", Arrow {:.4}", mean(v)));
    format!(
        "after task {} ({}): CIL {:.4}, uniform {:.4}, top-task {:.4}, gated {:.4}, DAM-style {:.4}, EPI {:.4}, MoCL {:.4}{arrow}, TIL routed {:.4}, oracle {:.4}, routing {:.4}",
        eval.step + 1,
        eval.tasks.last().map(String::as_str).unwrap_or(""),
        mean(&eval.cil),
        mean(&eval.cil_uniform),
        mean(&eval.cil_top_task),
        mean(&eval.cil_gated),
        mean(&eval.cil_dam),
        mean(eval.baselines.get("cil_epi").map_or(&[][..], Vec::as_slice)),
        mean(eval.baselines.get("cil_mocl").map_or(&[][..], Vec::as_slice)),
        mean(&eval.til_routed),
        mean(&eval.til_oracle),
        mean(&eval.routing_accuracy)
    )
}

fn sequence_metrics(
    seed: u64,
    order: usize,
    tasks: Vec<String>,
    evals: &[StepEvaluation],
    oracle: &[f64],
) -> SequenceMetrics {
    let mut matrices = BTreeMap::new();
    let mut summaries = BTreeMap::new();
    // The fixed setups, then every other row the evaluations hold (the shared-module bounds' own names).
    let mut setups: Vec<&str> = SETUPS.to_vec();
    for name in evals.iter().flat_map(|e| e.baselines.keys()) {
        if !setups.contains(&name.as_str()) {
            setups.push(name);
        }
    }
    for setup in setups {
        let matrix: Vec<Vec<f64>> = evals.iter().map(|e| setup_row(e, setup).to_vec()).collect();
        if matrix.iter().all(Vec::is_empty) {
            continue; // a setup this kind of run does not have
        }
        summaries.insert(setup.to_owned(), summarize_matrix(&matrix, Some(oracle)));
        matrices.insert(setup.to_owned(), matrix);
    }
    let last = evals.last();
    SequenceMetrics {
        seed,
        order,
        tasks,
        matrices,
        summaries,
        final_routing_accuracy: last.map(|e| e.routing_accuracy.clone()).unwrap_or_default(),
        final_dam_routing_accuracy: last
            .map(|e| e.dam_routing_accuracy.clone())
            .unwrap_or_default(),
        final_cil_weighted_f1: last.map(|e| e.cil_weighted_f1.clone()).unwrap_or_default(),
    }
}

fn summarize(sequences: Vec<SequenceMetrics>) -> RunSummary {
    let over = |f: &dyn Fn(&SequenceMetrics) -> f64| {
        MeanStd::of(&sequences.iter().map(f).collect::<Vec<_>>())
    };
    // Setups every sequence reports (a baseline missing from evaluations that predate it is left out).
    let setups: Vec<&String> = sequences
        .first()
        .map(|first| {
            first
                .summaries
                .keys()
                .filter(|s| sequences.iter().all(|m| m.summaries.contains_key(*s)))
                .collect()
        })
        .unwrap_or_default();
    let per_setup = |f: &dyn Fn(&MatrixSummary) -> f64| -> BTreeMap<String, MeanStd> {
        setups
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    over(&|m: &SequenceMetrics| f(&m.summaries[*s])),
                )
            })
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    RunSummary {
        average_accuracy: per_setup(&|s| s.average_accuracy),
        bwt: per_setup(&|s| s.bwt),
        forgetting: per_setup(&|s| s.forgetting),
        routing_accuracy: over(&|m| mean(&m.final_routing_accuracy)),
        dam_routing_accuracy: over(&|m| mean(&m.final_dam_routing_accuracy)),
        cil_weighted_f1: over(&|m| mean(&m.final_cil_weighted_f1)),
        sequences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_folder_grows_in_seeds_and_orders_but_refuses_other_changes() {
        let dir = tempfile::tempdir().unwrap();
        let config = RunConfig::from_toml("benchmark = \"far5\"\n", Path::new("c")).unwrap();
        prepare_dir(&config, dir.path()).unwrap();
        let grown = RunConfig {
            seeds: vec![0, 1, 2],
            orders: vec![0, 1],
            ..config.clone()
        };
        prepare_dir(&grown, dir.path()).unwrap();
        let written = RunConfig::from_file(&dir.path().join("config.toml")).unwrap();
        assert_eq!(written, grown, "the folder's config follows the grown grid");
        let part = RunConfig {
            seeds: vec![1],
            orders: vec![0],
            ..config.clone()
        };
        prepare_dir(&part, dir.path()).unwrap();
        let written = RunConfig::from_file(&dir.path().join("config.toml")).unwrap();
        assert_eq!(written, grown, "reading part of a run keeps the whole grid");
        let mut other = grown.clone();
        other.memory.per_class = 5;
        let error = prepare_dir(&other, dir.path()).unwrap_err().to_string();
        assert!(error.contains("different config"), "{error}");
    }
}
