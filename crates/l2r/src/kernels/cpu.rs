//! Shared plumbing of the hand-written ops: borrowing f32 slices out of candle storage, splitting rows over
//! rayon, and compiling the loops for the widest vector unit the CPU has.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, Layout, Result, Storage, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The f32 data behind a contiguous layout.
pub(super) fn contiguous<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: only f32 is supported, got {:?}", storage.dtype());
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{op}: the input must be contiguous");
    };
    Ok(&data[start..end])
}

/// Runs `f` on the f32 data of a CPU tensor (made contiguous first, a no-op when it already is).
pub(super) fn with_f32<R>(
    tensor: &Tensor,
    op: &str,
    f: impl FnOnce(&[f32]) -> Result<R>,
) -> Result<R> {
    let tensor = tensor.contiguous()?;
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("{op}: only CPU tensors are supported");
    };
    f(contiguous(cpu, layout, op)?)
}

/// Width of the last dimension, refusing empty shapes.
pub(super) fn last_dim(layout: &Layout, op: &str) -> Result<usize> {
    match layout.dims().last() {
        Some(&width) if width > 0 => Ok(width),
        _ => bail!(
            "{op}: expected a non-empty last dimension, got {:?}",
            layout.dims()
        ),
    }
}

/// Rows per rayon task: about 16k floats (64 KiB), enough to amortise the hand-off between threads.
fn rows_per_task(width: usize) -> usize {
    (16 * 1024 / width).max(1)
}

/// Calls `f(first_row, rows)` on blocks of whole rows of `out` (rows of `width` floats), in parallel.
pub(super) fn par_rows(out: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let rows = rows_per_task(width);
    out.par_chunks_mut(rows * width)
        .enumerate()
        .for_each(|(block, chunk)| f(block * rows, chunk));
}

/// Calls `f(row, group, out_row)` on every row of `out` (rows of `width`), in parallel blocks, where the rows fall
/// into `groups` equal runs of consecutive rows: the examples of a batch, or one group for all rows alike.
pub(super) fn par_grouped_rows(
    out: &mut [f32],
    width: usize,
    groups: usize,
    f: impl Fn(usize, usize, &mut [f32]) + Sync,
) {
    let rows_per_group = (out.len() / width.max(1) / groups.max(1)).max(1);
    par_rows(out, width, |first, rows| {
        for (i, out_row) in rows.chunks_exact_mut(width).enumerate() {
            let row = first + i;
            f(row, row / rows_per_group, out_row);
        }
    });
}

/// Floats per task of the buffer builders below: 64 KiB, as `rows_per_task`.
const FLOATS_PER_TASK: usize = 16 * 1024;

/// A fresh buffer of `len` floats built in parallel blocks: `write(start, block)` must write every slot of the
/// block that begins at `start`. Kept private so that only the complete writers below use it.
fn par_init(len: usize, write: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(FLOATS_PER_TASK)
        .enumerate()
        .for_each(|(task, block)| write(task * FLOATS_PER_TASK, block));
    // SAFETY: the blocks cover 0..len, and every caller's `write` writes each slot of its block.
    unsafe { out.set_len(len) };
    out
}

/// `len` zeros, written in parallel (a reused allocation is otherwise zeroed by one core).
pub(super) fn par_zeros(len: usize) -> Vec<f32> {
    par_init(len, |_, block| {
        // SAFETY: all-zero bytes are 0.0f32, and the pointer covers exactly the block.
        unsafe { block.as_mut_ptr().write_bytes(0, block.len()) }
    })
}

/// A copy of `src`, written in parallel.
pub(super) fn par_copy(src: &[f32]) -> Vec<f32> {
    par_init(src.len(), |start, block| {
        for (slot, &value) in block.iter_mut().zip(&src[start..]) {
            slot.write(value);
        }
    })
}

/// a + b elementwise, written in parallel.
pub(super) fn par_add(a: &[f32], b: &[f32]) -> Vec<f32> {
    let len = a.len().min(b.len());
    par_init(len, |start, block| {
        for ((slot, &a), &b) in block.iter_mut().zip(&a[start..]).zip(&b[start..]) {
            slot.write(a + b);
        }
    })
}

/// `rows` copies of `row` back to back, written in parallel.
pub(super) fn par_repeat(row: &[f32], rows: usize) -> Vec<f32> {
    let width = row.len();
    if width == 0 {
        return Vec::new();
    }
    par_init(rows * width, |start, block| {
        // A block starts mid-row in general: the rest of that row, then whole rows.
        let mut offset = start % width;
        let mut rest = block;
        while !rest.is_empty() {
            let (part, tail) = rest.split_at_mut((width - offset).min(rest.len()));
            for (slot, &value) in part.iter_mut().zip(&row[offset..]) {
                slot.write(value);
            }
            (rest, offset) = (tail, 0);
        }
    })
}

/// Defines `fn $name(args)` whose body is compiled three times, for AVX-512, for AVX2 + FMA and for the
/// baseline, and picks the widest one the CPU supports at run time. The body must be written as plain slice
/// loops (fixed-width accumulator arrays for reductions) so that LLVM vectorises it for each target.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) {
                    generic($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    generic($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                {
                    // SAFETY: the CPU supports every feature `avx512` was compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports every feature `avx2` was compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}
pub(super) use multiversion;

/// Accumulator lanes of the reductions: one AVX-512 register (two AVX2 ones), independent so LLVM may
/// vectorise the sum without reassociating floating-point additions itself.
const LANES: usize = 16;

/// Σ xs.
#[inline(always)]
pub(super) fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + tail
}
/// Σ xs·ys.
#[inline(always)]
pub(super) fn dot(xs: &[f32], ys: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (xc, yc) = (xs.chunks_exact(LANES), ys.chunks_exact(LANES));
    let tail: f32 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in xc.zip(yc) {
        for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
            *a = x.mul_add(*y, *a);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// max xs (−∞ for an empty slice).
#[inline(always)]
pub(super) fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = if x > *a { x } else { *a };
        }
    }
    acc.iter().fold(tail, |m, &x| m.max(x))
}

#[cfg(test)]
mod buffer_tests {
    use super::*;

    #[test]
    fn parallel_buffers_match_their_serial_definitions() {
        // Lengths below, at and across the 16k-float task blocks, with rows that straddle block edges.
        for len in [
            0,
            1,
            5,
            FLOATS_PER_TASK,
            FLOATS_PER_TASK + 1,
            3 * FLOATS_PER_TASK + 77,
        ] {
            let a: Vec<f32> = (0..len).map(|i| i as f32 * 0.5).collect();
            let b: Vec<f32> = (0..len).map(|i| 1.0 - i as f32).collect();
            assert_eq!(par_zeros(len), vec![0f32; len]);
            assert_eq!(par_copy(&a), a);
            let sum: Vec<f32> = a.iter().zip(&b).map(|(a, b)| a + b).collect();
            assert_eq!(par_add(&a, &b), sum);
        }
        for (width, rows) in [(1, 3), (7, 5000), (384, 100), (1536, 33)] {
            let row: Vec<f32> = (0..width).map(|j| j as f32 - 3.0).collect();
            assert_eq!(par_repeat(&row, rows), row.repeat(rows));
        }
        assert!(par_repeat(&[], 10).is_empty());
    }
}
