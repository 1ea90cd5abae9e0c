//! Which training examples of a class the memory keeps. Random sampling (the default) keeps a typical draw; the two
//! rules here choose by the examples' frozen features, as the continual-learning literature does for rehearsal
//! memories (issue 15, item 2: "memory selection (herding, k-center) instead of random"):
//!
//! - **herding** (Welling 2009, iCaRL's exemplars): greedily the example that keeps the running mean of those chosen
//!   closest to the class mean, so that a small memory has the class's centre where the full split has it;
//! - **k-center** (the greedy coreset of Sener & Savarese 2018): starting from the example nearest the class mean,
//!   each next the one farthest from every example chosen, so that the memory covers the class's spread, its
//!   borders included, where the routers' decisions are made.
//!
//! Both are deterministic in the features: the seed does not change them.

use crate::data::split::keep_per_class;
use crate::data::Example;
use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// How a task's memory is chosen among its training examples, per class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySelection {
    /// Uniformly at random, with the run's seed (the default).
    #[default]
    Random,
    /// The examples whose running mean stays closest to the class mean (iCaRL's herding).
    Herding,
    /// The example nearest the class mean, then each time the one farthest from those chosen (greedy k-center).
    KCenter,
}

impl MemorySelection {
    pub fn is_random(&self) -> bool {
        *self == MemorySelection::Random
    }

    /// `per_class` examples of each class of `examples` (all of a smaller class), chosen by this rule on
    /// `features`, one row per example. Returned in the order of `examples`. Random selection needs a seed and
    /// is not done here ([`crate::data::subsample_per_class`]).
    pub fn select(
        self,
        examples: &[Example],
        features: &Tensor,
        per_class: usize,
    ) -> Result<Vec<Example>> {
        let rule: fn(&[&[f32]], usize) -> Vec<usize> = match self {
            MemorySelection::Random => {
                return Err(Error::invalid(
                    "random memory selection samples with a seed; it does not read features",
                ))
            }
            MemorySelection::Herding => herding,
            MemorySelection::KCenter => k_center,
        };
        let rows = feature_rows(features, examples.len())?;
        Ok(keep_per_class(examples, |_, members| {
            let points: Vec<&[f32]> = members.iter().map(|&i| rows[i].as_slice()).collect();
            rule(&points, per_class)
                .into_iter()
                .map(|j| members[j])
                .collect()
        }))
    }
}

/// The rows of an (n, d) feature matrix, checked against the number of examples.
fn feature_rows(features: &Tensor, expected: usize) -> Result<Vec<Vec<f32>>> {
    let rows = features.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    if rows.len() != expected {
        return Err(Error::invalid(format!(
            "memory selection got features of {} examples for {expected}",
            rows.len()
        )));
    }
    Ok(rows)
}

fn mean(points: &[&[f32]]) -> Vec<f64> {
    let mut sum = vec![0.0f64; points.first().map_or(0, |p| p.len())];
    for point in points {
        for (s, &x) in sum.iter_mut().zip(point.iter()) {
            *s += f64::from(x);
        }
    }
    let n = points.len().max(1) as f64;
    sum.iter().map(|s| s / n).collect()
}

fn squared_distance(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - y).powi(2))
        .sum()
}

/// Indices of `k` points (all when fewer), each the one that brings the mean of those chosen closest to the mean
/// of all.
fn herding(points: &[&[f32]], k: usize) -> Vec<usize> {
    let target = mean(points);
    let mut sum = vec![0.0f64; target.len()];
    let mut chosen = Vec::new();
    while chosen.len() < k.min(points.len()) {
        let count = (chosen.len() + 1) as f64;
        let candidate = |i: usize| {
            sum.iter()
                .zip(points[i].iter())
                .zip(&target)
                .map(|((s, &x), t)| ((s + f64::from(x)) / count - t).powi(2))
                .sum::<f64>()
        };
        let Some(best) = argmin((0..points.len()).filter(|i| !chosen.contains(i)), candidate)
        else {
            break;
        };
        for (s, &x) in sum.iter_mut().zip(points[best].iter()) {
            *s += f64::from(x);
        }
        chosen.push(best);
    }
    chosen
}

