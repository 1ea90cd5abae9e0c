//! Sentence representations from token states.

use candle_core::{Result, Tensor, D};

/// Mean of the hidden states over real tokens: (batch, seq, hidden) with mask (batch, seq) -> (batch, hidden).
pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
    let mask = attention_mask.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::INFINITY)?;
    summed.broadcast_div(&counts)
}

/// Every state's mean pool, each L2-normalised, concatenated and scaled by 1/√(number of states): a unit-norm
/// (batch, states · hidden) representation whose dot products are the mean of the per-state cosines. Lower
/// layers keep genre and style that the final sentence embedding (trained for semantic similarity) discards.
pub fn pooled_states(states: &[Tensor], attention_mask: &Tensor) -> Result<Tensor> {
    let pooled = states
        .iter()
        .map(|h| l2_normalize(&mean_pool(h, attention_mask)?))
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&pooled, D::Minus1)? / (states.len() as f64).sqrt()
}

/// Rows scaled to unit L2 norm.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norms = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    x.broadcast_div(&norms)
}

/// Cosine similarity between two 1-D vectors.
pub fn cosine_similarity(a: &Tensor, b: &Tensor) -> Result<f32> {
    let dot = (a * b)?.sum_all()?.to_scalar::<f32>()?;
    let na = a.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
    let nb = b.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
    Ok(dot / (na * nb).max(1e-12))
}
