//! RanPAC-style ridge regression (McDonnell et al., NeurIPS 2023, arXiv 2307.02251; docs/design.md, "Baselines"):
//! frozen features go through one fixed random ReLU projection to `M` dimensions, h = relu(x·R), and a ridge
//! regression maps h to one-hot targets over every class seen. It keeps only accumulated statistics, the Gram
//! matrix G = Σ hhᵀ and C = Σ h yᵀ of each task's training split, so adding a task adds its sums: a continual
//! learner with no example kept. The regulariser λ is chosen after each task by the mean squared error on the
//! validation splits' statistics (the same sums over each task's validation split), in closed form, as RanPAC's own
//! code chooses it by validation MSE.

use super::eigen::symmetric_eigen;
use crate::embedded::Representation;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};

/// The projection's seed: one projection for every task, run and seed, so that statistics of different tasks add up.
const PROJECTION_SEED: u64 = 0x5241_4e50;

/// The regularisers tried, as RanPAC's code does: 10⁻⁸ … 10⁸.
pub const RIDGE_GRID: [f64; 17] = [
    1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
];

/// The fixed random projection R (d, M), entries N(0, 1).
#[derive(Clone)]
pub struct RandomProjection {
    weights: Tensor,
}

impl RandomProjection {
    pub fn new(input_dim: usize, output_dim: usize) -> Result<Self> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(PROJECTION_SEED ^ input_dim as u64);
        let values: Vec<f32> = (0..input_dim * output_dim)
            .map(|_| standard_normal(&mut rng))
            .collect();
        Ok(RandomProjection {
            weights: Tensor::from_vec(values, (input_dim, output_dim), &Device::Cpu)?,
        })
    }

    /// relu(x·R): (n, M), on the CPU (where the ridge's f64 algebra runs) whatever `x`'s device.
    pub fn project(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.to_device(&Device::Cpu)?.matmul(&self.weights)?.relu()?)
    }
}

/// Box–Muller: one N(0, 1) draw.
fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let v: f64 = rng.random();
    ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
}

/// One task's sums in one representation: G (M, M) and C (M, C_task) over its training split, and the same over its
/// validation split.
#[derive(Debug, Clone)]
pub struct RidgeStatistics {
    pub gram: Tensor,
    pub cross: Tensor,
    pub validation_gram: Tensor,
    pub validation_cross: Tensor,
}

impl RidgeStatistics {
    pub fn fit(
        projection: &RandomProjection,
        train: (&Tensor, &[usize]),
        validation: (&Tensor, &[usize]),
        num_labels: usize,
    ) -> Result<Self> {
        let (gram, cross) = sums(projection, train.0, train.1, num_labels)?;
        let (validation_gram, validation_cross) =
            sums(projection, validation.0, validation.1, num_labels)?;
        Ok(RidgeStatistics {
            gram,
            cross,
            validation_gram,
            validation_cross,
        })
    }
}

impl RidgeStatistics {
    /// The same sums without the training examples `features` (n, d) of classes `labels` (rows that were summed
    /// in): subtracting their hᵀh and hᵀY takes them out exactly, as if the task's training split had lacked them.
    pub fn without(
        &self,
        projection: &RandomProjection,
        features: &Tensor,
        labels: &[usize],
    ) -> Result<Self> {
        let (gram, cross) = sums(projection, features, labels, self.cross.dim(1)?)?;
        Ok(RidgeStatistics {
            gram: (&self.gram - gram)?,
            cross: (&self.cross - cross)?,
            ..self.clone()
        })
    }
}

