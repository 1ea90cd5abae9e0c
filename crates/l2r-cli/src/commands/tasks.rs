use super::Output;
use l2r::data::{load_builtin, BUILTIN_TASKS};

pub fn run(output: &Output) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for name in BUILTIN_TASKS {
        let dataset = load_builtin(name)?;
        rows.push(serde_json::json!({
            "task": name, "examples": dataset.len(), "labels": dataset.labels, "counts": dataset.class_counts()
        }));
        if !output.json {
            println!(
                "{name:<14} {:>6} examples  {}",
                dataset.len(),
                dataset.class_summary()
            );
        }
    }
    if output.json {
        output.print_json(&serde_json::Value::Array(rows))?;
    }
    Ok(())
}
