//! The similarity prior added to the gate logits: how close an input's frozen embedding is to each task's
//! memory, either to the task's centroid (one reference per task) or to each of its memory examples (a kernel
//! density: the log of the mean of exp(cos / τ) over the task's examples, which tasks with several distinct
//! classes or styles — far apart in embedding space — need), or, from the tasks' class statistics rather than the
//! memory, the log-likelihood of each task under the shared-covariance Gaussian of its classes (EPI's and LDA's
//! model, which identifies tasks better than any similarity on the benchmarks of docs/results.md).

use super::config::{PriorReference, RouterConfig};
use crate::embedded::EmbeddedExamples;
use crate::error::{Error, Result};
use crate::statistics::SharedGaussian;
use candle_core::{DType, Device, Tensor, D};
use std::sync::Arc;

#[derive(Clone)]
pub struct SimilarityPrior {
    /// (R, d) unit-norm reference embeddings.
    pub references: Tensor,
    /// (R, T): `1 / n_t` where reference r belongs to task t, else 0 (columns sum to one).
    pub membership: Tensor,
    /// The Gaussian prior's model; its references are the class means.
    pub gaussian: Option<Arc<SharedGaussian>>,
}

impl SimilarityPrior {
    /// The prior over `memory`'s tasks in the representation the routers of `config` read.
    pub fn from_memory(
        memory: &EmbeddedExamples,
        num_tasks: usize,
        config: &RouterConfig,
    ) -> Result<Self> {
        let representation = memory.features(config.input.representation());
        match config.prior_reference {
            PriorReference::Gaussian => Err(Error::invalid(
                "prior_reference = \"gaussian\" needs the tasks' class statistics, not only the memory",
            )),
            PriorReference::Centroid | PriorReference::Auto => Ok(SimilarityPrior {
                references: memory.centroids_of(representation, num_tasks)?,
                membership: Tensor::eye(num_tasks, DType::F32, memory.frozen.device())?,
                gaussian: None,
            }),
            PriorReference::Examples => {
                let mut counts = vec![0usize; num_tasks];
                for &task in &memory.tasks {
                    *counts.get_mut(task).ok_or_else(|| {
                        Error::invalid(format!(
                            "memory example of task {task} beyond {num_tasks} tasks"
                        ))
                    })? += 1;
                }
                if let Some(empty) = counts.iter().position(|&c| c == 0) {
                    return Err(Error::invalid(format!(
                        "the memory holds no example of task {empty}"
                    )));
                }
                let mut membership = vec![0f32; memory.len() * num_tasks];
                for (row, &task) in memory.tasks.iter().enumerate() {
                    membership[row * num_tasks + task] = 1.0 / counts[task] as f32;
                }
                Ok(SimilarityPrior {
                    references: representation.clone(),
                    membership: Tensor::from_vec(
                        membership,
                        (memory.len(), num_tasks),
                        representation.device(),
                    )?,
                    gaussian: None,
                })
            }
        }
    }

    /// The Gaussian prior: each task's log-likelihood under `gaussian`.
    pub fn from_gaussian(gaussian: Arc<SharedGaussian>) -> Result<Self> {
        let per_task = gaussian.classes_per_task();
        let classes: usize = per_task.iter().sum();
        let mut membership = vec![0f32; classes * per_task.len()];
        let mut row = 0;
        for (task, &count) in per_task.iter().enumerate() {
            for _ in 0..count {
                membership[row * per_task.len() + task] = 1.0 / count as f32;
                row += 1;
            }
        }
        Ok(SimilarityPrior {
            references: gaussian.class_means().clone(),
            membership: Tensor::from_vec(
                membership,
                (classes, per_task.len()),
                gaussian.class_means().device(),
            )?,
            gaussian: Some(gaussian),
        })
    }

    /// The Gaussian prior saved as its class means, membership and `precision`.
    pub fn gaussian_from_parts(
        references: Tensor,
        membership: Tensor,
        precision: Tensor,
    ) -> Result<Self> {
        let per_task: Vec<usize> = membership
            .gt(0f32)?
            .to_dtype(DType::F32)?
            .sum(0)?
            .to_vec1::<f32>()?
            .into_iter()
            .map(|c| c as usize)
            .collect();
        let gaussian = SharedGaussian::from_parts(references, per_task, precision)?;
        Self::from_gaussian(Arc::new(gaussian))
    }

    /// The prior comparing on `device` (a Gaussian's own algebra stays on the CPU).
    pub fn to_device(self, device: &Device) -> Result<Self> {
        Ok(SimilarityPrior {
            references: self.references.to_device(device)?,
            membership: self.membership.to_device(device)?,
            gaussian: self.gaussian,
        })
    }

