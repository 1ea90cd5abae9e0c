//! A SetFit-style pairwise cosine loss on the head's input (`[train] contrastive_weight`): within a batch, the
//! cosine of two examples' features is pulled towards 1 when they share a label and towards 0 when they do not.
//! Few-shot sentence-transformer fine-tuning (SetFit, Tunstall et al. 2022) shapes the embedding this way rather
//! than through a classifier alone, which over-fits less at tens of examples per class.

use crate::error::Result;
use candle_core::{DType, Tensor};

/// The loss over every ordered pair of distinct examples in the batch, positives (same label) and negatives
/// weighted equally whatever their counts, since with several classes a batch holds far more negatives. Zero
/// when the batch has no pair of one kind or the other (it is then left to the cross-entropy).
pub fn pairwise_cosine_loss(features: &Tensor, labels: &[u32]) -> Result<Tensor> {
    let device = features.device();
    let n = labels.len();
    let (positive, negative) = pair_masks(labels);
    let (positives, negatives) = (count(&positive), count(&negative));
    if positives == 0.0 || negatives == 0.0 {
        return Ok(Tensor::zeros((), DType::F32, device)?);
    }
    let norms = features
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-6, f64::MAX)?;
    let unit = features.broadcast_div(&norms)?;
    let cosines = unit.matmul(&unit.t()?)?;
    let positive = Tensor::from_vec(positive, (n, n), device)?;
    let negative = Tensor::from_vec(negative, (n, n), device)?;
    // Target 1 on positive pairs, 0 on negative ones; the diagonal is in neither mask.
    let errors = (&cosines - &positive)?.sqr()?;
    let on_positives = (errors.mul(&positive)?.sum_all()? / positives as f64)?;
    let on_negatives = (errors.mul(&negative)?.sum_all()? / negatives as f64)?;
    Ok(((on_positives + on_negatives)? * 0.5)?)
}

/// 1/0 masks (row-major n × n) of the pairs i ≠ j with equal and with different labels.
fn pair_masks(labels: &[u32]) -> (Vec<f32>, Vec<f32>) {
    let n = labels.len();
    let mut positive = vec![0f32; n * n];
    let mut negative = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let same = labels[i] == labels[j];
            positive[i * n + j] = same as u8 as f32;
            negative[i * n + j] = !same as u8 as f32;
        }
    }
    (positive, negative)
}

fn count(mask: &[f32]) -> f32 {
    mask.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use candle_nn::Optimizer;

    fn loss_of(rows: &[[f32; 2]], labels: &[u32]) -> f32 {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let features = Tensor::from_vec(flat, (rows.len(), 2), &Device::Cpu).unwrap();
        pairwise_cosine_loss(&features, labels)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn zero_when_classes_are_orthogonal_and_aligned_within() {
        let loss = loss_of(
            &[[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 1.0]],
            &[0, 0, 1, 1],
        );
        assert!(loss.abs() < 1e-6, "{loss}");
    }

    #[test]
    fn positives_and_negatives_weigh_the_same_whatever_their_counts() {
        // Same label on orthogonal rows: both positive pairs miss by 1 (mean 1). Of the four negative pairs, the
        // two parallel ones miss by 1 and the orthogonal ones not at all (mean 0.5).
        let loss = loss_of(
            &[[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 1.0]],
            &[0, 1, 0, 1],
        );
        assert!((loss - 0.75).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn zero_without_a_pair_of_each_kind() {
        assert_eq!(loss_of(&[[1.0, 0.0], [0.0, 1.0]], &[0, 1]), 0.0);
        assert_eq!(loss_of(&[[1.0, 0.0], [0.0, 1.0]], &[2, 2]), 0.0);
        assert_eq!(loss_of(&[[1.0, 0.0]], &[0]), 0.0);
    }

    #[test]
    fn gradient_steps_pull_classes_apart() {
        let start = [0.9f32, 0.1, 1.0, 0.2, 0.8, 0.3, 1.0, 0.25];
        let var = Var::from_vec(start.to_vec(), (4, 2), &Device::Cpu).unwrap();
        let labels = [0, 0, 1, 1];
        let first = pairwise_cosine_loss(var.as_tensor(), &labels).unwrap();
        let mut sgd = candle_nn::SGD::new(vec![var.clone()], 0.5).unwrap();
        for _ in 0..200 {
            let loss = pairwise_cosine_loss(var.as_tensor(), &labels).unwrap();
            sgd.backward_step(&loss).unwrap();
        }
        let last = pairwise_cosine_loss(var.as_tensor(), &labels).unwrap();
        let (first, last) = (
            first.to_scalar::<f32>().unwrap(),
            last.to_scalar::<f32>().unwrap(),
        );
        assert!(last < 0.1 * first, "{first} -> {last}");
    }
}
