//! Multi-head attention core, softmax(scale · Q Kᵀ + bias) V, as one op on the (batch, seq, hidden) layout
//! of the projections. The composition splits the heads with copies (reshape, transpose, contiguous), and
//! every one of its ~12 graph nodes costs candle's backprop a zero-filled gradient plus an add pass; here
//! each (batch, head) block is read in place through gemm strides, and the probabilities are kept from the
//! forward for the backward.
//!
//! Backward per head, with P the probabilities and dO the context's gradient:
//! dP = dO Vᵀ, dS = scale · P ⊙ (dP − Σ dP ⊙ P) (the bias is a constant), dQ = dS K, dK = dSᵀ Q, dV = Pᵀ dO.

use super::cpu::{contiguous, par_zeros, with_f32};
use super::softmax::{backward_rows, forward_rows, row_offsets};
use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

const NAME: &str = "attention";

struct Attention {
    /// Broadcast (not copied) to (batch, heads, seq, seq).
    bias: Tensor,
    heads: usize,
    scale: f32,
    /// The probabilities (batch, heads, seq, seq) of the forward pass, for the backward.
    probabilities: Mutex<Option<Vec<f32>>>,
}

/// A matrix inside a slice: element (i, j) at `offset + i·rs + j·cs`.
#[derive(Clone, Copy)]
struct Strided {
    offset: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl Strided {
    /// A `rows × width` block at `offset` of a row-major matrix whose rows are `stride` apart.
    fn block(offset: usize, rows: usize, width: usize, stride: usize) -> Self {
        Strided {
            offset,
            rows,
            cols: width,
            rs: stride,
            cs: 1,
        }
    }

    fn t(self) -> Self {
        Strided {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Whether every element lies in a slice of `len`.
    fn fits(&self, len: usize) -> bool {
        self.rows > 0
            && self.cols > 0
            && self.offset + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < len
    }
}

/// dst = lhs · rhs, single-threaded (the caller parallelises over batch rows).
fn gemm_into(
    dst: &mut [f32],
    d: Strided,
    lhs: &[f32],
    l: Strided,
    rhs: &[f32],
    r: Strided,
) -> Result<()> {
    let shapes_match = d.rows == l.rows && d.cols == r.cols && l.cols == r.rows;
    if !(shapes_match && d.fits(dst.len()) && l.fits(lhs.len()) && r.fits(rhs.len())) {
        bail!("{NAME}: internal matrix shapes or bounds do not match");
    }
    // SAFETY: `fits` checked that every element each view addresses lies inside its slice, and `dst` is
    // borrowed mutably so it aliases neither operand.
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            l.cols,
            dst.as_mut_ptr().add(d.offset),
            d.cs as isize,
            d.rs as isize,
            false,
            lhs.as_ptr().add(l.offset),
            l.cs as isize,
            l.rs as isize,
            rhs.as_ptr().add(r.offset),
            r.cs as isize,
            r.rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
    Ok(())
}

/// (batch, seq, hidden, head width) of the projections.
struct Dims {
    seq: usize,
    hidden: usize,
    width: usize,
}

impl Dims {
    /// Head `h`'s (seq, width) block of one batch row of a projection.
    fn head(&self, h: usize) -> Strided {
        Strided::block(h * self.width, self.seq, self.width, self.hidden)
    }

    /// Head `h`'s (seq, seq) block of one batch row of the probabilities.
    fn square(&self, h: usize) -> Strided {
        Strided::block(h * self.seq * self.seq, self.seq, self.seq, self.seq)
    }
}

/// One batch row's inputs to the backward: the projections, the probabilities and the context's gradient.
struct BackwardRow<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    p: &'a [f32],
    dout: &'a [f32],
}

impl Attention {
    fn dims(&self, layout: &Layout) -> Result<(usize, Dims)> {
        let (batch, seq, hidden) = layout.shape().dims3()?;
        if hidden % self.heads != 0 || seq == 0 {
            bail!(
                "{NAME}: hidden {hidden} is not split into {} heads",
                self.heads
            );
        }
        let width = hidden / self.heads;
        Ok((batch, Dims { seq, hidden, width }))
    }

    /// One batch row: probabilities (heads, seq, seq) and context (seq, hidden) from its q, k, v rows.
    fn forward_row(
        &self,
        d: &Dims,
        (q, k, v): (&[f32], &[f32], &[f32]),
        bias: &[f32],
        offsets: &[usize],
        probabilities: &mut [f32],
        context: &mut [f32],
    ) -> Result<()> {
        let square = d.seq * d.seq;
        for h in 0..self.heads {
            gemm_into(probabilities, d.square(h), q, d.head(h), k, d.head(h).t())?;
            let rows = &mut probabilities[h * square..(h + 1) * square];
            let offsets = &offsets[h * d.seq..(h + 1) * d.seq];
            forward_rows(rows, bias, offsets, d.seq, self.scale);
            gemm_into(context, d.head(h), probabilities, d.square(h), v, d.head(h))?;
        }
        Ok(())
    }

    /// One batch row's dq, dk, dv from its q, k, v, probabilities and context gradient.
    fn backward_row(
        &self,
        d: &Dims,
        BackwardRow { q, k, v, p, dout }: BackwardRow,
        (dq, dk, dv): (&mut [f32], &mut [f32], &mut [f32]),
    ) -> Result<()> {
        let mut ds = vec![0f32; d.seq * d.seq];
        let ds_view = Strided::block(0, d.seq, d.seq, d.seq);
        for h in 0..self.heads {
            gemm_into(&mut ds, ds_view, dout, d.head(h), v, d.head(h).t())?;
            let square = d.seq * d.seq;
            backward_rows(&mut ds, &p[h * square..(h + 1) * square], d.seq, self.scale);
            gemm_into(dq, d.head(h), &ds, ds_view, k, d.head(h))?;
            gemm_into(dk, d.head(h), &ds, ds_view.t(), q, d.head(h))?;
            gemm_into(dv, d.head(h), p, d.square(h).t(), dout, d.head(h))?;
        }
        Ok(())
    }
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        q_layout: &Layout,
        k: &CpuStorage,
        k_layout: &Layout,
        v: &CpuStorage,
        v_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (batch, d) = self.dims(q_layout)?;
        if k_layout.shape() != q_layout.shape() || v_layout.shape() != q_layout.shape() {
            bail!("{NAME}: q, k and v differ in shape");
        }
        let (q, k, v) = (
            contiguous(q, q_layout, NAME)?,
            contiguous(k, k_layout, NAME)?,
            contiguous(v, v_layout, NAME)?,
        );
        let (bias_storage, bias_layout) = self.bias.storage_and_layout();
        let Storage::Cpu(CpuStorage::F32(bias)) = &*bias_storage else {
            bail!("{NAME}: the bias must be an f32 CPU tensor");
        };
        let offsets = row_offsets(bias_layout)?;
        let row = d.seq * d.hidden;
        let square = self.heads * d.seq * d.seq;
        let mut probabilities = par_zeros(batch * square);
        let mut context = par_zeros(batch * row);
        probabilities
            .par_chunks_mut(square)
            .zip(context.par_chunks_mut(row))
            .enumerate()
            .try_for_each(|(b, (p, c))| {
                let rows = b * row..(b + 1) * row;
                let qkv = (&q[rows.clone()], &k[rows.clone()], &v[rows]);
                let offsets = &offsets[b * self.heads * d.seq..(b + 1) * self.heads * d.seq];
                self.forward_row(&d, qkv, bias, offsets, p, c)
            })?;
        *self.probabilities.lock().map_err(|_| poisoned())? = Some(probabilities);
        Ok((CpuStorage::F32(context), q_layout.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _context: &Tensor,
        dout: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (batch, d) = self.dims(q.layout())?;
        let row = d.seq * d.hidden;
        let square = self.heads * d.seq * d.seq;
        let guard = self.probabilities.lock().map_err(|_| poisoned())?;
        let Some(p) = guard.as_ref() else {
            bail!("{NAME}: backward before forward");
        };
        let (mut dq, mut dk, mut dv) = (
            par_zeros(batch * row),
            par_zeros(batch * row),
            par_zeros(batch * row),
        );
        with_f32(q, NAME, |q| {
            with_f32(k, NAME, |k| {
                with_f32(v, NAME, |v| {
                    with_f32(dout, NAME, |dout| {
                        dq.par_chunks_mut(row)
                            .zip(dk.par_chunks_mut(row))
                            .zip(dv.par_chunks_mut(row))
                            .enumerate()
                            .try_for_each(|(b, ((dq, dk), dv))| {
                                let rows = b * row..(b + 1) * row;
                                let inputs = BackwardRow {
                                    q: &q[rows.clone()],
                                    k: &k[rows.clone()],
                                    v: &v[rows.clone()],
                                    p: &p[b * square..(b + 1) * square],
                                    dout: &dout[rows],
                                };
                                self.backward_row(&d, inputs, (dq, dk, dv))
                            })
                    })
                })
            })
        })?;
        let tensor = |data: Vec<f32>| Tensor::from_vec(data, q.shape(), &candle_core::Device::Cpu);
        Ok((Some(tensor(dq)?), Some(tensor(dk)?), Some(tensor(dv)?)))
    }
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg(format!("{NAME}: a panic poisoned the stored probabilities"))
}

/// softmax(scale · Q Kᵀ + bias) V per head, on q, k, v of shape (batch, seq, heads · head width) with the
/// heads side by side in the last dimension; returns the context in the same layout. `bias` broadcasts to
/// (batch, heads, seq, seq) and gets no gradient.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: &Tensor,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    if !q.device().is_cpu() {
        return super::composed::attention(q, k, v, bias, heads, scale);
    }
    let (batch, seq, _) = q.dims3()?;
    let op = Attention {
        bias: bias.broadcast_as((batch, heads, seq, seq))?,
        heads,
        scale: scale as f32,
        probabilities: Mutex::new(None),
    };
    q.contiguous()?
        .apply_op3(&k.contiguous()?, &v.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradients};
    use candle_core::{Device, Var};

    use crate::kernels::composed::attention as plain;

    fn mask(batch: usize, seq: usize, padded: usize) -> Result<Tensor> {
        let keep: Vec<f32> = (0..batch * seq)
            .map(|i| if i % seq < seq - padded { 0.0 } else { -1e9 })
            .collect();
        Tensor::from_vec(keep, (batch, 1, 1, seq), &Device::Cpu)
    }

    fn check(batch: usize, seq: usize, heads: usize, width: usize, bias: &Tensor) -> Result<()> {
        let shape = (batch, seq, heads * width);
        let var = || Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?);
        let (q, k, v) = (var()?, var()?, var()?);
        let upstream = Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?;
        let scale = 1.0 / (width as f64).sqrt();
        let fused = attention(&q, &k, &v, bias, heads, scale)?;
        let expected = plain(&q, &k, &v, bias, heads, scale)?;
        assert_close(&fused, &expected, 1e-5)?;
        let gf = gradients(&fused, &upstream, &[&q, &k, &v])?;
        let gp = gradients(&expected, &upstream, &[&q, &k, &v])?;
        for (f, p) in gf.iter().zip(&gp) {
            assert_close(f, p, 1e-5)?;
        }
        Ok(())
    }

