//! Features drawn from the class statistics: one Gaussian per class (its mean) with the covariance pooled over every
//! class seen, as the shared Gaussian models them. The routers can fit on such rows beside the memory (`[router]
//! gaussian_replay`): the statistics hold every training example of a finished task, the memory a few, so sampling
//! from them shows the routers where each task's inputs lie without keeping an example (issue 15, item 2: "Gaussian
//! feature replay from the statistics when fitting").

use super::class_statistics::ClassStatistics;
use super::eigen::symmetric_eigen;
use super::gaussian::{pooled_covariance, zero_cutoff};
use crate::error::Result;
use candle_core::{DType, Device, Tensor};
use rand::rngs::StdRng;
use rand::Rng;

/// The class Gaussians of every task, ready to draw from.
pub struct ClassGaussians {
    /// (C, d) f32: every class's mean, the tasks' classes in order.
    class_means: Tensor,
    /// Each class's task.
    class_tasks: Vec<usize>,
    /// (r, d) f32: the pooled covariance's square root, Λ^½ Qᵀ over its r eigenvalues above the pseudo-inverse's
    /// cut-off, so that z (n, r) standard normal gives z · factor ~ N(0, Σ).
    factor: Tensor,
}

impl ClassGaussians {
    pub fn new(tasks: &[&ClassStatistics]) -> Result<Self> {
        let eigen = symmetric_eigen(&pooled_covariance(tasks)?)?;
        let cutoff = zero_cutoff(&eigen.values);
        let kept: Vec<usize> = (0..eigen.values.len())
            .filter(|&i| eigen.values[i] > cutoff)
            .collect();
        let columns = Tensor::new(
            kept.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            &Device::Cpu,
        )?;
        let roots: Vec<f64> = kept.iter().map(|&i| eigen.values[i].sqrt()).collect();
        let roots = Tensor::from_vec(roots, (kept.len(), 1), &Device::Cpu)?;
        let factor = eigen
            .vectors
            .index_select(&columns, 1)?
            .t()?
            .broadcast_mul(&roots)?
            .to_dtype(DType::F32)?;
        let class_means = Tensor::cat(
            &tasks
                .iter()
                .map(|t| t.class_means.to_dtype(DType::F32))
                .collect::<candle_core::Result<Vec<_>>>()?,
            0,
        )?;
        let mut class_tasks = Vec::new();
        for (task, statistics) in tasks.iter().enumerate() {
            class_tasks.extend(std::iter::repeat_n(task, statistics.num_classes()?));
        }
        Ok(ClassGaussians {
            class_means,
            class_tasks,
            factor,
        })
    }

    /// `per_class` rows of every class, on `device`: (features (n, d), each row's task).
    pub fn draw(
        &self,
        per_class: usize,
        rng: &mut StdRng,
        device: &Device,
    ) -> Result<(Tensor, Vec<usize>)> {
        let classes = self.class_tasks.len();
        let rank = self.factor.dim(0)?;
        let rows = classes * per_class;
        let normal: Vec<f32> = (0..rows * rank).map(|_| standard_normal(rng)).collect();
        let noise = Tensor::from_vec(normal, (rows, rank), &Device::Cpu)?.matmul(&self.factor)?;
        let class_of_row: Vec<u32> = (0..rows).map(|r| (r / per_class) as u32).collect();
        let means = self
            .class_means
            .index_select(&Tensor::new(class_of_row.clone(), &Device::Cpu)?, 0)?;
        let features = (means + noise)?.to_device(device)?;
        let tasks = class_of_row
            .iter()
            .map(|&c| self.class_tasks[c as usize])
            .collect();
        Ok((features, tasks))
    }
}

/// One draw of N(0, 1) by the Box–Muller transform.
fn standard_normal(rng: &mut StdRng) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statistics::tests::task;
    use rand::SeedableRng;

    #[test]
    fn draws_have_each_class_mean_and_the_pooled_covariance() {
        let tasks = [
            task([0.0, 0.0, 0.0], [1.0, 2.0, 0.5], 1),
            task([5.0, 5.0, 5.0], [1.0, 2.0, 0.5], 2),
        ];
        let gaussians = ClassGaussians::new(&[&tasks[0], &tasks[1]]).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let (features, row_tasks) = gaussians.draw(4000, &mut rng, &Device::Cpu).unwrap();
        assert_eq!(features.dims(), [16_000, 3]);
        assert_eq!(row_tasks[..4000], [0; 4000]);
        assert_eq!(row_tasks[8000..12_000], [1; 4000]);
        let rows = features.to_vec2::<f32>().unwrap();
        let means = tasks[1].class_means.to_vec2::<f32>().unwrap();
        // Rows 12000.. are task 1's class 1: centred on its mean, with the variance of the uniform noise
        // (width² / 12) on each axis.
        let class = &rows[12_000..];
        for axis in 0..3 {
            let mean = class.iter().map(|r| r[axis]).sum::<f32>() / 4000.0;
            let variance = class.iter().map(|r| (r[axis] - mean).powi(2)).sum::<f32>() / 4000.0;
            let width = [1.0f32, 2.0, 0.5][axis];
            assert!(
                (mean - means[1][axis]).abs() < 0.05,
                "axis {axis}: mean {mean}"
            );
            let expected = width * width / 12.0;
            assert!(
                (variance / expected - 1.0).abs() < 0.1,
                "axis {axis}: variance {variance}, expected {expected}"
            );
        }
    }

    #[test]
    fn a_seed_gives_the_same_rows() {
        let tasks = [task([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], 3)];
        let gaussians = ClassGaussians::new(&[&tasks[0]]).unwrap();
        let draw = |seed| {
            gaussians
                .draw(3, &mut StdRng::seed_from_u64(seed), &Device::Cpu)
                .unwrap()
                .0
                .to_vec2::<f32>()
                .unwrap()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }
}
