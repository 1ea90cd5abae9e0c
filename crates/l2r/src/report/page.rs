//! Assembling the report page from a run folder's files.

use super::plots::{heat_map, line_chart, HeatMap, LineChart};
use crate::continual::{RunConfig, RunSummary, StepEvaluation};
use crate::error::{Error, Result};
use crate::train::{TaskArtifacts, TaskRecord};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes `<dir>/report.html` (or `out`) atomically and returns its path.
pub fn write_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    let html = render_report(dir)?;
    let path = out.map_or_else(|| dir.join("report.html"), Path::to_path_buf);
    crate::io::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// The report page of the run in `dir`; plots show the first seed × order sequence.
pub fn render_report(dir: &Path) -> Result<String> {
    let config = RunConfig::from_file(&dir.join("config.toml"))?;
    let metrics_path = dir.join("metrics.json");
    if !metrics_path.is_file() {
        return Err(Error::invalid(format!(
            "{} has no metrics.json: the run has not finished; finish it with `l2r run --resume {}`",
            dir.display(),
            dir.display()
        )));
    }
    let summary: RunSummary = crate::io::read_json(&metrics_path)?;
    let first = summary
        .sequences
        .first()
        .ok_or_else(|| Error::invalid("metrics.json lists no sequence"))?;
    let seq_dir = dir.join(format!("seed{}-order{}", first.seed, first.order));
    let last_step = first.tasks.len().saturating_sub(1);
    let final_eval: StepEvaluation =
        crate::io::read_json(&seq_dir.join(format!("eval-step{last_step}.json")))?;
    let records = task_records(&config, dir, first.seed, &first.tasks)?;

    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>l2r run report</h1><p class=\"meta\">{} · {} sequence(s) (seeds {:?} × orders {:?}) · composition {} · module {} · plots: seed {} order {}</p>",
        escape(&dir.display().to_string()),
        summary.sequences.len(),
        config.seeds,
        config.orders,
        format!("{:?}", config.composition).to_lowercase(),
        config.module.kind(),
        first.seed,
        first.order,
    );
    body.push_str("<h2>Metrics after the last task</h2>");
    body.push_str(&metrics_table(&summary));
    body.push_str("<h2>Accuracy matrices</h2><p>Row i: after training task i; column j: accuracy on task j.</p><div class=\"grid\">");
    for (setup, matrix) in &first.matrices {
        let values: Vec<Vec<Option<f64>>> = matrix
            .iter()
            .map(|row| {
                (0..first.tasks.len())
                    .map(|j| row.get(j).copied())
                    .collect()
            })
            .collect();
        body.push_str(&figure(&heat_map(&HeatMap {
            title: setup,
            rows: &first.tasks,
            columns: &first.tasks,
            row_axis: "after training",
            column_axis: "evaluated on",
            values: &values,
        })?));
    }
    body.push_str("</div><h2>Routing</h2><p>Mean (layer-averaged) weight the routers give each task's module on each task's test examples, after the last task.</p>");
    let gates: Vec<Vec<Option<f64>>> = final_eval
        .mean_weights
        .iter()
        .map(|row| row.iter().map(|&w| Some(w)).collect())
        .collect();
    body.push_str(&figure(&heat_map(&HeatMap {
        title: "routing gates",
        rows: &final_eval.tasks,
        columns: &final_eval.tasks,
        row_axis: "test examples of",
        column_axis: "module of",
        values: &gates,
    })?));
    body.push_str("<h2>Training curves</h2><div class=\"grid\">");
    body.push_str(&training_curves(&records)?);
    body.push_str("</div>");
    Ok(page(&body))
}

fn task_records(
    config: &RunConfig,
    dir: &Path,
    seed: u64,
    tasks: &[String],
) -> Result<Vec<TaskRecord>> {
    let modules = config.modules_dir(dir, seed)?;
    tasks
        .iter()
        .map(|t| TaskArtifacts::new(modules.join(t)).load_record())
        .collect()
}

fn training_curves(records: &[TaskRecord]) -> Result<String> {
    let series = |f: &dyn Fn(&crate::train::EpochLog) -> f64| -> Vec<(String, Vec<f64>)> {
        records
            .iter()
            .filter_map(|r| {
                let epochs = &r.report.as_ref()?.epochs;
                Some((r.task.clone(), epochs.iter().map(f).collect()))
            })
            .collect()
    };
    let loss = series(&|e| e.train_loss);
    let accuracy = series(&|e| e.validation_accuracy);
    if loss.is_empty() {
        return Ok("<p>No training logs in the task folders.</p>".into());
    }
    let mut out = figure(&line_chart(&LineChart {
        title: "training loss per epoch",
        x_axis: "epoch",
        y_axis: "loss",
        series: &loss,
    })?);
    out.push_str(&figure(&line_chart(&LineChart {
        title: "validation accuracy per epoch",
        x_axis: "epoch",
        y_axis: "accuracy",
        series: &accuracy,
    })?));
    Ok(out)
}

fn metrics_table(summary: &RunSummary) -> String {
    let mut html = String::from(
        "<table><tr><th>setup</th><th>average accuracy</th><th>BWT</th><th>forgetting</th></tr>",
    );
    for (setup, acc) in &summary.average_accuracy {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{acc}</td><td>{}</td><td>{}</td></tr>",
            escape(setup),
            summary
                .bwt
                .get(setup)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            summary
                .forgetting
                .get(setup)
                .map(|v| v.to_string())
                .unwrap_or_default()
        );
    }
    let _ = write!(
        html,
        "</table><p>Routing accuracy {} (DAM-style nearest centroid {}) · CIL weighted F1 {}</p>",
        summary.routing_accuracy, summary.dam_routing_accuracy, summary.cil_weighted_f1
    );
    html
}

fn figure(svg: &str) -> String {
    format!("<figure>{svg}</figure>")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>l2r run report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
.meta {{ color: #555; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure {{ margin: 0; }}
</style></head><body>
{body}
</body></html>
"#
    )
}