    pub fn num_tasks(&self) -> Result<usize> {
        Ok(self.membership.dim(1)?)
    }

    /// (batch, T) prior logits for unit-norm `frozen` (batch, d), before the learned scale, shifted so that each
    /// row's most similar task scores 0. The shift changes nothing for softmax gates; sigmoid gates need it: raw
    /// similarities of 0.2–0.6 at τ = 0.05 give logits of 4–12, where every gate is saturated near 1 and the
    /// normalised weights come out almost uniform, while relative to the best task only close rivals keep weight.
    pub fn scores(&self, frozen: &Tensor, temperature: f64) -> Result<Tensor> {
        let raw = self.raw_scores(frozen, temperature)?;
        Ok(raw.broadcast_sub(&raw.max_keepdim(D::Minus1)?)?)
    }

    /// Prior logits before the shift: `cos / τ` (centroids) or `log mean exp(cos / τ)` (examples).
    fn raw_scores(&self, frozen: &Tensor, temperature: f64) -> Result<Tensor> {
        // A log-likelihood has its own scale; the learned prior scale is its temperature.
        if let Some(gaussian) = &self.gaussian {
            return gaussian.task_log_likelihoods(frozen);
        }
        let scaled = frozen
            .matmul(&self.references.t()?)?
            .affine(1.0 / temperature, 0.0)?;
        let max = scaled.max_keepdim(D::Minus1)?;
        let density = scaled
            .broadcast_sub(&max)?
            .exp()?
            .matmul(&self.membership)?
            .clamp(1e-30, f64::INFINITY)?;
        Ok(density.log()?.broadcast_add(&max)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prior_reference: PriorReference) -> RouterConfig {
        RouterConfig {
            prior_reference,
            ..RouterConfig::default()
        }
    }

    fn memory(frozen: &[[f32; 2]], tasks: Vec<usize>) -> EmbeddedExamples {
        let flat: Vec<f32> = frozen.iter().flatten().copied().collect();
        EmbeddedExamples {
            ids: vec![vec![]; frozen.len()],
            frozen: Tensor::from_vec(flat.clone(), (frozen.len(), 2), &Device::Cpu).unwrap(),
            frozen_layers: Tensor::from_vec(flat, (frozen.len(), 2), &Device::Cpu).unwrap(),
            labels: vec![0; tasks.len()],
            tasks,
        }
    }

    #[test]
    fn centroid_prior_is_cosine_over_temperature() -> Result<()> {
        let m = memory(&[[1.0, 0.0], [0.0, 1.0]], vec![0, 1]);
        let prior = SimilarityPrior::from_memory(&m, 2, &config(PriorReference::Centroid))?;
        let x = Tensor::new(&[[0.6f32, 0.8]], &Device::Cpu)?;
        let s = prior.raw_scores(&x, 0.5)?.to_vec2::<f32>()?;
        assert!(
            (s[0][0] - 1.2).abs() < 1e-5 && (s[0][1] - 1.6).abs() < 1e-5,
            "{s:?}"
        );
        // Shifted so that the most similar task scores 0.
        let shifted = prior.scores(&x, 0.5)?.to_vec2::<f32>()?;
        assert!(
            (shifted[0][0] + 0.4).abs() < 1e-5 && shifted[0][1].abs() < 1e-6,
            "{shifted:?}"
        );
        Ok(())
    }

    #[test]
    fn example_prior_favours_the_task_with_a_close_example() -> Result<()> {
        // Task 0 has two distant modes; its centroid lies between them, far from both.
        let m = memory(
            &[[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.1, 0.995]],
            vec![0, 0, 1, 1],
        );
        let x = Tensor::new(&[[0.99f32, 0.141]], &Device::Cpu)?;
        let by_example = SimilarityPrior::from_memory(&m, 2, &config(PriorReference::Examples))?;
        let s = by_example.scores(&x, 0.05)?.to_vec2::<f32>()?;
        assert!(s[0][0] > s[0][1], "nearest example is task 0's: {s:?}");
        // log mean over one identical example equals cos / τ.
        let single = memory(&[[0.6, 0.8]], vec![0]);
        let p = SimilarityPrior::from_memory(&single, 1, &config(PriorReference::Examples))?;
        let v = p.raw_scores(&Tensor::new(&[[0.6f32, 0.8]], &Device::Cpu)?, 0.1)?;
        assert!((v.to_vec2::<f32>()?[0][0] - 10.0).abs() < 1e-4);
        Ok(())
    }
}
