//! LoRA on one frozen linear: `delta = (alpha / rank) · (x Aᵀ) Bᵀ`, with B zero-initialised (identity at start)
//! and A Kaiming-uniform as in HF PEFT.

use crate::kernels::on_rows;
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

pub struct LoraLinear {
    pub a: Tensor,
    pub b: Tensor,
    pub scale: f64,
}

impl LoraLinear {
    /// Creates `lora_A.weight` (rank, in) and `lora_B.weight` (out, rank) under `vb`.
    pub fn new(
        vb: VarBuilder,
        in_dim: usize,
        out_dim: usize,
        rank: usize,
        alpha: f64,
    ) -> Result<Self> {
        // lora_A is drawn by `PeftModule::new` from the run's seed (see `initial_bound`).
        Ok(LoraLinear {
            a: vb.get_with_hints((rank, in_dim), "lora_A.weight", Init::Const(0.0))?,
            b: vb.get_with_hints((out_dim, rank), "lora_B.weight", Init::Const(0.0))?,
            scale: alpha / rank as f64,
        })
    }

    pub fn delta(&self, x: &Tensor) -> Result<Tensor> {
        // Scaling B (out × rank) rather than the delta (tokens × out) saves two passes over the delta, forward
        // and backward.
        let scaled_b = (&self.b * self.scale)?;
        on_rows(x, |rows| rows.matmul(&self.a.t()?)?.matmul(&scaled_b.t()?))
    }
}
