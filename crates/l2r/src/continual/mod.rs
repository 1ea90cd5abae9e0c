//! The continual-learning run: for each task in order, train its module in isolation, add its memory, fit
//! the routers on the memory of all tasks so far, and evaluate every task seen so far (TIL and CIL).

mod config;
mod evaluate;
mod run;
mod shared_module;

pub use config::{MemoryConfig, ModuleTraining, RunConfig, TaskFileFormat, UserTask};
pub use evaluate::{evaluate_step, SeenTasks, StepEvaluation, BASELINE_SETUPS};
pub use run::{run, RunSummary};
