//! Within-task weights fitted on each task's own validation split (`calibrate_on = "validation"`): how far to scale
//! the task's head logits (a) and how much of the task's own ridge classifier's class scores to add (κ), so that its
//! classes are scored a·head + κ·ridge. Each task's pair is fitted from what that task leaves behind when it
//! finishes (its module and head, its statistics, its validation split), on examples its module never trained on.
//! Fitted on the memory instead (`calibrate_on = "memory"`), a head is scored on examples it was trained on, is
//! right on nearly all of them, and the fit learns to trust it more than it deserves on new inputs.

use crate::error::{Error, Result};
use crate::statistics::RidgeClassifier;
use candle_core::{Device, Tensor, D};

/// The largest weight a fit returns: a head right on every validation example would otherwise scale without bound.
const MAX_WEIGHT: f64 = 50.0;
/// A small L2 penalty on (a, κ): keeps the Newton system well posed when the scores are collinear or separable.
const PENALTY: f64 = 1e-4;
const MAX_ITERATIONS: usize = 100;

/// One task's within-task weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WithinTaskWeights {
    pub head_scale: f32,
    pub ridge_scale: f32,
}

impl WithinTaskWeights {
    /// The (a, κ) ≥ 0 of least mean cross-entropy of softmax(a·head + κ·ridge) over labelled rows (one row of
    /// logits per example); κ = 0 without ridge scores. The loss is convex in (a, κ): projected Newton steps with
    /// backtracking.
    pub fn fit(head: &[Vec<f32>], ridge: Option<&[Vec<f32>]>, labels: &[usize]) -> Result<Self> {
        check_rows(head, ridge, labels)?;
        let problem = Problem {
            head,
            ridge,
            labels,
        };
        let mut theta = [1.0, 0.0];
        let mut loss = problem.evaluate(theta).0;
        for _ in 0..MAX_ITERATIONS {
            let (_, gradient, hessian) = problem.evaluate(theta);
            let step = newton_step(gradient, hessian, ridge.is_some());
            let mut scale = 1.0;
            let mut moved = false;
            while scale > 1e-6 {
                let candidate = [
                    (theta[0] - scale * step[0]).clamp(0.0, MAX_WEIGHT),
                    (theta[1] - scale * step[1]).clamp(0.0, MAX_WEIGHT),
                ];
                let candidate_loss = problem.evaluate(candidate).0;
                if candidate_loss < loss - 1e-12 {
                    theta = candidate;
                    loss = candidate_loss;
                    moved = true;
                    break;
                }
                scale *= 0.5;
            }
            if !moved {
                break;
            }
        }
        Ok(WithinTaskWeights {
            head_scale: theta[0] as f32,
            ridge_scale: theta[1] as f32,
        })
    }
}

fn check_rows(head: &[Vec<f32>], ridge: Option<&[Vec<f32>]>, labels: &[usize]) -> Result<()> {
    if head.is_empty() || head.len() != labels.len() {
        return Err(Error::invalid(format!(
            "within-task weights need one label per row and at least one row ({} rows, {} labels)",
            head.len(),
            labels.len()
        )));
    }
    // Rows may come from tasks of different widths (a pooled fit); each row's ridge scores match its head's.
    let ridge_matches = |ridge: &[Vec<f32>]| {
        ridge.len() == head.len() && ridge.iter().zip(head).all(|(r, h)| r.len() == h.len())
    };
    if ridge.is_some_and(|r| !ridge_matches(r)) {
        return Err(Error::invalid(
            "within-task weights need head and ridge scores of one shape",
        ));
    }
    match head.iter().zip(labels).find(|(row, &l)| l >= row.len()) {
        Some((row, label)) => Err(Error::invalid(format!(
            "label {label} is outside the head's {} classes",
            row.len()
        ))),
        None => Ok(()),
    }
}