/// hᵀh and hᵀY of `features` (n, d) with one-hot targets from `labels`.
fn sums(
    projection: &RandomProjection,
    features: &Tensor,
    labels: &[usize],
    num_labels: usize,
) -> Result<(Tensor, Tensor)> {
    if features.dim(0)? != labels.len() {
        return Err(Error::invalid(format!(
            "ridge statistics need one label per row ({} rows, {} labels)",
            features.dim(0)?,
            labels.len()
        )));
    }
    if let Some(bad) = labels.iter().find(|&&l| l >= num_labels) {
        return Err(Error::invalid(format!(
            "label {bad} is outside 0..{num_labels}"
        )));
    }
    let h = projection.project(features)?;
    let targets = candle_nn::encoding::one_hot(
        Tensor::new(
            labels.iter().map(|&l| l as u32).collect::<Vec<_>>(),
            &Device::Cpu,
        )?,
        num_labels,
        1f32,
        0f32,
    )?;
    Ok((h.t()?.matmul(&h)?, h.t()?.matmul(&targets)?))
}

/// The ridge classifier over every task seen so far: W = (G + λI)⁻¹C with λ of least validation error.
#[derive(Clone)]
pub struct RidgeClassifier {
    projection: RandomProjection,
    /// (M, C)
    weights: Tensor,
    representation: Representation,
    /// The regulariser chosen.
    pub lambda: f64,
    /// (G + λI)⁻¹ as Q (M, M) and 1 / (Λ + λ) (M,), for leave-one-out scores; absent once loaded from a file.
    inverse: Option<(Tensor, Tensor)>,
}

impl RidgeClassifier {
    pub fn new(
        tasks: &[&RidgeStatistics],
        projection: RandomProjection,
        representation: Representation,
    ) -> Result<Self> {
        if tasks.is_empty() {
            return Err(Error::invalid("a ridge classifier needs at least one task"));
        }
        let sum = |pick: fn(&RidgeStatistics) -> &Tensor| -> Result<Tensor> {
            let mut total = pick(tasks[0]).to_dtype(DType::F64)?;
            for task in &tasks[1..] {
                total = (total + pick(task).to_dtype(DType::F64)?)?;
            }
            Ok(total)
        };
        // Targets of task t live in its own columns: C is the tasks' C side by side.
        let concat = |pick: fn(&RidgeStatistics) -> &Tensor| -> Result<Tensor> {
            let parts: Vec<Tensor> = tasks.iter().map(|t| pick(t).clone()).collect();
            Ok(Tensor::cat(&parts, 1)?.to_dtype(DType::F64)?)
        };
        let gram = sum(|t| &t.gram)?;
        let cross = concat(|t| &t.cross)?;
        let validation_gram = sum(|t| &t.validation_gram)?;
        let validation_cross = concat(|t| &t.validation_cross)?;
        let solution = solve(&gram, &cross, &validation_gram, &validation_cross)?;
        Ok(RidgeClassifier {
            projection,
            weights: solution.weights.to_dtype(DType::F32)?,
            representation,
            lambda: solution.lambda,
            inverse: Some((
                solution.q.to_dtype(DType::F32)?,
                solution.inverse_eigenvalues.to_dtype(DType::F32)?,
            )),
        })
    }

    /// A classifier saved as its weights (M, C) over `representation` of width `input_dim`.
    pub fn from_weights(
        weights: Tensor,
        input_dim: usize,
        representation: Representation,
    ) -> Result<Self> {
        let projection = RandomProjection::new(input_dim, weights.dim(0)?)?;
        Ok(RidgeClassifier {
            projection,
            weights: weights.to_device(&Device::Cpu)?,
            representation,
            lambda: f64::NAN,
            inverse: None,
        })
    }

