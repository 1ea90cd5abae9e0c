//! The similarity prior added to the gate logits: how close an input's frozen embedding is to each task's
//! memory, either to the task's centroid (one reference per task) or to each of its memory examples (a kernel
//! density: the log of the mean of exp(cos / τ) over the task's examples, which tasks with several distinct
//! classes or styles — far apart in embedding space — need), or, from the tasks' class statistics rather than the
//! memory, the log-likelihood of each task under the shared-covariance Gaussian of its classes (EPI's and LDA's
//! model, which identifies tasks better than any similarity on the benchmarks of docs/results.md), or the task's
//! share of the ridge classifier's class posterior (which names related tasks more often still).

use super::config::{PriorReference, RouterConfig};
use crate::embedded::EmbeddedExamples;
use crate::embedded::Representation;
use crate::error::{Error, Result};
use crate::statistics::{RidgeClassifier, SharedGaussian};
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
    /// The ridge prior's classifier; its references are its weights' columns, one per class.
    pub ridge: Option<RidgeClassifier>,
}

/// κ of the ridge prior's softmax(κ · ridge scores): the scores are regressions onto one-hot targets, mostly within
/// 0..1. Of κ = 3, 10 and 30, 10 named the task most often on the validation splits of far5, senti4, verb-cil and
/// wordnet-cil together (`scripts/experiments/task_id_by_scorer.py`); the routers' learned scale sharpens or
/// flattens the result.
pub const RIDGE_PRIOR_SHARPNESS: f64 = 10.0;

impl SimilarityPrior {
    /// The prior over `memory`'s tasks in the representation the routers of `config` read.
    pub fn from_memory(
        memory: &EmbeddedExamples,
        num_tasks: usize,
        config: &RouterConfig,
    ) -> Result<Self> {
        let representation = memory.features(config.input.representation());
        match config.prior_reference {
            PriorReference::Gaussian | PriorReference::Ridge => Err(Error::invalid(
                "prior_reference = \"gaussian\" or \"ridge\" needs the tasks' class statistics, not only the memory",
            )),
            PriorReference::Centroid | PriorReference::Auto => Ok(SimilarityPrior {
                references: memory.centroids_of(representation, num_tasks)?,
                membership: Tensor::eye(num_tasks, DType::F32, memory.frozen.device())?,
                gaussian: None,
                ridge: None,
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
                    ridge: None,
                })
            }
        }
    }

    /// The Gaussian prior: each task's log-likelihood under `gaussian`.
    pub fn from_gaussian(gaussian: Arc<SharedGaussian>) -> Result<Self> {
        let device = gaussian.class_means().device().clone();
        let membership = class_membership(gaussian.classes_per_task(), true, &device)?;
        Ok(SimilarityPrior {
            references: gaussian.class_means().clone(),
            membership,
            gaussian: Some(gaussian),
            ridge: None,
        })
    }

    /// The ridge prior: each task's share of `ridge`'s class posterior, its classes `classes_per_task` in order.
    pub fn from_ridge(ridge: RidgeClassifier, classes_per_task: &[usize]) -> Result<Self> {
        let references = ridge.weights().t()?.contiguous()?;
        if references.dim(0)? != classes_per_task.iter().sum::<usize>() {
            return Err(Error::invalid(format!(
                "a ridge over {} classes for tasks of {} classes",
                references.dim(0)?,
                classes_per_task.iter().sum::<usize>()
            )));
        }
        Ok(SimilarityPrior {
            membership: class_membership(classes_per_task, false, references.device())?,
            references,
            gaussian: None,
            ridge: Some(ridge),
        })
    }

    /// The ridge prior saved as its references (the weights' columns) and membership, over `representation` of
    /// width `input_dim`.
    pub fn ridge_from_parts(
        references: Tensor,
        membership: Tensor,
        (input_dim, representation): (usize, Representation),
    ) -> Result<Self> {
        let per_task = classes_per_task(&membership)?;
        let weights = references.t()?.contiguous()?;
        let ridge = RidgeClassifier::from_weights(weights, input_dim, representation)?;
        Self::from_ridge(ridge, &per_task)
    }

    /// The Gaussian prior saved as its class means, membership and `precision`.
    pub fn gaussian_from_parts(
        references: Tensor,
        membership: Tensor,
        precision: Tensor,
    ) -> Result<Self> {
        let per_task = classes_per_task(&membership)?;
        let gaussian = SharedGaussian::from_parts(references, per_task, precision)?;
        Self::from_gaussian(Arc::new(gaussian))
    }

    /// The prior comparing on `device` (a Gaussian's own algebra stays on the CPU).
    pub fn to_device(self, device: &Device) -> Result<Self> {
        Ok(SimilarityPrior {
            references: self.references.to_device(device)?,
            membership: self.membership.to_device(device)?,
            gaussian: self.gaussian,
            ridge: self.ridge,
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
        if let Some(ridge) = &self.ridge {
            let scores = ridge.scores(frozen)?.affine(RIDGE_PRIOR_SHARPNESS, 0.0)?;
            let log_posterior = candle_nn::ops::log_softmax(&scores, D::Minus1)?;
            return log_sum_by_task(&log_posterior, &self.membership);
        }
        let scaled = frozen
            .matmul(&self.references.t()?)?
            .affine(1.0 / temperature, 0.0)?;
        log_sum_by_task(&scaled, &self.membership)
    }
}

/// `log Σ_r membership[r, t] · exp(scores[·, r])` per task t, stable: (batch, R) → (batch, T).
fn log_sum_by_task(scores: &Tensor, membership: &Tensor) -> Result<Tensor> {
    let max = scores.max_keepdim(D::Minus1)?;
    let sum = scores
        .broadcast_sub(&max)?
        .exp()?
        .matmul(membership)?
        .clamp(1e-30, f64::INFINITY)?;
    Ok(sum.log()?.broadcast_add(&max)?)
}

/// (C, T): row c names class c's task, classes in task order; 1 / n_t (a mean over the task's classes) or 1 (a sum).
fn class_membership(per_task: &[usize], mean: bool, device: &Device) -> Result<Tensor> {
    let classes: usize = per_task.iter().sum();
    let mut membership = vec![0f32; classes * per_task.len()];
    let mut row = 0;
    for (task, &count) in per_task.iter().enumerate() {
        for _ in 0..count {
            membership[row * per_task.len() + task] = if mean { 1.0 / count as f32 } else { 1.0 };
            row += 1;
        }
    }
    Ok(Tensor::from_vec(
        membership,
        (classes, per_task.len()),
        device,
    )?)
}

/// Classes per task of a (C, T) membership.
fn classes_per_task(membership: &Tensor) -> Result<Vec<usize>> {
    Ok(membership
        .gt(0f32)?
        .to_dtype(DType::F32)?
        .sum(0)?
        .to_vec1::<f32>()?
        .into_iter()
        .map(|c| c as usize)
        .collect())
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
