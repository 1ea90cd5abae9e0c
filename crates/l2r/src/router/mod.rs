//! The network of routers: per insertion point, gate logits over the modules seen so far, fitted on the memory.
//! Files in reading order (each imports only those before it): config → prior → standardise → within_task →
//! class_scores → network → gates → fit → local.

mod class_scores;
mod config;
mod fit;
mod gates;
mod local;
mod network;
mod prior;
mod standardise;
mod within_task;

pub use class_scores::ClassScores;
pub use config::{
    CalibrateOn, FitSchedule, GateKind, LocalAdaptation, PriorFit, PriorReference, RouterConfig,
    RouterInput, RouterObjective, RouterScope, WarmFit,
};
pub use fit::{fit_router, fit_router_from, FitReport, PriorSources, WarmStart};
pub use gates::{GateNoise, RouterWeights};
pub use local::{adapt_router, nearest_memory};
pub use network::RouterNetwork;
pub use prior::SimilarityPrior;
pub use standardise::InputStandardisation;
pub use within_task::{WithinTask, WithinTaskFit, WithinTaskWeights};
