//! Building a generation: the routers fitted on the memory of its tasks (warm-started from the parent's), and every
//! task evaluated on its own held-back test split. Each file goes through `load_or_compute`, so an interrupted build
//! resumes where it stopped; the manifest is written last.

use super::layout::{GenerationFolder, TaskFolder};
use super::manifest::{Change, LibraryTask, Manifest};
use super::sample::{evaluated_counts, evaluation_order, order_seed};
use crate::backbone::Backbone;
use crate::baselines::{StepStatistics, TaskStatistics};
use crate::compose::{ModuleStack, Routed};
use crate::continual::{evaluate_step, RunConfig, SeenTasks, StepEvaluation};
use crate::embedded::{EmbeddedExamples, Representation};
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::memory::Memory;
use crate::metrics::{Approach, Setup};
use crate::peft::PeftModule;
use crate::router::{fit_router_from, RouterNetwork, WarmStart};
use crate::train::TaskModel;

/// What a new generation is made of.
pub struct GenerationPlan<'a> {
    pub number: u64,
    pub parent: Option<(&'a Manifest, &'a GenerationFolder)>,
    pub change: Change,
    /// The tasks in composition order, each with the folder its files are in now.
    pub tasks: Vec<(LibraryTask, TaskFolder)>,
    /// The test examples the earlier tasks share in the evaluation (0: every example).
    pub evaluation_budget: usize,
}

impl GenerationPlan<'_> {
    /// Per task, whether this change brings it in (it is not a task of the parent).
    fn brought_in(&self) -> Vec<bool> {
        self.tasks
            .iter()
            .map(|(task, _)| match self.parent {
                Some((parent, _)) => parent.tasks.iter().all(|t| t.id != task.id),
                None => true,
            })
            .collect()
    }
}

/// Where the time of building one generation went, in seconds (the library's cost study reads it).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct BuildTimings {
    /// Loading every task's module and head, and embedding every task's memory.
    pub load_seconds: f64,
    pub router_fit_seconds: f64,
    /// Every task's held-back test split, by L2R and the baselines.
    pub evaluation_seconds: f64,
}

/// Fits, evaluates and writes the generation into `out`; returns its manifest, evaluation and timings.
pub fn build_generation(
    config: &RunConfig,
    backbone: &Backbone,
    plan: &GenerationPlan,
    out: &GenerationFolder,
    show_progress: bool,
) -> Result<(Manifest, StepEvaluation, BuildTimings)> {
    let mut clock = Clock::start();
    let (evaluation, load_seconds, router_fit_seconds) =
        with_composed(config, backbone, &plan.tasks, |routed, memory, oracle| {
            let load_seconds = clock.lap();
            let network = ensure_router(config, routed, memory, plan, out, show_progress)?;
            let router_fit_seconds = clock.lap();
            let evaluation = crate::io::json_or_compute(&out.evaluation(), || {
                let classes: Vec<usize> = plan.tasks.iter().map(|(t, _)| t.labels.len()).collect();
                let brought_in = plan.brought_in();
                let scope = EvaluationScope {
                    config,
                    routed,
                    network: &network,
                    memory,
                    oracle,
                };
                scope.evaluate(
                    &plan.tasks,
                    |sizes| evaluated_counts(sizes, &brought_in, &classes, plan.evaluation_budget),
                    show_progress,
                )
            })?;
            Ok((evaluation, load_seconds, router_fit_seconds))
        })?;
    let manifest = Manifest {
        generation: plan.number,
        parent: plan.parent.map(|(m, _)| m.generation),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        change: plan.change.clone(),
        tasks: plan.tasks.iter().map(|(t, _)| t.clone()).collect(),
        cil: evaluation.mean(Setup::cil(Approach::L2r)).unwrap_or(0.0),
        routing: evaluation
            .mean(Setup::routing(Approach::L2r))
            .unwrap_or(0.0),
    };
    crate::io::write_json_atomic(&out.manifest(), &manifest)?;
    let timings = BuildTimings {
        load_seconds,
        router_fit_seconds,
        evaluation_seconds: clock.lap(),
    };
    Ok((manifest, evaluation, timings))
}

