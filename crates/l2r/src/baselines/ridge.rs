//! The RanPAC-style ridge classifier ([`RidgeClassifier`]) as a training-free baseline: its class scores in one
//! representation.

use super::class_scorer::ClassScorer;
use crate::embedded::Features;
use crate::error::Result;
use crate::metrics::Approach;
use crate::statistics::RidgeClassifier;
use candle_core::Tensor;

pub struct Ridge(pub RidgeClassifier);

impl ClassScorer for Ridge {
    fn approach(&self) -> Approach {
        Approach::RandomRidge(self.0.representation())
    }

    fn scores(&self, features: &Features) -> Result<Tensor> {
        self.0.scores(features.get(self.0.representation()))
    }
}
