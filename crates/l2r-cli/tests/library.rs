//! A task library from the command line: tasks added and removed one at a time, each change a generation; an add
//! killed mid-way leaves the previous generation serving and `--resume` ends where an uninterrupted add does; gc
//! erases a removed task's texts; a second writer and unsafe names are refused; the server follows the library.

mod common;

use common::{ok, refused};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn add(library: &str, name: &str, dir: &Path) -> String {
    ok(
        &[
            "library",
            "add",
            library,
            "--name",
            name,
            "--data",
            &format!("{name}.csv"),
            "--quiet",
        ],
        dir,
    )
}

fn current(dir: &Path, library: &str) -> String {
    // The generation's number, before its checksum.
    std::fs::read_to_string(dir.join(library).join("CURRENT"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn tasks_come_and_go_one_generation_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write_library_inputs(dir);
    ok(&["library", "init", "lib", "--config", "library.toml"], dir);
    assert!(refused(&["library", "init", "lib"], dir).contains("already holds a task library"));
    let error = refused(
        &[
            "library",
            "add",
            "lib",
            "--name",
            "../escaped",
            "--data",
            "food.csv",
        ],
        dir,
    );
    assert!(error.contains("ASCII letters"), "{error}");
    assert!(!dir.join("escaped").exists());

    add("lib", "weather", dir);
    let table = add("lib", "food", dir);
    assert!(
        table.contains("published generation 2 (added food)"),
        "{table}"
    );
    assert!(
        table.contains("before→after") && table.contains("weather"),
        "{table}"
    );
    assert_eq!(current(dir, "lib"), "2");

    // A second writer is refused while the first holds the lock (here: this test process, which is alive).
    std::fs::write(
        dir.join("lib/library.lock"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let error = refused(
        &[
            "library",
            "add",
            "lib",
            "--name",
            "sport",
            "--data",
            "sport.csv",
        ],
        dir,
    );
    assert!(
        error.contains(&format!("locked by pid {}", std::process::id())),
        "{error}"
    );
    std::fs::remove_file(dir.join("lib/library.lock")).unwrap();

    // The same three adds, uninterrupted, are the reference.
    ok(
        &["library", "init", "again", "--config", "library.toml"],
        dir,
    );
    for name in ["weather", "food", "sport"] {
        add("again", name, dir);
    }
    let evaluation = |library: &str| {
        std::fs::read(dir.join(library).join("generations/000003/evaluation.json")).unwrap()
    };
    // A library evaluates L2R alone unless its config asks for the baselines.
    let text = String::from_utf8(evaluation("again")).unwrap();
    assert!(
        text.contains("\"cil\"") && !text.contains("cil_epi"),
        "{text}"
    );
    // An add killed at any stage (mid-training, trained, generation built, task moved, generation moved): the
    // previous generation still serves, a plain add is refused, and `--resume` ends where the reference does.
    for (k, point) in [
        "train-epoch",
        "library-trained",
        "library-built",
        "library-task-moved",
        "library-generation-moved",
    ]
    .iter()
    .enumerate()
    {
        let library = if k == 0 {
            "lib".to_owned()
        } else {
            format!("lib{k}")
        };
        if k > 0 {
            ok(
                &["library", "init", &library, "--config", "library.toml"],
                dir,
            );
            add(&library, "weather", dir);
            add(&library, "food", dir);
        }
        let crashed = Command::new(env!("CARGO_BIN_EXE_l2r"))
            .args([
                "library",
                "add",
                &library,
                "--name",
                "sport",
                "--data",
                "sport.csv",
                "--quiet",
            ])
            .current_dir(dir)
            .env("L2R_CRASH_AT", format!("{point}#1"))
            .status()
            .unwrap();
        assert!(!crashed.success(), "{point}: no crash");
        assert_eq!(current(dir, &library), "2", "{point}");
        let error = refused(
            &[
                "library",
                "add",
                &library,
                "--name",
                "sport",
                "--data",
                "sport.csv",
            ],
            dir,
        );
        assert!(error.contains("--resume"), "{point}: {error}");
        ok(
            &[
                "library",
                "add",
                &library,
                "--name",
                "sport",
                "--data",
                "sport.csv",
                "--resume",
                "--quiet",
            ],
            dir,
        );
        assert_eq!(current(dir, &library), "3", "{point}");
        assert_eq!(
            evaluation(&library),
            evaluation("again"),
            "{point}: a resumed add ends elsewhere"
        );
        assert!(
            !dir.join(&library).join("staging/add-sport").exists(),
            "{point}"
        );
    }

    let predicted = ok(
        &[
            "predict",
            "--library",
            "lib",
            "--json",
            "--quiet",
            "Sugar cake from Rome",
        ],
        dir,
    );
    let rows: serde_json::Value = serde_json::from_str(&predicted).unwrap();
    assert_eq!(rows[0]["prediction"]["gates"].as_array().unwrap().len(), 3);

    // Forget a task: a new generation without it; after gc no file of the library holds its texts.
    let table = ok(&["library", "remove", "lib", "food", "--quiet"], dir);
    assert!(table.contains("removed food"), "{table}");
    assert!(holds(&dir.join("lib"), "tastes of honey and sugar"));
    ok(&["library", "gc", "lib", "--keep", "1"], dir);
    assert!(
        !holds(&dir.join("lib"), "tastes of honey and sugar"),
        "a removed task's text survived gc"
    );
    assert!(refused(&["library", "rollback", "lib", "2"], dir).contains("does not exist"));
    let history = ok(&["library", "history", "lib"], dir);
    assert!(
        history.contains("removed food") && !history.contains("added food"),
        "{history}"
    );
    let list = ok(&["library", "list", "lib"], dir);
    assert!(
        list.contains("weather") && list.contains("sport") && !list.contains("food"),
        "{list}"
    );

    every_example_on_request_where_an_add_evaluated_a_budget(dir);
}

/// A library whose earlier tasks share 2 test examples: an add evaluates its own task whole and each earlier task on
/// one example a class, says so, and `library evaluate` runs every example of every task.
fn every_example_on_request_where_an_add_evaluated_a_budget(dir: &Path) {
    let config = std::fs::read_to_string(dir.join("library.toml")).unwrap();
    std::fs::write(
        dir.join("budget.toml"),
        format!("evaluation_budget = 2\n{config}"),
    )
    .unwrap();
    ok(
        &["library", "init", "small", "--config", "budget.toml"],
        dir,
    );
    add("small", "weather", dir);
    add("small", "food", dir);
    let table = add("small", "sport", dir);
    assert!(
        table.contains("evaluated on") && table.contains("library evaluate"),
        "{table}"
    );
    let read = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    let stored = read(&ok(&["library", "show", "small", "--json"], dir));
    let sizes: Vec<u64> =
        serde_json::from_value(stored["evaluation"]["test_sizes"].clone()).unwrap();
    let hits = |evaluation: &serde_json::Value| -> Vec<usize> {
        evaluation["hits"]["cil"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row.as_str().unwrap().len())
            .collect()
    };
    // Weather and food: one example of each of their two classes; sport, the task added, all of its split.
    let evaluated = hits(&stored["evaluation"]);
    assert_eq!(&evaluated[..2], [2, 2], "{stored}");
    assert_eq!(evaluated[2] as u64, sizes[2], "{stored}");
    assert!(sizes[0] > 2 && sizes[1] > 2, "{sizes:?}");

    let full = read(&ok(
        &["library", "evaluate", "small", "--json", "--quiet"],
        dir,
    ));
    let every: Vec<u64> = hits(&full["every_example"])
        .iter()
        .map(|&n| n as u64)
        .collect();
    assert_eq!(every, sizes, "{full}");
    assert!(dir
        .join("small/generations/000003/evaluation-full.json")
        .is_file());
    let table = ok(&["library", "evaluate", "small"], dir);
    assert!(table.contains("publish→all"), "{table}");
}

/// Whether any file below `dir` contains `text`.
fn holds(dir: &Path, text: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => holds(&path, text),
            false => std::fs::read(&path)
                .unwrap()
                .windows(text.len())
                .any(|w| w == text.as_bytes()),
        }
    })
}

#[test]
fn the_server_follows_the_library_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write_library_inputs(dir);
    ok(&["library", "init", "lib", "--config", "library.toml"], dir);
    std::fs::write(dir.join("key"), "s3cret-token\n").unwrap();
    let mut server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_l2r"))
            .args([
                "serve",
                "--json",
                "--addr",
                "127.0.0.1:0",
                "--library",
                "lib",
                "--api-key-file",
                "key",
            ])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = ready["listening"].as_str().unwrap().to_owned();
    let classify = r#"{"texts": ["Heavy rain in Oslo"]}"#;
    let key = "Authorization: Bearer s3cret-token\r\n";
    let http =
        |method: &str, path: &str, body: &str| common::http_with(&addr, method, path, body, key);
    // An empty library: up, but not ready. The probes need no token; everything else does.
    assert_eq!(common::http(&addr, "GET", "/healthz", "").0, 200);
    assert_eq!(common::http(&addr, "GET", "/readyz", "").0, 503);
    assert_eq!(common::http(&addr, "POST", "/v1/classify", classify).0, 401);
    let wrong = "Authorization: Bearer s3cret-tokeN\r\n";
    assert_eq!(
        common::http_with(&addr, "GET", "/v1/tasks", "", wrong).0,
        401
    );
    assert_eq!(http("POST", "/v1/classify", classify).0, 503);

    add("lib", "weather", dir);
    let (status, reloaded) = http("POST", "/v1/admin/reload", "");
    assert_eq!(
        (status, reloaded["generation"].as_u64()),
        (200, Some(1)),
        "{reloaded}"
    );
    assert_eq!(common::http(&addr, "GET", "/readyz", "").0, 200);
    let (status, answer) = http("POST", "/v1/classify", classify);
    assert_eq!(
        (status, answer["generation"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );

    add("lib", "food", dir);
    http("POST", "/v1/admin/reload", "");
    let (status, answer) = http("POST", "/v1/classify", classify);
    assert_eq!(
        (status, answer["generation"].as_u64()),
        (200, Some(2)),
        "{answer}"
    );
    assert_eq!(
        answer["predictions"][0]["gates"].as_array().unwrap().len(),
        2
    );
    let (_, tasks) = http("GET", "/v1/tasks", "");
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 2, "{tasks}");

    // Prometheus metrics: behind the token, and they count what was served.
    assert_eq!(common::http_text(&addr, "GET", "/metrics", "", "").0, 401);
    let (status, metrics) = common::http_text(&addr, "GET", "/metrics", "", key);
    assert_eq!(status, 200);
    for expected in [
        "l2r_requests_total{status=\"200\"} 2",
        "l2r_requests_total{status=\"503\"} 1",
        "l2r_request_duration_seconds_bucket",
        "l2r_batch_size_bucket",
        "l2r_answers_total{task=",
        "l2r_generation 2",
    ] {
        assert!(metrics.contains(expected), "{expected} missing:\n{metrics}");
    }
}

#[test]
fn a_full_queue_answers_429_and_the_metrics_count_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write_library_inputs(dir);
    ok(&["library", "init", "lib", "--config", "library.toml"], dir);
    add("lib", "weather", dir);
    // One waiting request at most, and one request per forward pass: concurrent clients overflow the queue.
    let mut server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_l2r"))
            .args([
                "serve",
                "--json",
                "--addr",
                "127.0.0.1:0",
                "--library",
                "lib",
                "--queue",
                "1",
                "--batch-texts",
                "4",
            ])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = ready["listening"].as_str().unwrap().to_owned();
    let body =
        r#"{"texts": ["Heavy rain in Oslo", "Sunny and warm", "Snow again", "Storm warning"]}"#;
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..16)
            .map(|_| scope.spawn(|| common::http(&addr, "POST", "/v1/classify", body).0))
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let rejected = statuses.iter().filter(|&&s| s == 429).count();
    assert!(rejected > 0, "no request was refused: {statuses:?}");
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 429),
        "{statuses:?}"
    );
    let (_, metrics) = common::http_text(&addr, "GET", "/metrics", "", "");
    assert!(
        metrics.contains(&format!("l2r_requests_total{{status=\"429\"}} {rejected}")),
        "{metrics}"
    );
}

/// The server process, killed when the test ends, also when it fails (a leaked server would keep the test
/// harness's output pipe open).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
