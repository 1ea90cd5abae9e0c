//! The network of routers: per insertion point, gate logits over the modules seen so far, fitted on the memory.

mod centroid;
mod config;
mod fit;
mod gates;
mod local;
mod network;
mod prior;

pub use centroid::{CentroidWeights, DAM_TEMPERATURE, DAM_TOP_K};
pub use config::{FitSchedule, GateKind, RouterConfig, RouterInput, RouterObjective, RouterScope};
pub use fit::{fit_router, FitReport, MemoryBatch};
pub use gates::RouterWeights;
pub use local::{adapt_router, nearest_memory, LocalAdaptation};
pub use network::RouterNetwork;
pub use prior::{PriorReference, SimilarityPrior};
