//! The frozen parameters of T same-shaped modules stacked along a leading task axis, detached from the
//! variables they came from (so fitting a router never computes gradients for the modules).

use crate::backbone::{Backbone, LinearSite, Precision};
use crate::error::{Error, Result};
use crate::kernels::FrozenBf16Weight;
use crate::peft::{PeftConfig, PeftModule};
use candle_core::Tensor;
use std::collections::HashMap;

/// Per layer: down (T, size, d), down bias (T, size), up (T, d, size), up bias (T, d), and the up-projections
/// side by side, [U₁ … U_T] (d, T·size), for the weighted average in one matmul.
pub struct AdapterStack {
    pub down_weight: Tensor,
    pub down_bias: Tensor,
    pub up_weight: Tensor,
    pub up_bias: Tensor,
    pub up_concat: Tensor,
    /// The two matmuls of the weighted average in bf16, when the backbone runs in bf16.
    pub bf16: Option<StackedBf16>,
}

/// A stack's two weighted-average matmuls packed in bf16: the down-projections (T·inner, in) and the
/// up-projections side by side (out, T·inner). The modules are frozen wherever a stack is used.
pub struct StackedBf16 {
    pub down: FrozenBf16Weight,
    pub up: FrozenBf16Weight,
}

impl StackedBf16 {
    /// From `down` (T, inner, in) and `up_concat` (out, T·inner).
    fn new(down: &Tensor, up_concat: &Tensor) -> Result<Self> {
        let (t, inner, input) = down.dims3()?;
        Ok(StackedBf16 {
            down: FrozenBf16Weight::new(&down.reshape((t * inner, input))?)?,
            up: FrozenBf16Weight::new(up_concat)?,
        })
    }
}

/// Per (layer, site): A (T, r, in), B (T, out, r), [B₁ … B_T] (out, T·r), and the common scale alpha / r.
pub struct LoraStack {
    pub a: Tensor,
    pub b: Tensor,
    pub b_concat: Tensor,
    pub scale: f64,
    /// A (T·r, in) and [B₁ … B_T] in bf16, when the backbone runs in bf16.
    pub bf16: Option<StackedBf16>,
}

/// (T, rows, cols) -> (rows, T·cols): the T matrices side by side.
fn side_by_side(stacked: &Tensor) -> Result<Tensor> {
    let (t, rows, cols) = stacked.dims3()?;
    Ok(stacked
        .transpose(0, 1)?
        .contiguous()?
        .reshape((rows, t * cols))?)
}

pub struct ModuleStack {
    pub num_modules: usize,
    pub adapters: HashMap<usize, AdapterStack>,
    pub loras: HashMap<(usize, LinearSite), LoraStack>,
}

impl ModuleStack {
    /// Stacks `modules`, which must all have the same configuration.
    pub fn new(modules: &[&PeftModule], num_layers: usize) -> Result<Self> {
        let first = modules
            .first()
            .ok_or_else(|| Error::invalid("no modules to compose"))?;
        if let Some(other) = modules.iter().find(|m| m.config != first.config) {
            return Err(Error::invalid(format!(
                "cannot compose modules of different configurations: {:?} and {:?}",
                first.config, other.config
            )));
        }
        let mut stack = ModuleStack {
            num_modules: modules.len(),
            adapters: HashMap::new(),
            loras: HashMap::new(),
        };
        for layer in 0..num_layers {
            match &first.config {
                PeftConfig::Adapter { .. } => {
                    let parts: Vec<_> = modules.iter().filter_map(|m| m.adapter(layer)).collect();
                    if parts.len() == modules.len() {
                        let stacked =
                            |f: &dyn Fn(usize) -> Tensor| stack_detached(modules.len(), f);
                        let up_weight = stacked(&|i| parts[i].up_weight.clone())?;
                        stack.adapters.insert(
                            layer,
                            AdapterStack {
                                down_weight: stacked(&|i| parts[i].down_weight.clone())?,
                                down_bias: stacked(&|i| parts[i].down_bias.clone())?,
                                up_concat: side_by_side(&up_weight)?,
                                up_weight,
                                up_bias: stacked(&|i| parts[i].up_bias.clone())?,
                                bf16: None,
                            },
                        );
                    }
                }
                PeftConfig::Lora { targets, .. } => {
                    for &site in targets {
                        let parts: Vec<_> =
                            modules.iter().filter_map(|m| m.lora(layer, site)).collect();
                        if parts.len() == modules.len() {
                            let stacked =
                                |f: &dyn Fn(usize) -> Tensor| stack_detached(modules.len(), f);
                            let b = stacked(&|i| parts[i].b.clone())?;
                            stack.loras.insert(
                                (layer, site),
                                LoraStack {
                                    a: stacked(&|i| parts[i].a.clone())?,
                                    b_concat: side_by_side(&b)?,
                                    b,
                                    scale: parts[0].scale,
                                    bf16: None,
                                },
                            );
                        }
                    }
                }
            }
        }
        Ok(stack)
    }

    /// Packs the weighted average's matmuls in bf16 for a backbone running in `precision` (see
    /// [`Backbone::with_precision`](crate::backbone::Backbone::with_precision)); fp32 leaves the stack as it is.
    /// The stack of `modules` for `backbone`: one slice per encoder layer, in the backbone's precision.
    pub fn for_backbone(modules: &[&PeftModule], backbone: &Backbone) -> Result<Self> {
        Self::new(modules, backbone.encoder.num_layers())?.with_precision(backbone.precision)
    }

    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        if precision != Precision::Bf16 {
            return Ok(self);
        }
        for adapter in self.adapters.values_mut() {
            adapter.bf16 = Some(StackedBf16::new(&adapter.down_weight, &adapter.up_concat)?);
        }
        for lora in self.loras.values_mut() {
            lora.bf16 = Some(StackedBf16::new(&lora.a, &lora.b_concat)?);
        }
        Ok(self)
    }
}

fn stack_detached(count: usize, part: &dyn Fn(usize) -> Tensor) -> Result<Tensor> {
    let parts: Vec<Tensor> = (0..count).map(|i| part(i).detach()).collect();
    Ok(Tensor::stack(&parts, 0)?)
}
