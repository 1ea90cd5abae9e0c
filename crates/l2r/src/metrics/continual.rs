//! Summaries of an accuracy matrix `R[i][j]` (accuracy on task j after training task i, j ≤ i).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixSummary {
    /// Mean over tasks of the accuracy after the last task.
    pub average_accuracy: f64,
    /// Backward transfer: mean over all but the last task of `R[T-1][j] − R[j][j]` (negative = forgetting).
    pub bwt: f64,
    /// Mean over all but the last task of the largest drop from an earlier accuracy to the final one.
    pub forgetting: f64,
    /// Forward transfer against each task's module alone: mean of `R[j][j] − oracle_j`. With isolated training
    /// the classic definition (accuracy on a task before training it) does not exist: there is no head yet.
    pub fwt: Option<f64>,
}

/// Summarises a lower-triangular matrix; `oracle[j]` is task j's accuracy with its own module and head.
/// Entries missing from a ragged matrix are left out of the means rather than trusted.
pub fn summarize_matrix(r: &[Vec<f64>], oracle: Option<&[f64]>) -> MatrixSummary {
    let t = r.len();
    if t == 0 {
        return MatrixSummary {
            average_accuracy: 0.0,
            bwt: 0.0,
            forgetting: 0.0,
            fwt: None,
        };
    }
    let at = |i: usize, j: usize| r.get(i).and_then(|row| row.get(j)).copied();
    let last = &r[t - 1];
    let average_accuracy = mean(last.iter().copied());
    let bwt = mean((0..t - 1).filter_map(|j| Some(at(t - 1, j)? - at(j, j)?)));
    let forgetting = mean((0..t - 1).filter_map(|j| {
        let best = (j..t - 1).filter_map(|i| at(i, j)).reduce(f64::max)?;
        Some(best - at(t - 1, j)?)
    }));
    let fwt = oracle.map(|o| mean((0..t).filter_map(|j| Some(at(j, j)? - o.get(j)?))));
    MatrixSummary {
        average_accuracy,
        bwt,
        forgetting,
        fwt,
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Mean and (sample) standard deviation over seeds and orders.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl MeanStd {
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = mean(values.iter().copied());
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        MeanStd {
            mean,
            std: var.sqrt(),
            n,
        }
    }
}

/// `mean ± std`; a single value has no spread to show, so it stands alone.
impl std::fmt::Display for MeanStd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.n {
            0 | 1 => write!(f, "{:.4}", self.mean),
            _ => write!(f, "{:.4} ± {:.4}", self.mean, self.std),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_is_shown_without_a_spread() {
        assert_eq!(MeanStd::of(&[0.5]).to_string(), "0.5000");
        assert_eq!(MeanStd::of(&[0.5, 0.7]).to_string(), "0.6000 ± 0.1414");
    }

    #[test]
    fn summaries_match_hand_computed_values() {
        let r = vec![vec![0.9], vec![0.8, 0.7], vec![0.6, 0.75, 0.5]];
        let s = summarize_matrix(&r, Some(&[1.0, 0.8, 0.6]));
        assert!((s.average_accuracy - (0.6 + 0.75 + 0.5) / 3.0).abs() < 1e-12);
        assert!((s.bwt - ((0.6 - 0.9) + (0.75 - 0.7)) / 2.0).abs() < 1e-12);
        // Task 0: max(0.9, 0.8) − 0.6 = 0.3; task 1: 0.7 − 0.75 = −0.05.
        assert!((s.forgetting - (0.3 - 0.05) / 2.0).abs() < 1e-12);
        assert!((s.fwt.unwrap() - ((0.9 - 1.0) + (0.7 - 0.8) + (0.5 - 0.6)) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ragged_matrices_do_not_panic() {
        let s = summarize_matrix(&[vec![0.5], vec![]], Some(&[]));
        assert_eq!(s.average_accuracy, 0.0);
        assert_eq!(s.fwt, Some(0.0));
    }

    #[test]
    fn mean_std_uses_the_sample_deviation() {
        let m = MeanStd::of(&[1.0, 3.0]);
        assert_eq!((m.mean, m.n), (2.0, 2));
        assert!((m.std - 2f64.sqrt()).abs() < 1e-12);
    }
}
