//! Every path of a run folder, decided in one place. Run, predict, report, compare and the CLI ask this type; no
//! other code joins a run's file names.
//!
//! ```text
//! <run>/config.toml                     the config the run began with (grown by later seeds and orders)
//! <run>/metrics.json                    mean ± std over seeds × orders
//! <run>/report.html                     `l2r report`
//! <modules>/seed<S>/<task>/             module.safetensors, head.safetensors, task.json, statistics.safetensors
//!                                       (and frozen-train.safetensors with `[memory] selection`, see TaskArtifacts):
//!                                       shared by every order of a seed
//! <modules>/seed<S>/multitask.joint/    the multitask bound's one module and head
//!     where <modules> is <run>/modules, or <module_cache>/<benchmark>-<key> (shared across runs)
//! <run>/seed<S>-order<O>/               one sequence:
//!     memory.json                       the memory of every task so far
//!     router-step<k>.safetensors        the routers fitted after task k
//!     eval-step<k>.json                 every setup on every task seen after task k
//!     eval-<bound>-step<k>.json         the sequential and multitask bounds' evaluations
//!     progressive/<task>/               modules trained beside the earlier ones (`module_training = "progressive"`)
//!     sequential/<task>/                sequential fine-tuning: the module after <task>, and <task>'s head
//!     metrics.json                      the sequence's accuracy matrices and their summaries
//! ```

use super::config::{ModuleTraining, RunConfig};
use crate::error::{Error, Result};
use crate::train::TaskArtifacts;
use std::path::{Path, PathBuf};

/// The folder of a run, and where its modules live.
#[derive(Debug, Clone)]
pub struct RunLayout {
    root: PathBuf,
    /// `<run>/modules` or the module cache's folder for this config.
    modules: PathBuf,
    module_training: ModuleTraining,
}

/// Steps looked for in a sequence folder: far more tasks than any run has.
const MAX_STEPS: usize = 10_000;

impl RunLayout {
    pub fn new(root: &Path, config: &RunConfig) -> Result<Self> {
        Ok(RunLayout {
            root: root.to_path_buf(),
            modules: match config.module_cache_dir()? {
                Some(cache) => cache,
                None => root.join("modules"),
            },
            module_training: config.module_training,
        })
    }

    /// The layout of an existing run folder, from its `config.toml`.
    pub fn open(root: &Path) -> Result<(Self, RunConfig)> {
        let path = Self::config_path(root);
        if !path.is_file() {
            return Err(Error::invalid(format!(
                "{} is not a run folder (no config.toml); give the --out folder of `l2r run`",
                root.display()
            )));
        }
        let config = RunConfig::from_file(&path)?;
        Ok((Self::new(root, &config)?, config))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(root: &Path) -> PathBuf {
        root.join("config.toml")
    }

    pub fn config(&self) -> PathBuf {
        Self::config_path(&self.root)
    }

    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.json")
    }

    pub fn report(&self) -> PathBuf {
        self.root.join("report.html")
    }

    /// The modules of `seed`, shared by every order.
    pub fn modules(&self, seed: u64) -> PathBuf {
        self.modules.join(format!("seed{seed}"))
    }

    /// A task's module and head trained in isolation.
    pub fn isolated_module(&self, seed: u64, task: &str) -> TaskArtifacts {
        TaskArtifacts::new(self.modules(seed).join(task))
    }

    /// The module that task number `index` of sequence (`seed`, `order`) composes: its isolated module, or under
    /// `module_training = "progressive"` the one trained beside the earlier modules (all but the first task).
    pub fn routed_module(
        &self,
        seed: u64,
        order: usize,
        index: usize,
        task: &str,
    ) -> TaskArtifacts {
        match self.module_training.trains_alongside(index) {
            true => self.sequence(seed, order).progressive(task),
            false => self.isolated_module(seed, task),
        }
    }

    /// Where task number `index`'s trained module and head are, for any kind of module training (the sequential
    /// bound keeps the module as it was after each task; the multitask bound has one for every task).
    pub fn trained_module(
        &self,
        seed: u64,
        order: usize,
        index: usize,
        task: &str,
    ) -> TaskArtifacts {
        match self.module_training {
            ModuleTraining::Isolated | ModuleTraining::Progressive => {
                self.routed_module(seed, order, index, task)
            }
            ModuleTraining::Sequential => self.sequence(seed, order).sequential(task),
            ModuleTraining::Multitask => self.multitask_module(seed),
        }
    }

    /// What the routing baselines keep of a task: beside its isolated module, since it depends on the same data.
    pub fn statistics(&self, seed: u64, task: &str) -> PathBuf {
        self.modules(seed).join(task).join("statistics.safetensors")
    }

