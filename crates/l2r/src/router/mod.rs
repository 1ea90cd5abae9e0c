//! The network of routers: per insertion point, gate logits over the modules seen so far, fitted on the memory.

mod config;
mod fit;
mod gates;
mod network;

pub use config::{GateKind, RouterConfig, RouterInput, RouterScope};
pub use fit::{fit_router, FitReport, MemoryBatch};
pub use gates::RouterWeights;
pub use network::RouterNetwork;
