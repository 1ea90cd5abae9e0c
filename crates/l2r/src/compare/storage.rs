//! What each method keeps, in bytes: per task (grows with every task learned) and fixed (shared by all tasks, paid
//! once), so that a comparison can weigh accuracy against what a method stores. Measured on a finished run's files
//! where they exist (modules, heads, memory texts, routers), from the statistics' shapes otherwise (f32 values).

use crate::continual::{RunConfig, RunLayout, StepEvaluation};
use crate::embedded::Representation;
use crate::error::{Error, Result};
use crate::memory::Memory;
use crate::metrics::Approach;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    /// Mean bytes added by one task.
    pub per_task: f64,
    /// Bytes paid once, whatever the number of tasks.
    pub fixed: f64,
}

/// The sizes a run's methods are priced from, for its first sequence.
#[derive(Debug, Clone)]
pub struct StorageFacts {
    pub tasks: usize,
    /// Mean number of classes per task.
    pub classes: f64,
    /// Mean bytes of one task's module and head files.
    pub module: f64,
    /// Mean bytes of one task's memory texts.
    pub memory: f64,
    /// Bytes of the last routers' file.
    pub router: f64,
    pub final_dim: usize,
    pub layers_dim: usize,
    pub ridge_dim: usize,
}

const F32: f64 = 4.0;

impl StorageFacts {
    /// From the run folder `dir` of `config`, once its first sequence is finished.
    pub fn measure(dir: &Path, config: &RunConfig) -> Result<Self> {
        let layout = RunLayout::new(dir, config)?;
        let (seed, order) = (config.seeds[0], config.orders[0]);
        let sequence = layout.sequence(seed, order);
        let last = sequence.latest_fitted_step()?;
        let eval: StepEvaluation = crate::io::read_json(&sequence.evaluation(last))?;
        let tasks = eval.tasks.len().max(1);
        let mut module = 0u64;
        let mut classes = 0usize;
        for (index, name) in eval.tasks.iter().enumerate() {
            let artifacts = layout.routed_module(seed, order, index, name);
            module += file_size(&artifacts.module_path())? + file_size(&artifacts.head_path())?;
            classes += artifacts.load_record()?.labels.len();
        }
        let memory = Memory::load(&sequence.memory())?;
        let memory_bytes: usize = memory.entries.iter().map(|e| e.text.len()).sum();
        // Each representation's width, from the first task's statistics (the class means are (C, d)).
        let first = eval
            .tasks
            .first()
            .ok_or_else(|| Error::invalid("a run without tasks"))?;
        let statistics =
            crate::io::read_safetensors(&layout.statistics(seed, first), "task statistics")?;
        let dim = |r: Representation| -> Result<usize> {
            let means = statistics
                .get(&format!("{}.class_means", r.name()))
                .ok_or_else(|| Error::invalid(format!("no {} statistics", r.name())))?;
            Ok(means.dim(1)?)
        };
        Ok(StorageFacts {
            tasks,
            classes: classes as f64 / tasks as f64,
            module: module as f64 / tasks as f64,
            memory: memory_bytes as f64 / tasks as f64,
            router: file_size(&sequence.router(last))? as f64,
            final_dim: dim(Representation::FinalLayer).unwrap_or(0),
            layers_dim: dim(Representation::AllLayers).unwrap_or(0),
            ridge_dim: config.baselines.ridge_dim,
        })
    }

    fn dim(&self, representation: Representation) -> f64 {
        match representation {
            Representation::FinalLayer => self.final_dim as f64,
            Representation::AllLayers => self.layers_dim as f64,
        }
    }

    /// What `approach` keeps. The covariance and the ridge's Gram matrix (symmetric: their upper triangles) are
    /// counted once (fixed), as a deployment that only adds tasks needs; l2r keeps them per task as well, so that a
    /// task can be removed.
    pub fn storage(&self, approach: Approach) -> Storage {
        let with_modules = |per_task: f64, fixed: f64| Storage {
            per_task: self.module + per_task,
            fixed,
        };
        let class_means = |r| self.classes * self.dim(r) * F32;
        let covariance = |r| symmetric(self.dim(r));
        match approach {
            Approach::Oracle | Approach::Uniform | Approach::Arrow => with_modules(0.0, 0.0),
            // The routers' file is counted once: with the Gaussian prior it is mostly the precision matrix, whose
            // size does not depend on the number of tasks.
            Approach::L2r | Approach::L2rGated | Approach::L2rTopTask => {
                with_modules(self.memory, self.router)
            }
            Approach::Dam(r) | Approach::DamTopTask(r) | Approach::Mocl(r) => {
                with_modules(self.dim(r) * F32, 0.0)
            }
            Approach::Epi(r) => with_modules(class_means(r), covariance(r)),
            Approach::Sequential | Approach::Multitask => Storage {
                per_task: 0.0,
                fixed: self.module,
            },
            Approach::NearestMean(r) => Storage {
                per_task: class_means(r),
                fixed: 0.0,
            },
            Approach::SharedGaussian(r) => Storage {
                per_task: class_means(r),
                fixed: covariance(r),
            },
            Approach::RandomRidge(_) => Storage {
                per_task: self.classes * self.ridge_dim as f64 * F32,
                fixed: symmetric(self.ridge_dim as f64),
            },
        }
    }
}

/// Bytes of a symmetric `dim` × `dim` matrix kept as its upper triangle (as the routers keep their precision).
fn symmetric(dim: f64) -> f64 {
    dim * (dim + 1.0) / 2.0 * F32
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_free_methods_keep_no_module_and_the_covariance_once() {
        let facts = StorageFacts {
            tasks: 5,
            classes: 4.0,
            module: 1000.0,
            memory: 300.0,
            router: 500.0,
            final_dim: 384,
            layers_dim: 2688,
            ridge_dim: 2048,
        };
        let lda = facts.storage(Approach::SharedGaussian(Representation::AllLayers));
        assert_eq!(lda.per_task, 4.0 * 2688.0 * 4.0);
        assert_eq!(lda.fixed, 2688.0 * 2689.0 / 2.0 * 4.0);
        let l2r = facts.storage(Approach::L2r);
        assert_eq!((l2r.per_task, l2r.fixed), (1000.0 + 300.0, 500.0));
        let epi = facts.storage(Approach::Epi(Representation::FinalLayer));
        assert_eq!(epi.per_task, 1000.0 + 4.0 * 384.0 * 4.0);
    }
}
