#!/usr/bin/env python3
"""Checks l2r's LoRA modules against Python HF PEFT on the same all-MiniLM-L6-v2 weights, both ways:

1. l2r -> PEFT: a LoRA trained by `l2r train-task`, exported by `l2r export-peft`, loaded with
   `PeftModel.from_pretrained` on transformers' BertModel: sentence embeddings must agree with `l2r embed --module`.
2. PEFT -> l2r: a LoRA trained for a few steps in Python PEFT and saved with `save_pretrained`, loaded by
   `l2r embed --module`: embeddings must agree with Python's.

Embeddings are mean-pooled over real tokens and L2-normalised; the check is max |difference| < 1e-4.
Needs the Python environment of `scripts/setup-python.sh` and `cargo build --release`:

    bench/.venv/bin/python scripts/peft_interop.py
"""
import argparse
import json
import pathlib
import subprocess
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from tokenizers import Tokenizer
from transformers import BertModel

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXTS = [
    "Shares in the bank fell sharply after it reported lower profits.",
    "The striker scored twice as the home side won the cup final.",
    "A new smartphone with a foldable screen goes on sale in March.",
    "a large wild animal of the cat family with a striped coat",
]
TOLERANCE = 1e-4


def embed_python(model, tokenizer, texts):
    rows = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer.encode(text).ids
            input_ids = torch.tensor([ids])
            mask = torch.ones_like(input_ids)
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            pooled = hidden.mean(dim=1)
            rows.append(torch.nn.functional.normalize(pooled, dim=-1)[0])
    return torch.stack(rows)


def embed_l2r(binary, module_dir, texts):
    out = subprocess.run([binary, "embed", "--json", "--module", str(module_dir), *texts],
                         check=True, capture_output=True, text=True).stdout
    return torch.tensor(json.loads(out)["embeddings"])


def run(command):
    print("$", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--l2r", default=str(ROOT / "target/release/l2r"))
    parser.add_argument("--work", default=str(ROOT / "runs/peft-interop"))
    parser.add_argument("--assets", default=str(ROOT / "assets/minilm"))
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    tokenizer = Tokenizer.from_file(str(pathlib.Path(args.assets) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    base = BertModel.from_pretrained(args.assets, add_pooling_layer=False).eval()
    results = {}

    # 1. l2r -> PEFT
    trained = work / "l2r-lora"
    run([args.l2r, "train-task", "--quiet", "--task", "bbc", "--peft", "lora", "--epochs", "1",
         "--max-train-per-class", "20", "--lr", "3e-3", "--out", trained])
    exported = work / "l2r-lora-hf"
    run([args.l2r, "export-peft", "--quiet", trained, "--out", exported])
    peft_model = PeftModel.from_pretrained(base, str(exported)).eval()
    python_side = embed_python(peft_model, tokenizer, TEXTS)
    l2r_side = embed_l2r(args.l2r, trained, TEXTS)
    results["l2r_to_peft_max_abs_diff"] = (python_side - l2r_side).abs().max().item()
    peft_model.unload()

    # 2. PEFT -> l2r: a LoRA trained in Python (a few steps pulling two texts' embeddings apart).
    base = BertModel.from_pretrained(args.assets, add_pooling_layer=False)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"], lora_dropout=0.0)
    model = get_peft_model(base, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(10):
        emb = []
        for text in TEXTS[:2]:
            input_ids = torch.tensor([tokenizer.encode(text).ids])
            emb.append(model(input_ids=input_ids).last_hidden_state.mean(dim=1))
        loss = torch.nn.functional.cosine_similarity(emb[0], emb[1]).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    saved = work / "python-lora"
    model.save_pretrained(str(saved))
    python_side = embed_python(model, tokenizer, TEXTS)
    l2r_side = embed_l2r(args.l2r, saved, TEXTS)
    results["peft_to_l2r_max_abs_diff"] = (python_side - l2r_side).abs().max().item()
    lora_b_norm = sum(p.norm().item() for n, p in model.named_parameters() if "lora_B" in n)
    results["python_lora_B_norm"] = lora_b_norm  # > 0: the Python LoRA is not the identity

    for key, value in results.items():
        print(f"{key}: {value:.3g}")
    ok = results["l2r_to_peft_max_abs_diff"] < TOLERANCE and results["peft_to_l2r_max_abs_diff"] < TOLERANCE
    print("agree within 1e-4" if ok else "DISAGREE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
