//! Tasks trained for a later publish (`l2r library train`): each in its own folder under `staged/`, so that many
//! trainers, on many machines sharing the library's filesystem, can run at once. A trainer holds its task's lock
//! while it works; `staged.json`, written last, marks a folder complete, and training again is then a no-op.

use super::layout::{LibraryLayout, TaskFolder};
use super::lock::LibraryLock;
use super::train::{load_task, train_into, TaskSource};
use crate::backbone::Backbone;
use crate::continual::RunConfig;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What `staged.json` records of a complete staged task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedTask {
    pub source: TaskSource,
    /// The module's accuracy on the task's own held-back test split.
    pub accuracy: f64,
}

/// Trains `source` into its staged folder, or returns the record of the training already there. Refuses a task
/// staged earlier from other data, and waits for nothing: a second trainer of the same task is refused with the
/// first one's pid and host.
pub fn train_staged(
    layout: &LibraryLayout,
    config: &RunConfig,
    backbone: &Backbone,
    source: &TaskSource,
    show_progress: bool,
) -> Result<StagedTask> {
    let folder = layout.staged_task(&source.name);
    std::fs::create_dir_all(&folder.dir).map_err(|e| Error::io(&folder.dir, e))?;
    let _lock = LibraryLock::acquire(&layout.staged_lock(&source.name))?;
    if let Some(done) = read_staged(&folder)? {
        return match done.source == *source {
            true => Ok(done),
            false => Err(different_source(&folder, &done.source, source)),
        };
    }
    let source_path = folder.dir.join("source.json");
    match source_path.is_file() {
        true => {
            let started: TaskSource = crate::io::read_json(&source_path)?;
            if started != *source {
                return Err(different_source(&folder, &started, source));
            }
        }
        false => crate::io::write_json_atomic(&source_path, source)?,
    }
    let task = load_task(config, source)?;
    let accuracy = train_into(config, backbone, &task, &folder, show_progress)?;
    let staged = StagedTask {
        source: source.clone(),
        accuracy,
    };
    crate::io::write_json_atomic(&staged_record(&folder), &staged)?;
    Ok(staged)
}

/// Every complete staged task, by name; folders still training (no `staged.json`) are left out.
pub fn staged_tasks(layout: &LibraryLayout) -> Result<Vec<(StagedTask, TaskFolder)>> {
    let dir = layout.staged();
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let mut tasks = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        if !entry.path().is_dir() {
            continue;
        }
        let folder = TaskFolder { dir: entry.path() };
        if let Some(staged) = read_staged(&folder)? {
            tasks.push((staged, folder));
        }
    }
    tasks.sort_by(|a, b| a.0.source.name.cmp(&b.0.source.name));
    Ok(tasks)
}

fn staged_record(folder: &TaskFolder) -> std::path::PathBuf {
    folder.dir.join("staged.json")
}

fn read_staged(folder: &TaskFolder) -> Result<Option<StagedTask>> {
    let path = staged_record(folder);
    match path.is_file() {
        true => crate::io::read_json(&path).map(Some),
        false => Ok(None),
    }
}

fn different_source(folder: &TaskFolder, staged: &TaskSource, asked: &TaskSource) -> Error {
    Error::invalid(format!(
        "task '{}' was staged from {} ({:?}), not {} ({:?}); delete {} to train it again from the new data",
        asked.name,
        staged.data.display(),
        staged.format,
        asked.data.display(),
        asked.format,
        folder.dir.display()
    ))
}
