//! Hand-written CPU ops where candle's generic ones waste work (forward/backward pairs, llm.c style).

mod cpu;
mod frozen_linear;
mod layer_norm;
#[cfg(test)]
mod testing;

pub use frozen_linear::frozen_matmul;
pub use layer_norm::{add_layer_norm, layer_norm};
