//! The methods L2R is compared with, in the same framework (same backbone, modules, memory and splits;
//! docs/design.md, "Baselines"). Routing baselines implement [`RoutingBaseline`]: per-example weights over the
//! modules plus the decision rules of their setups. Training-free classifiers implement [`ClassScorer`]: class
//! scores from the tasks' statistics alone, no module. [`step_baselines`] builds them all for one step.

mod arrow;
mod class_scorer;
mod config;
mod dam;
mod epi;
mod lda;
mod mocl;
mod nearest_mean;
mod ridge;
mod routing;
mod step;
mod step_statistics;
mod task_stats;
mod uniform;

pub use arrow::{ArrowRouting, ARROW_TOP_K};
pub use class_scorer::ClassScorer;
pub use config::BaselinesConfig;
pub use dam::{CentroidWeights, Dam, DAM_TEMPERATURE, DAM_TOP_K};
pub use epi::EpiIdentifier;
pub use lda::Lda;
pub use mocl::{train_key, KeyTraining, Mocl, MoclWeights, MOCL_SCALE};
pub use nearest_mean::NearestMean;
pub use ridge::Ridge;
pub use routing::{ModuleWeights, RoutingBaseline};
pub use step::{step_baselines, StepBaselines};
pub use step_statistics::StepStatistics;
pub use task_stats::{
    class_gaussians, ridge_classifier, ridge_classifier_without, shared_gaussian,
    shared_gaussian_without, stacked_keys, RepresentationStatistics, TaskStatistics,
};
pub use uniform::Uniform;
