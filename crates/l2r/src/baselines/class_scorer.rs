//! The interface of the training-free classifiers evaluated beside L2R: no module, no head, only the statistics each
//! finished task left (class means, a shared covariance, a Gram matrix), scoring every class seen so far from the
//! frozen features. Their TIL, CIL and routing accuracies come from the same scores: the best class of the task's
//! own, the best class overall, and that class's task.

use crate::embedded::Features;
use crate::error::Result;
use crate::metrics::Approach;
use candle_core::Tensor;

pub trait ClassScorer {
    /// The approach its setups are reported under.
    fn approach(&self) -> Approach;

    /// (batch, C) scores over the concatenated label space of every task seen, higher meaning more likely.
    fn scores(&self, features: &Features) -> Result<Tensor>;
}
