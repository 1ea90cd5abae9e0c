//! The ridge classifiers' class scores the routers' decision reads beside the heads, when `ridge_heads` is on: the
//! shared ridge's (over every task's classes) and, when the within-task weights were fitted on validation splits,
//! the tasks' own ridges' (each task's columns from the ridge of its statistics alone).

use crate::error::Result;
use candle_core::Tensor;

/// Class scores of some inputs, (batch, Σ labels) each, tasks' classes in the heads' order.
#[derive(Clone)]
pub struct ClassScores {
    /// The shared ridge's scores: added to the heads (memory calibration) and read as a task posterior.
    pub shared: Tensor,
    /// The tasks' own ridges' scores side by side: added to each head by its within-task weights.
    pub own: Option<Tensor>,
}

impl ClassScores {
    /// The scores of rows `index` (a u32 tensor of row numbers).
    pub fn rows(&self, index: &Tensor) -> Result<Self> {
        Ok(ClassScores {
            shared: self.shared.index_select(index, 0)?,
            own: match &self.own {
                Some(own) => Some(own.index_select(index, 0)?),
                None => None,
            },
        })
    }
}
