//! Assembling the report page from a run folder's files.

use super::plots::{bar_chart, heat_map, line_chart, BarChart, HeatMap, LineChart};
use crate::continual::{RunConfig, RunLayout, RunSummary, SequenceMetrics, StepEvaluation};
use crate::error::{Error, Result};
use crate::metrics::{Approach, MeanStd, Setup};
use crate::train::TaskRecord;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes `<dir>/report.html` (or `out`) atomically and returns its path.
pub fn write_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf> {
    let (layout, config) = RunLayout::open(dir)?;
    let html = render_report(&layout, &config)?;
    let path = out.map_or_else(|| layout.report(), Path::to_path_buf);
    crate::io::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// The report page of a run; plots show the first seed × order sequence.
pub fn render_report(layout: &RunLayout, config: &RunConfig) -> Result<String> {
    let dir = layout.root();
    let metrics_path = layout.metrics();
    if !metrics_path.is_file() {
        return Err(Error::invalid(format!(
            "{} has no metrics.json: the run has not finished; finish it with `l2r run --resume {}`",
            dir.display(),
            dir.display()
        )));
    }
    let summary: RunSummary = crate::io::read_json(&metrics_path).map_err(|e| {
        Error::invalid(format!(
            "{e}; if the run was made by an older l2r, rewrite its metrics with `l2r run --resume {}`",
            dir.display()
        ))
    })?;
    let first = summary
        .sequences
        .first()
        .ok_or_else(|| Error::invalid("metrics.json lists no sequence"))?;
    let sequence = layout.sequence(first.seed, first.order);
    let records = task_records(layout, first)?;

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
    body.push_str(&figure(&method_chart(&summary)?));
    body.push_str("<h2>Accuracy matrices</h2><p>Row i: after training task i; column j: accuracy on task j (routing: the share of task j's examples routed to its own module).</p><div class=\"grid\">");
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
            title: &setup.display_name(),
            rows: &first.tasks,
            columns: &first.tasks,
            row_axis: "after training",
            column_axis: "evaluated on",
            values: &values,
        })?));
    }
    body.push_str("</div>");
    let last_step = first.tasks.len().saturating_sub(1);
    if sequence.evaluation(last_step).is_file() {
        let final_eval: StepEvaluation = crate::io::read_json(&sequence.evaluation(last_step))?;
        body.push_str(&gates_section(&final_eval)?);
    }
    body.push_str("<h2>Training curves</h2><div class=\"grid\">");
    body.push_str(&training_curves(&records)?);
    body.push_str("</div>");
    Ok(page(&body))
}

/// The routers' mean weight of each module on each task's test examples, after the last task.
fn gates_section(final_eval: &StepEvaluation) -> Result<String> {
    if final_eval.mean_weights.is_empty() {
        return Ok(String::new());
    }
    let gates: Vec<Vec<Option<f64>>> = final_eval
        .mean_weights
        .iter()
        .map(|row| row.iter().map(|&w| Some(w)).collect())
        .collect();
    Ok(format!(
        "<h2>Routing</h2><p>Mean (layer-averaged) weight the routers give each task's module on each task's test examples, after the last task.</p>{}",
        figure(&heat_map(&HeatMap {
            title: "routing gates",
            rows: &final_eval.tasks,
            columns: &final_eval.tasks,
            row_axis: "test examples of",
            column_axis: "module of",
            values: &gates,
        })?)
    ))
}

/// The trained tasks' records (training logs), wherever the run's kind of module training put them.
fn task_records(layout: &RunLayout, sequence: &SequenceMetrics) -> Result<Vec<TaskRecord>> {
    sequence
        .tasks
        .iter()
        .enumerate()
        .map(|(index, task)| layout.trained_module(sequence.seed, sequence.order, index, task))
        .filter(|artifacts| artifacts.record_path().is_file())
        .map(|artifacts| artifacts.load_record())
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

/// Every setup's final metrics, by display name, with a legend of what each setup is.
fn metrics_table(summary: &RunSummary) -> String {
    let cell = |value: Option<&MeanStd>| value.map(MeanStd::to_string).unwrap_or_default();
    let mut html = String::from(
        "<table><tr><th>setup</th><th>average accuracy</th><th>BWT</th><th>forgetting</th><th class=\"legend\">what it is</th></tr>",
    );
    for (setup, accuracy) in &summary.average_accuracy {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"legend\">{}</td></tr>",
            escape(&setup.display_name()),
            cell(Some(accuracy)),
            cell(summary.bwt.get(setup)),
            cell(summary.forgetting.get(setup)),
            escape(&setup.description()),
        );
    }
    html.push_str("</table><table><tr><th>routing</th><th>accuracy after the last task</th><th class=\"legend\">what it is</th></tr>");
    for (setup, accuracy) in &summary.routing_accuracy {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"legend\">{}</td></tr>",
            escape(&setup.display_name()),
            cell(Some(accuracy)),
            escape(&setup.description()),
        );
    }
    let _ = write!(
        html,
        "</table><p>CIL weighted F1 (L2R) {}</p>",
        cell(Some(&summary.cil_weighted_f1))
    );
    html
}

/// CIL and TIL average accuracy of every approach, side by side.
fn method_chart(summary: &RunSummary) -> Result<String> {
    let approaches: std::collections::BTreeSet<Approach> = summary
        .average_accuracy
        .keys()
        .map(|s| s.approach)
        .collect();
    let value = |setup: Setup| summary.average_accuracy.get(&setup).map(|v| v.mean);
    let groups: Vec<(String, Vec<Option<f64>>)> = approaches
        .iter()
        .map(|&a| {
            (
                a.display_name().to_owned(),
                vec![value(Setup::cil(a)), value(Setup::til(a))],
            )
        })
        .collect();
    bar_chart(&BarChart {
        title: "average accuracy after the last task, per method",
        y_axis: "accuracy",
        series: &["CIL".to_owned(), "TIL".to_owned()],
        groups: &groups,
    })
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
td.legend {{ text-align: left; color: #555; font-size: 90%; }}
th.legend {{ text-align: left; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure {{ margin: 0; }}
</style></head><body>
{body}
</body></html>
"#
    )
}
