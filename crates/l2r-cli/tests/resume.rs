//! A run killed mid-task and mid-router-fit, then resumed, ends with exactly the metrics of an uninterrupted
//! run (real MiniLM, two tiny user tasks). Crashes are injected with `L2R_CRASH_AT`, which aborts the process
//! like `kill -9` at a chosen point.

mod common;

use common::write_tasks;
use std::path::Path;
use std::process::Command;

fn l2r(args: &[&str], crash_at: Option<&str>) -> std::process::ExitStatus {
    let mut command = Command::new(env!("CARGO_BIN_EXE_l2r"));
    command.args(args).arg("--quiet");
    match crash_at {
        Some(point) => command.env("L2R_CRASH_AT", point),
        None => command.env_remove("L2R_CRASH_AT"),
    };
    command.status().unwrap()
}

#[test]
fn killed_and_resumed_run_matches_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(dir.path());
    let config = dir.path().join("run.toml");
    let (whole, crashed) = (dir.path().join("whole"), dir.path().join("crashed"));
    let config_arg = config.to_str().unwrap();
    assert!(l2r(&["run", config_arg, "--out", whole.to_str().unwrap()], None).success());

    // Epochs 1-2 train task 1; the third epoch is the first of task 2: abort mid-task.
    let status = l2r(
        &["run", config_arg, "--out", crashed.to_str().unwrap()],
        Some("train-epoch#3"),
    );
    assert!(!status.success());
    assert!(crashed.join("modules/seed0/weather/task.json").is_file());
    assert!(!crashed.join("modules/seed0/food/task.json").exists());
    assert!(!crashed.join("metrics.json").exists());

    // Resume; task 2 trains, then abort in the second epoch of its router fit.
    let status = l2r(
        &["run", "--resume", crashed.to_str().unwrap()],
        Some("router-epoch#2"),
    );
    assert!(!status.success());
    assert!(crashed.join("modules/seed0/food/task.json").is_file());
    assert!(!crashed
        .join("seed0-order0/router-step1.safetensors")
        .exists());

    assert!(l2r(&["run", "--resume", crashed.to_str().unwrap()], None).success());
    let read = |d: &Path| std::fs::read_to_string(d.join("metrics.json")).unwrap();
    assert_eq!(read(&whole), read(&crashed));
    let leftovers: Vec<_> = walk(&crashed)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
