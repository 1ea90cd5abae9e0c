//! Training a task's module and head (or loading them when a run already trained them), and what the routing
//! baselines keep of a task. Every method's modules come from here: isolated, progressive, sequential, multitask.

use super::config::{EvaluationSplit, RunConfig};
use super::layout::RunLayout;
use crate::backbone::Backbone;
use crate::baselines::TaskStatistics;
use crate::compose::ModuleStack;
use crate::data::{BenchmarkTask, Example};
use crate::embedded::{EmbeddedExamples, Representation};
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::peft::PeftModule;
use crate::train::{
    tokenize_examples, train_task, SplitSpec, TaskArtifacts, TaskModel, TaskRecord,
    FROZEN_TRAIN_FILE,
};
use candle_core::Tensor;

/// How a new module starts its training.
pub enum TrainingStart<'a> {
    /// A seeded initialisation, trained alone.
    Fresh,
    /// The weights of another module (sequential fine-tuning).
    From(&'a PeftModule),
    /// A seeded initialisation, trained with these earlier modules active beside it (progressive ablation).
    Alongside(ModuleStack),
}

/// Loads a trained module and head from `artifacts`, or trains them on `task` as `start` says and saves them
/// there. Returns the model and its test accuracy.
pub fn ensure_trained(
    config: &RunConfig,
    artifacts: &TaskArtifacts,
    backbone: &Backbone,
    task: &BenchmarkTask,
    seed: u64,
    start: TrainingStart,
    show_progress: bool,
) -> Result<(TaskModel, f64)> {
    // task.json is written last, so a folder that has it holds the whole task.
    let (record, model) = crate::io::load_or_compute(
        &artifacts.record_path(),
        |_| artifacts.load(backbone),
        || {
            train_new(
                config,
                artifacts,
                backbone,
                task,
                seed,
                start,
                show_progress,
            )
        },
        |_, (record, model)| artifacts.save(record, model),
    )?;
    let oracle = match config.evaluate_on {
        EvaluationSplit::Test => record.test.map(|t| t.accuracy),
        // The weights kept are those of the best validation epoch, so its accuracy is the module's own.
        EvaluationSplit::Validation => record.report.map(|r| r.best_validation_accuracy),
    }
    .unwrap_or(0.0);
    Ok((model, oracle))
}

/// Trains a new module and head on `task` as `start` says, and scores them on its test split.
fn train_new(
    config: &RunConfig,
    artifacts: &TaskArtifacts,
    backbone: &Backbone,
    task: &BenchmarkTask,
    seed: u64,
    start: TrainingStart,
    show_progress: bool,
) -> Result<(TaskRecord, TaskModel)> {
    if show_progress {
        eprintln!(
            "training the {} module of task {} (seed {seed})",
            config.module.kind(),
            task.name
        );
    }
    let (encoder, device) = (&backbone.encoder.config, backbone.device());
    let module = PeftModule::new_on(&config.module, encoder, seed, device)?;
    let mut model = TaskModel::new(
        module,
        ClassifierHead::for_input(
            config.train.head_input,
            encoder,
            task.labels.len(),
            seed,
            device,
        )?,
    );
    match start {
        TrainingStart::Fresh => {}
        TrainingStart::From(init) => {
            let tensors = crate::io::varmap_tensors(init.varmap())?
                .into_iter()
                .collect();
            model
                .module
                .set_tensors(&tensors, artifacts.module_path().as_path())?;
        }
        TrainingStart::Alongside(previous) => model.previous = Some(previous),
    }
    let features = || train_features(config, backbone, task, artifacts);
    let train = tokenize_examples(
        &backbone.tokenizer,
        &config.memory.module_training_split(task, seed, &features)?,
    )?;
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
    Ok((record, model))
}

