//! EPI-style task identification (Wang et al., ACL 2023, "Rehearsal-free continual language learning via efficient
//! parameter isolation"; docs/design.md, "Baselines"): the mean of every class and a covariance shared by all
//! classes, from frozen features of each task's training split; an input goes to the task of the class at minimum
//! Mahalanobis distance.
//!
//! Each task keeps only its class means and its within-class scatter (no examples); the shared covariance pools the
//! scatter of every task seen so far. A covariance per task would not do: with fewer examples than dimensions it
//! is singular, and the task whose covariance has the lowest rank measures distances in the fewest directions,
//! so it wins every input. The pooled covariance can still be singular, hence its pseudo-inverse.

use super::routing::{ModuleWeights, RoutingBaseline};
use crate::compose::{CompositionMode, Decision};
use crate::error::{Error, Result};
use crate::metrics::{Approach, Setup};
use candle_core::{DType, Device, Tensor};
use nalgebra::DMatrix;

/// Relative cut-off of the covariance's pseudo-inverse, per dimension: singular values below
/// `d · PINV_EPS_PER_DIM` × the largest count as zero. This is `torch.linalg.pinv`'s default cut-off for float32
/// (`max(m, n) · eps`), the precision EPI's statistics are kept in.
pub const PINV_EPS_PER_DIM: f64 = f32::EPSILON as f64;

/// One task's statistics: class means (C, d), the within-class scatter Σ (x − μ_class)(x − μ_class)ᵀ (d, d) and
/// the number of examples it sums over.
#[derive(Debug, Clone)]
pub struct EpiTask {
    pub class_means: Tensor,
    pub scatter: Tensor,
    pub count: usize,
}

impl EpiTask {
    /// From `features` (n, d) of a task's training examples and their `labels` in `0..num_labels`.
    pub fn fit(features: &Tensor, labels: &[usize], num_labels: usize) -> Result<Self> {
        let rows = features.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        if rows.len() != labels.len() || rows.is_empty() {
            return Err(Error::invalid(format!(
                "EPI statistics need one label per feature row ({} rows, {} labels)",
                rows.len(),
                labels.len()
            )));
        }
        let d = rows[0].len();
        let means = class_means(&rows, labels, num_labels)?;
        let mut scatter = DMatrix::<f64>::zeros(d, d);
        for (row, &label) in rows.iter().zip(labels) {
            let centered = nalgebra::DVector::from_iterator(
                d,
                row.iter().zip(&means[label]).map(|(x, m)| x - m),
            );
            scatter.ger(1.0, &centered, &centered, 1.0);
        }
        let flat_means: Vec<f32> = means.iter().flatten().map(|&v| v as f32).collect();
        Ok(EpiTask {
            class_means: Tensor::from_vec(flat_means, (num_labels, d), &Device::Cpu)?,
            scatter: Tensor::from_vec(
                scatter.iter().map(|&v| v as f32).collect(),
                (d, d),
                &Device::Cpu,
            )?,
            count: rows.len(),
        })
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
            "EPI statistics need examples of every class; class {empty} has none"
        )));
    }
    Ok(sums
        .into_iter()
        .zip(counts)
        .map(|(sum, count)| sum.into_iter().map(|s| s / count as f64).collect())
        .collect())
}

/// Moore–Penrose pseudo-inverse of a symmetric positive semi-definite matrix.
fn pseudo_inverse(matrix: DMatrix<f64>) -> Result<DMatrix<f64>> {
    let dim = matrix.nrows() as f64;
    let svd = matrix.svd(true, true);
    let cutoff = dim * PINV_EPS_PER_DIM * svd.singular_values.max().max(f64::MIN_POSITIVE);
    svd.pseudo_inverse(cutoff)
        .map_err(|e| Error::invalid(format!("covariance pseudo-inverse failed: {e}")))
}

/// Task identification over every task seen so far, with their pooled covariance.
pub struct EpiIdentifier {
    class_means: Vec<Tensor>,
    precision: Tensor,
}

impl EpiIdentifier {
    pub fn new(tasks: &[&EpiTask]) -> Result<Self> {
        let first = tasks
            .first()
            .ok_or_else(|| Error::invalid("EPI needs at least one task"))?;
        let mut scatter = first.scatter.to_dtype(DType::F64)?;
        for task in &tasks[1..] {
            scatter = (scatter + task.scatter.to_dtype(DType::F64)?)?;
        }
        let count: usize = tasks.iter().map(|t| t.count).sum();
        let d = scatter.dim(0)?;
        let covariance = DMatrix::from_row_slice(
            d,
            d,
            &(scatter / count.max(1) as f64)?
                .flatten_all()?
                .to_vec1::<f64>()?,
        );
        let precision = pseudo_inverse(covariance)?;
        Ok(EpiIdentifier {
            class_means: tasks.iter().map(|t| t.class_means.clone()).collect(),
            precision: Tensor::from_vec(
                precision.transpose().iter().map(|&v| v as f32).collect(),
                (d, d),
                &Device::Cpu,
            )?,
        })
    }

    /// (batch,) squared Mahalanobis distance of each row of `x` (batch, d) to the nearest of `means` (C, d).
    fn nearest_distance(&self, x: &Tensor, means: &Tensor) -> Result<Vec<f32>> {
        // (x − μ)ᵀ P (x − μ) = xᵀPx − 2 xᵀPμ + μᵀPμ, for every row and class at once.
        let px = x.matmul(&self.precision)?; // (b, d)
        let xpx = (&px * x)?.sum(1)?.unsqueeze(1)?; // (b, 1)
        let pm = means.matmul(&self.precision)?; // (C, d)
        let mpm = (&pm * means)?.sum(1)?.unsqueeze(0)?; // (1, C)
        let cross = px.matmul(&means.t()?)?; // (b, C)
        let distances = xpx.broadcast_add(&mpm)?.broadcast_sub(&(cross * 2.0)?)?;
        Ok(distances.min(1)?.to_vec1::<f32>()?)
    }

