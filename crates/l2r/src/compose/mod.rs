//! Composing several tasks' PEFT modules inside one forward pass, per example:
//! L2R-wavg (normalised weighted average of the modules' outputs) or L2R-merge (the modules' parameters averaged
//! per example with the same weights, then applied once).

mod alongside;
mod composition;
mod decision;
mod routed;
mod stack;

pub use alongside::AlongsidePrevious;
pub use composition::{Composition, FixedWeights, LayerWeights};
pub use decision::{argmax, Decision, Scores};
pub use routed::{heads_on_encoder, label_offsets, Routed};
pub use stack::ModuleStack;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompositionMode {
    /// `h + Σ wᵢ Aᵢ(h)` with `w = g / Σg` (for LoRA: `Σ wᵢ ΔWᵢ x`).
    Wavg,
    /// One module whose parameters are `Σ wᵢ θᵢ`, per example.
    Merge,
}
