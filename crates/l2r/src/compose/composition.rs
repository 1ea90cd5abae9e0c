//! The encoder hooks of a routed forward pass: at each layer, per-example weights over the modules
//! (from a router), then the weighted average of the modules' outputs or of their parameters.

use super::stack::{AdapterStack, LoraStack, ModuleStack};
use super::CompositionMode;
use crate::backbone::{EncoderHooks, LinearSite};
use candle_core::{Result, Tensor};
use std::cell::RefCell;

/// Where a layer's module weights come from: (batch, T) non-negative, rows summing to one.
pub trait LayerWeights {
    fn weights(&self, layer: usize, hidden: &Tensor) -> Result<Tensor>;
}

/// The same precomputed weights at every layer, or one tensor per layer.
pub struct FixedWeights(pub Vec<Tensor>);

impl LayerWeights for FixedWeights {
    fn weights(&self, layer: usize, _hidden: &Tensor) -> Result<Tensor> {
        Ok(self.0[layer.min(self.0.len() - 1)].clone())
    }
}

pub struct Composition<'a> {
    stack: &'a ModuleStack,
    mode: CompositionMode,
    source: &'a dyn LayerWeights,
    current: RefCell<Option<Tensor>>,
}

impl<'a> Composition<'a> {
    pub fn new(
        stack: &'a ModuleStack,
        mode: CompositionMode,
        source: &'a dyn LayerWeights,
    ) -> Self {
        Composition {
            stack,
            mode,
            source,
            current: RefCell::new(None),
        }
    }

    fn weights(&self) -> Result<Tensor> {
        self.current.borrow().clone().ok_or_else(|| {
            candle_core::Error::Msg("composition used before its first layer".into())
        })
    }
}

impl EncoderHooks for Composition<'_> {
    fn begin_layer(&self, layer: usize, hidden: &Tensor) -> Result<()> {
        *self.current.borrow_mut() = Some(self.source.weights(layer, hidden)?);
        Ok(())
    }

    fn after_feed_forward(&self, layer: usize, hidden: &Tensor) -> Result<Tensor> {
        match self.stack.adapters.get(&layer) {
            Some(adapters) => {
                let w = self.weights()?;
                let residual = match self.mode {
                    CompositionMode::Wavg => adapter_wavg(adapters, hidden, &w)?,
                    CompositionMode::Merge => adapter_merge(adapters, hidden, &w)?,
                };
                hidden + residual
            }
            None => Ok(hidden.clone()),
        }
    }

    fn linear_delta(
        &self,
        layer: usize,
        site: LinearSite,
        input: &Tensor,
    ) -> Result<Option<Tensor>> {
        let Some(lora) = self.stack.loras.get(&(layer, site)) else {
            return Ok(None);
        };
        let w = self.weights()?;
        let delta = match self.mode {
            CompositionMode::Wavg => lora_wavg(lora, input, &w)?,
            CompositionMode::Merge => lora_merge(lora, input, &w)?,
        };
        Ok(Some(delta))
    }
}

/// Σᵢ wᵢ · upᵢ(relu(downᵢ(h))), all T adapters in two batched matmuls.
fn adapter_wavg(s: &AdapterStack, h: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (b, seq, d) = h.dims3()?;
    let (t, size, _) = s.down_weight.dims3()?;
    let flat = h.reshape((b * seq, d))?;
    let down = flat.matmul(&s.down_weight.reshape((t * size, d))?.t()?)?; // (b·seq, T·size)
    let down = down
        .reshape((b * seq, t, size))?
        .broadcast_add(&s.down_bias)?
        .relu()?;
    let up = down
        .transpose(0, 1)?
        .contiguous()?
        .matmul(&s.up_weight.transpose(1, 2)?)?; // (T, b·seq, d)
    let up = up
        .broadcast_add(&s.up_bias.unsqueeze(1)?)?
        .reshape((t, b, seq, d))?;
    weighted_sum(&up, w)
}

/// The adapter whose parameters are Σᵢ wᵢ θᵢ for each example, applied once.
fn adapter_merge(s: &AdapterStack, h: &Tensor, w: &Tensor) -> Result<Tensor> {
    let down_w = merge(&s.down_weight, w)?; // (b, size, d)
    let down_b = merge(&s.down_bias, w)?.unsqueeze(1)?; // (b, 1, size)
    let up_w = merge(&s.up_weight, w)?; // (b, d, size)
    let up_b = merge(&s.up_bias, w)?.unsqueeze(1)?;
    let down = h
        .matmul(&down_w.transpose(1, 2)?)?
        .broadcast_add(&down_b)?
        .relu()?;
    down.matmul(&up_w.transpose(1, 2)?)?.broadcast_add(&up_b)
}

fn lora_wavg(s: &LoraStack, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (b, seq, d) = x.dims3()?;
    let (t, r, _) = s.a.dims3()?;
    let low = x
        .reshape((b * seq, d))?
        .matmul(&s.a.reshape((t * r, d))?.t()?)?; // (b·seq, T·r)
    let low = low
        .reshape((b * seq, t, r))?
        .transpose(0, 1)?
        .contiguous()?;
    let out = low.matmul(&s.b.transpose(1, 2)?)?; // (T, b·seq, out)
    let out_dim = out.dim(2)?;
    weighted_sum(&out.reshape((t, b, seq, out_dim))?, w)? * s.scale
}

fn lora_merge(s: &LoraStack, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let a = merge(&s.a, w)?; // (b, r, in)
    let b = merge(&s.b, w)?; // (b, out, r)
    x.matmul(&a.transpose(1, 2)?)?.matmul(&b.transpose(1, 2)?)? * s.scale
}

/// Σₜ w[:, t] · values[t] for values (T, b, seq, d) and w (b, T): (b, seq, d).
fn weighted_sum(values: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (t, b) = (values.dim(0)?, values.dim(1)?);
    let w = w.t()?.reshape((t, b, 1, 1))?;
    values.broadcast_mul(&w)?.sum(0)
}

/// Per-example parameters Σₜ w[b, t] · stacked[t]: (T, ...) with w (b, T) -> (b, ...).
fn merge(stacked: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = stacked.dims().to_vec();
    let rest: usize = dims[1..].iter().product();
    let merged = w.matmul(&stacked.reshape((dims[0], rest))?)?;
    let mut shape = vec![w.dim(0)?];
    shape.extend_from_slice(&dims[1..]);
    merged.reshape(shape)
}
