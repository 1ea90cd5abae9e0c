//! Training one new task of a library in isolation: its module and head, the statistics the routing baselines keep,
//! its memory sample and its held-back test split, all into one folder (resumable: each file is skipped when there).

use super::layout::TaskFolder;
use crate::backbone::Backbone;
use crate::continual::{
    ensure_trained, statistics_at, train_features, RunConfig, TaskFileFormat, TrainingStart,
    UserTask,
};
use crate::data::{benchmark_from_datasets, BenchmarkTask, Example};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A task to add: its name and data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSource {
    pub name: String,
    pub data: PathBuf,
    #[serde(default)]
    pub format: TaskFileFormat,
}

/// Splits the task's data (stratified, deterministic in the seed, capped at the library's size).
pub fn load_task(config: &RunConfig, source: &TaskSource) -> Result<BenchmarkTask> {
    let mut dataset = match source.format {
        // A built-in task's name (`l2r tasks`) or a text/label file.
        TaskFileFormat::TextLabel => crate::data::load_task(&source.data.to_string_lossy())?,
        format => UserTask {
            name: source.name.clone(),
            path: source.data.clone(),
            format,
        }
        .load()?,
    };
    dataset.name = source.name.clone();
    let mut benchmark =
        benchmark_from_datasets("library", vec![dataset], config.size, config.seeds[0])?;
    benchmark
        .tasks
        .pop()
        .ok_or_else(|| Error::invalid(format!("task '{}' has no examples", source.name)))
}

/// Trains `task` into `folder` and returns its own test accuracy.
pub fn train_into(
    config: &RunConfig,
    backbone: &Backbone,
    task: &BenchmarkTask,
    folder: &TaskFolder,
    show_progress: bool,
) -> Result<f64> {
    let seed = config.seeds[0];
    let (_, accuracy) = ensure_trained(
        config,
        &folder.artifacts(),
        backbone,
        task,
        seed,
        TrainingStart::Fresh,
        show_progress,
    )?;
    statistics_at(&folder.statistics(), config, backbone, task, seed)?;
    let features = || train_features(config, backbone, task, &folder.artifacts());
    crate::io::json_or_compute(&folder.memory(), || {
        config.memory.sample(0, task, seed, &features)
    })?;
    crate::io::json_or_compute(&folder.test(), || {
        Ok(StoredTestSplit::Checked {
            examples: task.test.clone(),
        })
    })?;
    Ok(accuracy)
}

/// A task's held-back test split as `test.json` holds it: an object, so that it carries a checksum like every JSON
/// object l2r writes (a changed letter would otherwise evaluate a different test set). Libraries made before the
/// checksums hold a bare list; both load.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredTestSplit {
    Checked { examples: Vec<Example> },
    Bare(Vec<Example>),
}

/// The held-back test split in `path` (a task folder's `test.json`).
pub fn read_test_split(path: &Path) -> Result<Vec<Example>> {
    Ok(match crate::io::read_json(path)? {
        StoredTestSplit::Checked { examples } | StoredTestSplit::Bare(examples) => examples,
    })
}