    /// One classifier whose scores are `parts`' scores side by side (each task's own ridge, in its own columns): the
    /// parts must share the projection, as every ridge of one representation and width does.
    pub fn side_by_side(parts: &[&RidgeClassifier]) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| Error::invalid("no ridge classifiers to put side by side"))?;
        if parts
            .iter()
            .any(|p| p.weights.dim(0).ok() != first.weights.dim(0).ok())
        {
            return Err(Error::invalid(
                "ridge classifiers side by side need projections of one width",
            ));
        }
        let weights: Vec<Tensor> = parts.iter().map(|p| p.weights.clone()).collect();
        Ok(RidgeClassifier {
            projection: first.projection.clone(),
            weights: Tensor::cat(&weights, 1)?,
            representation: first.representation,
            lambda: f64::NAN,
            inverse: None,
        })
    }

    /// (M, C)
    pub fn weights(&self) -> &Tensor {
        &self.weights
    }

    /// The scores each of `features` (n, d) would get from the classifier fitted without it, for examples that
    /// are among the training examples (the memory is), with `classes` their classes in the concatenated label
    /// space: (ŷᵢ − hᵢᵢ yᵢ) / (1 − hᵢᵢ), hᵢᵢ = hᵢᵀ(G + λI)⁻¹hᵢ (the closed form of ridge leave-one-out). Scores of
    /// training examples themselves would be overconfident, and anything fitted on them would over-trust the ridge.
    pub fn leave_one_out_scores(&self, features: &Tensor, classes: &[usize]) -> Result<Tensor> {
        let (q, inverse) = self.inverse.as_ref().ok_or_else(|| {
            Error::invalid("leave-one-out scores need the classifier as fitted, not as loaded")
        })?;
        let h = self.projection.project(features)?;
        let rotated = h.matmul(q)?; // (n, M): Qᵀhᵢ per row
        let leverage = rotated
            .sqr()?
            .broadcast_mul(&inverse.unsqueeze(0)?)?
            .sum_keepdim(1)?; // (n, 1)
        let targets = candle_nn::encoding::one_hot(
            Tensor::new(
                classes.iter().map(|&c| c as u32).collect::<Vec<_>>(),
                &Device::Cpu,
            )?,
            self.weights.dim(1)?,
            1f32,
            0f32,
        )?;
        let fitted = h.matmul(&self.weights)?;
        let removed = (fitted - targets.broadcast_mul(&leverage)?)?;
        // hᵢᵢ < 1 for λ > 0; the clamp only guards rounding.
        let keep = leverage.affine(-1.0, 1.0)?.clamp(1e-6, 1.0)?;
        Ok(removed.broadcast_div(&keep)?.to_device(features.device())?)
    }
}

struct Solution {
    lambda: f64,
    weights: Tensor,
    q: Tensor,
    inverse_eigenvalues: Tensor,
}

/// Eigendecomposition G = QΛQᵀ once; then for each λ, W = Q diag(1/(Λ + λ)) QᵀC, and its validation error
/// ‖H_v W − Y_v‖² = tr(Wᵀ G_v W) − 2 tr(Wᵀ C_v) + const. Returns the best λ and its W.
fn solve(
    gram: &Tensor,
    cross: &Tensor,
    validation_gram: &Tensor,
    validation_cross: &Tensor,
) -> Result<Solution> {
    let m = gram.dim(0)?;
    let eigen = symmetric_eigen(gram)?;
    let q = eigen.vectors;
    let q_t = q.t()?.contiguous()?;
    let b = q_t.matmul(cross)?; // QᵀC (M, C)
    let gv = q_t.matmul(validation_gram)?.matmul(&q)?; // QᵀG_vQ
    let cv = q_t.matmul(validation_cross)?; // QᵀC_v
    let eigenvalues: Vec<f64> = eigen.values.iter().map(|&v| v.max(0.0)).collect();
    let mut best: Option<(f64, f64, Tensor, Tensor)> = None;
    for lambda in RIDGE_GRID {
        let inverse: Vec<f64> = eigenvalues.iter().map(|v| 1.0 / (v + lambda)).collect();
        let inverse = Tensor::from_vec(inverse, m, &Device::Cpu)?;
        let z = b.broadcast_mul(&inverse.unsqueeze(1)?)?;
        let quadratic = (gv.matmul(&z)? * &z)?.sum_all()?.to_scalar::<f64>()?;
        let linear = (&cv * &z)?.sum_all()?.to_scalar::<f64>()?;
        let error = quadratic - 2.0 * linear;
        if best.as_ref().is_none_or(|(_, e, _, _)| error < *e) {
            best = Some((lambda, error, z, inverse));
        }
    }
    let (lambda, _, z, inverse_eigenvalues) =
        best.ok_or_else(|| Error::invalid("empty ridge grid"))?;
    Ok(Solution {
        lambda,
        weights: q.matmul(&z)?,
        q,
        inverse_eigenvalues,
    })
}

