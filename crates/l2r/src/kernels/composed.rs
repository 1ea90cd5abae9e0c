//! The kernels' ops as compositions of candle ops, differentiated by candle's own backward: what a device other
//! than the CPU runs (the kernels have CPU code only, and candle's fused layer norm and last-dimension softmax have
//! no backward). Each kernel's tests check it against its composition here, forward and backward, so the math of
//! the GPU path is checked on the CPU.

use candle_core::{bail, Result, Tensor, D};

/// Layer norm over the last dimension; `weight` and `bias` frozen.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
    let variance = centered.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centered.broadcast_div(&(variance + eps)?.sqrt()?)?;
    normed
        .broadcast_mul(&weight.detach())?
        .broadcast_add(&bias.detach())
}

/// `layer_norm(a + b)`.
pub fn add_layer_norm(
    a: &Tensor,
    b: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    layer_norm(&(a + b)?, weight, bias, eps)
}

/// softmax(scale · Q Kᵀ + bias) V per head, q, k, v (batch, seq, heads · width); `bias` gets no gradient.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: &Tensor,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    let (batch, seq, hidden) = q.dims3()?;
    if heads == 0 || hidden % heads != 0 {
        bail!("attention: {heads} heads do not divide a width of {hidden}");
    }
    let split = |x: &Tensor| {
        x.reshape((batch, seq, heads, hidden / heads))?
            .transpose(1, 2)?
            .contiguous()
    };
    let scores = (split(q)?.matmul(&split(k)?.t()?)? * scale)?.broadcast_add(&bias.detach())?;
    candle_nn::ops::softmax(&scores, D::Minus1)?
        .matmul(&split(v)?)?
        .transpose(1, 2)?
        .reshape((batch, seq, hidden))
}

/// The erf GELU.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.gelu_erf()
}

/// `x + bias`: `bias` (width) on every row, or (batch, width) on the rows of each example of x (batch, …, width).
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    match bias.rank() {
        1 => x.broadcast_add(bias),
        _ => {
            let mut shape = vec![1; x.rank()];
            shape[0] = bias.dim(0)?;
            shape[x.rank() - 1] = bias.dim(1)?;
            x.broadcast_add(&bias.reshape(shape)?)
        }
    }
}

/// `x Wᵀ + b` with W and b frozen.
pub fn frozen_linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let y = x.broadcast_matmul(&weight.detach().t()?)?;
    match bias {
        Some(bias) => y.broadcast_add(&bias.detach()),
        None => Ok(y),
    }
}

/// relu(x) · w, x (batch, …, modules, size), w (batch, modules).
pub fn weighted_relu(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let mut shape = vec![1; x.rank()];
    shape[0] = w.dim(0)?;
    shape[x.rank() - 2] = w.dim(1)?;
    x.relu()?.broadcast_mul(&w.reshape(shape)?)
}
