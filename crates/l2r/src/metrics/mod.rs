//! Metrics: per-task classification scores, and the continual-learning summaries of an accuracy matrix.

mod classification;
mod continual;

pub use classification::{classification_scores, ClassificationScores};
pub use continual::{summarize_matrix, MatrixSummary, MeanStd};
