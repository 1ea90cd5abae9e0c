//! Hand-written CPU ops where candle's generic ones waste work (forward/backward pairs, llm.c style). On another
//! device each runs as the candle composition of `composed`, which the kernel's tests check it against.

mod attention;
mod bf16_gemm;
mod bias;
mod composed;
mod cpu;
mod fma_peak;
mod frozen_linear;
mod gelu;
mod layer_norm;
mod math;
mod rows;
mod softmax;
mod weighted_relu;

pub use attention::attention;
pub use bf16_gemm::bf16_available;
pub use bias::add_bias;
pub use fma_peak::{measure_fma_peak, FmaPeak};
pub use frozen_linear::{frozen_linear, frozen_linear_bf16, FrozenBf16Weight};
pub use gelu::gelu_erf;
pub use layer_norm::{add_layer_norm, layer_norm};
pub use rows::on_rows;
pub use weighted_relu::weighted_relu;
