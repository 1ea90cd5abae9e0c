//! The CPU's fp32 FMA peak, measured: every thread runs independent chains of fused multiply-adds on the widest
//! vectors the CPU has (checked at run time). The benchmark's "% of peak" figures divide by this number.

use std::time::Instant;

/// Independent accumulator chains per thread: enough to cover the FMA latency on both FMA pipes.
const CHAINS: usize = 12;

/// The measured peak and how it was reached.
#[derive(Debug, Clone, Copy)]
pub struct FmaPeak {
    pub gflops: f64,
    pub threads: usize,
    /// Vector lanes of fp32 per instruction (16 for AVX-512, 8 for AVX2, 1 scalar).
    pub lanes: usize,
}

/// Runs `iterations` rounds of `CHAINS` vector FMAs on each of the rayon pool's threads; returns GFLOP/s.
pub fn measure_fma_peak(iterations: u64) -> FmaPeak {
    let lanes = lanes();
    let threads = rayon::current_num_threads();
    let started = Instant::now();
    let sink: f32 = rayon::broadcast(|_| fma_chains(iterations, lanes))
        .into_iter()
        .sum();
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    let flops = 2.0 * (CHAINS * lanes * threads) as f64 * iterations as f64;
    FmaPeak {
        gflops: flops / seconds / 1e9,
        threads,
        lanes,
    }
}

fn lanes() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return 16;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return 8;
        }
    }
    1
}

fn fma_chains(iterations: u64, lanes: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: each branch runs only where `lanes()` detected its instruction set.
        if lanes == 16 {
            return unsafe { avx512(iterations) };
        }
        if lanes == 8 {
            return unsafe { avx2(iterations) };
        }
    }
    scalar(iterations)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(iterations: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..iterations {
        for chain in acc.iter_mut() {
            *chain = _mm512_fmadd_ps(*chain, a, b);
        }
    }
    acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(iterations: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..iterations {
        for chain in acc.iter_mut() {
            *chain = _mm256_fmadd_ps(*chain, a, b);
        }
    }
    let mut lanes = [0f32; 8];
    let mut total = 0.0;
    for v in acc {
        _mm256_storeu_ps(lanes.as_mut_ptr(), v);
        total += lanes.iter().sum::<f32>();
    }
    total
}

fn scalar(iterations: u64) -> f32 {
    let mut acc = [1f32; CHAINS];
    for _ in 0..iterations {
        for chain in acc.iter_mut() {
            *chain = chain.mul_add(0.999_999, 1e-7);
        }
    }
    acc.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_computes_the_same_chains() {
        // 1 → 0.999999·x + 1e-7 a few times, summed over the chains and lanes.
        let expected = {
            let mut x = 1f32;
            for _ in 0..5 {
                x = x.mul_add(0.999_999, 1e-7);
            }
            x * CHAINS as f32
        };
        let lanes = lanes();
        let got = fma_chains(5, lanes) / lanes as f32;
        assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
        assert!((scalar(5) - expected).abs() < 1e-4);
        assert!(measure_fma_peak(1000).gflops > 0.0);
    }
}
