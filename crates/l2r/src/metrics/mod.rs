//! Metrics: per-task classification scores, the continual-learning summaries of an accuracy matrix, and the
//! evaluation setups whose accuracies they summarise.

mod classification;
mod continual;
mod setup;

pub use classification::{classification_scores, ClassificationScores};
pub use continual::{summarize_matrix, MatrixSummary, MeanStd};
pub use setup::{Approach, Setting, Setup};
