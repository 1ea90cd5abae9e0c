//! What a task's training split leaves behind in one frozen representation, with no example kept: the mean of every
//! class and the within-class scatter. The nearest-class-mean, shared-Gaussian (LDA) and EPI-style methods are
//! built from these alone; summed over tasks, the scatters give the covariance all classes share.

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};

/// One task's class means (C, d), its within-class scatter Σ (x − μ_class)(x − μ_class)ᵀ (d, d) and the number of
/// examples it sums over, in all and per class.
#[derive(Debug, Clone)]
pub struct ClassStatistics {
    pub class_means: Tensor,
    pub scatter: Tensor,
    pub count: usize,
    /// Examples of each class (they sum to `count`): what taking examples back out of the statistics needs.
    pub class_counts: Vec<usize>,
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
        let (means, class_counts) = class_means(&rows, labels, num_labels)?;
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
            class_counts,
        })
    }

    pub fn num_classes(&self) -> Result<usize> {
        Ok(self.class_means.dim(0)?)
    }

    /// The statistics the training split would have left without the examples `features` (n, d) of classes
    /// `labels`, which must be among those it was computed from (a task's memory is drawn from its training split):
    /// what the Gaussian prior looks like on examples it did not see. Exact, from the class counts: with
    /// μ' = (n μ − Σ_removed x) / (n − m), the scatter loses Σ_removed (x − μ)(x − μ)ᵀ + (n − m)(μ' − μ)(μ' − μ)ᵀ.
    /// A class whose every example would go keeps its statistics (there is nothing to hold out from).
    pub fn without(&self, features: &Tensor, labels: &[usize]) -> Result<Self> {
        let rows = features.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        let means = self.class_means.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        if rows.len() != labels.len() {
            return Err(Error::invalid(format!(
                "{} feature rows but {} labels to take out of the class statistics",
                rows.len(),
                labels.len()
            )));
        }
        let mut removed = vec![Vec::new(); means.len()];
        for (row, &label) in rows.iter().zip(labels) {
            removed
                .get_mut(label)
                .ok_or_else(|| {
                    Error::invalid(format!("label {label} is outside 0..{}", means.len()))
                })?
                .push(row);
        }
        let d = means.first().map_or(0, Vec::len);
        // Every rank-one term to subtract, as the rows of one matrix U (scatter −= UᵀU).
        let mut terms: Vec<f64> = Vec::new();
        let (mut new_means, mut class_counts) = (means.clone(), self.class_counts.clone());
        for (class, gone) in removed.iter().enumerate() {
            let n = *self.class_counts.get(class).ok_or_else(|| {
                Error::invalid(format!(
                    "class statistics without a count for class {class}"
                ))
            })?;
            if gone.is_empty() || gone.len() >= n {
                continue;
            }
            new_means[class] = take_out(&means[class], n, gone, &mut terms);
            class_counts[class] = n - gone.len();
        }
        let scatter = match terms.len() / d.max(1) {
            0 => self.scatter.clone(),
            k => {
                let u = Tensor::from_vec(terms, (k, d), &Device::Cpu)?;
                (self.scatter.to_dtype(DType::F64)? - u.t()?.matmul(&u)?)?.to_dtype(DType::F32)?
            }
        };
        let flat_means: Vec<f32> = new_means.iter().flatten().map(|&v| v as f32).collect();
        Ok(ClassStatistics {
            class_means: Tensor::from_vec(flat_means, (means.len(), d), &Device::Cpu)?,
            scatter,
            count: class_counts.iter().sum(),
            class_counts,
        })
    }
}

/// The mean of a class of `n` examples with mean `mean` once the rows `gone` are taken out; pushes the rows of U
/// whose UᵀU the class's scatter loses: each removed row's deviation from `mean`, and √(n − m)·(μ' − μ).
fn take_out(mean: &[f64], n: usize, gone: &[&Vec<f64>], terms: &mut Vec<f64>) -> Vec<f64> {
    let kept = (n - gone.len()) as f64;
    let shifted: Vec<f64> = (0..mean.len())
        .map(|k| (n as f64 * mean[k] - gone.iter().map(|x| x[k]).sum::<f64>()) / kept)
        .collect();
    for x in gone {
        terms.extend(x.iter().zip(mean).map(|(x, m)| x - m));
    }
    terms.extend(shifted.iter().zip(mean).map(|(s, m)| kept.sqrt() * (s - m)));
    shifted
}

/// Every class's mean and number of examples.
fn class_means(
    rows: &[Vec<f64>],
    labels: &[usize],
    num_labels: usize,
) -> Result<(Vec<Vec<f64>>, Vec<usize>)> {
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
    let means = sums
        .into_iter()
        .zip(&counts)
        .map(|(sum, &count)| sum.into_iter().map(|s| s / count as f64).collect())
        .collect();
    Ok((means, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_examples_out_equals_fitting_without_them() -> Result<()> {
        let values: Vec<f32> = (0..40)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let features = Tensor::from_vec(values, (10, 4), &Device::Cpu)?;
        let labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
        let full = ClassStatistics::fit(&features, &labels, 3)?;
        assert_eq!(full.class_counts, vec![4, 3, 3]);
        // Take out rows 0 and 3 (class 0) and row 4 (class 1); class 2 keeps all of its rows.
        let gone = Tensor::cat(&[features.narrow(0, 0, 1)?, features.narrow(0, 3, 2)?], 0)?;
        let held_out = full.without(&gone, &[0, 0, 1])?;
        let kept: Vec<u32> = vec![1, 2, 5, 6, 7, 8, 9];
        let expected = ClassStatistics::fit(
            &features.index_select(&Tensor::new(kept.as_slice(), &Device::Cpu)?, 0)?,
            &kept.iter().map(|&i| labels[i as usize]).collect::<Vec<_>>(),
            3,
        )?;
        assert_eq!(held_out.class_counts, expected.class_counts);
        assert_eq!(held_out.count, 7);
        for (got, want) in [
            (&held_out.class_means, &expected.class_means),
            (&held_out.scatter, &expected.scatter),
        ] {
            let gap = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(gap < 1e-4, "differs by {gap}");
        }
        Ok(())
    }

    #[test]
    fn a_class_cannot_lose_every_example() -> Result<()> {
        let features = Tensor::new(&[[1f32, 0.0], [0.0, 1.0], [2.0, 0.0]], &Device::Cpu)?;
        let full = ClassStatistics::fit(&features, &[0, 1, 0], 2)?;
        let held_out = full.without(&features.narrow(0, 1, 1)?, &[1])?;
        assert_eq!(held_out.class_counts, vec![2, 1]);
        let gap = (&held_out.class_means - &full.class_means)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert_eq!(gap, 0.0);
        Ok(())
    }
}
