//! A library's add split in two for clusters: `library train` stages tasks (several at once, idempotent, the task
//! index from the scheduler's environment) and `library publish` makes one generation of them; `library plan`
//! writes Slurm and Kubernetes job files of the right structure. scripts/cluster/slurm-test.sh runs the Slurm
//! files on a real one-node cluster.

mod common;

use common::{ok, refused};
use std::path::Path;
use std::process::Command;

fn task_list(dir: &Path, file: &str, folder: &str) {
    let list: String = ["weather", "food", "sport"]
        .iter()
        .map(|name| format!("[[tasks]]\nname = \"{name}\"\ndata = \"{folder}{name}.csv\"\n\n"))
        .collect();
    std::fs::write(dir.join(file), list).unwrap();
}

/// A folder with three small tasks' files, `tasks.toml` listing them, and an empty library `lib`.
fn empty_library_with_a_task_list() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::write_library_inputs(tmp.path());
    task_list(tmp.path(), "tasks.toml", "");
    ok(
        &["library", "init", "lib", "--config", "library.toml"],
        tmp.path(),
    );
    tmp
}

#[test]
fn staged_tasks_train_side_by_side_and_publish_as_one_generation() {
    let tmp = empty_library_with_a_task_list();
    let dir = tmp.path();

    // Two array elements at once, their index from the scheduler's environment.
    let trainers: Vec<_> = [("SLURM_ARRAY_TASK_ID", "0"), ("JOB_COMPLETION_INDEX", "1")]
        .iter()
        .map(|(variable, index)| {
            Command::new(env!("CARGO_BIN_EXE_l2r"))
                .args([
                    "library",
                    "train",
                    "lib",
                    "--tasks",
                    "tasks.toml",
                    "--quiet",
                ])
                .env(variable, index)
                .current_dir(dir)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut trainer in trainers {
        assert!(trainer.wait().unwrap().success());
    }
    let error = refused(&["library", "publish", "lib", "--tasks", "tasks.toml"], dir);
    assert!(
        error.contains("not staged") && error.contains("sport"),
        "{error}"
    );
    assert!(
        !dir.join("lib/CURRENT").exists(),
        "a refused publish publishes nothing"
    );
    assert!(
        refused(&["library", "train", "lib", "--tasks", "tasks.toml"], dir).contains("task index"),
        "no index and no scheduler: refused"
    );
    assert!(refused(
        &[
            "library",
            "train",
            "lib",
            "--tasks",
            "tasks.toml",
            "--index",
            "3"
        ],
        dir
    )
    .contains("out of range"));

    ok(
        &[
            "library",
            "train",
            "lib",
            "--tasks",
            "tasks.toml",
            "--index",
            "2",
            "--quiet",
        ],
        dir,
    );
    let module = dir.join("lib/staged/sport/module.safetensors");
    let trained = std::fs::metadata(&module).unwrap().modified().unwrap();
    // A retried element finds its task staged and trains nothing.
    let again = ok(
        &[
            "library",
            "train",
            "lib",
            "--tasks",
            "tasks.toml",
            "--index",
            "2",
        ],
        dir,
    );
    assert!(again.is_empty() || again.contains("staged"), "{again}");
    assert_eq!(
        std::fs::metadata(&module).unwrap().modified().unwrap(),
        trained
    );
    let error = refused(
        &[
            "library", "train", "lib", "--name", "sport", "--data", "food.csv",
        ],
        dir,
    );
    assert!(error.contains("was staged from"), "{error}");

    let table = ok(
        &[
            "library",
            "publish",
            "lib",
            "--tasks",
            "tasks.toml",
            "--quiet",
        ],
        dir,
    );
    assert!(table.contains("added weather, food, sport"), "{table}");
    assert_eq!(
        ok(&["library", "list", "lib"], dir).lines().next().unwrap(),
        "generation 1 (3 tasks)"
    );
    assert!(
        !dir.join("lib/staged/sport").exists(),
        "published tasks leave the staging area"
    );
    let error = refused(
        &[
            "library",
            "train",
            "lib",
            "--tasks",
            "tasks.toml",
            "--index",
            "0",
        ],
        dir,
    );
    assert!(error.contains("already in the library"), "{error}");
    assert!(refused(&["library", "publish", "lib"], dir).contains("no task is staged"));
}

#[test]
fn plans_write_a_slurm_array_and_an_indexed_job_over_the_library() {
    let tmp = empty_library_with_a_task_list();
    let dir = tmp.path();

    let printed = ok(
        &[
            "library",
            "plan",
            "lib",
            "--slurm",
            "tasks.toml",
            "--max-parallel",
            "2",
        ],
        dir,
    );
    assert!(printed.contains("submit.sh"), "{printed}");
    let slurm = dir.join("lib/cluster/slurm");
    let train = std::fs::read_to_string(slurm.join("train.sbatch")).unwrap();
    assert!(train.contains("#SBATCH --array=0-2%2"), "{train}");
    assert!(
        train.contains("library train") && train.contains("--cpus-per-task=1"),
        "{train}"
    );
    let submit = std::fs::read_to_string(slurm.join("submit.sh")).unwrap();
    assert!(submit.contains("--dependency=afterok:$train"), "{submit}");
    let list = std::fs::read_to_string(slurm.join("tasks.toml")).unwrap();
    assert!(
        list.contains(
            &dir.join("food.csv")
                .canonicalize()
                .unwrap()
                .display()
                .to_string()
        ) || list.contains(&dir.join("food.csv").display().to_string()),
        "data paths are absolute for jobs started elsewhere: {list}"
    );
    for script in ["train.sbatch", "publish.sbatch", "submit.sh"] {
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(slurm.join(script))
            .status()
            .unwrap();
        assert!(syntax.success(), "{script} is not valid bash");
    }

    // Kubernetes: the data must be on the library's volume.
    let error = refused(&["library", "plan", "lib", "--k8s", "tasks.toml"], dir);
    assert!(error.contains("outside the library"), "{error}");
    std::fs::create_dir_all(dir.join("lib/data")).unwrap();
    for name in ["weather", "food", "sport"] {
        std::fs::copy(
            dir.join(format!("{name}.csv")),
            dir.join(format!("lib/data/{name}.csv")),
        )
        .unwrap();
    }
    task_list(dir, "k8s-tasks.toml", "lib/data/");
    ok(
        &[
            "library",
            "plan",
            "lib",
            "--k8s",
            "k8s-tasks.toml",
            "--max-parallel",
            "2",
            "--claim",
            "shared",
        ],
        dir,
    );
    let k8s = dir.join("lib/cluster/k8s");
    let job: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(k8s.join("train-job.yaml")).unwrap())
            .unwrap();
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 3);
    assert_eq!(job["spec"]["parallelism"], 2);
    assert!(job["spec"]["backoffLimitPerIndex"].as_u64().unwrap() >= 1);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["restartPolicy"], "Never",
        "backoffLimitPerIndex needs it"
    );
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "shared"
    );
    let command: Vec<&str> = pod["containers"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        command,
        [
            "l2r",
            "library",
            "train",
            "/library",
            "--tasks",
            "/library/cluster/tasks-k8s.toml",
            "--quiet"
        ]
    );
    let publish: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(k8s.join("publish-job.yaml")).unwrap())
            .unwrap();
    assert_eq!(
        publish["spec"]["template"]["spec"]["containers"][0]["command"][2],
        "publish"
    );
    let pod_list = std::fs::read_to_string(dir.join("lib/cluster/tasks-k8s.toml")).unwrap();
    assert!(
        pod_list.contains("data = \"/library/data/food.csv\""),
        "{pod_list}"
    );
    let submit = std::fs::read_to_string(k8s.join("submit.sh")).unwrap();
    assert!(
        submit.contains("kubectl wait --for=condition=complete"),
        "{submit}"
    );
}
