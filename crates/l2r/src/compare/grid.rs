//! The comparison grid: benchmarks (one run config each) × methods × seeds × task orders. Methods that need the
//! same run share it, and every run of a benchmark shares one module cache, so a module is trained once per
//! (benchmark, seed) whatever the number of methods. Each run resumes where it stopped (see `continual::run`).
//!
//! ```text
//! <out>/<benchmark>/<variant>/     one `l2r run` folder per distinct config (base, merge, sequential, …)
//! <out>/<benchmark>/module-cache/  modules shared by the variants (unless the config names its own cache)
//! <out>/compare.{md,csv,json}      the table
//! ```

use super::methods::{Method, Variant};
use super::storage::StorageFacts;
use super::table::{ComparisonTable, TableRow};
use crate::continual::{run, RunConfig};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One benchmark of the grid: a name for the table and the config its runs start from.
pub struct GridBenchmark {
    pub name: String,
    pub config: RunConfig,
}

pub struct GridOptions {
    /// Seeds and task orders of every benchmark; `None` keeps each config's own.
    pub seeds: Option<Vec<u64>>,
    pub orders: Option<Vec<usize>>,
    pub show_progress: bool,
}

/// One run of the grid and the methods it serves.
struct PlannedRun {
    dir: PathBuf,
    config: RunConfig,
    methods: Vec<Method>,
}

/// Runs (or resumes) every run the methods need on every benchmark and writes the table in `out`.
pub fn compare(
    benchmarks: &[GridBenchmark],
    methods: &[Method],
    options: &GridOptions,
    out: &Path,
) -> Result<ComparisonTable> {
    let empty = |v: Option<usize>| v == Some(0);
    if empty(options.seeds.as_ref().map(Vec::len)) || empty(options.orders.as_ref().map(Vec::len)) {
        return Err(Error::invalid("give at least one seed and one task order"));
    }
    let mut rows = Vec::new();
    for benchmark in benchmarks {
        crate::names::check_name("benchmark", &benchmark.name)?;
        let dir = out.join(&benchmark.name);
        for planned in plan(benchmark, methods, options, &dir) {
            if options.show_progress {
                eprintln!(
                    "{}: {} ({}) in {}",
                    benchmark.name,
                    names(&planned.methods),
                    describe(&planned.config),
                    planned.dir.display()
                );
            }
            let started = Instant::now();
            let summary = run(&planned.config, &planned.dir, options.show_progress)?;
            let seconds = started.elapsed().as_secs_f64();
            // A run that cannot be priced (files moved, an older layout) still reports its accuracies.
            let facts = StorageFacts::measure(&planned.dir, &planned.config).ok();
            rows.extend(planned.methods.iter().map(|m| {
                TableRow::from_summary(
                    &benchmark.name,
                    m,
                    &summary,
                    facts.as_ref(),
                    &planned.dir,
                    seconds,
                )
            }));
        }
    }
    let table = ComparisonTable::new(rows, methods);
    table.write(out)?;
    Ok(table)
}

/// One run per distinct config the methods need (so a variant equal to the base, e.g. the config's own memory
/// size, adds no run), base first so that it trains the shared modules.
fn plan(
    benchmark: &GridBenchmark,
    methods: &[Method],
    options: &GridOptions,
    dir: &Path,
) -> Vec<PlannedRun> {
    let mut base = benchmark.config.clone();
    if let Some(seeds) = &options.seeds {
        base.seeds = seeds.clone();
    }
    if let Some(orders) = &options.orders {
        base.orders = orders.clone();
    }
    if base.module_cache.is_none() {
        base.module_cache = Some(dir.join("module-cache"));
    }
    let mut ordered: Vec<Method> = methods.to_vec();
    ordered.sort_by_key(|m| m.variant != Variant::Base);
    let mut planned: Vec<PlannedRun> = Vec::new();
    for method in ordered {
        let config = method.variant.apply(&base);
        match planned.iter_mut().find(|p| p.config == config) {
            Some(existing) => existing.methods.push(method),
            None => planned.push(PlannedRun {
                dir: dir.join(method.variant.dir_name()),
                config,
                methods: vec![method],
            }),
        }
    }
    planned
}

fn names(methods: &[Method]) -> String {
    methods
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(config: &RunConfig) -> String {
    format!(
        "{} seed(s) × {} order(s)",
        config.seeds.len(),
        config.orders.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::parse_methods;

    #[test]
    fn methods_that_need_the_same_config_share_one_run() {
        let config = RunConfig::from_toml(
            "benchmark = \"far5\"\n[memory]\nper_class = 5\n",
            Path::new("c"),
        )
        .unwrap();
        let benchmark = GridBenchmark {
            name: "far5".into(),
            config,
        };
        let methods =
            parse_methods(&["l2r-merge,dam,l2r-wavg,l2r-memory-5,epi,sequential".into()]).unwrap();
        let options = GridOptions {
            seeds: Some(vec![0, 1]),
            orders: None,
            show_progress: false,
        };
        let runs = plan(&benchmark, &methods, &options, Path::new("/out/far5"));
        let summary: Vec<(String, Vec<&str>)> = runs
            .iter()
            .map(|r| {
                (
                    r.dir.display().to_string(),
                    r.methods.iter().map(|m| m.name).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "/out/far5/base".into(),
                    vec!["dam", "l2r-wavg", "epi", "l2r-memory-5"]
                ),
                ("/out/far5/merge".into(), vec!["l2r-merge"]),
                ("/out/far5/sequential".into(), vec!["sequential"]),
            ]
        );
        assert!(runs.iter().all(|r| r.config.seeds == [0, 1]
            && r.config.orders == [0]
            && r.config.module_cache.as_deref() == Some(Path::new("/out/far5/module-cache"))));
    }
}
