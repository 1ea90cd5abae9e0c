//! Speed of the frozen linear layer's GEMM, fp32 (the `gemm` crate exactly as `frozen_linear` calls it) against
//! the AVX-512 BF16 path, on MiniLM-sized shapes at rayon's current thread count (set RAYON_NUM_THREADS).
//! Both write into a preallocated output; the op-level columns go through candle tensors (bias included).
//!
//! cargo run --release -p l2r --example bf16_gemm_speed

use candle_core::{Device, Tensor};
use l2r::kernels::{bf16_available, frozen_linear, frozen_linear_bf16, FrozenBf16Weight};
use std::time::Instant;

const RUNS: usize = 11;
/// (m, n, k): rows × out × in.
const SHAPES: [(usize, usize, usize); 4] = [
    (2048, 1536, 384),
    (2048, 384, 1536),
    (2048, 384, 384),
    (4096, 384, 384),
];

/// Median seconds of each of `variants` over `RUNS` rounds after a warm-up round; every round runs each
/// variant once, so drifts of the clock or of the neighbours' load spread evenly over them.
fn median_seconds<const N: usize>(
    variants: &mut [&mut dyn FnMut() -> candle_core::Result<()>; N],
) -> candle_core::Result<[f64; N]> {
    let mut times = vec![Vec::with_capacity(RUNS); N];
    for round in 0..=RUNS {
        for (variant, times) in variants.iter_mut().zip(times.iter_mut()) {
            let started = Instant::now();
            variant()?;
            if round > 0 {
                times.push(started.elapsed().as_secs_f64());
            }
        }
    }
    Ok(std::array::from_fn(|v| {
        times[v].sort_by(f64::total_cmp);
        times[v][RUNS / 2]
    }))
}

/// out (m, n) += x (m, k) · Wᵀ for W (n, k): the call `frozen_linear` makes.
fn fp32_gemm(out: &mut [f32], x: &[f32], weight: &[f32], (m, n, k): (usize, usize, usize)) {
    assert!(out.len() == m * n && x.len() == m * k && weight.len() == n * k);
    let threads = rayon::current_num_threads();
    let parallelism = match threads {
        1 => gemm::Parallelism::None,
        _ => gemm::Parallelism::Rayon(threads),
    };
    // SAFETY: the lengths asserted above cover every element the strides address (see frozen_linear.rs).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            true,
            x.as_ptr(),
            1,
            k as isize,
            weight.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

fn main() -> candle_core::Result<()> {
    if !bf16_available() {
        println!("this CPU has no AVX-512 BF16: nothing to compare");
        return Ok(());
    }
    let device = Device::Cpu;
    println!(
        "threads {}, median of {RUNS} runs, GFLOP/s",
        rayon::current_num_threads()
    );
    println!(
        "{:>18} {:>9} {:>9} {:>7} {:>10} {:>10} {:>7}",
        "m × n × k", "fp32", "bf16", "ratio", "fp32 op", "bf16 op", "ratio"
    );
    for (m, n, k) in SHAPES {
        let weight = Tensor::randn(0f32, 1.0, (n, k), &device)?;
        let bias = Tensor::randn(0f32, 1.0, n, &device)?;
        let x = Tensor::randn(0f32, 1.0, (m, k), &device)?;
        let packed = FrozenBf16Weight::new(&weight)?;
        let (x_values, w_values) = (
            x.flatten_all()?.to_vec1::<f32>()?,
            weight.flatten_all()?.to_vec1::<f32>()?,
        );
        let (mut fp32_out, mut bf16_out) = (vec![0f32; m * n], vec![0f32; m * n]);
        let [fp32, bf16, fp32_op, bf16_op] = median_seconds(&mut [
            &mut || {
                fp32_gemm(&mut fp32_out, &x_values, &w_values, (m, n, k));
                Ok(())
            },
            &mut || packed.forward_into(&x_values, &mut bf16_out),
            &mut || frozen_linear(&x, &weight, Some(&bias)).map(drop),
            &mut || frozen_linear_bf16(&x, &packed, Some(&bias)).map(drop),
        ])?;
        let gflops = |seconds: f64| 2.0 * (m * n * k) as f64 / seconds / 1e9;
        println!(
            "{:>18} {:>9.1} {:>9.1} {:>6.2}× {:>10.1} {:>10.1} {:>6.2}×",
            format!("{m} × {n} × {k}"),
            gflops(fp32),
            gflops(bf16),
            fp32 / bf16,
            gflops(fp32_op),
            gflops(bf16_op),
            fp32_op / bf16_op
        );
    }
    Ok(())
}
