//! A finished tiny run answers `l2r predict` and `l2r serve`: predictions name a known task and label with
//! gates over every task; the server answers real requests, refuses malformed ones with a JSON 4xx, and exits
//! cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn finished_run(dir: &Path) -> std::path::PathBuf {
    common::write_tasks(dir);
    run_config(dir)
}

fn run_config(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("run");
    let status = Command::new(env!("CARGO_BIN_EXE_l2r"))
        .args(["run", dir.join("run.toml").to_str().unwrap(), "--out"])
        .arg(&out)
        .arg("--quiet")
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn check_prediction(p: &serde_json::Value) {
    let task = p["task"].as_str().unwrap();
    let label = p["label"].as_str().unwrap();
    let labels: &[&str] = match task {
        "weather" => &["rainy", "sunny"],
        "food" => &["salty", "sweet"],
        other => panic!("unknown task {other}"),
    };
    assert!(labels.contains(&label), "{label} is not a {task} label");
    let score = p["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    let gates = p["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 2);
    let total: f64 = gates.iter().map(|g| g["weight"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-3, "gates sum to {total}");
}

#[test]
fn predict_on_a_progressive_run_uses_the_modules_its_routers_were_fitted_on() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tasks(dir.path());
    let config = std::fs::read_to_string(dir.path().join("run.toml")).unwrap();
    let config = format!("module_training = \"progressive\"\n{config}");
    std::fs::write(dir.path().join("run.toml"), config).unwrap();
    let run = run_config(dir.path());
    // The second task's module was trained beside the first: it lives in the sequence's folder only.
    assert!(run
        .join("seed0-order0/progressive/food/task.json")
        .is_file());
    assert!(!run.join("modules/seed0/food/task.json").exists());
    let output = Command::new(env!("CARGO_BIN_EXE_l2r"))
        .args(["predict", "--json", "--run"])
        .arg(&run)
        .args(["Sugar cake from Rome"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    check_prediction(&rows[0]["prediction"]);
}

#[test]
fn predict_and_serve_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = finished_run(dir.path());

    let output = Command::new(env!("CARGO_BIN_EXE_l2r"))
        .args(["predict", "--json", "--run"])
        .arg(&run)
        .args(["The sky over Paris is clear", "Sugar cake from Rome"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    for row in rows.as_array().unwrap() {
        check_prediction(&row["prediction"]);
    }
    let unknown = Command::new(env!("CARGO_BIN_EXE_l2r"))
        .args(["predict", "--quiet", "--task", "sports", "--run"])
        .arg(&run)
        .arg("x")
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("weather, food"));

    let mut server = Command::new(env!("CARGO_BIN_EXE_l2r"))
        .args([
            "serve",
            "--json",
            "--addr",
            "127.0.0.1:0",
            "--max-texts",
            "3",
            "--run",
        ])
        .arg(&run)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = ready["listening"].as_str().unwrap().to_owned();

    assert_eq!(common::http(&addr, "GET", "/healthz", "").0, 200);
    let (status, tasks) = common::http(&addr, "GET", "/v1/tasks", "");
    assert_eq!(status, 200);
    assert_eq!(tasks["tasks"][1]["name"], "food");
    let (status, answer) = common::http(
        &addr,
        "POST",
        "/v1/classify",
        r#"{"texts": ["Heavy rain in Oslo", "Salt on the chips"]}"#,
    );
    assert_eq!(status, 200, "{answer}");
    for p in answer["predictions"].as_array().unwrap() {
        check_prediction(p);
    }
    let (status, answer) = common::http(
        &addr,
        "POST",
        "/v1/classify",
        r#"{"texts": ["rain"], "task": "food"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(answer["predictions"][0]["task"], "food");

    for (body, expected) in [
        ("not json", 400),
        (r#"{"texts": []}"#, 400),
        (r#"{"texts": ["a", "b", "c", "d"]}"#, 413),
        (r#"{"texts": ["a"], "task": "sports"}"#, 400),
        (r#"{"words": ["a"]}"#, 422),
    ] {
        let (status, answer) = common::http(&addr, "POST", "/v1/classify", body);
        assert_eq!(status, expected, "{body} -> {answer}");
        assert!(answer["error"].is_string(), "{body}: no JSON error");
    }
    assert_eq!(common::http(&addr, "GET", "/nowhere", "").0, 404);

    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert!(
        server.wait().unwrap().success(),
        "SIGTERM must stop the server cleanly"
    );
}