/// Indices of `k` points (all when fewer): the one nearest the mean, then each time the one farthest from every
/// point chosen.
fn k_center(points: &[&[f32]], k: usize) -> Vec<usize> {
    if k == 0 {
        return Vec::new();
    }
    let centre = mean(points);
    let Some(first) = argmin(0..points.len(), |i| squared_distance(points[i], &centre)) else {
        return Vec::new();
    };
    let mut chosen = vec![first];
    let as_f64 = |p: &[f32]| p.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let mut nearest: Vec<f64> = {
        let first = as_f64(points[first]);
        points.iter().map(|p| squared_distance(p, &first)).collect()
    };
    while chosen.len() < k.min(points.len()) {
        let farthest = argmin((0..points.len()).filter(|i| !chosen.contains(i)), |i| {
            -nearest[i]
        });
        let Some(next) = farthest else {
            break;
        };
        let added = as_f64(points[next]);
        for (d, point) in nearest.iter_mut().zip(points) {
            *d = d.min(squared_distance(point, &added));
        }
        chosen.push(next);
    }
    chosen
}

/// The index of `candidates` with the smallest `cost` (the first of equals); `None` when there is none.
fn argmin(candidates: impl Iterator<Item = usize>, cost: impl Fn(usize) -> f64) -> Option<usize> {
    candidates
        .map(|i| (i, cost(i)))
        .fold(None, |best: Option<(usize, f64)>, (i, c)| match best {
            Some((_, b)) if b <= c => best,
            _ => Some((i, c)),
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn examples(labels: &[usize]) -> Vec<Example> {
        labels
            .iter()
            .enumerate()
            .map(|(i, &label)| Example {
                text: format!("text {i}"),
                label,
            })
            .collect()
    }

    fn features(rows: &[[f32; 2]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (rows.len(), 2), &Device::Cpu).unwrap()
    }

    /// Deterministic pseudo-random points in the unit square, skewed so that a random handful misses the mean.
    fn skewed_points(n: usize) -> Vec<[f32; 2]> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 10_000) as f32 / 10_000.0
        };
        (0..n).map(|_| [next().powi(3), next()]).collect()
    }

    fn mean_error(chosen: &[[f32; 2]], all: &[[f32; 2]]) -> f32 {
        let mean = |points: &[[f32; 2]], d: usize| {
            points.iter().map(|p| p[d]).sum::<f32>() / points.len() as f32
        };
        (0..2)
            .map(|d| (mean(chosen, d) - mean(all, d)).powi(2))
            .sum::<f32>()
    }

    #[test]
    fn herding_keeps_the_class_mean_better_than_random_draws() {
        let points = skewed_points(60);
        let chosen = MemorySelection::Herding
            .select(&examples(&[0; 60]), &features(&points), 5)
            .unwrap();
        assert_eq!(chosen.len(), 5);
        let index = |e: &Example| e.text[5..].parse::<usize>().unwrap();
        let herded: Vec<[f32; 2]> = chosen.iter().map(|e| points[index(e)]).collect();
        // Every consecutive handful of the (unordered) points is a random draw of 5.
        let random: f32 = points
            .chunks(5)
            .map(|draw| mean_error(draw, &points))
            .sum::<f32>()
            / 12.0;
        assert!(
            mean_error(&herded, &points) < 0.1 * random,
            "herded {} against random {random}",
            mean_error(&herded, &points)
        );
    }

    #[test]
    fn k_center_starts_at_the_centre_and_reaches_the_extremes() {
        let points: Vec<[f32; 2]> = (0..11).map(|i| [i as f32, 0.0]).collect();
        let chosen = MemorySelection::KCenter
            .select(&examples(&[0; 11]), &features(&points), 3)
            .unwrap();
        let texts: Vec<&str> = chosen.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["text 0", "text 5", "text 10"]);
    }

    #[test]
    fn each_class_keeps_its_quota_or_all_of_itself_in_the_order_given() {
        let labels = [1, 0, 1, 0, 1, 0, 1, 2];
        let points: Vec<[f32; 2]> = (0..8).map(|i| [i as f32, (i * i) as f32]).collect();
        for rule in [MemorySelection::Herding, MemorySelection::KCenter] {
            let chosen = rule
                .select(&examples(&labels), &features(&points), 2)
                .unwrap();
            let count = |label| chosen.iter().filter(|e| e.label == label).count();
            assert_eq!((count(0), count(1), count(2)), (2, 2, 1), "{rule:?}");
            let order: Vec<usize> = chosen
                .iter()
                .map(|e| e.text[5..].parse().unwrap())
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{rule:?}: {order:?}");
        }
    }

    #[test]
    fn features_of_other_examples_and_random_selection_are_refused() {
        let points = [[0.0, 1.0], [1.0, 0.0]];
        let error = MemorySelection::Herding
            .select(&examples(&[0, 0, 0]), &features(&points), 1)
            .unwrap_err();
        assert!(error.to_string().contains("2 examples for 3"), "{error}");
        assert!(MemorySelection::Random
            .select(&examples(&[0, 0]), &features(&points), 1)
            .is_err());
    }
}