/// (H + εI)⁻¹ g, in one or two dimensions.
fn newton_step(g: [f64; 2], h: [f64; 3], two: bool) -> [f64; 2] {
    let [h00, h01, h11] = h;
    if !two {
        return [g[0] / (h00 + PENALTY), 0.0];
    }
    let (a, b, d) = (h00 + PENALTY, h01, h11 + PENALTY);
    let det = a * d - b * b;
    [(d * g[0] - b * g[1]) / det, (a * g[1] - b * g[0]) / det]
}

struct Problem<'a> {
    head: &'a [Vec<f32>],
    ridge: Option<&'a [Vec<f32>]>,
    labels: &'a [usize],
}

impl Problem<'_> {
    /// Mean penalised loss at θ = (a, κ), its gradient and its Hessian (as h00, h01, h11).
    fn evaluate(&self, theta: [f64; 2]) -> (f64, [f64; 2], [f64; 3]) {
        let (mut loss, mut g, mut h) = (0.0, [0.0; 2], [0.0; 3]);
        for (i, (row, &label)) in self.head.iter().zip(self.labels).enumerate() {
            let feature = |c: usize| -> [f64; 2] {
                let r = self.ridge.map_or(0.0, |ridge| ridge[i][c] as f64);
                [row[c] as f64, r]
            };
            let z: Vec<f64> = (0..row.len())
                .map(|c| {
                    let f = feature(c);
                    theta[0] * f[0] + theta[1] * f[1]
                })
                .collect();
            let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            loss += total.ln() + max - z[label];
            let (mut mean, mut second) = ([0.0; 2], [0.0; 3]);
            for (c, w) in weights.iter().enumerate() {
                let p = w / total;
                let f = feature(c);
                mean[0] += p * f[0];
                mean[1] += p * f[1];
                second[0] += p * f[0] * f[0];
                second[1] += p * f[0] * f[1];
                second[2] += p * f[1] * f[1];
            }
            let own = feature(label);
            g[0] += mean[0] - own[0];
            g[1] += mean[1] - own[1];
            h[0] += second[0] - mean[0] * mean[0];
            h[1] += second[1] - mean[0] * mean[1];
            h[2] += second[2] - mean[1] * mean[1];
        }
        let n = self.head.len() as f64;
        let penalty = 0.5 * PENALTY * (theta[0] * theta[0] + theta[1] * theta[1]);
        (
            loss / n + penalty,
            [g[0] / n + PENALTY * theta[0], g[1] / n + PENALTY * theta[1]],
            [h[0] / n, h[1] / n, h[2] / n],
        )
    }
}

/// Every task's within-task weights and its own ridge classifier, as fitted, before the routers are.
pub struct WithinTaskFit {
    pub weights: Vec<WithinTaskWeights>,
    /// Each task's own ridge classifier with what its leave-one-out scores need, when ridge heads are on.
    pub ridges: Option<Vec<RidgeClassifier>>,
}

impl WithinTaskFit {
    /// The own ridges' scores (n, Σ labels) of memory rows, side by side, when ridge heads are on. A row's own task's
    /// columns are its leave-one-out scores: the memory is among that ridge's training examples, and its in-sample
    /// scores would look better than the scores of new inputs.
    pub fn memory_scores(
        &self,
        features: &Tensor,
        tasks: &[usize],
        labels: &[usize],
    ) -> Result<Option<Tensor>> {
        let Some(ridges) = &self.ridges else {
            return Ok(None);
        };
        let mut rows: Vec<Vec<f32>> = vec![Vec::new(); tasks.len()];
        for (task, ridge) in ridges.iter().enumerate() {
            let mut scores = ridge.scores(features)?.to_vec2::<f32>()?;
            let own: Vec<usize> = (0..tasks.len()).filter(|&i| tasks[i] == task).collect();
            if !own.is_empty() {
                let index = Tensor::new(
                    own.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                    features.device(),
                )?;
                let own_labels: Vec<usize> = own.iter().map(|&i| labels[i]).collect();
                let loo = ridge
                    .leave_one_out_scores(&features.index_select(&index, 0)?, &own_labels)?
                    .to_vec2::<f32>()?;
                for (&i, values) in own.iter().zip(loo) {
                    scores[i] = values;
                }
            }
            for (row, values) in rows.iter_mut().zip(scores) {
                row.extend(values);
            }
        }
        let width = rows.first().map_or(0, Vec::len);
        let flat: Vec<f32> = rows.into_iter().flatten().collect();
        Ok(Some(Tensor::from_vec(
            flat,
            (tasks.len(), width),
            features.device(),
        )?))
    }

