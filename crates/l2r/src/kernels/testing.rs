//! Comparison helpers of the kernels' tests against the plain candle compositions.

use candle_core::{bail, Result, Tensor, Var};

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
