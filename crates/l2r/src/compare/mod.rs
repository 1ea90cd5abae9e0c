//! `l2r compare`: every method on the same backbone, modules, splits, seeds and task orders, and the paper-style
//! table of mean ± std per method × benchmark × setup (TIL, CIL).

mod grid;
mod methods;
mod storage;
mod table;

pub use grid::{compare, GridBenchmark, GridOptions};
pub use methods::{parse_methods, Method, Variant, DEFAULT_METHODS, METHODS};
pub use storage::{Storage, StorageFacts};
pub use table::{ComparisonTable, TableRow};
