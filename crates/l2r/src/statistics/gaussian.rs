//! One Gaussian per class with a covariance shared by every class seen so far, from the tasks' class statistics:
//! the model behind LDA (classify by the nearest class in Mahalanobis distance) and EPI (identify the task of that
//! class). The shared covariance pools the within-class scatter of every task.
//!
//! A covariance per task would not do: with fewer examples than dimensions it is singular, and the task whose
//! covariance has the lowest rank measures distances in the fewest directions, so it wins every input. The pooled
//! covariance can still be singular, hence its pseudo-inverse.

use super::class_statistics::ClassStatistics;
use super::eigen::symmetric_eigen;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};

/// Relative cut-off of the covariance's pseudo-inverse, per dimension: eigenvalues below `d · PINV_EPS_PER_DIM` ×
/// the largest count as zero. This is `torch.linalg.pinv`'s default cut-off for float32 (`max(m, n) · eps`), the
/// precision the statistics are kept in.
pub const PINV_EPS_PER_DIM: f64 = f32::EPSILON as f64;

pub struct SharedGaussian {
    /// (C, d): every class's mean, the tasks' classes in run order.
    class_means: Tensor,
    /// Each task's number of classes, in run order.
    classes_per_task: Vec<usize>,
    /// (d, d) pseudo-inverse of the pooled covariance.
    precision: Tensor,
    /// (1, C): μᵀPμ of every class.
    mean_norms: Tensor,
}

impl SharedGaussian {
    pub fn new(tasks: &[&ClassStatistics]) -> Result<Self> {
        let precision = symmetric_pseudo_inverse(&pooled_covariance(tasks)?)?;
        // Exactly symmetric, so that its upper triangle is all a file needs to keep of it.
        let precision = ((&precision + precision.t()?)? * 0.5)?.to_dtype(DType::F32)?;
        let class_means = Tensor::cat(
            &tasks
                .iter()
                .map(|t| t.class_means.clone())
                .collect::<Vec<_>>(),
            0,
        )?;
        let classes_per_task = tasks
            .iter()
            .map(|t| t.num_classes())
            .collect::<Result<_>>()?;
        Self::from_parts(class_means, classes_per_task, precision)
    }

    /// From its parts as [`SharedGaussian::class_means`], [`SharedGaussian::classes_per_task`] and
    /// [`SharedGaussian::precision`] give them (routers save them to compute their prior at serving time).
    pub fn from_parts(
        class_means: Tensor,
        classes_per_task: Vec<usize>,
        precision: Tensor,
    ) -> Result<Self> {
        // The statistics' f64 algebra runs on the CPU; inputs on another device are moved here and back.
        let (class_means, precision) = (
            class_means.to_device(&Device::Cpu)?,
            precision.to_device(&Device::Cpu)?,
        );
        let (classes, d) = class_means.dims2()?;
        if classes_per_task.iter().sum::<usize>() != classes || precision.dims() != [d, d] {
            return Err(Error::invalid(format!(
                "a shared Gaussian of {classes} classes in {d} dimensions cannot have classes per task \
                 {classes_per_task:?} and a precision of shape {:?}",
                precision.dims()
            )));
        }
        let mean_norms = (class_means.matmul(&precision)? * &class_means)?
            .sum(1)?
            .unsqueeze(0)?;
        Ok(SharedGaussian {
            classes_per_task,
            class_means,
            precision,
            mean_norms,
        })
    }

    pub fn class_means(&self) -> &Tensor {
        &self.class_means
    }

    pub fn classes_per_task(&self) -> &[usize] {
        &self.classes_per_task
    }

    pub fn precision(&self) -> &Tensor {
        &self.precision
    }

    /// (batch, T): each task's log-likelihood up to a shared constant, log mean over its classes of
    /// exp(−½ Mahalanobis²): the log task posterior under equal class priors, before normalisation.
    pub fn task_log_likelihoods(&self, x: &Tensor) -> Result<Tensor> {
        let log_density = (self.distances(x)? * -0.5)?;
        let mut columns = Vec::with_capacity(self.classes_per_task.len());
        let mut start = 0;
        for &classes in &self.classes_per_task {
            // log mean exp, shifted by the task's own best class so that no term underflows.
            let task = log_density.narrow(1, start, classes)?;
            let best = task.max_keepdim(1)?;
            let mean = task.broadcast_sub(&best)?.exp()?.mean_keepdim(1)?;
            columns.push((mean.log()? + best)?);
            start += classes;
        }
        Ok(Tensor::cat(&columns, 1)?)
    }

    pub fn num_tasks(&self) -> usize {
        self.classes_per_task.len()
    }

