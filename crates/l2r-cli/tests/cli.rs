//! The binary exits non-zero with a readable message on bad input, and never panics.

use std::process::Command;

fn l2r(args: &[&str], assets: Option<&std::path::Path>) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_l2r"));
    command.args(args).arg("--quiet");
    if let Some(assets) = assets {
        command.env("L2R_ASSETS", assets);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "l2r {args:?} panicked: {stderr}"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

#[test]
fn missing_assets_point_to_the_setup_script() {
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) = l2r(&["embed", "hello"], Some(empty.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("scripts/setup.sh"), "{stderr}");
    let (code, _, stderr) = l2r(&["probe", "--task", "bbc"], Some(empty.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("scripts/setup.sh"), "{stderr}");
}

#[test]
fn bad_task_files_name_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("task.csv");
    std::fs::write(&csv, "text,label\nhello there,pos\n,neg\n").unwrap();
    let (code, _, stderr) = l2r(&["train-task", "--task", csv.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("task.csv") && stderr.contains("line 3") && stderr.contains("text"),
        "{stderr}"
    );

    let latin1 = dir.path().join("latin1.csv");
    std::fs::write(&latin1, b"text,label\ncaf\xe9 au lait,pos\n").unwrap();
    let (code, _, stderr) = l2r(&["train-task", "--task", latin1.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("latin1.csv") && stderr.contains("UTF-8"),
        "{stderr}"
    );

    let (code, _, stderr) = l2r(&["train-task", "--task", "no-such-task"], None);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("bbc"),
        "the error should list the known tasks: {stderr}"
    );
}

#[test]
fn bad_flags_and_folders_fail_cleanly() {
    let (code, _, stderr) = l2r(
        &[
            "train-task",
            "--task",
            "bbc",
            "--peft",
            "lora",
            "--lora-targets",
            "nope",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown LoRA target 'nope'"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = l2r(&["eval-task", dir.path().to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(stderr.contains("task.json"), "{stderr}");
    let (code, _, _) = l2r(&["train-task"], None);
    assert_eq!(
        code, 2,
        "clap reports a missing required flag with exit code 2"
    );
    for (flag, value, known) in [
        ("--head-init", "warm", "known: random, probe"),
        ("--head-input", "middle", "known: final_layer, all_layers"),
    ] {
        let (code, _, stderr) = l2r(&["train-task", "--task", "bbc", flag, value], None);
        assert_eq!(code, 2, "clap refuses {flag} {value}");
        assert!(stderr.contains(known), "{stderr}");
    }
    let (code, _, stderr) = l2r(&["bench", "--precision", "fp16"], None);
    assert_eq!(code, 2, "clap refuses an unknown precision");
    assert!(stderr.contains("known: fp32, bf16"), "{stderr}");
    for command in [&["serve"][..], &["predict", "text"]] {
        let args = [command, &["--run", "x", "--top-k", "0"]].concat();
        let (code, _, stderr) = l2r(&args, None);
        assert_eq!(code, 2, "clap refuses top-k 0 for {command:?}");
        assert!(stderr.contains("--top-k"), "{stderr}");
    }
}

#[test]
fn a_label_subset_of_a_built_in_task_exports_as_a_task_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bt.csv");
    let out_arg = out.to_str().unwrap();
    let args = [
        "tasks",
        "--export",
        "bbc",
        "--labels",
        "business,tech",
        "--per-class",
        "3",
        "--out",
        out_arg,
    ];
    let (code, _, stderr) = l2r(&args, None);
    assert_eq!(code, 0, "{stderr}");
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let mut labels: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_owned()).collect();
    labels.sort();
    assert_eq!(
        labels,
        ["business", "business", "business", "tech", "tech", "tech"]
    );
    let (code, _, stderr) = l2r(
        &[
            "tasks", "--export", "bbc", "--labels", "sport", "--out", out_arg,
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("its labels: business"), "{stderr}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn a_gpu_asked_of_a_cpu_build_says_how_to_get_one() {
    let (code, _, stderr) = l2r(&["--device", "cuda", "embed", "hello"], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("built without CUDA"), "{stderr}");
    assert!(stderr.contains("scripts/build-cuda.sh"), "{stderr}");
    // The same from a run config's `device`, and from `--device` after the subcommand.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gpu.toml");
    std::fs::write(&config, "benchmark = \"far5\"\ndevice = \"cuda:1\"\n").unwrap();
    let out = dir.path().join("run");
    let (code, _, stderr) = l2r(
        &[
            "run",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cuda:1"), "{stderr}");
    let (code, _, stderr) = l2r(&["embed", "hello", "--device", "cuda:0"], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("built without CUDA"), "{stderr}");
}

#[test]
fn an_unknown_device_lists_the_known_ones() {
    let (code, _, stderr) = l2r(&["--device", "tpu", "embed", "hello"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cpu, cuda, cuda:N"), "{stderr}");
    let (code, _, stderr) = l2r(&["--device", "cpu", "embed", "hello"], None);
    assert_eq!(code, 0, "{stderr}");
}