impl RidgeClassifier {
    /// (n, C) class scores of `features` (n, d), in the classifier's representation.
    pub fn scores(&self, features: &Tensor) -> Result<Tensor> {
        let scores = self.projection.project(features)?.matmul(&self.weights)?;
        Ok(scores.to_device(features.device())?)
    }

    pub fn representation(&self) -> Representation {
        self.representation
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;
    use rand::{Rng, SeedableRng};

    fn features(rows: &[[f32; 2]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (rows.len(), 2), &Device::Cpu).unwrap()
    }

    /// `n` points around (1, 0) (class 0) and (0, 1) (class 1), with a seeded jitter.
    fn two_classes(n: usize, seed: u64) -> (Tensor, Vec<usize>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut rows = Vec::new();
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        for &label in &labels {
            let jitter: [f32; 2] = [rng.random::<f32>() - 0.5, rng.random::<f32>() - 0.5];
            let center = if label == 0 { [1.0, 0.0] } else { [0.0, 1.0] };
            rows.push([center[0] + jitter[0], center[1] + jitter[1]]);
        }
        (features(&rows), labels)
    }

    #[test]
    fn the_closed_form_matches_a_direct_solve_and_classifies_separable_classes() {
        let m = 6;
        let projection = RandomProjection::new(2, m).unwrap();
        let (train, labels) = two_classes(60, 1);
        let (validation, validation_labels) = two_classes(20, 2);
        let stats = RidgeStatistics::fit(
            &projection,
            (&train, &labels),
            (&validation, &validation_labels),
            2,
        )
        .unwrap();
        let classifier =
            RidgeClassifier::new(&[&stats], projection, Representation::FinalLayer).unwrap();
        // Direct solve at the chosen λ.
        let g = stats
            .gram
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let c = stats
            .cross
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let mut a = DMatrix::from_fn(m, m, |i, j| g[i][j]);
        a += DMatrix::identity(m, m) * classifier.lambda;
        let w = a
            .lu()
            .solve(&DMatrix::from_fn(m, 2, |i, j| c[i][j]))
            .unwrap();
        let got = classifier
            .weights
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        for i in 0..m {
            for j in 0..2 {
                let scale = w[(i, j)].abs().max(1.0);
                assert!(
                    (got[i][j] - w[(i, j)]).abs() < 1e-3 * scale,
                    "λ {}: W[{i},{j}] = {} against {}",
                    classifier.lambda,
                    got[i][j],
                    w[(i, j)]
                );
            }
        }
        let test = crate::embedded::Features {
            final_layer: features(&[[0.9, 0.1], [0.1, 0.9]]),
            all_layers: features(&[[0.0, 0.0]]),
        };
        let predicted = classifier
            .scores(&test.final_layer)
            .unwrap()
            .argmax(1)
            .unwrap();
        assert_eq!(predicted.to_vec1::<u32>().unwrap(), vec![0, 1]);
    }

    #[test]
    fn statistics_without_some_rows_equal_those_of_the_rest() {
        let projection = RandomProjection::new(2, 5).unwrap();
        let (train, labels) = two_classes(20, 7);
        let (validation, validation_labels) = two_classes(6, 8);
        let stats_of = |from: usize| {
            let x = train.narrow(0, from, 20 - from).unwrap();
            let v = (&validation, validation_labels.as_slice());
            RidgeStatistics::fit(&projection, (&x, &labels[from..]), v, 2).unwrap()
        };
        let without = stats_of(0)
            .without(&projection, &train.narrow(0, 0, 4).unwrap(), &labels[..4])
            .unwrap();
        let rest = stats_of(4);
        let close = |a: &Tensor, b: &Tensor| {
            let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap();
            diff.to_scalar::<f32>().unwrap() < 1e-4
        };
        assert!(close(&without.gram, &rest.gram));
        assert!(close(&without.cross, &rest.cross));
        assert!(close(&without.validation_gram, &rest.validation_gram));
    }

    #[test]
    fn leave_one_out_scores_equal_a_refit_without_the_example() {
        let m = 6;
        let (train, labels) = two_classes(30, 3);
        let (validation, validation_labels) = two_classes(10, 4);
        let fit = |rows: &[usize]| {
            let index = Tensor::new(
                rows.iter().map(|&r| r as u32).collect::<Vec<_>>(),
                &Device::Cpu,
            )
            .unwrap();
            let x = train.index_select(&index, 0).unwrap();
            let y: Vec<usize> = rows.iter().map(|&r| labels[r]).collect();
            let projection = RandomProjection::new(2, m).unwrap();
            let stats =
                RidgeStatistics::fit(&projection, (&x, &y), (&validation, &validation_labels), 2)
                    .unwrap();
            RidgeClassifier::new(&[&stats], projection, Representation::FinalLayer).unwrap()
        };
        let all: Vec<usize> = (0..30).collect();
        let full = fit(&all);
        let loo = full
            .leave_one_out_scores(&train.narrow(0, 0, 1).unwrap(), &labels[..1])
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // Refit without example 0 at the same λ: solve directly.
        let without: Vec<usize> = (1..30).collect();
        let index = Tensor::new(
            without.iter().map(|&r| r as u32).collect::<Vec<_>>(),
            &Device::Cpu,
        )
        .unwrap();
        let projection = RandomProjection::new(2, m).unwrap();
        let h = projection
            .project(&train.index_select(&index, 0).unwrap())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let h = DMatrix::from_fn(29, m, |i, j| h[i][j]);
        let y = DMatrix::from_fn(29, 2, |i, j| (labels[without[i]] == j) as u8 as f64);
        let a = h.transpose() * &h + DMatrix::identity(m, m) * full.lambda;
        let w = a.lu().solve(&(h.transpose() * y)).unwrap();
        let h0 = projection
            .project(&train.narrow(0, 0, 1).unwrap())
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let h0 = DMatrix::from_fn(1, m, |_, j| h0[0][j]);
        let expected = h0 * w;
        for j in 0..2 {
            let tolerance = 1e-2 * expected[(0, j)].abs().max(1.0);
            assert!(
                (loo[0][j] as f64 - expected[(0, j)]).abs() < tolerance,
                "λ {}: {loo:?} vs {expected}",
                full.lambda
            );
        }
    }

    #[test]
    fn tasks_add_their_classes_side_by_side() {
        let projection = RandomProjection::new(2, 8).unwrap();
        let a = features(&[[1.0, 0.0], [0.9, 0.1]]);
        let b = features(&[[0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]]);
        let first = RidgeStatistics::fit(&projection, (&a, &[0, 1]), (&a, &[0, 1]), 2).unwrap();
        let second =
            RidgeStatistics::fit(&projection, (&b, &[0, 1, 2]), (&b, &[0, 1, 2]), 3).unwrap();
        let classifier = RidgeClassifier::new(
            &[&first, &second],
            RandomProjection::new(2, 8).unwrap(),
            Representation::FinalLayer,
        )
        .unwrap();
        assert_eq!(classifier.weights.dims(), &[8, 5]);
        assert!(RidgeStatistics::fit(&projection, (&a, &[0, 2]), (&a, &[0, 1]), 2).is_err());
    }
}