    /// What the routers keep of it, on `device`.
    pub fn kept(&self, device: &Device) -> Result<WithinTask> {
        let column = |pick: fn(&WithinTaskWeights) -> f32| -> Result<Tensor> {
            let values: Vec<f32> = self.weights.iter().map(pick).collect();
            Ok(Tensor::new(values, device)?)
        };
        let ridge = match &self.ridges {
            Some(ridges) => Some(RidgeClassifier::side_by_side(
                &ridges.iter().collect::<Vec<_>>(),
            )?),
            None => None,
        };
        Ok(WithinTask {
            head_scale: column(|w| w.head_scale)?,
            ridge_scale: column(|w| w.ridge_scale)?,
            ridge,
        })
    }
}

/// What the routers keep: every task's (a, κ) and, with ridge heads, the tasks' own ridges side by side.
#[derive(Clone)]
pub struct WithinTask {
    /// (T,)
    head_scale: Tensor,
    /// (T,)
    ridge_scale: Tensor,
    ridge: Option<RidgeClassifier>,
}

const HEAD_SCALE: &str = "within_task.head_scale";
const RIDGE_SCALE: &str = "within_task.ridge_scale";
const RIDGE_WEIGHTS: &str = "within_task.ridge.weights";

impl WithinTask {
    /// The own ridges' scores (batch, Σ labels) of inputs whose routers' representation is `frozen`, when kept.
    pub fn own_scores(&self, frozen: &Tensor) -> Result<Option<Tensor>> {
        self.ridge.as_ref().map(|r| r.scores(frozen)).transpose()
    }

    /// Each head's within-task scores a_t·head_t (+ κ_t·own ridge_t, given `own_scores`).
    pub fn apply(&self, parts: &[Tensor], own_scores: Option<&Tensor>) -> Result<Vec<Tensor>> {
        let mut start = 0;
        parts
            .iter()
            .enumerate()
            .map(|(t, logits)| {
                let width = logits.dim(D::Minus1)?;
                let mut scores = logits.broadcast_mul(&self.head_scale.narrow(0, t, 1)?)?;
                if let Some(own) = own_scores {
                    let boost = own
                        .narrow(1, start, width)?
                        .broadcast_mul(&self.ridge_scale.narrow(0, t, 1)?)?;
                    scores = (scores + boost)?;
                }
                start += width;
                Ok(scores)
            })
            .collect()
    }

    /// Whether a router file's tensors hold within-task weights.
    pub fn is_in(tensors: &std::collections::HashMap<String, Tensor>) -> bool {
        tensors.contains_key(HEAD_SCALE)
    }

