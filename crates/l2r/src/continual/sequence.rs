//! The method over one task sequence: for each task, its module (isolated, or progressive for the ablation), its
//! memory, the routers fitted on the memory of every task so far, and the evaluation of every task seen.

use super::config::RunConfig;
use super::evaluate::{evaluate_step, SeenTasks};
use super::evaluation::StepEvaluation;
use super::layout::{RunLayout, SequenceLayout};
use super::modules::{ensure_statistics, ensure_trained, test_sets, train_features, TrainingStart};
use super::summary::step_line;
use super::within_task::ValidationScores;
use crate::backbone::Backbone;
use crate::baselines::{StepStatistics, TaskStatistics};
use crate::compose::{ModuleStack, Routed};
use crate::data::BenchmarkTask;
use crate::embedded::EmbeddedExamples;
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::memory::Memory;
use crate::peft::PeftModule;
use crate::router::{
    fit_router_from, FitSchedule, PriorFit, PriorReference, PriorSources, RouterNetwork,
};
use crate::train::TaskModel;
use std::sync::Arc;

/// One seed × order sequence of the method. Returns each step's evaluation and each task's own-module accuracy.
pub fn routed_sequence(
    config: &RunConfig,
    layout: &RunLayout,
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    (seed, order): (u64, usize),
    show_progress: bool,
) -> Result<(Vec<StepEvaluation>, Vec<f64>)> {
    let sequence = layout.sequence(seed, order);
    let mut memory = match sequence.memory().is_file() {
        true => Memory::load(&sequence.memory())?,
        false => Memory::default(),
    };
    let (mut models, mut oracle, mut tests, mut evaluations, mut stats) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut validation_scores = ValidationScores::default();
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    for (step, task) in tasks.iter().enumerate() {
        let artifacts = layout.routed_module(seed, order, step, &task.name);
        let start = match config.module_training.trains_alongside(step) {
            true => TrainingStart::Alongside(earlier_modules(backbone, &models)?),
            false => TrainingStart::Fresh,
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
        oracle.push(accuracy);
        tests.push(None);
        if !memory.entries.iter().any(|e| e.task == step) {
            let features = || train_features(config, backbone, task, &artifacts);
            memory
                .entries
                .extend(config.memory.sample(step, task, seed, &features)?.entries);
            memory.save(&sequence.memory())?;
        }
        if config.router.fit_after == FitSchedule::LastTask && step + 1 < tasks.len() {
            evaluations.push(StepEvaluation::empty(step, &names[..=step]));
            continue;
        }
        let eval = crate::io::json_or_compute(&sequence.evaluation(step), || {
            while stats.len() <= step {
                let task = tasks[stats.len()];
                stats.push(ensure_statistics(config, layout, backbone, task, seed)?);
            }
            let modules: Vec<&PeftModule> = models.iter().map(|m| &m.module).collect();
            let heads: Vec<&ClassifierHead> = models.iter().map(|m| &m.head).collect();
            let stack = ModuleStack::for_backbone(&modules, backbone)?;
            let routed = Routed {
                backbone,
                stack: &stack,
                heads: &heads,
                mode: config.composition,
            };
            let memory = memory_examples(backbone, &memory, step)?;
            let fit_seed = seed.wrapping_mul(1000).wrapping_add(step as u64);
            let stat_refs: Vec<&TaskStatistics> = stats.iter().collect();
            let statistics = StepStatistics::new(&stat_refs, config.baselines.ridge_dim);
            let network = ensure_router(
                config,
                &sequence,
                &routed,
                &memory,
                (&tasks[..=step], &statistics, &mut validation_scores),
                (step, fit_seed),
                show_progress,
            )?;
            let test_refs = test_sets(backbone, tasks, config.evaluate_on, &mut tests)?;
            let seen = SeenTasks {
                names: &names[..=step],
                tests: &test_refs,
                oracle: &oracle,
                statistics: &statistics,
            };
            let eval = evaluate_step(
                &routed,
                &network,
                &memory,
                &seen,
                &config.baselines,
                show_progress,
            )?;
            if config.export_scores && step + 1 == tasks.len() {
                super::export::export_scores(
                    &sequence.scores(step),
                    &sequence.memory_scores(step),
                    &routed,
                    &network,
                    &memory,
                    &seen,
                    &config.baselines,
                )?;
            }
            if show_progress {
                eprintln!("{}", step_line(&eval));
            }
            Ok(eval)
        })?;
        evaluations.push(eval);
    }
    Ok((evaluations, oracle))
}

/// The modules trained so far, stacked, to be active beside a new one (the progressive ablation).
fn earlier_modules(backbone: &Backbone, models: &[TaskModel]) -> Result<ModuleStack> {
    let earlier: Vec<&PeftModule> = models.iter().map(|m| &m.module).collect();
    ModuleStack::for_backbone(&earlier, backbone)
}

/// The memory of tasks `0..=step`, tokenized, with frozen embeddings.
fn memory_examples(backbone: &Backbone, memory: &Memory, step: usize) -> Result<EmbeddedExamples> {
    let entries = memory.up_to(step);
    let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    EmbeddedExamples::new(
        backbone,
        &texts,
        entries.iter().map(|e| e.task).collect(),
        entries.iter().map(|e| e.label).collect(),
    )
}

/// Loads the routers fitted after `step`, or fits them on the memory of tasks `0..=step` and saves them.
fn ensure_router(
    config: &RunConfig,
    sequence: &SequenceLayout,
    routed: &Routed,
    memory: &EmbeddedExamples,
    (tasks, statistics, validation_scores): (
        &[&BenchmarkTask],
        &StepStatistics,
        &mut ValidationScores,
    ),
    (step, fit_seed): (usize, u64),
    show_progress: bool,
) -> Result<RouterNetwork> {
    crate::io::load_or_compute(
        &sequence.router(step),
        |path| RouterNetwork::load(path, &config.router, routed.backbone),
        || {
            let mut sources = prior_sources(config, memory, statistics)?;
            if config.router.calibrates_on().on_validation() {
                sources.within_task = Some(validation_scores.fit(
                    &config.router,
                    config.baselines.ridge_dim,
                    routed,
                    (tasks, statistics.tasks()),
                )?);
            }
            let fitted = fit_router_from(
                routed,
                sources,
                &config.router,
                fit_seed,
                None,
                show_progress,
            )?;
            Ok(fitted.0)
        },
        |path, network| network.save(path),
    )
}

/// The memory; with the Gaussian prior, the shared Gaussian of the tasks' statistics in the routers' representation
/// (and, held out, the same without the memory's examples); with ridge heads or the ridge prior, the ridge classifier
/// there (and, for the ridge prior held out, the same without the memory's examples); with Gaussian replay, the class
/// Gaussians to draw from.
pub(crate) fn prior_sources<'a>(
    config: &RunConfig,
    memory: &'a EmbeddedExamples,
    statistics: &StepStatistics,
) -> Result<PriorSources<'a>> {
    let representation = config.router.input.representation();
    let gaussian = match config.router.prior_reference {
        PriorReference::Gaussian => Some(statistics.gaussian(representation)?),
        _ => None,
    };
    let held_out_gaussian = match (config.router.prior_reference, config.router.prior_fit) {
        (PriorReference::Gaussian, PriorFit::HeldOut) => Some(Arc::new(
            crate::baselines::shared_gaussian_without(statistics.tasks(), representation, memory)?,
        )),
        _ => None,
    };
    let ridge_prior = config.router.prior_reference == PriorReference::Ridge;
    let ridge = match config.router.uses_ridge_heads() || ridge_prior {
        true => Some(statistics.ridge(representation)?),
        false => None,
    };
    let held_out_ridge = match (ridge_prior, config.router.prior_fit) {
        (true, PriorFit::HeldOut) => Some(statistics.ridge_without(representation, memory)?),
        _ => None,
    };
    let replay = match config.router.gaussian_replay {
        0 => None,
        _ => Some(crate::baselines::class_gaussians(
            statistics.tasks(),
            representation,
        )?),
    };
    Ok(PriorSources {
        memory,
        gaussian,
        held_out_gaussian,
        ridge,
        held_out_ridge,
        within_task: None,
        replay,
    })
}
