//! Accuracy, macro-F1 and weighted F1 of one set of predictions.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassificationScores {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub weighted_f1: f64,
    pub count: usize,
}

/// Accuracy, macro-F1 and support-weighted F1 of `predictions` against `labels` over `num_labels` classes.
/// A class with neither predictions nor examples is left out of the macro average.
pub fn classification_scores(
    predictions: &[usize],
    labels: &[usize],
    num_labels: usize,
) -> ClassificationScores {
    let count = labels.len().min(predictions.len());
    let mut confusion = vec![vec![0usize; num_labels]; num_labels];
    for (&p, &l) in predictions.iter().zip(labels) {
        if p < num_labels && l < num_labels {
            confusion[l][p] += 1;
        }
    }
    let correct: usize = (0..num_labels).map(|c| confusion[c][c]).sum();
    let (mut f1_sum, mut f1_classes, mut weighted) = (0.0, 0usize, 0.0);
    for c in 0..num_labels {
        let tp = confusion[c][c] as f64;
        let support: usize = confusion[c].iter().sum();
        let predicted: usize = confusion.iter().map(|row| row[c]).sum();
        if support + predicted == 0 {
            continue;
        }
        let f1 = 2.0 * tp / (support + predicted) as f64;
        f1_sum += f1;
        f1_classes += 1;
        weighted += f1 * support as f64;
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    ClassificationScores {
        accuracy: ratio(correct as f64, count as f64),
        macro_f1: ratio(f1_sum, f1_classes as f64),
        weighted_f1: ratio(weighted, count as f64),
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_hand_computed_values() {
        // Class 0: tp 2, support 3, predicted 2 -> f1 0.8. Class 1: tp 1, support 1, predicted 2 -> f1 2/3.
        let scores = classification_scores(&[0, 0, 1, 1], &[0, 0, 0, 1], 2);
        assert!((scores.accuracy - 0.75).abs() < 1e-12);
        assert!((scores.macro_f1 - (0.8 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((scores.weighted_f1 - (0.8 * 3.0 + 2.0 / 3.0) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn perfect_predictions_score_one_and_empty_input_scores_zero() {
        let perfect = classification_scores(&[2, 1, 0], &[2, 1, 0], 3);
        assert_eq!((perfect.accuracy, perfect.macro_f1), (1.0, 1.0));
        assert_eq!(classification_scores(&[], &[], 3).accuracy, 0.0);
    }
}
