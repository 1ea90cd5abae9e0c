//! A trained task on disk: `module.safetensors`, `head.safetensors` and `task.json` (written last, so a folder
//! with a `task.json` is always complete).

use super::task_model::TaskModel;
use super::trainer::{TrainConfig, TrainReport};
use crate::backbone::{Backbone, BackboneName};
use crate::error::{Error, Result};
use crate::head::ClassifierHead;
use crate::peft::{PeftConfig, PeftModule};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How the task's examples were split (so evaluation recreates the same test split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    pub validation_fraction: f64,
    pub test_fraction: f64,
    pub seed: u64,
    /// Cap on training examples per class (quick runs); `None` keeps all.
    pub max_train_per_class: Option<usize>,
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec {
            validation_fraction: 0.1,
            test_fraction: 0.2,
            seed: 0,
            max_train_per_class: None,
        }
    }
}

/// Everything needed to rebuild and re-evaluate a trained task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRecord {
    /// A built-in task name or the path of a user task file.
    pub task: String,
    pub labels: Vec<String>,
    pub backbone: BackboneName,
    pub max_len: usize,
    pub peft: PeftConfig,
    pub train: TrainConfig,
    pub split: SplitSpec,
    pub report: Option<TrainReport>,
    /// Scores on the test split, filled in after training.
    pub test: Option<crate::metrics::ClassificationScores>,
}

/// The file name of [`TaskArtifacts::frozen_train_path`], beside the task's statistics too.
pub const FROZEN_TRAIN_FILE: &str = "frozen-train.safetensors";

pub struct TaskArtifacts {
    pub dir: PathBuf,
}

impl TaskArtifacts {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        TaskArtifacts { dir: dir.into() }
    }

    pub fn record_path(&self) -> PathBuf {
        self.dir.join("task.json")
    }

    pub fn module_path(&self) -> PathBuf {
        self.dir.join("module.safetensors")
    }

    pub fn head_path(&self) -> PathBuf {
        self.dir.join("head.safetensors")
    }

    /// The frozen features of the task's training split, kept where a memory selection rule reads them
    /// (`[memory] selection`), so that the memory, the module's training split and the statistics embed it once.
    pub fn frozen_train_path(&self) -> PathBuf {
        self.dir.join(FROZEN_TRAIN_FILE)
    }

    pub fn save(&self, record: &TaskRecord, model: &TaskModel) -> Result<()> {
        model.module.save(&self.module_path())?;
        model.head.save(&self.head_path())?;
        crate::io::write_json_atomic(&self.record_path(), record)
    }

    pub fn load_record(&self) -> Result<TaskRecord> {
        let path = self.record_path();
        if !path.is_file() {
            return Err(Error::invalid(format!(
                "{} has no task.json: not a trained task folder (train one with `l2r train-task`)",
                self.dir.display()
            )));
        }
        crate::io::read_json(&path)
    }

    /// The record and the trained model, checked against the backbone's shape, on the backbone's device.
    pub fn load(&self, backbone: &Backbone) -> Result<(TaskRecord, TaskModel)> {
        let (encoder, device) = (&backbone.encoder.config, backbone.device());
        let record = self.load_record()?;
        let module = PeftModule::load_on(&self.module_path(), &record.peft, encoder, device)?;
        let labels = record.labels.len();
        let input = record.train.head_input;
        let head =
            ClassifierHead::load_for_input(&self.head_path(), input, encoder, labels, device)?;
        Ok((record, TaskModel::new(module, head)))
    }
}

pub fn default_dir(task: &str, peft: &PeftConfig) -> PathBuf {
    let stem = Path::new(task)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(task);
    PathBuf::from("runs").join(format!("{stem}-{}", peft.kind()))
}
