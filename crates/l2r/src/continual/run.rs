//! `l2r run`: every seed × order of a config, each sequence by its kind of module training, then the summary
//! over sequences. Every stage writes its result atomically and is skipped when its file is already there
//! ([`crate::io::load_or_compute`]), and every stage is deterministic in the seed, so `--resume` after a crash at
//! any point finishes with the same metrics as an uninterrupted run. Paths: [`RunLayout`].

use super::config::{ModuleTraining, RunConfig};
use super::layout::RunLayout;
use super::sequence::routed_sequence;
use super::shared_module::{multitask_sequence, sequential_sequence};
use super::summary::{sequence_metrics, summarize, RunSummary, SequenceMetrics};
use crate::backbone::Backbone;
use crate::data::{benchmark_from_datasets, load_benchmark, Benchmark, BenchmarkTask};
use crate::error::{Error, Result};
use std::path::Path;

/// Runs (or resumes) every seed × order of `config` in `dir`.
pub fn run(config: &RunConfig, dir: &Path, show_progress: bool) -> Result<RunSummary> {
    let layout = RunLayout::new(dir, config)?;
    prepare_dir(config, &layout)?;
    let backbone = Backbone::load_on(config.backbone, config.max_len, &config.device.open()?)?
        .with_precision(config.precision)?;
    let mut sequences = Vec::new();
    for &seed in &config.seeds {
        let benchmark = load_tasks(config, seed)?;
        for &order in &config.orders {
            let tasks = benchmark.ordered_tasks(order)?;
            sequences.push(run_sequence(
                config,
                &layout,
                &backbone,
                &tasks,
                (seed, order),
                show_progress,
            )?);
        }
    }
    let summary = summarize(sequences);
    crate::io::write_json_atomic(&layout.metrics(), &summary)?;
    Ok(summary)
}

fn run_sequence(
    config: &RunConfig,
    layout: &RunLayout,
    backbone: &Backbone,
    tasks: &[&BenchmarkTask],
    (seed, order): (u64, usize),
    show_progress: bool,
) -> Result<SequenceMetrics> {
    let sequence = layout.sequence(seed, order);
    std::fs::create_dir_all(sequence.dir()).map_err(|e| Error::io(sequence.dir(), e))?;
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let (evaluations, oracle) = match config.module_training {
        ModuleTraining::Isolated | ModuleTraining::Progressive => routed_sequence(
            config,
            layout,
            backbone,
            tasks,
            (seed, order),
            show_progress,
        )?,
        ModuleTraining::Sequential => {
            sequential_sequence(config, &sequence, backbone, tasks, seed, show_progress)?
        }
        ModuleTraining::Multitask => multitask_sequence(
            config,
            layout,
            &sequence,
            backbone,
            tasks,
            seed,
            show_progress,
        )?,
    };
    let metrics = sequence_metrics((seed, order), names, &evaluations, &oracle);
    crate::io::write_json_atomic(&sequence.metrics(), &metrics)?;
    Ok(metrics)
}

/// Writes the config on a first run. On resume, refuses a config that differs from the one the run began with,
/// except in its seeds and orders: every sequence has its own folder, so a run can grow (or be read in part). The
/// folder's config keeps every seed and order it has held, so reading part of a run never shrinks it.
fn prepare_dir(config: &RunConfig, layout: &RunLayout) -> Result<()> {
    let (path, dir) = (layout.config(), layout.root());
    let mut record = config.clone();
    if path.is_file() {
        let existing = RunConfig::from_file(&path)?;
        let same_sequences = RunConfig {
            seeds: config.seeds.clone(),
            orders: config.orders.clone(),
            device: config.device,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(config: &RunConfig, dir: &Path) -> RunLayout {
        RunLayout::new(dir, config).unwrap()
    }

    #[test]
    fn a_run_folder_grows_in_seeds_and_orders_but_refuses_other_changes() {
        let dir = tempfile::tempdir().unwrap();
        let config = RunConfig::from_toml("benchmark = \"far5\"\n", Path::new("c")).unwrap();
        prepare_dir(&config, &layout(&config, dir.path())).unwrap();
        let grown = RunConfig {
            seeds: vec![0, 1, 2],
            orders: vec![0, 1],
            ..config.clone()
        };
        prepare_dir(&grown, &layout(&grown, dir.path())).unwrap();
        let written = RunConfig::from_file(&dir.path().join("config.toml")).unwrap();
        assert_eq!(written, grown, "the folder's config follows the grown grid");
        let part = RunConfig {
            seeds: vec![1],
            orders: vec![0],
            ..config.clone()
        };
        prepare_dir(&part, &layout(&part, dir.path())).unwrap();
        let written = RunConfig::from_file(&dir.path().join("config.toml")).unwrap();
        assert_eq!(written, grown, "reading part of a run keeps the whole grid");
        let mut other = grown.clone();
        other.memory.per_class = 5;
        let error = prepare_dir(&other, &layout(&other, dir.path()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("different config"), "{error}");
    }
}