    /// (batch, C) squared Mahalanobis distance of each row of `x` (batch, d) to every class mean.
    pub fn distances(&self, x: &Tensor) -> Result<Tensor> {
        // (x − μ)ᵀ P (x − μ) = xᵀPx − 2 xᵀPμ + μᵀPμ, for every row and class at once.
        let on_cpu = x.to_device(&Device::Cpu)?;
        let px = on_cpu.matmul(&self.precision)?;
        let xpx = (&px * &on_cpu)?.sum_keepdim(1)?;
        let cross = px.matmul(&self.class_means.t()?)?;
        let distances = xpx
            .broadcast_add(&self.mean_norms)?
            .broadcast_sub(&(cross * 2.0)?)?;
        Ok(distances.to_device(x.device())?)
    }

    /// The task of the nearest class, for each row of `x` (batch, d).
    pub fn nearest_task(&self, x: &Tensor) -> Result<Vec<usize>> {
        let class_of_task: Vec<usize> = self
            .classes_per_task
            .iter()
            .enumerate()
            .flat_map(|(task, &classes)| std::iter::repeat_n(task, classes))
            .collect();
        let nearest = self.distances(x)?.argmin(1)?.to_vec1::<u32>()?;
        Ok(nearest
            .into_iter()
            .map(|class| class_of_task[class as usize])
            .collect())
    }
}

/// The upper triangle (diagonal included) of the symmetric `matrix` (d, d), row by row: (d (d + 1) / 2,). Half the
/// bytes of the whole matrix, which is most of a router file with the Gaussian prior.
pub fn pack_upper(matrix: &Tensor) -> Result<Tensor> {
    let rows = matrix
        .to_device(&Device::Cpu)?
        .to_dtype(DType::F32)?
        .to_vec2::<f32>()?;
    let packed: Vec<f32> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, row)| row[i..].iter().copied())
        .collect();
    let len = packed.len();
    Ok(Tensor::from_vec(packed, len, &Device::Cpu)?)
}

/// The symmetric (d, d) matrix whose upper triangle [`pack_upper`] gave as `packed`.
pub fn unpack_upper(packed: &Tensor, dim: usize) -> Result<Tensor> {
    let values = packed
        .to_device(&Device::Cpu)?
        .to_dtype(DType::F32)?
        .to_vec1::<f32>()?;
    if values.len() != dim * (dim + 1) / 2 {
        return Err(Error::invalid(format!(
            "{} values cannot be the upper triangle of a {dim} × {dim} matrix",
            values.len()
        )));
    }
    let mut full = vec![0f32; dim * dim];
    let mut next = values.iter();
    for i in 0..dim {
        for j in i..dim {
            let value = *next.next().unwrap_or(&0.0);
            full[i * dim + j] = value;
            full[j * dim + i] = value;
        }
    }
    Ok(Tensor::from_vec(full, (dim, dim), &Device::Cpu)?)
}

/// (d, d) f64: the within-class scatter of every class of `tasks`, pooled, over the number of their examples.
pub(super) fn pooled_covariance(tasks: &[&ClassStatistics]) -> Result<Tensor> {
    let first = tasks
        .first()
        .ok_or_else(|| Error::invalid("a shared covariance needs at least one task"))?;
    let mut scatter = first.scatter.to_dtype(DType::F64)?;
    for task in &tasks[1..] {
        scatter = (scatter + task.scatter.to_dtype(DType::F64)?)?;
    }
    let count: usize = tasks.iter().map(|t| t.count).sum();
    Ok((scatter / count.max(1) as f64)?)
}

/// The eigenvalues of a (d, d) covariance that count as zero lie at or below this (see [`PINV_EPS_PER_DIM`]).
pub(super) fn zero_cutoff(values: &[f64]) -> f64 {
    let largest = values.iter().fold(0f64, |m, v| m.max(v.abs()));
    values.len() as f64 * PINV_EPS_PER_DIM * largest.max(f64::MIN_POSITIVE)
}

