//! Hand-written CPU ops where candle's generic ones waste work (forward/backward pairs, llm.c style).

mod frozen_linear;

pub use frozen_linear::frozen_matmul;
