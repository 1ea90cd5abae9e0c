"""Markdown table of test accuracy / macro-F1 per task for adapter, LoRA and linear probe, from a foundation run."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
tasks = ["bbc", "spam", "vader-movie", "wordnet-noun"]
print("| task | adapter acc / macro-F1 | LoRA acc / macro-F1 | linear probe acc / macro-F1 | adapter beats probe |")
print("|---|---|---|---|---|")
for task in tasks:
    cells, acc = [], {}
    for peft in ["adapter", "lora"]:
        path = out / f"{task}-{peft}" / "task.json"
        if not path.exists():
            cells.append("—")
            continue
        record = json.loads(path.read_text())
        test = record["test"]
        acc[peft] = test["accuracy"]
        epochs = record["report"]["epochs"]
        cells.append(f"{test['accuracy']:.4f} / {test['macro_f1']:.4f} (best epoch {record['report']['best_epoch']}/{len(epochs)})")
    probe_path = out / f"{task}-probe.json"
    if probe_path.exists():
        probe = json.loads(probe_path.read_text())["probe"]["test"]
        acc["probe"] = probe["accuracy"]
        cells.append(f"{probe['accuracy']:.4f} / {probe['macro_f1']:.4f}")
    else:
        cells.append("—")
    verdict = "—"
    if "adapter" in acc and "probe" in acc:
        verdict = "yes" if acc["adapter"] > acc["probe"] else "no"
    print(f"| {task} | " + " | ".join(cells) + f" | {verdict} |")
