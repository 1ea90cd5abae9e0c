//! exp and erf as branch-free polynomials that LLVM vectorises (libm's are scalar calls: `erff` alone was 9%
//! of a training step). Both are `inline(always)` so they take the vector width of the calling kernel.

use std::f32::consts::LOG2_E;

/// Below this e^x is under f32's smallest normal number; return an exact 0 instead of a (slow) subnormal.
const EXP_MIN: f32 = -87.0;
/// Above this e^x overflows f32.
const EXP_MAX: f32 = 88.3;

/// e^x, within 2 ulp (Cephes `expf`): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2ⁿ by
/// writing the exponent bits.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    // ln2 split into a part exact in f32 and the rest, so that n·LN2_HI has no rounding error.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2²³: adding it rounds x·log2(e) to an integer n held in the low mantissa bits, so 2ⁿ comes from bit
    // arithmetic. A float-to-int `as` cast would not vectorise: its saturating semantics make LLVM convert one
    // lane at a time.
    const ROUNDER: f32 = 12_582_912.0;
    let clamped = x.clamp(EXP_MIN, EXP_MAX);
    let shifted = clamped.mul_add(LOG2_E, ROUNDER);
    let n = shifted - ROUNDER;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, clamped));
    let mut p = 1.987_569_1e-4_f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let er = p.mul_add(r * r, r) + 1.0;
    let n_bits = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    if x < EXP_MIN {
        0.0
    } else {
        er * two_n
    }
}

/// erf(x), within 5e-7 absolute: the rational minimax approximation of Eigen / XLA on [−4, 4].
#[inline(always)]
pub(super) fn erf(x: f32) -> f32 {
    // Beyond this erf rounds to ±1 in f32; returning exactly ±1 (the rational gives 1 − 1.2e-7 at 4) keeps
    // GELU at exactly 0 for very negative inputs, as the exact function is to f32 precision.
    const SATURATED: f32 = 3.92;
    let t = x.clamp(-SATURATED, SATURATED);
    let x2 = t * t;
    let mut p = -2.726_142_3e-10_f32;
    p = p.mul_add(x2, 2.770_681_4e-8);
    p = p.mul_add(x2, -2.101_024e-6);
    p = p.mul_add(x2, -5.692_506_4e-5);
    p = p.mul_add(x2, -7.349_906_3e-4);
    p = p.mul_add(x2, -2.954_6e-3);
    p = p.mul_add(x2, -1.609_603_3e-2);
    let mut q = -1.456_607_2e-5_f32;
    q = q.mul_add(x2, -2.133_740_6e-4);
    q = q.mul_add(x2, -1.682_827e-3);
    q = q.mul_add(x2, -7.373_329_2e-3);
    q = q.mul_add(x2, -1.426_473_9e-2);
    // A select rather than an early return, so that the calling loop stays vectorised.
    if x.abs() >= SATURATED {
        1f32.copysign(x)
    } else {
        t * p / q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(from: f32, to: f32, steps: usize) -> impl Iterator<Item = f32> {
        (0..=steps).map(move |i| from + (to - from) * i as f32 / steps as f32)
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_libm() {
        for x in grid(-87.0, 88.0, 200_000) {
            let (fast, exact) = (exp(x), (x as f64).exp());
            let rel = ((fast as f64 - exact) / exact).abs();
            assert!(rel < 3e-7, "exp({x}) = {fast}, expected {exact}");
        }
        assert_eq!(exp(-1e9), 0.0);
        assert_eq!(exp(-88.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn erf_is_within_5e_7_of_libm() {
        for x in grid(-6.0, 6.0, 200_000) {
            let exact = candle_core::cpu::erf::erf_f64(x as f64);
            assert!(
                (erf(x) as f64 - exact).abs() < 5e-7,
                "erf({x}) = {}, expected {exact}",
                erf(x)
            );
        }
    }
}
