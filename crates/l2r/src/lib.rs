//! l2r — Learning to Route: continual text classification with a frozen encoder, one PEFT module per task,
//! and learned routers that compose the modules. See `shared/design.md` for the method.

pub mod assets;
pub mod backbone;
pub mod data;
pub mod error;
pub mod head;
pub mod init;
pub mod io;
pub mod metrics;
pub mod peft;
pub mod train;

pub use error::{Error, Result};