    /// The tensors a router file keeps.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        let mut tensors = vec![
            (HEAD_SCALE.to_string(), self.head_scale.clone()),
            (RIDGE_SCALE.to_string(), self.ridge_scale.clone()),
        ];
        if let Some(ridge) = &self.ridge {
            tensors.push((RIDGE_WEIGHTS.to_string(), ridge.weights().clone()));
        }
        tensors
    }

    /// Read back from a router file's tensors; `ridge` says whether the own ridges must be there.
    pub fn from_tensors(
        tensors: &std::collections::HashMap<String, Tensor>,
        num_tasks: usize,
        ridge: Option<(usize, crate::embedded::Representation)>,
    ) -> Result<Self> {
        let get = |name: &str| {
            tensors.get(name).cloned().ok_or_else(|| {
                Error::invalid(format!(
                    "calibrate_on = \"validation\" but the router file has no '{name}' tensor"
                ))
            })
        };
        let (head_scale, ridge_scale) = (get(HEAD_SCALE)?, get(RIDGE_SCALE)?);
        if head_scale.dims() != [num_tasks] || ridge_scale.dims() != [num_tasks] {
            return Err(Error::invalid(format!(
                "the router file's within-task weights are not one per task ({num_tasks})"
            )));
        }
        let ridge = match ridge {
            Some((input_dim, representation)) => Some(RidgeClassifier::from_weights(
                get(RIDGE_WEIGHTS)?,
                input_dim,
                representation,
            )?),
            None => None,
        };
        Ok(WithinTask {
            head_scale,
            ridge_scale,
            ridge,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// `n` rows of 3-class logits: one source that scores the true class `signal` above noise, one pure noise.
    fn scores(n: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<usize>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let row = |rng: &mut rand::rngs::StdRng, label: Option<usize>| -> Vec<f32> {
            (0..3)
                .map(|c| rng.random::<f32>() * 2.0 + if Some(c) == label { 1.5 } else { 0.0 })
                .collect()
        };
        let informative = labels.iter().map(|&l| row(&mut rng, Some(l))).collect();
        let noise = labels.iter().map(|_| row(&mut rng, None)).collect();
        (informative, noise, labels)
    }

    #[test]
    fn the_fit_weighs_the_source_that_predicts_and_drops_the_one_that_does_not() {
        let (informative, noise, labels) = scores(300, 1);
        let heads_right = WithinTaskWeights::fit(&informative, Some(&noise), &labels).unwrap();
        assert!(heads_right.head_scale > 0.5, "{heads_right:?}");
        assert!(heads_right.ridge_scale < 0.2, "{heads_right:?}");
        let ridge_right = WithinTaskWeights::fit(&noise, Some(&informative), &labels).unwrap();
        assert!(ridge_right.ridge_scale > 0.5, "{ridge_right:?}");
        assert!(ridge_right.head_scale < 0.2, "{ridge_right:?}");
        let alone = WithinTaskWeights::fit(&informative, None, &labels).unwrap();
        assert_eq!(alone.ridge_scale, 0.0);
        assert!(alone.head_scale > 0.5);
    }

    #[test]
    fn a_head_right_on_every_row_gets_a_bounded_scale() {
        let head = vec![vec![1.0f32, 0.0], vec![0.0, 1.0]];
        let fitted = WithinTaskWeights::fit(&head, None, &[0, 1]).unwrap();
        assert!(fitted.head_scale.is_finite() && fitted.head_scale as f64 <= MAX_WEIGHT);
        assert!(fitted.head_scale > 5.0, "{fitted:?}");
    }

    #[test]
    fn rows_of_tasks_of_different_widths_fit_together() {
        let head = vec![vec![2.0f32, 0.0], vec![0.0, 1.0, 3.0], vec![0.0, 2.0]];
        let ridge = vec![vec![0.0f32, 0.0], vec![0.0, 0.0, 0.0], vec![0.0, 0.0]];
        let fitted = WithinTaskWeights::fit(&head, Some(&ridge), &[0, 2, 1]).unwrap();
        assert!(fitted.head_scale > 1.0, "{fitted:?}");
        let uneven = vec![vec![0.0f32, 0.0], vec![0.0, 0.0], vec![0.0, 0.0]];
        assert!(WithinTaskWeights::fit(&head, Some(&uneven), &[0, 2, 1]).is_err());
    }

    #[test]
    fn mismatched_rows_are_refused() {
        let head = vec![vec![1.0f32, 0.0]];
        assert!(WithinTaskWeights::fit(&head, None, &[0, 1]).is_err());
        assert!(WithinTaskWeights::fit(&head, None, &[2]).is_err());
        assert!(WithinTaskWeights::fit(&head, Some(&[vec![0.0f32]]), &[0]).is_err());
        assert!(WithinTaskWeights::fit(&[], None, &[]).is_err());
    }
}
