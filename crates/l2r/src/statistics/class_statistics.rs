//! What a task's training split leaves behind in one frozen representation, with no example kept: the mean of every
//! class and the within-class scatter. The nearest-class-mean, shared-Gaussian (LDA) and EPI-style methods are
//! built from these alone; summed over tasks, the scatters give the covariance all classes share.

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};

/// One task's class means (C, d), its within-class scatter Σ (x − μ_class)(x − μ_class)ᵀ (d, d) and the number of
/// examples it sums over.
#[derive(Debug, Clone)]
pub struct ClassStatistics {
    pub class_means: Tensor,
    pub scatter: Tensor,
    pub count: usize,
}

impl ClassStatistics {
    /// From `features` (n, d) of a task's training examples and their `labels` in `0..num_labels`.
    pub fn fit(features: &Tensor, labels: &[usize], num_labels: usize) -> Result<Self> {
        let rows = features.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        if rows.len() != labels.len() || rows.is_empty() {
            return Err(Error::invalid(format!(
                "class statistics need one label per feature row ({} rows, {} labels)",
                rows.len(),
                labels.len()
            )));
        }
        let d = rows[0].len();
        let means = class_means(&rows, labels, num_labels)?;
        // Centred rows as one (n, d) matrix: the scatter is one product, CᵀC.
        let centered: Vec<f64> = rows
            .iter()
            .zip(labels)
            .flat_map(|(row, &label)| row.iter().zip(&means[label]).map(|(x, m)| x - m))
            .collect();
        let centered = Tensor::from_vec(centered, (rows.len(), d), &Device::Cpu)?;
        let scatter = centered.t()?.matmul(&centered)?.to_dtype(DType::F32)?;
        let flat_means: Vec<f32> = means.iter().flatten().map(|&v| v as f32).collect();
        Ok(ClassStatistics {
            class_means: Tensor::from_vec(flat_means, (num_labels, d), &Device::Cpu)?,
            scatter,
            count: rows.len(),
        })
    }

    pub fn num_classes(&self) -> Result<usize> {
        Ok(self.class_means.dim(0)?)
    }
}

fn class_means(rows: &[Vec<f64>], labels: &[usize], num_labels: usize) -> Result<Vec<Vec<f64>>> {
    let d = rows[0].len();
    let mut sums = vec![vec![0.0; d]; num_labels];
    let mut counts = vec![0usize; num_labels];
    for (row, &label) in rows.iter().zip(labels) {
        let sum = sums
            .get_mut(label)
            .ok_or_else(|| Error::invalid(format!("label {label} is outside 0..{num_labels}")))?;
        sum.iter_mut().zip(row).for_each(|(s, x)| *s += x);
        counts[label] += 1;
    }
    if let Some(empty) = counts.iter().position(|&c| c == 0) {
        return Err(Error::invalid(format!(
            "class statistics need examples of every class; class {empty} has none"
        )));
    }
    Ok(sums
        .into_iter()
        .zip(counts)
        .map(|(sum, count)| sum.into_iter().map(|s| s / count as f64).collect())
        .collect())
}