/// Generation `folder` (built from `tasks`) evaluated on every test example of every task.
pub fn evaluate_every_example(
    config: &RunConfig,
    backbone: &Backbone,
    tasks: &[(LibraryTask, TaskFolder)],
    folder: &GenerationFolder,
    show_progress: bool,
) -> Result<StepEvaluation> {
    with_composed(config, backbone, tasks, |routed, memory, oracle| {
        let network = RouterNetwork::load(&folder.router(), &config.router, backbone)?;
        let scope = EvaluationScope {
            config,
            routed,
            network: &network,
            memory,
            oracle,
        };
        scope.evaluate(tasks, |sizes| sizes.to_vec(), show_progress)
    })
}

/// Loads every task's module, head and memory, composes the modules as `config` says, and runs `work` on them with
/// each task's own-module test accuracy (the oracle).
fn with_composed<T>(
    config: &RunConfig,
    backbone: &Backbone,
    tasks: &[(LibraryTask, TaskFolder)],
    work: impl FnOnce(&Routed, &EmbeddedExamples, &[f64]) -> Result<T>,
) -> Result<T> {
    let (models, oracle) = load_models(backbone, tasks)?;
    let modules: Vec<&PeftModule> = models.iter().map(|m| &m.module).collect();
    let heads: Vec<&ClassifierHead> = models.iter().map(|m| &m.head).collect();
    let stack = ModuleStack::for_backbone(&modules, backbone)?;
    let routed = Routed {
        backbone,
        stack: &stack,
        heads: &heads,
        mode: config.composition,
    };
    let memory = memory_of(backbone, tasks)?;
    work(&routed, &memory, &oracle)
}

/// What evaluating a generation's tasks reads: its routed modules, routers and memory, and each task's accuracy
/// with its own module (the oracle).
struct EvaluationScope<'a> {
    config: &'a RunConfig,
    routed: &'a Routed<'a>,
    network: &'a RouterNetwork,
    memory: &'a EmbeddedExamples,
    oracle: &'a [f64],
}

impl EvaluationScope<'_> {
    /// Every task of `tasks` evaluated on the first `counts(test sizes)[j]` examples of its fixed evaluation order;
    /// the test sizes are kept in the evaluation when some task was evaluated on a part of its split.
    fn evaluate(
        &self,
        tasks: &[(LibraryTask, TaskFolder)],
        counts: impl FnOnce(&[usize]) -> Vec<usize>,
        show_progress: bool,
    ) -> Result<StepEvaluation> {
        let backbone = self.routed.backbone;
        let mut tests = Vec::with_capacity(tasks.len());
        for (index, (task, folder)) in tasks.iter().enumerate() {
            let test = super::train::read_test_split(&folder.test())?;
            let rows = test.iter().map(|e| (e.text.as_str(), e.label));
            let embedded = embed_task(backbone, rows, index, &folder.test_features())?;
            let order =
                evaluation_order(&embedded.labels, order_seed(&task.id, self.config.seeds[0]));
            tests.push((embedded, order));
        }
        let sizes: Vec<usize> = tests.iter().map(|(test, _)| test.len()).collect();
        let counts = counts(&sizes);
        let sampled = tests
            .iter()
            .zip(&counts)
            .map(|((test, order), &n)| test.select(&order[..n.min(order.len())]))
            .collect::<Result<Vec<_>>>()?;
        let statistics =
            statistics_if(self.config.baselines.evaluate, self.config, backbone, tasks)?;
        let stat_refs: Vec<&TaskStatistics> = statistics.iter().collect();
        let statistics = StepStatistics::new(&stat_refs, self.config.baselines.ridge_dim);
        let names: Vec<String> = tasks.iter().map(|(t, _)| t.name.clone()).collect();
        let seen = SeenTasks {
            names: &names,
            tests: &sampled.iter().collect::<Vec<_>>(),
            oracle: self.oracle,
            statistics: &statistics,
        };
        let mut evaluation = evaluate_step(
            self.routed,
            self.network,
            self.memory,
            &seen,
            &self.config.baselines,
            show_progress,
        )?;
        if counts != sizes {
            evaluation.test_sizes = sizes;
        }
        Ok(evaluation)
    }
}

/// Seconds since the last lap.
struct Clock(std::time::Instant);

impl Clock {
    fn start() -> Self {
        Clock(std::time::Instant::now())
    }

