//! The comparison table: mean ± std over seeds × orders per benchmark × method × setup, as Markdown (for people),
//! CSV (one row per benchmark, method and metric, for plotting) and JSON (everything, for scripts).

use super::methods::Method;
use super::storage::{Storage, StorageFacts};
use crate::continual::RunSummary;
use crate::error::Result;
use crate::metrics::{MeanStd, Setup};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableRow {
    pub benchmark: String,
    pub method: String,
    pub description: String,
    /// The setups of the run's metrics its TIL, CIL and routing accuracies are read from (for scripts that go back
    /// to the run folders' per-sequence files).
    pub til_setup: Option<Setup>,
    pub cil_setup: Option<Setup>,
    pub routing_setup: Option<Setup>,
    /// Average accuracy after the last task, task id given.
    pub til: Option<MeanStd>,
    /// Average accuracy after the last task over all classes seen, no task id.
    pub cil: Option<MeanStd>,
    /// Backward transfer of the CIL accuracies (negative = forgetting).
    pub cil_bwt: Option<MeanStd>,
    /// Share of test examples routed mostly to their own task's module, after the last task.
    pub routing_accuracy: Option<MeanStd>,
    /// What the method keeps (of the CIL setup's approach), when the run's files could be measured.
    #[serde(default)]
    pub storage: Option<Storage>,
    /// The run folder the numbers come from, and the wall time this invocation spent on it.
    pub run_dir: PathBuf,
    pub seconds: f64,
}

impl TableRow {
    pub fn from_summary(
        benchmark: &str,
        method: &Method,
        summary: &RunSummary,
        facts: Option<&StorageFacts>,
        run_dir: &Path,
        seconds: f64,
    ) -> Self {
        let setup = |s: Option<Setup>| s.and_then(|s| summary.average_accuracy.get(&s)).copied();
        TableRow {
            benchmark: benchmark.to_owned(),
            method: method.name.to_owned(),
            description: method.description.to_owned(),
            til_setup: method.til,
            cil_setup: method.cil,
            routing_setup: method.routing,
            til: setup(method.til),
            cil: setup(method.cil),
            cil_bwt: method
                .cil
                .filter(|_| method.variant.has_sequence())
                .and_then(|s| summary.bwt.get(&s))
                .copied(),
            routing_accuracy: method
                .routing
                .and_then(|s| summary.routing_accuracy.get(&s))
                .copied(),
            storage: facts.and_then(|f| {
                let setup = method.cil.or(method.til)?;
                Some(f.storage(setup.approach))
            }),
            run_dir: run_dir.to_owned(),
            seconds,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonTable {
    pub rows: Vec<TableRow>,
}

impl ComparisonTable {
    /// Rows in the order of `methods` within each benchmark (benchmarks in the order they first appear).
    pub fn new(mut rows: Vec<TableRow>, methods: &[Method]) -> Self {
        let benchmarks: Vec<String> = first_appearances(rows.iter().map(|r| r.benchmark.as_str()))
            .into_iter()
            .map(str::to_owned)
            .collect();
        let rank = |name: &str| methods.iter().position(|m| m.name == name);
        rows.sort_by_key(|r| {
            (
                benchmarks.iter().position(|b| *b == r.benchmark),
                rank(&r.method),
            )
        });
        ComparisonTable { rows }
    }

    pub fn benchmarks(&self) -> Vec<&str> {
        first_appearances(self.rows.iter().map(|r| r.benchmark.as_str()))
    }

    /// Writes `compare.md`, `compare.csv` and `compare.json` in `dir`, each atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        crate::io::write_atomic(&dir.join("compare.md"), self.markdown().as_bytes())?;
        crate::io::write_atomic(&dir.join("compare.csv"), self.csv().as_bytes())?;
        crate::io::write_json_atomic(&dir.join("compare.json"), self)
    }

    /// One wide table (method × benchmark, TIL and CIL), then a detailed table per benchmark.
    pub fn markdown(&self) -> String {
        let benchmarks = self.benchmarks();
        let mut text = String::from("| method |");
        for b in &benchmarks {
            let _ = write!(text, " {b} TIL | {b} CIL |");
        }
        text.push_str("\n|---|");
        text.push_str(&"---|---|".repeat(benchmarks.len()));
        text.push('\n');
        for method in &first_appearances(self.rows.iter().map(|r| r.method.as_str())) {
            let _ = write!(text, "| {method} |");
            for b in &benchmarks {
                let row = self
                    .rows
                    .iter()
                    .find(|r| r.method == *method && r.benchmark == *b);
                let _ = write!(
                    text,
                    " {} | {} |",
                    cell(row.and_then(|r| r.til)),
                    cell(row.and_then(|r| r.cil))
                );
            }
            text.push('\n');
        }
        for b in benchmarks {
            let _ = write!(
                text,
                "\n### {b}\n\n| method | TIL | CIL | CIL BWT | routing accuracy | kept per task | kept once | sequences | run |\n|---|---|---|---|---|---|---|---|---|\n"
            );
            for row in self.rows.iter().filter(|r| r.benchmark == b) {
                let n = [row.til, row.cil]
                    .iter()
                    .flatten()
                    .map(|m| m.n)
                    .max()
                    .unwrap_or(0);
                let _ = writeln!(
                    text,
                    "| {} | {} | {} | {} | {} | {} | {} | {n} | `{}` |",
                    row.method,
                    cell(row.til),
                    cell(row.cil),
                    cell(row.cil_bwt),
                    cell(row.routing_accuracy),
                    bytes(row.storage.map(|s| s.per_task)),
                    bytes(row.storage.map(|s| s.fixed)),
                    row.run_dir.display()
                );
            }
        }
        text
    }

    /// `benchmark,method,metric,mean,std,n`, one line per available number.
    pub fn csv(&self) -> String {
        let mut text = String::from("benchmark,method,metric,mean,std,n\n");
        for row in &self.rows {
            for (metric, value) in [
                ("til", row.til),
                ("cil", row.cil),
                ("cil_bwt", row.cil_bwt),
                ("routing_accuracy", row.routing_accuracy),
            ] {
                if let Some(v) = value {
                    let _ = writeln!(
                        text,
                        "{},{},{metric},{:.6},{:.6},{}",
                        csv_field(&row.benchmark),
                        row.method,
                        v.mean,
                        v.std,
                        v.n
                    );
                }
            }
        }
        text
    }
}

/// Each distinct name once, in the order it first appears.
fn first_appearances<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}

/// `0.767 ± 0.021`, or a dash where the method has no such setup.
/// "1.2 MB", "35 kB", "–".
fn bytes(value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        Some(v) if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        Some(v) if v >= 1e3 => format!("{:.0} kB", v / 1e3),
        Some(v) => format!("{v:.0} B"),
    }
}

