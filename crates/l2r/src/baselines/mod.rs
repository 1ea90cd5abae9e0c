//! The methods L2R is compared with, in the same framework (same backbone, modules, memory and splits;
//! design.md §1). DAM-style centroid routing lives in [`crate::router::CentroidWeights`].

mod arrow;
mod config;
mod epi;
mod mocl;
mod task_stats;

pub use arrow::{ArrowRouting, ARROW_TOP_K};
pub use config::BaselinesConfig;
pub use epi::{EpiIdentifier, EpiTask};
pub use mocl::{train_key, KeyTraining, MoclWeights, MOCL_SCALE};
pub use task_stats::{stacked_keys, TaskStatistics};