/// Moore–Penrose pseudo-inverse of a symmetric positive semi-definite matrix, from its eigendecomposition (for such
/// a matrix the singular values are the eigenvalues).
fn symmetric_pseudo_inverse(matrix: &Tensor) -> Result<Tensor> {
    let dim = matrix.dim(0)?;
    let eigen = symmetric_eigen(matrix)?;
    let cutoff = zero_cutoff(&eigen.values);
    let inverted: Vec<f64> = eigen
        .values
        .iter()
        .map(|&v| if v > cutoff { 1.0 / v } else { 0.0 })
        .collect();
    let inverted = Tensor::from_vec(inverted, (1, dim), &Device::Cpu)?;
    let q = &eigen.vectors;
    Ok(q.broadcast_mul(&inverted)?.matmul(&q.t()?)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two classes (shifted along axis 0) around `center`, uniform noise of width `spread` per axis.
    pub(crate) fn task(center: [f32; 3], spread: [f32; 3], seed: u64) -> ClassStatistics {
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
        ClassStatistics::fit(&x, &labels, 2).unwrap()
    }

    #[test]
    fn the_precision_is_kept_whole_by_its_upper_triangle() {
        let stats = task([0.0, 1.0, 0.0], [1.0, 0.2, 3.0], 2);
        let gaussian = SharedGaussian::new(&[&stats]).unwrap();
        let packed = pack_upper(gaussian.precision()).unwrap();
        assert_eq!(packed.dims(), [6]);
        let back = unpack_upper(&packed, 3).unwrap();
        let gap = (back - gaussian.precision())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(gap, 0.0);
        assert!(unpack_upper(&packed, 4).is_err());
    }

    #[test]
    fn mahalanobis_distance_matches_the_definition() {
        let stats = task([0.0, 0.0, 0.0], [1.0, 0.2, 3.0], 1);
        let gaussian = SharedGaussian::new(&[&stats]).unwrap();
        let q = [0.3f32, 0.1, -1.0];
        let query = Tensor::new(&[q], &Device::Cpu).unwrap();
        let got = gaussian
            .distances(&query)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()[0]
            .clone();
        let p = gaussian.precision.to_vec2::<f32>().unwrap();
        let means = stats.class_means.to_vec2::<f32>().unwrap();
        for (class, mean) in means.iter().enumerate() {
            let diff: Vec<f32> = q.iter().zip(mean).map(|(a, b)| a - b).collect();
            let expected: f32 = (0..3)
                .map(|i| (0..3).map(|j| diff[i] * p[i][j] * diff[j]).sum::<f32>())
                .sum();
            let tolerance = 1e-3 * expected.max(1.0);
            assert!(
                (got[class] - expected).abs() < tolerance,
                "{got:?} vs {expected}"
            );
        }
    }

    #[test]
    fn task_log_likelihoods_average_the_classes_densities() {
        let a = task([0.0, 0.0, 0.0], [1.0, 0.5, 0.5], 4);
        let b = task([0.0, 2.0, 0.0], [1.0, 0.5, 0.5], 5);
        let gaussian = SharedGaussian::new(&[&a, &b]).unwrap();
        let x = Tensor::new(&[[0.2f32, 0.1, 0.0]], &Device::Cpu).unwrap();
        let d = gaussian.distances(&x).unwrap().to_vec2::<f32>().unwrap()[0].clone();
        let got = gaussian
            .task_log_likelihoods(&x)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()[0]
            .clone();
        for (task, classes) in [(0, 0..2), (1, 2..4)] {
            let mean: f64 = classes.map(|c| (-0.5 * d[c] as f64).exp()).sum::<f64>() / 2.0;
            assert!(
                (got[task] as f64 - mean.ln()).abs() < 1e-3,
                "{got:?} vs {}",
                mean.ln()
            );
        }
        assert!(got[0] > got[1]);
    }

    #[test]
    fn the_pseudo_inverse_inverts_a_full_rank_covariance_and_pseudo_inverts_a_singular_one() {
        let max_diff = |a: Tensor, b: &[[f64; 2]; 2]| {
            let b = Tensor::new(b, &Device::Cpu).unwrap();
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let full = Tensor::new(&[[2f64, 1.0], [1.0, 2.0]], &Device::Cpu).unwrap();
        let product = full
            .matmul(&symmetric_pseudo_inverse(&full).unwrap())
            .unwrap();
        assert!(max_diff(product, &[[1.0, 0.0], [0.0, 1.0]]) < 1e-9);
        // Rank one: the pseudo-inverse of v vᵀ is v vᵀ / |v|⁴.
        let singular = Tensor::new(&[[1f64, 1.0], [1.0, 1.0]], &Device::Cpu).unwrap();
        let pinv = symmetric_pseudo_inverse(&singular).unwrap();
        assert!(max_diff(pinv, &[[0.25, 0.25], [0.25, 0.25]]) < 1e-9);
    }

    #[test]
    fn a_singular_covariance_still_gives_finite_distances() {
        // 4 examples in 3 dimensions, all on a plane: the covariance has rank at most 2.
        let x = Tensor::new(
            &[[0f32, 0., 0.], [1., 0., 0.], [0., 1., 0.], [1., 1., 0.]],
            &Device::Cpu,
        )
        .unwrap();
        let stats = ClassStatistics::fit(&x, &[0, 0, 1, 1], 2).unwrap();
        let gaussian = SharedGaussian::new(&[&stats]).unwrap();
        let d = gaussian.distances(&x).unwrap().flatten_all().unwrap();
        let d = d.to_vec1::<f32>().unwrap();
        assert!(d.iter().all(|v| v.is_finite()), "{d:?}");
        assert!(
            ClassStatistics::fit(&x, &[0, 0, 0, 0], 2).is_err(),
            "a class without examples"
        );
    }
}
