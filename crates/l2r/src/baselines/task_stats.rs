//! What the similarity-routing baselines keep of each task once it is learned, computed from the frozen
//! embeddings of its training split: EPI's class means and covariance, MoCL's key. Saved beside the task's module
//! (they depend on the task's data, the backbone and the seed, as the module does) and shared by every task order.

use super::epi::EpiTask;
use super::mocl::{train_key, KeyTraining};
use crate::backbone::WeightMap;
use crate::error::{Error, Result};
use candle_core::Tensor;
use std::path::Path;

pub struct TaskStatistics {
    pub epi: EpiTask,
    /// MoCL key (d,).
    pub mocl_key: Tensor,
}

impl TaskStatistics {
    /// From the task's frozen training embeddings `features` (n, d) and labels in `0..num_labels`.
    pub fn fit(
        features: &Tensor,
        labels: &[usize],
        num_labels: usize,
        key_training: &KeyTraining,
        seed: u64,
    ) -> Result<Self> {
        let (mocl_key, _) = train_key(features, key_training, seed)?;
        Ok(TaskStatistics {
            epi: EpiTask::fit(features, labels, num_labels)?,
            mocl_key,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_safetensors(
            path,
            vec![
                ("epi.class_means".into(), self.epi.class_means.clone()),
                ("epi.scatter".into(), self.epi.scatter.clone()),
                (
                    "epi.count".into(),
                    Tensor::new(&[self.epi.count as f32], &candle_core::Device::Cpu)?,
                ),
                ("mocl.key".into(), self.mocl_key.clone()),
            ],
        )
    }

    /// Loads statistics of a task with `num_labels` classes in a `dim`-wide embedding space.
    pub fn load(path: &Path, num_labels: usize, dim: usize) -> Result<Self> {
        let weights = WeightMap::load(path)?;
        Ok(TaskStatistics {
            epi: EpiTask {
                class_means: weights.get("epi.class_means", &[num_labels, dim])?,
                scatter: weights.get("epi.scatter", &[dim, dim])?,
                count: weights.get("epi.count", &[1])?.to_vec1::<f32>()?[0] as usize,
            },
            mocl_key: weights.get("mocl.key", &[dim])?,
        })
    }
}

/// The keys of `tasks` stacked: (T, d).
pub fn stacked_keys(tasks: &[&TaskStatistics]) -> Result<Tensor> {
    if tasks.is_empty() {
        return Err(Error::invalid("no task statistics to route with"));
    }
    let keys: Vec<Tensor> = tasks.iter().map(|t| t.mocl_key.clone()).collect();
    Ok(Tensor::stack(&keys, 0)?)
}