/// Loads the routing baselines' statistics of `task` from beside its module, or computes them from its training
/// split and saves them.
pub fn ensure_statistics(
    config: &RunConfig,
    layout: &RunLayout,
    backbone: &Backbone,
    task: &BenchmarkTask,
    seed: u64,
) -> Result<TaskStatistics> {
    statistics_at(
        &layout.statistics(seed, &task.name),
        config,
        backbone,
        task,
        seed,
    )
}

/// The routing baselines' statistics of `task` stored at `path`, computed from its training split if absent.
pub fn statistics_at(
    path: &std::path::Path,
    config: &RunConfig,
    backbone: &Backbone,
    task: &BenchmarkTask,
    seed: u64,
) -> Result<TaskStatistics> {
    let compute = || {
        let train = match config.memory.selection.is_random() {
            true => embed(backbone, &task.train, 0)?,
            // The memory's selection rule embedded the training split beside the statistics already.
            false => embedded_train(backbone, task, &path.with_file_name(FROZEN_TRAIN_FILE))?,
        };
        let validation = embed(backbone, &task.validation, 0)?;
        TaskStatistics::fit(
            &train,
            &validation,
            task.labels.len(),
            &config.baselines,
            seed,
        )
    };
    crate::io::load_or_compute(
        path,
        |path| {
            let dims = Representation::dims(backbone);
            match TaskStatistics::load(path, task.labels.len(), &dims, &config.baselines) {
                Ok(statistics) => Ok(statistics),
                // Saved under other `[baselines]` settings (another ridge_dim, fewer representations): the task's
                // data is at hand, so they are recomputed rather than refused.
                Err(error) => {
                    tracing::warn!(%error, "recomputing the statistics of task {}", task.name);
                    let statistics = compute()?;
                    statistics.save(path)?;
                    Ok(statistics)
                }
            }
        },
        compute,
        |path, statistics| statistics.save(path),
    )
}

/// The evaluation examples (the `split` the config evaluates on) of every task seen so far, each tokenized and
/// embedded the first time it is needed (a resumed run whose evaluations are all on disk never needs them).
pub fn test_sets<'a>(
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    split: EvaluationSplit,
    tests: &'a mut [Option<EmbeddedExamples>],
) -> Result<Vec<&'a EmbeddedExamples>> {
    for (task, slot) in tests.iter_mut().enumerate() {
        if slot.is_none() {
            let examples = match split {
                EvaluationSplit::Test => &tasks[task].test,
                EvaluationSplit::Validation => &tasks[task].validation,
            };
            *slot = Some(embed(backbone, examples, task)?);
        }
    }
    Ok(tests.iter().flatten().collect())
}

/// The frozen features of `task`'s training split in the representation the routers read, which a memory selection
/// rule chooses by; kept beside the task's module (`artifacts`), so that they are embedded once.
pub fn train_features(
    config: &RunConfig,
    backbone: &Backbone,
    task: &BenchmarkTask,
    artifacts: &TaskArtifacts,
) -> Result<Tensor> {
    let embedded = embedded_train(backbone, task, &artifacts.frozen_train_path())?;
    Ok(embedded
        .features(config.router.input.representation())
        .clone())
}

/// `task`'s training split embedded (as task 0), its frozen features kept in the file `cache`.
fn embedded_train(
    backbone: &Backbone,
    task: &BenchmarkTask,
    cache: &std::path::Path,
) -> Result<EmbeddedExamples> {
    let texts: Vec<&str> = task.train.iter().map(|e| e.text.as_str()).collect();
    EmbeddedExamples::cached(
        backbone,
        &texts,
        vec![0; texts.len()],
        task.train.iter().map(|e| e.label).collect(),
        cache,
    )
}

/// `examples` of task number `task`, embedded.
pub fn embed(backbone: &Backbone, examples: &[Example], task: usize) -> Result<EmbeddedExamples> {
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    EmbeddedExamples::new(
        backbone,
        &texts,
        vec![task; examples.len()],
        examples.iter().map(|e| e.label).collect(),
    )
}
