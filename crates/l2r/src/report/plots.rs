//! The report's plots as SVG strings: a labelled heat map and a multi-line chart.

use super::fonts::ensure_font;
use crate::error::{Error, Result};
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// A matrix of values in [0, 1] (None = not applicable) with row and column names; rows top to bottom.
pub struct HeatMap<'a> {
    pub title: &'a str,
    pub rows: &'a [String],
    pub columns: &'a [String],
    pub row_axis: &'a str,
    pub column_axis: &'a str,
    pub values: &'a [Vec<Option<f64>>],
}

pub fn heat_map(map: &HeatMap) -> Result<String> {
    ensure_font()?;
    let (n_rows, n_cols) = (map.rows.len(), map.columns.len());
    let width = (170 + 95 * n_cols as u32).max(480);
    let height = 130 + 42 * n_rows as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(map.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(150)
            .build_cartesian_2d(
                (0..segments(n_cols)).into_segmented(),
                (0..segments(n_rows)).into_segmented(),
            )
            .map_err(plot_error)?;
        let column_name = |v: &SegmentValue<usize>| segment_name(v, map.columns, false);
        let row_name = |v: &SegmentValue<usize>| segment_name(v, map.rows, true);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n_cols)
            .y_labels(n_rows)
            .x_desc(map.column_axis)
            .y_desc(map.row_axis)
            .x_label_formatter(&column_name)
            .y_label_formatter(&row_name)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(plot_error)?;
        let cells = cells(map.values);
        chart
            .draw_series(cells.iter().map(|&(r, c, v)| {
                let y = n_rows - 1 - r;
                Rectangle::new(
                    [
                        (SegmentValue::Exact(c), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(c + 1), SegmentValue::Exact(y + 1)),
                    ],
                    ViridisRGB::get_color(v.clamp(0.0, 1.0)).filled(),
                )
            }))
            .map_err(plot_error)?;
        chart
            .draw_series(cells.iter().map(|&(r, c, v)| {
                let y = n_rows - 1 - r;
                let ink = if v > 0.6 { &BLACK } else { &WHITE };
                Text::new(
                    format!("{v:.2}"),
                    (SegmentValue::CenterOf(c), SegmentValue::CenterOf(y)),
                    ("sans-serif", 13).into_font().color(ink),
                )
            }))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The range end that gives `n` segments: plotters' segmented range 0..k has k + 1 of them.
fn segments(n: usize) -> usize {
    n.saturating_sub(1).max(1)
}

fn cells(values: &[Vec<Option<f64>>]) -> Vec<(usize, usize, f64)> {
    values
        .iter()
        .enumerate()
        .flat_map(|(r, row)| {
            row.iter()
                .enumerate()
                .filter_map(move |(c, v)| v.map(|v| (r, c, v)))
        })
        .collect()
}

/// The name of the row or column a label sits at (rows are drawn bottom-up, so their index is flipped).
fn segment_name(value: &SegmentValue<usize>, names: &[String], flipped: bool) -> String {
    match value {
        SegmentValue::CenterOf(i) => {
            let index = if flipped {
                names.len().checked_sub(1 + i)
            } else {
                Some(*i)
            };
            index
                .and_then(|i| names.get(i))
                .cloned()
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The series' legend, in the lower right corner.
fn draw_series_labels<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(plot_error)
}

/// One line per series over x = 1, 2, ...
pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_axis: &'a str,
    pub y_axis: &'a str,
    pub series: &'a [(String, Vec<f64>)],
}

pub fn line_chart(chart_spec: &LineChart) -> Result<String> {
    ensure_font()?;
    let longest = chart_spec
        .series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let all = chart_spec
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().copied());
    let (low, high) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (low, high) = if low.is_finite() && high > low {
        let pad = (high - low) * 0.05;
        (low - pad, high + pad)
    } else {
        (0.0, 1.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(chart_spec.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(1f64..longest as f64, low..high)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(chart_spec.x_axis)
            .y_desc(chart_spec.y_axis)
            .x_labels(longest.min(10))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(plot_error)?;
        for (i, (name, values)) in chart_spec.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    values.iter().enumerate().map(|(x, &y)| (x as f64 + 1.0, y)),
                    color.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        draw_series_labels(&mut chart)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Horizontal bars in [0, 1]: one group per row (top to bottom), one bar per series in each group (None = no
/// value, no bar).
pub struct BarChart<'a> {
    pub title: &'a str,
    pub y_axis: &'a str,
    pub series: &'a [String],
    pub groups: &'a [(String, Vec<Option<f64>>)],
}

pub fn bar_chart(spec: &BarChart) -> Result<String> {
    ensure_font()?;
    let n = spec.groups.len().max(1);
    let bars = spec.series.len().max(1) as f64;
    let height = 90 + 34 * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(spec.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(230)
            .build_cartesian_2d(0f64..1f64, 0f64..n as f64)
            .map_err(plot_error)?;
        // Group g is drawn at the top for g = 0: its band is [n - g - 1, n - g).
        let label = |y: &f64| {
            let from_top = n as f64 - y - 0.5;
            let g = from_top.round();
            match (from_top - g).abs() < 1e-6 && g >= 0.0 {
                true => spec
                    .groups
                    .get(g as usize)
                    .map(|(name, _)| name.clone())
                    .unwrap_or_default(),
                false => String::new(),
            }
        };
        chart
            .configure_mesh()
            .x_desc(spec.y_axis)
            .y_labels(2 * n + 1)
            .y_label_formatter(&label)
            .disable_y_mesh()
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(plot_error)?;
        for (s, name) in spec.series.iter().enumerate() {
            let color = Palette99::pick(s).to_rgba();
            let rects = spec
                .groups
                .iter()
                .enumerate()
                .filter_map(|(g, (_, values))| {
                    let value = (*values.get(s)?)?;
                    let top = n as f64 - g as f64 - 0.1 - s as f64 * 0.8 / bars;
                    Some(Rectangle::new(
                        [(0.0, top - 0.8 / bars), (value.clamp(0.0, 1.0), top)],
                        color.filled(),
                    ))
                });
            chart
                .draw_series(rects)
                .map_err(plot_error)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        draw_series_labels(&mut chart)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
