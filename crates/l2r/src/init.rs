//! Seeded parameter initialisation. candle cannot seed its CPU random generator, so reproducible runs draw
//! initial values from our own seeded RNG.

use crate::error::{Error, Result};
use candle_core::{Device, Shape, Tensor};
use candle_nn::VarMap;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A tensor of `shape` with values uniform in [-bound, bound].
pub fn seeded_uniform(shape: impl Into<Shape>, bound: f64, rng: &mut StdRng) -> Result<Tensor> {
    let shape = shape.into();
    let bound = bound as f32;
    let values: Vec<f32> = (0..shape.elem_count())
        .map(|_| rng.random_range(-bound..=bound))
        .collect();
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

/// Re-draws, in name order, every variable of `varmap` for which `bound_for(name, dims)` gives a bound;
/// the others keep their (constant) initial value.
pub fn randomize_vars(
    varmap: &VarMap,
    seed: u64,
    bound_for: impl Fn(&str, &[usize]) -> Option<f64>,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::invalid("variable store poisoned by an earlier panic"))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        if let Some(bound) = bound_for(name, var.dims()) {
            var.set(&seeded_uniform(var.shape(), bound, &mut rng)?.to_device(var.device())?)?;
        }
    }
    Ok(())
}
