//! Arrow routing (Ostapenko et al., ICML 2024, "Towards modular LLMs by building and re-using a library of LoRAs";
//! docs/design.md, "Baselines"): zero-shot, no data. At every LoRA site, each task's prototype is the top right
//! singular vector of its update ΔW = B·A; each token x is routed by |⟨x, v_t⟩| over the tasks, kept for the top-k
//! and softmax-normalised, and the site adds Σ_t w_t · ΔW_t x. Arrow is defined for LoRA modules only.

use super::routing::{ModuleWeights, RoutingBaseline};
use crate::backbone::{EncoderHooks, LinearSite};
use crate::compose::{Decision, ModuleStack};
use crate::embedded::Features;
use crate::error::{Error, Result};
use crate::metrics::{Approach, Setup};
use candle_core::{Tensor, D};
use nalgebra::DMatrix;
use std::collections::HashMap;

/// Tasks each token is routed to (Arrow's top-k); with the few tasks of a benchmark, the two best.
pub const ARROW_TOP_K: usize = 2;

pub struct ArrowRouting<'a> {
    stack: &'a ModuleStack,
    /// Per LoRA site: the tasks' prototypes (T, in).
    prototypes: HashMap<(usize, LinearSite), Tensor>,
    top_k: usize,
}

impl<'a> ArrowRouting<'a> {
    /// Prototypes of every LoRA site of `stack`; an error when the modules are not LoRA.
    pub fn new(stack: &'a ModuleStack, top_k: usize) -> Result<Self> {
        if stack.loras.is_empty() {
            return Err(Error::invalid(
                "Arrow routes LoRA modules; these modules have no LoRA site (use `[module] type = \"lora\"`)",
            ));
        }
        if top_k == 0 {
            return Err(Error::invalid("Arrow's top_k must be at least 1"));
        }
        let mut prototypes = HashMap::new();
        for (&key, lora) in &stack.loras {
            let rows = (0..stack.num_modules)
                .map(|t| top_right_singular_vector(&lora.a.get(t)?, &lora.b.get(t)?))
                .collect::<Result<Vec<_>>>()?;
            prototypes.insert(key, Tensor::stack(&rows, 0)?);
        }
        Ok(ArrowRouting {
            stack,
            prototypes,
            top_k,
        })
    }

    /// Per-token weights (n, T): softmax over the top-k of |⟨x, v_t⟩|, zero elsewhere.
    fn token_weights(&self, x: &Tensor, prototypes: &Tensor) -> candle_core::Result<Tensor> {
        let scores = x.matmul(&prototypes.t()?)?.abs()?; // (n, T)
        let t = scores.dim(1)?;
        let k = self.top_k.min(t);
        if k == t {
            return candle_nn::ops::softmax(&scores, D::Minus1);
        }
        // Scores below each row's k-th largest are masked out before the softmax.
        let sorted = scores.sort_last_dim(false)?.0;
        let kth = sorted.narrow(1, k - 1, 1)?;
        let keep = scores.broadcast_ge(&kth)?;
        let masked = keep.where_cond(
            &scores,
            &Tensor::full(f32::NEG_INFINITY, scores.shape(), x.device())?,
        )?;
        candle_nn::ops::softmax(&masked, D::Minus1)
    }
}

impl RoutingBaseline for ArrowRouting<'_> {
    fn setups(&self) -> Vec<(Setup, Decision)> {
        vec![
            (Setup::til(Approach::Arrow), Decision::OwnHead),
            (Setup::cil(Approach::Arrow), Decision::AllHeads),
        ]
    }

    fn weights(&self, _features: &Features) -> Result<ModuleWeights<'_>> {
        Ok(ModuleWeights::PerToken(self))
    }
}

impl EncoderHooks for ArrowRouting<'_> {
    fn linear_delta(
        &self,
        layer: usize,
        site: LinearSite,
        input: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (Some(lora), Some(prototypes)) = (
            self.stack.loras.get(&(layer, site)),
            self.prototypes.get(&(layer, site)),
        ) else {
            return Ok(None);
        };
        let (b, seq, d) = input.dims3()?;
        let (t, r, _) = lora.a.dims3()?;
        let x = input.reshape((b * seq, d))?;
        let w = self.token_weights(&x, prototypes)?; // (n, T)
        let low = x.matmul(&lora.a.reshape((t * r, d))?.t()?)?; // (n, T·r)
        let low = low
            .reshape((b * seq, t, r))?
            .transpose(0, 1)?
            .contiguous()?;
        let out = low.matmul(&lora.b.transpose(1, 2)?)?; // (T, n, out)
        let weighted = out.broadcast_mul(&w.t()?.unsqueeze(2)?)?.sum(0)?; // (n, out)
        let out_dim = weighted.dim(1)?;
        Ok(Some((weighted.reshape((b, seq, out_dim))? * lora.scale)?))
    }
}

/// The unit top right singular vector of B·A for A (r, in), B (out, r), from r-sized factors: with Aᵀ = Q R,
/// B·A = (B Rᵀ) Qᵀ, so if B Rᵀ = U S Wᵀ the right singular vectors of B·A are Q W.
fn top_right_singular_vector(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (r, input) = a.dims2()?;
    let out = b.dim(0)?;
    let a_t = DMatrix::from_row_slice(r, input, &a.flatten_all()?.to_vec1::<f32>()?)
        .cast::<f64>()
        .transpose();
    let b = DMatrix::from_row_slice(out, r, &b.flatten_all()?.to_vec1::<f32>()?).cast::<f64>();
    let qr = a_t.qr();
    let (q, rr) = (qr.q(), qr.r());
    let svd = (b * rr.transpose()).svd(false, true);
    let w_t = svd
        .v_t
        .ok_or_else(|| Error::invalid("Arrow: the SVD of a LoRA update failed"))?;
    let largest = svd.singular_values.imax();
    let v = q * w_t.row(largest).transpose();
    Ok(Tensor::from_vec(
        v.iter().map(|&x| x as f32).collect(),
        input,
        a.device(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_prototype_is_the_top_right_singular_vector_of_the_update() {
        // B·A = 3·e0 ⊗ u + 1·e1 ⊗ w with unit u ⟂ w: the top right singular vector is ±u.
        let u = [0.6f32, 0.8, 0.0];
        let w = [0.0f32, 0.0, 1.0];
        let a = Tensor::new(&[u, w], &Device::Cpu).unwrap(); // (r = 2, in = 3)
        let b = Tensor::new(
            &[[3f32, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]],
            &Device::Cpu,
        )
        .unwrap();
        let v = top_right_singular_vector(&a, &b)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let dot: f32 = v.iter().zip(u).map(|(a, b)| a * b).sum();
        assert!((dot.abs() - 1.0).abs() < 1e-5, "{v:?}");
    }
}