fn cell(value: Option<MeanStd>) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{:.3} ± {:.3}", v.mean, v.std))
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::parse_methods;

    fn row(benchmark: &str, method: &str, til: Option<f64>, cil: f64) -> TableRow {
        let ms = |mean| MeanStd {
            mean,
            std: 0.01,
            n: 3,
        };
        TableRow {
            benchmark: benchmark.into(),
            method: method.into(),
            description: String::new(),
            til_setup: None,
            cil_setup: None,
            routing_setup: None,
            til: til.map(ms),
            cil: Some(ms(cil)),
            cil_bwt: None,
            routing_accuracy: None,
            storage: None,
            run_dir: PathBuf::from("runs/x"),
            seconds: 1.0,
        }
    }

    #[test]
    fn tables_follow_the_method_order_and_mark_missing_setups() {
        let methods = parse_methods(&["l2r-wavg,uniform".into()]).unwrap();
        let table = ComparisonTable::new(
            vec![
                row("far5", "uniform", None, 0.4),
                row("senti4", "l2r-wavg", Some(0.6), 0.5),
                row("far5", "l2r-wavg", Some(0.8), 0.767),
            ],
            &methods,
        );
        let md = table.markdown();
        let wide: Vec<&str> = md.lines().take(4).collect();
        assert_eq!(
            wide[0],
            "| method | far5 TIL | far5 CIL | senti4 TIL | senti4 CIL |"
        );
        assert_eq!(
            wide[2],
            "| l2r-wavg | 0.800 ± 0.010 | 0.767 ± 0.010 | 0.600 ± 0.010 | 0.500 ± 0.010 |"
        );
        assert_eq!(wide[3], "| uniform | — | 0.400 ± 0.010 | — | — |");
        let csv = table.csv();
        assert!(
            csv.starts_with(
                "benchmark,method,metric,mean,std,n\nfar5,l2r-wavg,til,0.800000,0.010000,3\n"
            ),
            "{csv}"
        );
        assert!(!csv.contains("uniform,til"), "no row for a missing setup");
    }
}
