//! Standardising the [CLS] states that `input = "layer_cls"` routers read: per layer, minus the memory's mean, over
//! the memory's per-dimension spread, and scaled to unit expected norm.
//!
//! Why: a BERT [CLS] state is mostly one direction shared by every input, with a few dimensions far larger than the
//! rest. Fitted raw, with Adam and zero-initialised routers, every step moves each gate logit by about
//! `learning rate × Σ|q_i|` along that shared direction, the same for every example: within a few steps the gates
//! saturate to one pattern for all inputs and their gradient vanishes (every example's largest gate on the same
//! module). Centred and scaled, what is left is what tells inputs apart, at the scale of the other router inputs
//! (each of their parts has unit norm).

use crate::compose::{LayerWeights, Routed};
use crate::embedded::EmbeddedExamples;
use crate::error::{Error, Result};
use candle_core::{DType, IndexOp, Tensor};
use std::cell::RefCell;
use std::collections::HashMap;

/// A dimension whose spread over the memory is below this is constant (the [CLS] embedding entering layer 0 is the
/// same for every input): it is centred and then multiplied by zero, never divided by a rounding error.
const CONSTANT_SPREAD: f64 = 1e-4;

/// Examples per forward pass when measuring the memory's [CLS] states.
const BATCH: usize = 32;

#[derive(Debug, Clone)]
pub struct InputStandardisation {
    /// Per layer: the memory's mean [CLS] state entering it (d).
    means: Vec<Tensor>,
    /// Per layer: 1 / (spread · √d) per dimension, 0 where the spread is constant (d).
    scales: Vec<Tensor>,
}

impl InputStandardisation {
    /// Measures the [CLS] state entering every layer on the memory, with every module weighted equally (the routers'
    /// starting point; the states the routers see later differ only by what the modules add).
    pub fn measure(routed: &Routed, memory: &EmbeddedExamples) -> Result<Self> {
        if memory.is_empty() {
            return Err(Error::invalid(
                "cannot standardise the routers' input on an empty memory",
            ));
        }
        let num_tasks = routed.num_tasks();
        let recorder = ClsRecorder {
            num_tasks,
            states: RefCell::new(HashMap::new()),
        };
        let rows: Vec<usize> = (0..memory.len()).collect();
        for chunk in rows.chunks(BATCH) {
            let ids: Vec<&[u32]> = chunk.iter().map(|&i| memory.ids[i].as_slice()).collect();
            let batch = routed.backbone.tokenizer.pad(&ids)?;
            routed.head_logits(&batch, &recorder)?;
        }
        let num_layers = routed.backbone.encoder.num_layers();
        let states = recorder.states.into_inner();
        let (mut means, mut scales) = (Vec::with_capacity(num_layers), Vec::new());
        for layer in 0..num_layers {
            let cls = Tensor::cat(
                states.get(&layer).ok_or_else(|| {
                    Error::invalid(format!("no [CLS] state reached layer {layer}"))
                })?,
                0,
            )?
            .to_dtype(DType::F64)?;
            let (mean, scale) = mean_and_scale(&cls)?;
            means.push(mean);
            scales.push(scale);
        }
        Ok(InputStandardisation { means, scales })
    }

    /// `(q − mean) · scale` for the [CLS] states `q` (batch, d) entering `layer`.
    pub fn apply(&self, layer: usize, q: &Tensor) -> Result<Tensor> {
        let (mean, scale) = match (self.means.get(layer), self.scales.get(layer)) {
            (Some(mean), Some(scale)) => (mean, scale),
            _ => {
                return Err(Error::invalid(format!(
                    "the routers' input standardisation has {} layers, not layer {layer}",
                    self.means.len()
                )))
            }
        };
        Ok(q.broadcast_sub(mean)?.broadcast_mul(scale)?)
    }

