//! `[memory] selection`: a run keeps the memory a rule chooses on the training split's frozen features (embedded
//! once, kept beside the module), the same in every order (real MiniLM, two tiny user tasks). Which examples each
//! rule picks, and that a held-out memory leaves the module's training split, are tested where they are decided
//! (memory/selection.rs, continual/config.rs).

mod common;

use common::{ok, write_tasks};
use std::collections::BTreeSet;
use std::path::Path;

/// The memory of `sequence` in run `out`: (task, label, text) of every entry.
fn memory(dir: &Path, sequence: &str) -> BTreeSet<(u64, u64, String)> {
    let path = dir.join("out").join(sequence).join("memory.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["task"].as_u64().unwrap(),
                e["label"].as_u64().unwrap(),
                e["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_k_center_memory_is_chosen_on_frozen_features_once_for_every_order() {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(dir.path());
    let config = dir.path().join("run.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "per_class = 2\n",
            "per_class = 2\nheld_out = true\nselection = \"k_center\"\n",
        )
        .replace("seeds = [0]\n", "seeds = [0]\norders = [0, 1]\n");
    assert!(text.contains("k_center") && text.contains("orders = [0, 1]"));
    std::fs::write(&config, text).unwrap();
    ok(&["run", "run.toml", "--out", "out"], dir.path());

    let (first, second) = (
        memory(dir.path(), "seed0-order0"),
        memory(dir.path(), "seed0-order1"),
    );
    assert_eq!(
        first.len(),
        8,
        "2 per class of 2 classes of 2 tasks: {first:?}"
    );
    let texts = |m: &BTreeSet<(u64, u64, String)>| -> BTreeSet<String> {
        m.iter().map(|(_, _, t)| t.clone()).collect()
    };
    assert_eq!(
        texts(&first),
        texts(&second),
        "the rule does not depend on the order"
    );
    for task in ["weather", "food"] {
        let folder = dir.path().join("out/modules/seed0").join(task);
        assert!(folder.join("frozen-train.safetensors").is_file(), "{task}");
    }
    // The run's config names the rule, so that resuming or comparing reads the same memory.
    let saved = std::fs::read_to_string(dir.path().join("out/config.toml")).unwrap();
    assert!(saved.contains("selection = \"k_center\""), "{saved}");
}