    fn lap(&mut self) -> f64 {
        let now = std::time::Instant::now();
        let seconds = (now - self.0).as_secs_f64();
        self.0 = now;
        seconds
    }
}

/// Every task's model and its own test accuracy (the oracle).
fn load_models(
    backbone: &Backbone,
    tasks: &[(LibraryTask, TaskFolder)],
) -> Result<(Vec<TaskModel>, Vec<f64>)> {
    let mut models = Vec::with_capacity(tasks.len());
    let mut oracle = Vec::with_capacity(tasks.len());
    for (_, folder) in tasks {
        let (record, model) = folder.artifacts().load(backbone)?;
        oracle.push(record.test.map_or(0.0, |t| t.accuracy));
        models.push(model);
    }
    Ok((models, oracle))
}

/// The memory samples of every task, numbered in composition order, embedded (each task's features read from its
/// cache once an add has embedded them).
fn memory_of(backbone: &Backbone, tasks: &[(LibraryTask, TaskFolder)]) -> Result<EmbeddedExamples> {
    let parts = tasks
        .iter()
        .enumerate()
        .map(|(index, (_, folder))| {
            let entries = Memory::load(&folder.memory())?.entries;
            let rows = entries.iter().map(|e| (e.text.as_str(), e.label));
            embed_task(backbone, rows, index, &folder.memory_features())
        })
        .collect::<Result<Vec<_>>>()?;
    EmbeddedExamples::concat(parts)
}

/// One task's (text, label) rows, numbered `index` in composition order, embedded through its features cache.
fn embed_task<'t>(
    backbone: &Backbone,
    rows: impl Iterator<Item = (&'t str, usize)>,
    index: usize,
    cache: &std::path::Path,
) -> Result<EmbeddedExamples> {
    let (texts, labels): (Vec<&str>, Vec<usize>) = rows.unzip();
    EmbeddedExamples::cached(backbone, &texts, vec![index; texts.len()], labels, cache)
}

/// The generation's routers: loaded when already fitted, else fitted from the parent's where tasks are shared.
fn ensure_router(
    config: &RunConfig,
    routed: &Routed,
    memory: &EmbeddedExamples,
    plan: &GenerationPlan,
    out: &GenerationFolder,
    show_progress: bool,
) -> Result<RouterNetwork> {
    let backbone = routed.backbone;
    crate::io::load_or_compute(
        &out.router(),
        |path| RouterNetwork::load(path, &config.router, backbone),
        || {
            let previous = match plan.parent {
                Some((_, folder)) => Some(RouterNetwork::load(
                    &folder.router(),
                    &config.router,
                    backbone,
                )?),
                None => None,
            };
            let warm = match (&previous, plan.parent) {
                (Some(previous), Some((manifest, _))) => Some(WarmStart {
                    previous,
                    tasks: plan
                        .tasks
                        .iter()
                        .map(|(task, _)| manifest.tasks.iter().position(|t| t.id == task.id))
                        .collect(),
                }),
                _ => None,
            };
            let seed = config.seeds[0].wrapping_mul(1000).wrapping_add(plan.number);
            let statistics = statistics_if(
                config.router.uses_statistics(),
                config,
                routed.backbone,
                &plan.tasks,
            )?;
            let stat_refs: Vec<&TaskStatistics> = statistics.iter().collect();
            let sources = crate::continual::prior_sources(
                config,
                memory,
                &StepStatistics::new(&stat_refs, config.baselines.ridge_dim),
            )?;
            let (network, _) = fit_router_from(
                routed,
                sources,
                &config.router,
                seed,
                warm.as_ref(),
                show_progress,
            )?;
            Ok(network)
        },
        |path, network| network.save(path),
    )
}

/// The statistics of every task of `tasks`, in run order, when `needed` (they are large: read only for what uses
/// them).
fn statistics_if(
    needed: bool,
    config: &RunConfig,
    backbone: &Backbone,
    tasks: &[(LibraryTask, TaskFolder)],
) -> Result<Vec<TaskStatistics>> {
    if !needed {
        return Ok(Vec::new());
    }
    let dims = Representation::dims(backbone);
    tasks
        .iter()
        .map(|(task, folder)| {
            TaskStatistics::load(
                &folder.statistics(),
                task.labels.len(),
                &dims,
                &config.baselines,
            )
        })
        .collect()
}
