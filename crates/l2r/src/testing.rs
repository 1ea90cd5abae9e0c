//! Helpers shared by the tests of every crate of the workspace: tensor comparisons, gradient checks of the
//! kernels against plain candle compositions, and PEFT modules with random parameters. The tiny model they run
//! on is [`crate::backbone::tiny`]. Compiled for this crate's tests and with the `test-support` feature, which
//! the workspace's crates enable in their dev-dependencies only: release builds do not contain it.

use crate::backbone::{Backbone, EncoderConfig};
use crate::compose::{CompositionMode, ModuleStack, Routed};
use crate::head::ClassifierHead;
use crate::peft::{PeftConfig, PeftModule};
use candle_core::{bail, Result, Tensor, Var};

/// max |a − b| over all elements.
pub fn max_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
}

/// Fails unless max |actual − expected| ≤ tol · max(1, max |expected|).
pub fn assert_close(actual: &Tensor, expected: &Tensor, tol: f32) -> Result<()> {
    let diff = (actual - expected)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    let scale = expected
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?
        .max(1.0);
    if diff.is_nan() || diff > tol * scale {
        bail!("max difference {diff} exceeds {tol} × {scale}");
    }
    Ok(())
}

/// Gradients of Σ upstream ⊙ y with respect to `vars`, each required to exist.
pub fn gradients(y: &Tensor, upstream: &Tensor, vars: &[&Var]) -> Result<Vec<Tensor>> {
    let grads = (y * upstream)?.sum_all()?.backward()?;
    vars.iter()
        .map(|var| match grads.get(var.as_tensor()) {
            Some(grad) => Ok(grad.clone()),
            None => bail!("no gradient reached a variable"),
        })
        .collect()
}

/// Fails unless `fused` matches `plain` within `forward_tol`, and the gradients of Σ upstream ⊙ y with respect
/// to each of `vars` match within its tolerance in `gradient_tols`.
pub fn assert_same_op(
    fused: &Tensor,
    plain: &Tensor,
    upstream: &Tensor,
    vars: &[&Var],
    (forward_tol, gradient_tols): (f32, &[f32]),
) -> Result<()> {
    assert_close(fused, plain, forward_tol)?;
    let fused_grads = gradients(fused, upstream, vars)?;
    let plain_grads = gradients(plain, upstream, vars)?;
    for ((f, p), &tol) in fused_grads.iter().zip(&plain_grads).zip(gradient_tols) {
        assert_close(f, p, tol)?;
    }
    Ok(())
}

/// A module of `config` for an encoder shaped like `encoder` with every parameter uniform in ±`bound`, drawn
/// from `seed`: unlike a fresh module (zero up-projections, zero LoRA B) it changes the encoder's output, as a
/// trained one does.
pub fn random_module(
    config: &PeftConfig,
    encoder: &EncoderConfig,
    seed: u64,
    bound: f64,
) -> crate::Result<PeftModule> {
    let module = PeftModule::new(config, encoder, seed)?;
    crate::init::randomize_vars(module.varmap(), seed, |_, _| Some(bound))?;
    Ok(module)
}

/// `count` such modules, from seeds 0, 1, …: they differ from each other.
pub fn random_modules(
    config: &PeftConfig,
    encoder: &EncoderConfig,
    count: usize,
    bound: f64,
) -> crate::Result<Vec<PeftModule>> {
    (0..count as u64)
        .map(|seed| random_module(config, encoder, seed, bound))
        .collect()
}

/// What router tests compose: `count` random adapter modules (bound 0.3) for `backbone`'s encoder, stacked, and a
/// two-label head per module.
pub struct RandomTasks {
    pub modules: Vec<PeftModule>,
    pub stack: ModuleStack,
    pub heads: Vec<ClassifierHead>,
}

impl RandomTasks {
    pub fn new(backbone: &Backbone, count: usize) -> crate::Result<Self> {
        let config = &backbone.encoder.config;
        let modules = random_modules(&PeftConfig::adapter(), config, count, 0.3)?;
        let refs: Vec<&PeftModule> = modules.iter().collect();
        let stack = ModuleStack::new(&refs, backbone.encoder.num_layers())?;
        let heads = (0..count as u64)
            .map(|seed| ClassifierHead::new(config.hidden_size, 2, seed))
            .collect::<crate::Result<_>>()?;
        Ok(RandomTasks {
            modules,
            stack,
            heads,
        })
    }

    /// The heads as [`Routed`] takes them.
    pub fn head_refs(&self) -> Vec<&ClassifierHead> {
        self.heads.iter().collect()
    }

    /// Every module composed by weighted average on `backbone`, with `heads` (from [`RandomTasks::head_refs`]).
    pub fn routed<'a>(
        &'a self,
        backbone: &'a Backbone,
        heads: &'a [&'a ClassifierHead],
    ) -> Routed<'a> {
        Routed {
            backbone,
            stack: &self.stack,
            heads,
            mode: CompositionMode::Wavg,
        }
    }
}
