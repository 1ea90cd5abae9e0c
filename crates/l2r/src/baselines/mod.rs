//! The methods L2R is compared with, in the same framework (same backbone, modules, memory and splits;
//! docs/design.md, "Baselines"). Every routing baseline implements [`RoutingBaseline`]: per-example weights over
//! the modules plus the decision rules of its setups; [`step_baselines`] builds them all for one step.

mod arrow;
mod config;
mod dam;
mod epi;
mod mocl;
mod routing;
mod step;
mod task_stats;
mod uniform;

pub use arrow::{ArrowRouting, ARROW_TOP_K};
pub use config::BaselinesConfig;
pub use dam::{CentroidWeights, Dam, DAM_TEMPERATURE, DAM_TOP_K};
pub use epi::{EpiIdentifier, EpiTask};
pub use mocl::{train_key, KeyTraining, Mocl, MoclWeights, MOCL_SCALE};
pub use routing::{ModuleWeights, RoutingBaseline};
pub use step::step_baselines;
pub use task_stats::{stacked_keys, TaskStatistics};
pub use uniform::Uniform;
