use super::{BackboneArgs, Output};
use clap::Args;
use l2r::backbone::{cosine_similarity, Backbone};
use l2r::peft::{import_hf_lora, is_hf_peft_dir, PeftModule};
use l2r::train::TaskArtifacts;
use std::path::{Path, PathBuf};

fn load_module(dir: &Path, backbone: &Backbone) -> anyhow::Result<PeftModule> {
    if is_hf_peft_dir(dir) {
        let device = backbone.device();
        return Ok(import_hf_lora(dir, &backbone.encoder.config, device)?);
    }
    let (_, model) = TaskArtifacts::new(dir).load(backbone)?;
    Ok(model.module)
}

#[derive(Args)]
pub struct EmbedArgs {
    /// Texts to embed.
    #[arg(required = true)]
    texts: Vec<String>,
    /// Print the pairwise cosine similarities instead of the embeddings.
    #[arg(long)]
    similarity: bool,
    /// Apply a PEFT module: an l2r task folder (`l2r train-task`) or an HF PEFT LoRA folder
    /// (adapter_config.json + adapter_model.safetensors, e.g. from `l2r export-peft` or Python PEFT).
    #[arg(long)]
    module: Option<PathBuf>,
    #[command(flatten)]
    backbone: BackboneArgs,
}

pub fn run(args: EmbedArgs, output: &Output) -> anyhow::Result<()> {
    let backbone = args.backbone.load(output)?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let embeddings = match &args.module {
        None => backbone.embed(&texts)?,
        Some(dir) => {
            let module = load_module(dir, &backbone)?;
            backbone.embed_with(&texts, &module)?
        }
    };
    if !args.similarity {
        let rows = embeddings.to_vec2::<f32>()?;
        if output.json {
            return output.print_json(&serde_json::json!({ "texts": texts, "embeddings": rows }));
        }
        for (text, row) in texts.iter().zip(rows) {
            let values: Vec<String> = row.iter().map(|v| format!("{v:.6}")).collect();
            println!("{text}\t{}", values.join(" "));
        }
        return Ok(());
    }
    let n = texts.len();
    let mut matrix = vec![vec![0f32; n]; n];
    for (i, row) in matrix.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = cosine_similarity(&embeddings.get(i)?, &embeddings.get(j)?)?;
        }
    }
    if output.json {
        return output.print_json(&serde_json::json!({ "texts": texts, "similarity": matrix }));
    }
    for (i, row) in matrix.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
        println!("{}\t{}", cells.join("\t"), texts[i]);
    }
    Ok(())
}
