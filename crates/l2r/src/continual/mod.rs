//! The continual-learning run: for each task in order, train its module in isolation, add its memory, fit
//! the routers on the memory of all tasks so far, and evaluate every task seen so far (TIL and CIL).
//! Files in reading order: config → layout → evaluation → evaluate (→ export) → modules → within_task → sequence / shared_module → summary
//! → run.

pub(crate) mod config;
mod evaluate;
mod evaluation;
mod export;
mod layout;
mod modules;
mod run;
mod sequence;
mod shared_module;
mod summary;
mod within_task;

pub(crate) use config::check_gaussian_prior;
pub use config::{
    EvaluationSplit, MemoryConfig, ModuleTraining, RunConfig, TaskFileFormat, UserTask,
};
pub use evaluate::{evaluate_step, SeenTasks};
pub use evaluation::StepEvaluation;
pub use layout::{RunLayout, SequenceLayout};
pub use modules::{embed, ensure_trained, statistics_at, train_features, TrainingStart};
pub use run::run;
pub(crate) use sequence::prior_sources;
pub use summary::{RunSummary, SequenceMetrics};
