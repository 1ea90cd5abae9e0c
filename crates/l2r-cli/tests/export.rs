//! `export_scores = true` writes, after the last task, the per-example ingredients of the decision rules; they must
//! agree with the run's own evaluation (real MiniLM, two tiny user tasks).

mod common;

use common::{ok, write_tasks};

#[test]
fn exported_scores_reproduce_the_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(dir.path());
    let config = dir.path().join("run.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("export_scores = true\n{text}")).unwrap();
    ok(&["run", "run.toml", "--out", "out"], dir.path());

    let sequence = dir.path().join("out/seed0-order0");
    let eval: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sequence.join("eval-step1.json")).unwrap()).unwrap();
    let scores = std::fs::read_to_string(sequence.join("scores-step1.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = scores
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "one line per task");
    let argmax = |row: &[serde_json::Value]| {
        (0..row.len())
            .max_by(|&a, &b| {
                row[a]
                    .as_f64()
                    .unwrap()
                    .total_cmp(&row[b].as_f64().unwrap())
            })
            .unwrap()
    };
    for record in &records {
        let task = record["task"].as_u64().unwrap() as usize;
        let labels = record["labels"].as_array().unwrap();
        let offsets: Vec<usize> = serde_json::from_value(record["offsets"].clone()).unwrap();
        let rows = |key: &str| record[key].as_array().unwrap().clone();
        let (w, alone, parts) = (rows("w"), rows("alone"), rows("parts"));
        let total = parts[0].as_array().unwrap().len();
        let width = offsets.get(task + 1).copied().unwrap_or(total) - offsets[task];
        assert!(!labels.is_empty() && [w.len(), alone.len(), parts.len()] == [labels.len(); 3]);
        assert!(
            record["scorers"].as_object().unwrap().len() >= 6,
            "every training-free classifier"
        );
        // The routers' top module is the run's routing decision; the own module's head alone is the oracle.
        let share = |hits: usize| hits as f64 / labels.len() as f64;
        let routing = share(
            w.iter()
                .filter(|row| argmax(row.as_array().unwrap()) == task)
                .count(),
        );
        let own = |row: &serde_json::Value| {
            argmax(&row.as_array().unwrap()[offsets[task]..offsets[task] + width])
        };
        let til = share(
            alone
                .iter()
                .zip(labels)
                .filter(|(row, l)| own(row) == l.as_u64().unwrap() as usize)
                .count(),
        );
        assert_eq!(routing, eval["accuracy"]["routing"][task].as_f64().unwrap());
        assert_eq!(til, eval["accuracy"]["til_oracle"][task].as_f64().unwrap());
        assert_each_module_alone(&rows("alone_pooled"), labels.len());
    }

    let memory = std::fs::read_to_string(sequence.join("memory-step1.jsonl")).unwrap();
    let memory: serde_json::Value = serde_json::from_str(memory.trim()).unwrap();
    let count = memory["labels"].as_array().unwrap().len();
    assert!(count > 0 && memory["tasks"].as_array().unwrap().len() == count);
    assert_each_module_alone(memory["alone_pooled"].as_array().unwrap(), count);
}

/// `rows` holds, per example, MiniLM's 384 pooled features with each of the two modules alone, and the two differ.
fn assert_each_module_alone(rows: &[serde_json::Value], examples: usize) {
    assert_eq!(rows.len(), examples);
    for row in rows {
        let row: Vec<f64> = serde_json::from_value(row.clone()).unwrap();
        assert_eq!(row.len(), 2 * 384, "one pooled representation per module");
        let gap: f64 = (0..384).map(|i| (row[i] - row[384 + i]).abs()).sum();
        assert!(gap > 1e-3, "each module's own representation");
    }
}
