//! The encoder hooks of a routed forward pass: at each layer, per-example weights over the modules
//! (from a router), then the weighted average of the modules' outputs or of their parameters.

use super::stack::{AdapterStack, LoraStack, ModuleStack};
use super::CompositionMode;
use crate::backbone::{EncoderHooks, LinearSite};
use crate::kernels::{self, FrozenBf16Weight};
use candle_core::{Result, Tensor};
use std::cell::RefCell;
use std::rc::Rc;

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
    current: RefCell<Option<Rc<LayerWeightsNow>>>,
}

/// The current layer's module weights, and their grouping by module when they are sparse (wavg only), worked out
/// once per layer for every module site in it (a LoRA layer has several).
struct LayerWeightsNow {
    dense: Tensor,
    sparse: Option<SparseWeights>,
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

    fn weights(&self) -> Result<Rc<LayerWeightsNow>> {
        self.current.borrow().clone().ok_or_else(|| {
            candle_core::Error::Msg("composition used before its first layer".into())
        })
    }
}

impl EncoderHooks for Composition<'_> {
    fn begin_layer(&self, layer: usize, hidden: &Tensor) -> Result<()> {
        let dense = self.source.weights(layer, hidden)?;
        let sparse = match self.mode {
            CompositionMode::Wavg => SparseWeights::of(&dense)?,
            CompositionMode::Merge => None,
        };
        *self.current.borrow_mut() = Some(Rc::new(LayerWeightsNow { dense, sparse }));
        Ok(())
    }

    fn after_feed_forward(&self, layer: usize, hidden: &Tensor) -> Result<Tensor> {
        match self.stack.adapters.get(&layer) {
            Some(adapters) => {
                let w = self.weights()?;
                let residual = match (self.mode, &w.sparse) {
                    (CompositionMode::Wavg, Some(sparse)) => {
                        adapter_wavg_sparse(adapters, hidden, sparse)?
                    }
                    (CompositionMode::Wavg, None) => adapter_wavg(adapters, hidden, &w.dense)?,
                    (CompositionMode::Merge, _) => adapter_merge(adapters, hidden, &w.dense)?,
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
        let delta = match (self.mode, &w.sparse) {
            (CompositionMode::Wavg, Some(sparse)) => lora_wavg_sparse(lora, input, sparse)?,
            (CompositionMode::Wavg, None) => lora_wavg(lora, input, &w.dense)?,
            (CompositionMode::Merge, _) => lora_merge(lora, input, &w.dense)?,
        };
        Ok(Some(delta))
    }
}

/// Σₜ wₜ · upₜ(relu(downₜ(h))) for all T adapters in two matmuls. The weights scale each adapter's hidden
/// activations instead of its outputs, Σₜ wₜ (aₜ Uₜᵀ + cₜ) = [w₁a₁ … w_T a_T] · [U₁ … U_T]ᵀ + Σₜ wₜ cₜ, so the
/// up-projections of all adapters are one matmul with inner size T·size and no (T, batch, seq, d) tensor exists.
fn adapter_wavg(s: &AdapterStack, h: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (b, seq, d) = h.dims3()?;
    let (t, size, _) = s.down_weight.dims3()?;
    let flat = h.reshape((b * seq, d))?;
    let packed = s.bf16.as_ref();
    let down_weight = s.down_weight.reshape((t * size, d))?;
    let down = frozen_product(&flat, &down_weight, packed.map(|p| &p.down))?; // (b·seq, T·size)
    let down = down
        .reshape((b, seq, t, size))?
        .broadcast_add(&s.down_bias)?;
    let down = kernels::weighted_relu(&down, w)?; // each adapter's activations times its weight
    let down = down.reshape((b * seq, t * size))?;
    let up = frozen_product(&down, &s.up_concat, packed.map(|p| &p.up))?.reshape((b, seq, d))?;
    kernels::add_bias(&up, &w.matmul(&s.up_bias)?) // Σₜ wₜ cₜ per example
}

/// Module weights with few non-zero entries per example (top-k routing, one-hot baselines), grouped by module: for
/// every module some example chose, those examples (rows of the batch) and their weights. The weighted average then
/// runs each chosen module on its own rows only, k modules per example instead of all T.
struct SparseWeights {
    groups: Vec<ModuleRows>,
}

struct ModuleRows {
    module: usize,
    /// (n,) u32: the examples that chose the module.
    rows: Tensor,
    /// (n, 1): their weights for it (a slice of the router weights, so gradients flow).
    weights: Tensor,
}

impl SparseWeights {
    /// `Some` when no row has more than half of the modules non-zero (denser weights run faster as one matmul).
    fn of(w: &Tensor) -> Result<Option<Self>> {
        let (_, t) = w.dims2()?;
        let rows = w.to_vec2::<f32>()?;
        let widest = rows
            .iter()
            .map(|row| row.iter().filter(|&&v| v != 0.0).count())
            .max()
            .unwrap_or(0);
        if 2 * widest.max(1) > t {
            return Ok(None);
        }
        let mut groups = Vec::new();
        for module in 0..t {
            let chosen: Vec<u32> = (0..rows.len() as u32)
                .filter(|&r| rows[r as usize][module] != 0.0)
                .collect();
            if chosen.is_empty() {
                continue;
            }
            let index = Tensor::new(chosen, w.device())?;
            groups.push(ModuleRows {
                module,
                weights: w.index_select(&index, 0)?.narrow(1, module, 1)?,
                rows: index,
            });
        }
        Ok(Some(SparseWeights { groups }))
    }

    /// Σ over chosen modules of `apply(module, rows of x) · weight`, added back at those rows: (b, seq, out).
    fn sum(
        &self,
        x: &Tensor,
        out: usize,
        apply: impl Fn(usize, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let (b, seq, d) = x.dims3()?;
        let mut outputs = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let n = group.rows.dim(0)?;
            let rows = x.index_select(&group.rows, 0)?.reshape((n * seq, d))?;
            outputs.push(
                apply(group.module, &rows)?
                    .reshape((n, seq, out))?
                    .broadcast_mul(&group.weights.unsqueeze(2)?)?,
            );
        }
        let rows: Vec<&Tensor> = self.groups.iter().map(|g| &g.rows).collect();
        // One scatter for every module's rows: an example's k outputs add up at its row.
        Tensor::zeros((b, seq, out), x.dtype(), x.device())?.index_add(
            &Tensor::cat(&rows, 0)?,
            &Tensor::cat(&outputs, 0)?,
            0,
        )
    }
}

/// [`adapter_wavg`] over each example's own few modules: Σₜ wₜ · upₜ(relu(downₜ(h))), module by module on the rows
/// that chose it.
fn adapter_wavg_sparse(s: &AdapterStack, h: &Tensor, sparse: &SparseWeights) -> Result<Tensor> {
    let d = h.dim(2)?;
    sparse.sum(h, d, |t, rows| {
        let down =
            kernels::frozen_linear(rows, &s.down_weight.get(t)?, Some(&s.down_bias.get(t)?))?;
        kernels::frozen_linear(
            &down.relu()?,
            &s.up_weight.get(t)?,
            Some(&s.up_bias.get(t)?),
        )
    })
}

/// [`lora_wavg`] over each example's own few modules: Σₜ wₜ (α/r) Bₜ Aₜ x, module by module.
fn lora_wavg_sparse(s: &LoraStack, x: &Tensor, sparse: &SparseWeights) -> Result<Tensor> {
    let out = s.b.dim(1)?;
    sparse.sum(x, out, |t, rows| {
        let low = (kernels::frozen_linear(rows, &s.a.get(t)?, None)? * s.scale)?;
        kernels::frozen_linear(&low, &s.b.get(t)?, None)
    })
}

/// `x Wᵀ` for a stack's frozen W (out, in): on its bf16 packing when the backbone runs in bf16. Either way a
/// frozen-linear op, whose backward computes only the input gradient (candle's matmul would also compute W's,
/// a wasted product per stack and layer in router fitting).
fn frozen_product(
    x: &Tensor,
    weight: &Tensor,
    packed: Option<&FrozenBf16Weight>,
) -> Result<Tensor> {
    match packed {
        Some(packed) => kernels::frozen_linear_bf16(x, packed, None),
        None => kernels::frozen_linear(x, weight, None),
    }
}

/// The adapter whose parameters are Σᵢ wᵢ θᵢ for each example, applied once.
fn adapter_merge(s: &AdapterStack, h: &Tensor, w: &Tensor) -> Result<Tensor> {
    let down_w = merge(&s.down_weight, w)?; // (b, size, d)
    let down_b = merge(&s.down_bias, w)?; // (b, size)
    let up_w = merge(&s.up_weight, w)?; // (b, d, size)
    let up_b = merge(&s.up_bias, w)?;
    let down = kernels::add_bias(&h.matmul(&down_w.transpose(1, 2)?)?, &down_b)?.relu()?;
    kernels::add_bias(&down.matmul(&up_w.transpose(1, 2)?)?, &up_b)
}

/// Σₜ wₜ Bₜ Aₜ x for all T LoRA modules in two matmuls: the weights scale the rank-r activations, so the Bₜ are
/// one matmul with inner size T·r. LoRA's alpha / r rides on the (b, T) weights rather than on the (b, seq, out)
/// delta, as `LoraLinear` scales B rather than its delta.
fn lora_wavg(s: &LoraStack, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (b, seq, d) = x.dims3()?;
    let (t, r, _) = s.a.dims3()?;
    let out_dim = s.b_concat.dim(0)?;
    let packed = s.bf16.as_ref();
    let flat = x.reshape((b * seq, d))?;
    let low = frozen_product(&flat, &s.a.reshape((t * r, d))?, packed.map(|p| &p.down))? // (b·seq, T·r)
        .reshape((b, seq, t, r))?
        .broadcast_mul(&(w * s.scale)?.reshape((b, 1, t, 1))?)?
        .reshape((b * seq, t * r))?;
    let delta = frozen_product(&low, &s.b_concat, packed.map(|p| &p.up))?;
    delta.reshape((b, seq, out_dim))
}

fn lora_merge(s: &LoraStack, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let a = merge(&s.a, &(w * s.scale)?)?; // (b, r, in), alpha / r included
    let b = merge(&s.b, w)?; // (b, out, r)
    x.matmul(&a.transpose(1, 2)?)?.matmul(&b.transpose(1, 2)?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::tiny::tiny_config;
    use crate::peft::{PeftConfig, PeftModule};
    use crate::testing::random_modules;
    use candle_core::Device;

    /// Three modules with every parameter non-zero, as after training.
    fn modules(config: &PeftConfig) -> Vec<PeftModule> {
        random_modules(config, &tiny_config(), 3, 0.2).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        crate::testing::max_diff(a, b).unwrap()
    }

    #[test]
    fn the_weighted_average_is_the_weighted_sum_of_each_modules_output() {
        let encoder = tiny_config();
        let w = Tensor::new(&[[0.2f32, 0.5, 0.3], [0.0, 0.9, 0.1]], &Device::Cpu).unwrap();
        let h = Tensor::randn(0f32, 1.0, (2, 5, encoder.hidden_size), &Device::Cpu).unwrap();
        let weighted = |outputs: Vec<Tensor>| {
            let rows = w.to_vec2::<f32>().unwrap();
            let mut total = outputs[0].zeros_like().unwrap();
            for (t, out) in outputs.iter().enumerate() {
                let wt: Vec<f32> = rows.iter().map(|r| r[t]).collect();
                let wt = Tensor::new(wt, &Device::Cpu)
                    .unwrap()
                    .reshape((2, 1, 1))
                    .unwrap();
                total = (total + out.broadcast_mul(&wt).unwrap()).unwrap();
            }
            total
        };

        let adapters = modules(&PeftConfig::Adapter { size: 4 });
        let refs: Vec<&PeftModule> = adapters.iter().collect();
        let stack = ModuleStack::new(&refs, encoder.num_hidden_layers).unwrap();
        let got = adapter_wavg(&stack.adapters[&0], &h, &w).unwrap();
        let residuals = adapters
            .iter()
            .map(|m| (m.after_feed_forward(0, &h).unwrap() - &h).unwrap())
            .collect();
        assert!(max_diff(&got, &weighted(residuals)) < 1e-5);

        let loras = modules(&PeftConfig::lora());
        let refs: Vec<&PeftModule> = loras.iter().collect();
        let stack = ModuleStack::new(&refs, encoder.num_hidden_layers).unwrap();
        let got = lora_wavg(&stack.loras[&(1, LinearSite::Value)], &h, &w).unwrap();
        let deltas = loras
            .iter()
            .map(|m| m.linear_delta(1, LinearSite::Value, &h).unwrap().unwrap())
            .collect();
        assert!(max_diff(&got, &weighted(deltas)) < 1e-5);
    }

    #[test]
    fn the_sparse_weighted_average_equals_the_dense_one() {
        let encoder = tiny_config();
        // Two non-zero weights in the first row, one in the second.
        let w = Tensor::new(
            &[[0.0f32, 0.6, 0.0, 0.4], [0.0, 0.0, 1.0, 0.0]],
            &Device::Cpu,
        )
        .unwrap();
        let sparse = SparseWeights::of(&w)
            .unwrap()
            .expect("2 of 4 modules per row is sparse");
        let chosen: Vec<(usize, Vec<u32>)> = sparse
            .groups
            .iter()
            .map(|g| (g.module, g.rows.to_vec1::<u32>().unwrap()))
            .collect();
        assert_eq!(chosen, [(1, vec![0]), (2, vec![1]), (3, vec![0])]);
        let h = Tensor::randn(0f32, 1.0, (2, 5, encoder.hidden_size), &Device::Cpu).unwrap();
        for config in [PeftConfig::Adapter { size: 4 }, PeftConfig::lora()] {
            let modules = random_modules(&config, &encoder, 4, 0.2).unwrap();
            let refs: Vec<&PeftModule> = modules.iter().collect();
            let stack = ModuleStack::new(&refs, encoder.num_hidden_layers).unwrap();
            let (dense, got) = match config {
                PeftConfig::Adapter { .. } => (
                    adapter_wavg(&stack.adapters[&0], &h, &w).unwrap(),
                    adapter_wavg_sparse(&stack.adapters[&0], &h, &sparse).unwrap(),
                ),
                PeftConfig::Lora { .. } => {
                    let site = (1, LinearSite::Value);
                    (
                        lora_wavg(&stack.loras[&site], &h, &w).unwrap(),
                        lora_wavg_sparse(&stack.loras[&site], &h, &sparse).unwrap(),
                    )
                }
            };
            assert!(max_diff(&got, &dense) < 1e-5, "{config:?}");
        }
        let dense = Tensor::new(&[[0.2f32, 0.3, 0.5, 0.0]], &Device::Cpu).unwrap();
        assert!(SparseWeights::of(&dense).unwrap().is_none());
    }

    #[test]
    fn the_bf16_weighted_average_stays_near_fp32() {
        if !crate::kernels::bf16_available() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        let encoder = tiny_config();
        let w = Tensor::new(&[[0.2f32, 0.5, 0.3], [0.0, 0.9, 0.1]], &Device::Cpu).unwrap();
        let h = Tensor::randn(0f32, 1.0, (2, 5, encoder.hidden_size), &Device::Cpu).unwrap();
        let scale = |t: &Tensor| {
            t.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        for config in [PeftConfig::Adapter { size: 4 }, PeftConfig::lora()] {
            let modules = modules(&config);
            let refs: Vec<&PeftModule> = modules.iter().collect();
            let fp32 = ModuleStack::new(&refs, encoder.num_hidden_layers).unwrap();
            let bf16 = ModuleStack::new(&refs, encoder.num_hidden_layers)
                .unwrap()
                .with_precision(crate::backbone::Precision::Bf16)
                .unwrap();
            let (want, got) = match config {
                PeftConfig::Adapter { .. } => (
                    adapter_wavg(&fp32.adapters[&0], &h, &w).unwrap(),
                    adapter_wavg(&bf16.adapters[&0], &h, &w).unwrap(),
                ),
                PeftConfig::Lora { .. } => {
                    let site = (1, LinearSite::Value);
                    (
                        lora_wavg(&fp32.loras[&site], &h, &w).unwrap(),
                        lora_wavg(&bf16.loras[&site], &h, &w).unwrap(),
                    )
                }
            };
            // bf16 keeps 8 mantissa bits of each input: errors of about 1% of the output's scale.
            assert!(max_diff(&got, &want) < 2e-2 * scale(&want).max(1e-3));
        }
    }
}
