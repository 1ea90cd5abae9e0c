//! Decision rules: how the logits of every head on a composed representation become one prediction per example,
//! for each setting (TIL, CIL, routing). L2R and every routing baseline share them.

use super::Routed;
use crate::error::{Error, Result};
use candle_core::{IndexOp, Tensor, D};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Argmax over every head's concatenated logits (CIL).
    AllHeads,
    /// Argmax within the head of the example's own task (TIL).
    OwnHead,
    /// Argmax within the head of the module weighted most for that example (CIL: route, then classify).
    TopModuleHead,
    /// The module weighted most itself (routing accuracy).
    TopModule,
}

/// What a rule decides from: all heads' concatenated logits (batch, Σ labels) and each example's top module.
pub struct Scores<'a> {
    pub logits: &'a Tensor,
    /// The module weighted most for each example (`None` for per-token routing, which has no single one).
    pub top_module: Option<&'a [usize]>,
}

impl Decision {
    /// One prediction per example: a concatenated-space class (CIL), a class of `task`'s head (TIL), or a task.
    pub fn predict(self, routed: &Routed, scores: &Scores, task: usize) -> Result<Vec<usize>> {
        let offsets = routed.label_offsets();
        let top = || {
            scores
                .top_module
                .ok_or_else(|| Error::invalid(format!("{self:?} needs a top module per example")))
        };
        match self {
            Decision::AllHeads => argmax(scores.logits),
            Decision::OwnHead => head_argmax(routed, scores.logits, &offsets, task),
            Decision::TopModuleHead => top()?
                .iter()
                .enumerate()
                .map(|(row, &module)| {
                    let row_logits = scores.logits.narrow(0, row, 1)?;
                    let within = head_argmax(routed, &row_logits, &offsets, module)?[0];
                    Ok(offsets[module] + within)
                })
                .collect(),
            Decision::TopModule => Ok(top()?.to_vec()),
        }
    }
}

/// Argmax of each row.
pub fn argmax(logits: &Tensor) -> Result<Vec<usize>> {
    Ok(logits
        .argmax(D::Minus1)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|v| v as usize)
        .collect())
}

/// Argmax within head `task`'s slice of concatenated logits.
fn head_argmax(
    routed: &Routed,
    logits: &Tensor,
    offsets: &[usize],
    task: usize,
) -> Result<Vec<usize>> {
    argmax(&logits.i((
        ..,
        offsets[task]..offsets[task] + routed.heads[task].num_labels(),
    ))?)
}