    #[test]
    fn matches_the_plain_composition_with_a_padding_mask() -> Result<()> {
        for (batch, seq, heads, width, padded) in [
            (1, 1, 1, 1, 0),
            (2, 7, 3, 5, 2),
            (3, 33, 2, 16, 5),
            (2, 128, 12, 32, 40),
        ] {
            check(batch, seq, heads, width, &mask(batch, seq, padded)?)?;
        }
        Ok(())
    }

    #[test]
    fn matches_with_a_mask_plus_position_bias_and_a_strided_bias() -> Result<()> {
        let (batch, seq, heads, width) = (2, 19, 3, 8);
        let position = Tensor::randn(0f32, 1.0, (1, heads, seq, seq), &Device::Cpu)?;
        check(
            batch,
            seq,
            heads,
            width,
            &mask(batch, seq, 4)?.broadcast_add(&position)?,
        )?;
        let wide = Tensor::randn(0f32, 1.0, (batch, heads, 2 * seq, seq), &Device::Cpu)?;
        check(batch, seq, heads, width, &wide.narrow(2, 3, seq)?)
    }

    #[test]
    fn refuses_heads_that_do_not_divide_the_width() -> Result<()> {
        let x = Tensor::zeros((2, 4, 10), candle_core::DType::F32, &Device::Cpu)?;
        assert!(attention(&x, &x, &x, &mask(2, 4, 0)?, 3, 1.0).is_err());
        Ok(())
    }
}
