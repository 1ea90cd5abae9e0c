//! Matmul FLOPs of one iteration of each work item: the useful work, the same count on the l2r and the PyTorch
//! side (`bench/torch_bench.py` has the same formulas; `bench/compare.py` checks that both sides agree), so that
//! GFLOP/s = flops / median seconds compares directly with the CPU's FMA peak.
//!
//! One multiply-add is 2 FLOPs. With L layers, hidden size d, feed-forward size f, B sequences of S tokens,
//! n = B·S tokens, adapter size a, LoRA rank r (on query and value), N composed modules:
//!
//! - `lin`  = 2n(4d² + 2df)   the six frozen linears of one layer (query, key, value, attention output,
//!   intermediate, output)
//! - `att`  = 4nSd            scores QKᵀ and context PV of one layer, all heads
//! - `m_a`  = 4nda            one bottleneck adapter (down d→a, up a→d) in one layer
//! - `m_l`  = 8ndr            LoRA on query and value in one layer (x·Aᵀ then ·Bᵀ, two sites)
//!
//! Forward of the encoder: L(lin + att). Backward counts only what a minimal implementation must compute:
//! a frozen linear needs only its input gradient (the same FLOPs as its forward; no weight gradient), the
//! attention matmuls need both operands' gradients (2·att), a trainable module needs its weight gradients and
//! its input gradient (2× its forward). Nothing below the lowest module needs a gradient:
//!
//! - `train-adapter`: L(lin+att) + (L−1)(lin+2att) + (3L − ½)·m_a
//!   (layer 0: the adapter sits after the feed-forward block, so layer 0's frozen part needs no backward; its
//!   adapter skips the input gradient, ½·m_a)
//! - `train-lora`: L(lin+att) + (L−1)(lin+2att) + (lin − 6nd² + 1.5·att) + (3L − ½)·m_l
//!   (layer 0: gradients reach its query and value outputs, so the feed-forward and attention-output input
//!   gradients and dP, dV, dQ are needed, but not the input gradients of query/key/value nor dK; its LoRA skips
//!   the input gradient, ½·m_l)
//! - `infer`: L(lin+att)
//! - `routed-wavg-N`: L(lin+att) + L·N·m_a (every module applied, outputs averaged)
//! - `routed-merge-N`: L(lin+att) + L·m_a + L·4BNad (per example, the down and up weights averaged over N
//!   modules: (B, N)·(N, a·d) twice)
//! - `router-fit` (N modules, wavg, gradients to the per-layer routers only): L(lin+att) + L·N·m_a forward,
//!   (L−1)(lin+2att) + (L−1)·N·m_a backward (input gradients through every module above layer 0; at layer 0 the
//!   router's gradient is an elementwise product with the modules' outputs, no matmul).
//!
//! Not counted: the classifier heads, pooling, the routers' own (B, d)·(d, N) products, elementwise work.

use super::work::Work;
use l2r::backbone::EncoderConfig;

/// Adapter size and LoRA rank of the benchmark's modules (`PeftConfig::adapter()` / `PeftConfig::lora()`).
pub const ADAPTER_SIZE: usize = 64;
pub const LORA_RANK: usize = 8;

pub fn work_flops(work: &Work, encoder: &EncoderConfig, batch: usize, seq: usize) -> f64 {
    let (l, d, f) = (
        encoder.num_hidden_layers as f64,
        encoder.hidden_size as f64,
        encoder.intermediate_size as f64,
    );
    let (b, s) = (batch as f64, seq as f64);
    let n = b * s;
    let (a, r) = (ADAPTER_SIZE as f64, LORA_RANK as f64);
    let lin = 2.0 * n * (4.0 * d * d + 2.0 * d * f);
    let att = 4.0 * n * s * d;
    let m_a = 4.0 * n * d * a;
    let m_l = 8.0 * n * d * r;
    let forward = l * (lin + att);
    let backward_above_first = (l - 1.0) * (lin + 2.0 * att);
    match *work {
        Work::Infer => forward,
        Work::TrainAdapter => forward + backward_above_first + (3.0 * l - 0.5) * m_a,
        Work::TrainLora => {
            forward
                + backward_above_first
                + (lin - 6.0 * n * d * d + 1.5 * att)
                + (3.0 * l - 0.5) * m_l
        }
        Work::Routed {
            merge: false,
            modules,
        } => forward + l * modules as f64 * m_a,
        Work::Routed {
            merge: true,
            modules,
        } => forward + l * m_a + l * 4.0 * b * modules as f64 * a * d,
        Work::RouterFit { modules } => {
            let nm = modules as f64;
            forward + l * nm * m_a + backward_above_first + (l - 1.0) * nm * m_a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minilm() -> EncoderConfig {
        let mut config = l2r::backbone::tiny::tiny_config();
        config.num_hidden_layers = 6;
        config.hidden_size = 384;
        config.intermediate_size = 1536;
        config
    }

    #[test]
    fn inference_is_about_two_flops_per_parameter_per_token() {
        // 6 layers × (4·384² + 2·384·1536) = 10.6 M linear weights; 2 FLOPs each per token, plus attention.
        let flops = work_flops(&Work::Infer, &minilm(), 32, 128);
        let linear = 2.0 * 32.0 * 128.0 * 6.0 * (4.0 * 384.0 * 384.0 + 2.0 * 384.0 * 1536.0);
        let attention = 6.0 * 4.0 * 32.0 * 128.0 * 128.0 * 384.0;
        assert!((flops - linear - attention).abs() < 1.0, "{flops}");
    }

    #[test]
    fn training_costs_between_two_and_three_forwards() {
        let config = minilm();
        let forward = work_flops(&Work::Infer, &config, 16, 128);
        for work in [Work::TrainLora, Work::TrainAdapter] {
            let ratio = work_flops(&work, &config, 16, 128) / forward;
            assert!(ratio > 1.8 && ratio < 3.0, "{ratio}");
        }
    }
}
