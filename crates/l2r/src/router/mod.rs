//! The network of routers: per insertion point, gate logits over the modules seen so far, fitted on the memory.

mod config;
mod fit;
mod gates;
mod network;

pub use config::{GateKind, RouterConfig, RouterInput, RouterScope};
pub use fit::{concatenated_logits, fit_router, label_offsets, FitReport, MemoryBatch};
pub use gates::RouterWeights;
pub use network::RouterNetwork;