    /// The identified task of each row of `x` (batch, d).
    pub fn identify(&self, x: &Tensor) -> Result<Vec<usize>> {
        let per_task = self
            .class_means
            .iter()
            .map(|means| self.nearest_distance(x, means))
            .collect::<Result<Vec<_>>>()?;
        let batch = x.dim(0)?;
        Ok((0..batch)
            .map(|row| {
                (0..per_task.len())
                    .min_by(|&a, &b| per_task[a][row].total_cmp(&per_task[b][row]))
                    .unwrap_or(0)
            })
            .collect())
    }
}

impl RoutingBaseline for EpiIdentifier {
    /// The identified task's module and head: its TIL accuracy is the oracle's, so it has no TIL setup.
    fn setups(&self) -> &'static [(Setup, Decision)] {
        const SETUPS: &[(Setup, Decision)] = &[
            (Setup::cil(Approach::Epi), Decision::TopModuleHead),
            (Setup::routing(Approach::Epi), Decision::TopModule),
        ];
        SETUPS
    }

    fn weights(&self, frozen: &Tensor) -> Result<ModuleWeights<'_>> {
        let tasks = self.identify(frozen)?;
        let num_tasks = self.class_means.len();
        let one_hot = candle_nn::encoding::one_hot(
            Tensor::new(
                tasks.iter().map(|&t| t as u32).collect::<Vec<_>>(),
                &Device::Cpu,
            )?,
            num_tasks,
            1f32,
            0f32,
        )?;
        Ok(ModuleWeights::PerExample {
            weights: one_hot,
            mode: Some(CompositionMode::Wavg),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes (shifted along axis 0) around `center`, uniform noise of width `spread` per axis.
    fn task(center: [f32; 3], spread: [f32; 3], seed: u64) -> EpiTask {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut rows, mut labels) = (Vec::new(), Vec::new());
        for label in 0..2 {
            for _ in 0..200 {
                for k in 0..3 {
                    let shift = if k == 0 { label as f32 } else { 0.0 };
                    rows.push(center[k] + shift + spread[k] * (rng.random::<f32>() - 0.5));
                }
                labels.push(label);
            }
        }
        let x = Tensor::from_vec(rows, (400, 3), &Device::Cpu).unwrap();
        EpiTask::fit(&x, &labels, 2).unwrap()
    }

    #[test]
    fn mahalanobis_distance_matches_the_definition() {
        let stats = task([0.0, 0.0, 0.0], [1.0, 0.2, 3.0], 1);
        let identifier = EpiIdentifier::new(&[&stats]).unwrap();
        let q = [0.3f32, 0.1, -1.0];
        let query = Tensor::new(&[q], &Device::Cpu).unwrap();
        let got = identifier
            .nearest_distance(&query, &stats.class_means)
            .unwrap()[0];
        let p = identifier.precision.to_vec2::<f32>().unwrap();
        let expected = stats
            .class_means
            .to_vec2::<f32>()
            .unwrap()
            .iter()
            .map(|m| {
                let diff: Vec<f32> = q.iter().zip(m).map(|(a, b)| a - b).collect();
                (0..3)
                    .map(|i| (0..3).map(|j| diff[i] * p[i][j] * diff[j]).sum::<f32>())
                    .sum::<f32>()
            })
            .fold(f32::INFINITY, f32::min);
        assert!(
            (got - expected).abs() < 1e-3 * expected.max(1.0),
            "{got} vs {expected}"
        );
    }

    #[test]
    fn identifies_the_task_a_euclidean_rule_would_miss() {
        // Both tasks spread widely along axis 2 and narrowly along axis 1. The query is Euclidean-closer to task 1
        // (0.8 away along axis 1 against 3 along axis 2) but, in units of the shared covariance, far closer to task 0.
        let a = task([0.0, 0.0, 0.0], [0.2, 0.2, 8.0], 2);
        let b = task([0.0, 1.0, 3.0], [0.2, 0.2, 8.0], 3);
        let identifier = EpiIdentifier::new(&[&a, &b]).unwrap();
        let x = Tensor::new(&[[0.0f32, 0.2, 3.0], [0.5, 0.9, 0.0]], &Device::Cpu).unwrap();
        assert_eq!(identifier.identify(&x).unwrap(), vec![0, 1]);
    }

    #[test]
    fn a_singular_covariance_still_gives_finite_distances() {
        // 4 examples in 3 dimensions, all on a plane: the covariance has rank at most 2.
        let x = Tensor::new(
            &[[0f32, 0., 0.], [1., 0., 0.], [0., 1., 0.], [1., 1., 0.]],
            &Device::Cpu,
        )
        .unwrap();
        let stats = EpiTask::fit(&x, &[0, 0, 1, 1], 2).unwrap();
        let identifier = EpiIdentifier::new(&[&stats]).unwrap();
        let d = identifier.nearest_distance(&x, &stats.class_means).unwrap();
        assert!(d.iter().all(|v| v.is_finite()), "{d:?}");
        assert!(
            EpiTask::fit(&x, &[0, 0, 0, 0], 2).is_err(),
            "a class without examples"
        );
    }
}
