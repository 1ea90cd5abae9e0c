//! `calibrate_on = "validation"`: a run fits each task's within-task weights on its validation split, the routers'
//! file keeps them, and `l2r predict` loads them back (real MiniLM, two tiny user tasks); a task library refuses it.

mod common;

use common::{ok, refused, write_tasks};

#[test]
fn within_task_weights_fitted_on_validation_are_kept_with_the_routers() {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(dir.path());
    let config = dir.path().join("run.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.trim_end().ends_with("batch_size = 4"),
        "[router] is last"
    );
    std::fs::write(&config, format!("{text}calibrate_on = \"validation\"\n")).unwrap();
    ok(&["run", "run.toml", "--out", "out"], dir.path());

    let router =
        std::fs::read(dir.path().join("out/seed0-order0/router-step1.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&router).unwrap();
    let names: Vec<String> = tensors.names().into_iter().map(str::to_owned).collect();
    for name in [
        "within_task.head_scale",
        "within_task.ridge_scale",
        "within_task.ridge.weights",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("calibration.")),
        "the memory's calibration is replaced: {names:?}"
    );
    let scales = tensors.tensor("within_task.head_scale").unwrap();
    assert_eq!(scales.shape(), [2], "one per task");

    let out = ok(
        &[
            "predict",
            "--json",
            "--run",
            "out",
            "Heavy rain keeps falling on Lima",
        ],
        dir.path(),
    );
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let task = rows[0]["prediction"]["task"].as_str().unwrap();
    assert!(["weather", "food"].contains(&task), "{rows}");
}

#[test]
fn a_task_library_refuses_validation_calibration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("library.toml"),
        "[router]\ncalibrate_on = \"validation\"\n",
    )
    .unwrap();
    let error = refused(
        &["library", "init", "lib", "--config", "library.toml"],
        dir.path(),
    );
    assert!(error.contains("calibrate_on"), "{error}");
}
