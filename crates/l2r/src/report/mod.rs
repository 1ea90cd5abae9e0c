//! `l2r report`: one self-contained HTML page for a run folder — the metrics table, the accuracy matrix of each
//! setup as a heat map, the routers' gates per task as a heat map, and each task's training curves — with the
//! plots drawn by plotters as inline SVG, so the file opens anywhere without a network.

mod fonts;
mod page;
mod plots;

pub use page::{render_report, write_report};
