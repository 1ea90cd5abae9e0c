//! l2r — Learning to Route: continual text classification with a frozen encoder, one PEFT module per task,
//! and learned routers that compose the modules. See docs/design.md, "The method".

pub mod assets;
pub mod backbone;
pub mod baselines;
pub mod compare;
pub mod compose;
pub mod continual;
pub mod data;
pub mod device;
pub mod embedded;
pub mod error;
pub mod faults;
pub mod hash;
pub mod head;
pub mod init;
pub mod io;
pub mod kernels;
pub mod library;
pub mod memory;
pub mod metrics;
pub mod names;
pub mod peft;
pub mod predict;
pub mod report;
pub mod router;
pub mod statistics;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod train;

pub use error::{Error, Result};