    /// The multitask bound's module and head over every task's classes.
    pub fn multitask_module(&self, seed: u64) -> TaskArtifacts {
        TaskArtifacts::new(self.modules(seed).join("multitask.joint"))
    }

    pub fn sequence(&self, seed: u64, order: usize) -> SequenceLayout {
        SequenceLayout {
            dir: self.root.join(format!("seed{seed}-order{order}")),
        }
    }
}

/// The folder of one seed × order sequence.
#[derive(Debug, Clone)]
pub struct SequenceLayout {
    dir: PathBuf,
}

impl SequenceLayout {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn memory(&self) -> PathBuf {
        self.dir.join("memory.json")
    }

    pub fn router(&self, step: usize) -> PathBuf {
        self.dir.join(format!("router-step{step}.safetensors"))
    }

    pub fn evaluation(&self, step: usize) -> PathBuf {
        self.dir.join(format!("eval-step{step}.json"))
    }

    /// Per-example scores after task `step` (`export_scores = true`).
    pub fn scores(&self, step: usize) -> PathBuf {
        self.dir.join(format!("scores-step{step}.jsonl"))
    }

    /// The memory's representations with each module alone after task `step` (`export_scores = true`).
    pub fn memory_scores(&self, step: usize) -> PathBuf {
        self.dir.join(format!("memory-step{step}.jsonl"))
    }

    /// A bound's (`sequential`, `multitask`) evaluation after task `step`.
    pub fn bound_evaluation(&self, bound: &str, step: usize) -> PathBuf {
        self.dir.join(format!("eval-{bound}-step{step}.json"))
    }

    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.json")
    }

    pub fn progressive(&self, task: &str) -> TaskArtifacts {
        TaskArtifacts::new(self.dir.join("progressive").join(task))
    }

    /// Sequential fine-tuning: the module after training `task`, and `task`'s head.
    pub fn sequential(&self, task: &str) -> TaskArtifacts {
        TaskArtifacts::new(self.dir.join("sequential").join(task))
    }

    /// The highest step whose routers and evaluation are both on disk.
    pub fn latest_fitted_step(&self) -> Result<usize> {
        let done = |k: usize| self.router(k).is_file() && self.evaluation(k).is_file();
        // Not a prefix: routers fitted only after the last task (`fit_after = "last_task"`) leave no earlier step.
        (0..MAX_STEPS).rev().find(|&k| done(k)).ok_or_else(|| {
            Error::invalid(format!(
                "{} holds no fitted routers yet; let `l2r run` finish its first task (or pick another --seed/--order)",
                self.dir.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> RunConfig {
        RunConfig::from_toml(&format!("benchmark = \"far5\"\n{extra}"), Path::new("c")).unwrap()
    }

    #[test]
    fn a_progressive_run_composes_its_progressive_modules_after_the_first() {
        let layout = RunLayout::new(
            Path::new("/r"),
            &config("module_training = \"progressive\"\n"),
        )
        .unwrap();
        assert_eq!(
            layout.routed_module(0, 1, 0, "a").dir,
            Path::new("/r/modules/seed0/a")
        );
        assert_eq!(
            layout.routed_module(0, 1, 1, "b").dir,
            Path::new("/r/seed0-order1/progressive/b")
        );
        let isolated = RunLayout::new(Path::new("/r"), &config("")).unwrap();
        assert_eq!(
            isolated.routed_module(0, 1, 1, "b").dir,
            Path::new("/r/modules/seed0/b")
        );
    }

    #[test]
    fn modules_go_to_the_cache_when_there_is_one() {
        let layout =
            RunLayout::new(Path::new("/r"), &config("module_cache = \"/cache\"\n")).unwrap();
        assert!(
            layout.modules(3).starts_with("/cache"),
            "{:?}",
            layout.modules(3)
        );
        assert!(layout.modules(3).ends_with("seed3"));
    }

    #[test]
    fn the_latest_fitted_step_needs_both_routers_and_evaluation() {
        let dir = tempfile::tempdir().unwrap();
        let layout = RunLayout::new(dir.path(), &config("")).unwrap();
        let sequence = layout.sequence(0, 0);
        assert!(sequence.latest_fitted_step().is_err());
        std::fs::create_dir_all(sequence.dir()).unwrap();
        for k in 0..2 {
            std::fs::write(sequence.router(k), b"").unwrap();
            std::fs::write(sequence.evaluation(k), b"").unwrap();
        }
        std::fs::write(sequence.router(2), b"").unwrap();
        assert_eq!(sequence.latest_fitted_step().unwrap(), 1);
    }
}
