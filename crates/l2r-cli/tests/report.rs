//! `l2r report` on a finished tiny run writes one self-contained HTML page whose plots render: headless
//! Chromium turns it into a PNG that holds the heat maps' colours.

mod common;

use std::path::Path;
use std::process::Command;

fn chromium() -> &'static str {
    ["chromium-headless-shell", "chromium"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("headless Chromium is missing: run scripts/setup.sh (it installs chromium-headless-shell)")
}

/// Pixels clearly coloured (not white, grey or black text): the heat maps' and curves' ink.
fn coloured_pixels(png_path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "unexpected PNG colour type {:?}",
        info.color_type
    );
    let coloured = buffer[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| {
            let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
            (r - g).abs() > 40 || (g - b).abs() > 40 || (r - b).abs() > 40
        })
        .count();
    (info.width, info.height, coloured)
}

#[test]
fn report_renders_its_plots() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tasks(dir.path());
    let run = dir.path().join("run");
    let l2r = env!("CARGO_BIN_EXE_l2r");
    let ran = Command::new(l2r)
        .args([
            "run",
            dir.path().join("run.toml").to_str().unwrap(),
            "--quiet",
            "--out",
        ])
        .arg(&run)
        .status()
        .unwrap();
    assert!(ran.success());
    let report = Command::new(l2r)
        .arg("report")
        .arg(&run)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let html_path = run.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    // Every setup's accuracy matrix (the method's, the baselines'), the per-method chart, the gates, 2 training-curve
    // charts.
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let setups = metrics["sequences"][0]["matrices"]
        .as_object()
        .unwrap()
        .len();
    assert!(
        setups >= 14,
        "8 setups of the method and 6 baseline rows: {setups}"
    );
    assert_eq!(html.matches("<svg").count(), setups + 4);
    assert!(
        html.contains("per method"),
        "the CIL and TIL chart per method"
    );
    // Setups by display name, each with its one-line description; no internal codes.
    assert!(html.contains("<table>") && html.contains("DAM-style, route then classify (CIL)"));
    assert!(html.contains("the head of the nearest centroid"));
    assert!(
        !html.contains("cil_dam_top_task"),
        "an internal setup code in the report"
    );
    // One sequence: no spread to show.
    assert!(
        !html.contains("± 0.0000"),
        "a standard deviation of a single sequence"
    );
    assert!(html.contains("weather") && html.contains("food"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the page must not load anything from a network"
    );

    let png_path = dir.path().join("report.png");
    let shot = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1200,8000",
        ])
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    assert!(
        png_path.is_file(),
        "Chromium wrote no PNG: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let (width, height, coloured) = coloured_pixels(&png_path);
    assert_eq!((width, height), (1200, 8000));
    // Each heat-map cell is about 95 × 42 px of Viridis colour. The setups' table (49 setups with every baseline at
    // every representation) fills the first screens, so the shot is tall enough to reach the matrices.
    assert!(
        coloured > 20_000,
        "only {coloured} coloured pixels: the plots did not render"
    );

    let missing = Command::new(l2r)
        .args(["report", "--quiet"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        !missing.status.success(),
        "a folder without a run must fail"
    );
}
