//! `l2r compare` on two tiny user tasks with the real MiniLM: every method and ablation gets its numbers, shared
//! runs are shared, a second invocation resumes to the same table, and a bad method name fails clearly.

mod common;

use common::write_tasks;
use std::process::{Command, Output};

fn l2r(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_l2r"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_method_gets_a_row_and_a_rerun_resumes_to_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(dir.path());
    let config = dir.path().join("run.toml");
    let out = dir.path().join("cmp");
    let args = [
        "compare",
        config.to_str().unwrap(),
        "--methods",
        "all",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    let first = l2r(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let table: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let rows = table["rows"].as_array().unwrap();
    let listed = l2r(&["compare", "--list"]);
    let names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(rows.len(), names.len(), "one row per method");
    let accuracy = |row: &serde_json::Value, key: &str| row[key]["mean"].as_f64();
    for row in rows {
        let method = row["method"].as_str().unwrap();
        let (til, cil) = (accuracy(row, "til"), accuracy(row, "cil"));
        match method {
            "oracle" => assert!(til.is_some() && cil.is_none(), "{row}"),
            "uniform" => assert!(til.is_none() && cil.is_some(), "{row}"),
            _ => assert!(til.is_some() && cil.is_some(), "{method}: {row}"),
        }
        for value in [til, cil].into_iter().flatten() {
            assert!((0.0..=1.0).contains(&value), "{method}: {value}");
        }
        assert_eq!(row["benchmark"], "run");
        // Every method of a routed run is priced: what it keeps per task and once. The bounds' runs have no
        // routed sequence to measure.
        let kept = |key: &str| row["storage"][key].as_f64();
        if !["sequential", "multitask"].contains(&method) {
            assert!(
                kept("per_task").is_some() && kept("fixed").is_some(),
                "{method}: {row}"
            );
        }
        let module_free = [
            "ncm",
            "ncm-layers",
            "lda",
            "lda-layers",
            "ridge",
            "ridge-layers",
        ];
        if module_free.contains(&method) {
            assert!(kept("per_task").unwrap() < 100_000.0, "{method}: {row}");
        } else if method.starts_with("l2r") {
            assert!(kept("per_task").unwrap() > 100_000.0, "{method}: {row}");
        }
    }
    // Methods with the same config share a run; those that change it have their own.
    let run_of = |name: &str| {
        rows.iter().find(|r| r["method"] == name).unwrap()["run_dir"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(run_of("dam"), run_of("l2r-wavg"));
    assert_eq!(run_of("arrow"), run_of("l2r-lora"));
    assert_ne!(run_of("l2r-merge"), run_of("l2r-wavg"));
    assert!(out.join("run/module-cache").is_dir(), "modules are shared");

    let table_md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(
        table_md.starts_with("| method | run TIL | run CIL |"),
        "{table_md}"
    );
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert!(csv.contains("\nrun,l2r-wavg,cil,"), "{csv}");

    let again = l2r(&args);
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("compare.md")).unwrap(),
        table_md,
        "the resumed comparison reads the same results"
    );
}

#[test]
fn an_unknown_method_is_refused_with_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(dir.path());
    let config = dir.path().join("run.toml");
    let output = l2r(&[
        "compare",
        config.to_str().unwrap(),
        "--methods",
        "l2r-wavg,dma",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown method 'dma'") && stderr.contains("mocl"),
        "{stderr}"
    );
}