    /// The tensors to save, named `input.{layer}.mean` and `input.{layer}.scale`.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        let mut tensors = Vec::with_capacity(2 * self.means.len());
        for (layer, (mean, scale)) in self.means.iter().zip(&self.scales).enumerate() {
            tensors.push((format!("input.{layer}.mean"), mean.clone()));
            tensors.push((format!("input.{layer}.scale"), scale.clone()));
        }
        tensors
    }

    /// The standardisation saved by [`InputStandardisation::tensors`] for `num_layers` layers, if it was saved.
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, num_layers: usize) -> Option<Self> {
        let get = |name: String| tensors.get(&name)?.to_dtype(DType::F32).ok();
        let mut standardisation = InputStandardisation {
            means: Vec::with_capacity(num_layers),
            scales: Vec::with_capacity(num_layers),
        };
        for layer in 0..num_layers {
            standardisation
                .means
                .push(get(format!("input.{layer}.mean"))?);
            standardisation
                .scales
                .push(get(format!("input.{layer}.scale"))?);
        }
        Some(standardisation)
    }
}

/// The mean (d) of the rows of `states` (n, d), and 1 / (standard deviation · √d) per dimension, 0 where constant.
fn mean_and_scale(states: &Tensor) -> Result<(Tensor, Tensor)> {
    let dim = states.dim(1)?;
    let mean = states.mean(0)?;
    let spread = states
        .broadcast_sub(&mean)?
        .sqr()?
        .mean(0)?
        .sqrt()?
        .to_vec1::<f64>()?;
    let scale: Vec<f32> = spread
        .iter()
        .map(|&s| match s > CONSTANT_SPREAD {
            true => (1.0 / (s * (dim as f64).sqrt())) as f32,
            false => 0.0,
        })
        .collect();
    Ok((
        mean.to_dtype(DType::F32)?,
        Tensor::from_vec(scale, dim, mean.device())?,
    ))
}

/// Equal module weights at every layer, keeping the [CLS] state that enters each.
struct ClsRecorder {
    num_tasks: usize,
    states: RefCell<HashMap<usize, Vec<Tensor>>>,
}

impl LayerWeights for ClsRecorder {
    fn weights(&self, layer: usize, hidden: &Tensor) -> candle_core::Result<Tensor> {
        let cls = hidden.i((.., 0, ..))?.contiguous()?.detach();
        self.states.borrow_mut().entry(layer).or_default().push(cls);
        Tensor::full(
            1.0 / self.num_tasks as f32,
            (hidden.dim(0)?, self.num_tasks),
            hidden.device(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn centres_scales_to_unit_norm_and_zeroes_constant_dimensions() {
        // Dimension 0 varies, dimension 1 is the same for every row (a shared direction), dimension 2 varies widely.
        let states = Tensor::new(
            &[[1f64, 5.0, 100.0], [3.0, 5.0, -100.0], [2.0, 5.0, 0.0]],
            &Device::Cpu,
        )
        .unwrap();
        let (mean, scale) = mean_and_scale(&states).unwrap();
        let standardisation = InputStandardisation {
            means: vec![mean],
            scales: vec![scale],
        };
        let q = states.to_dtype(DType::F32).unwrap();
        let out = standardisation
            .apply(0, &q)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for row in &out {
            assert_eq!(row[1], 0.0, "a constant dimension carries nothing");
        }
        // Each varying dimension has spread 1/√3 afterwards, whatever its raw scale.
        for d in [0, 2] {
            let spread = (out.iter().map(|r| r[d] * r[d]).sum::<f32>() / 3.0).sqrt();
            assert!(
                (spread - 1.0 / 3f32.sqrt()).abs() < 1e-5,
                "dim {d}: {spread}"
            );
        }
        assert!(standardisation.apply(1, &q).is_err());

        let saved: HashMap<String, Tensor> = standardisation.tensors().into_iter().collect();
        let loaded = InputStandardisation::from_tensors(&saved, 1).unwrap();
        let again = loaded.apply(0, &q).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(again, out, "saved and loaded, it standardises the same way");
        assert!(
            InputStandardisation::from_tensors(&saved, 2).is_none(),
            "a layer without its tensors means no standardisation was saved"
        );
    }
}
