use super::Output;
use clap::Args;
use l2r::backbone::{Backbone, BackboneName};
use l2r::peft::export_hf_lora;
use l2r::train::TaskArtifacts;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExportPeftArgs {
    /// A task folder with a LoRA module (from `l2r train-task --peft lora`, or a run's modules/ folder).
    dir: PathBuf,
    /// Where to write adapter_config.json and adapter_model.safetensors.
    #[arg(long)]
    out: PathBuf,
    /// `base_model_name_or_path` written into adapter_config.json (default: the backbone's hub id).
    #[arg(long)]
    base_model: Option<String>,
}

pub fn run(args: ExportPeftArgs, output: &Output) -> anyhow::Result<()> {
    let artifacts = TaskArtifacts::new(&args.dir);
    let record = artifacts.load_record()?;
    let backbone = Backbone::load(record.backbone, record.max_len)?;
    let (_, model) = artifacts.load(&backbone)?;
    let base = args.base_model.unwrap_or_else(|| {
        match record.backbone {
            BackboneName::Minilm => "sentence-transformers/all-MiniLM-L6-v2",
            BackboneName::Mpnet => "sentence-transformers/all-mpnet-base-v2",
        }
        .to_owned()
    });
    export_hf_lora(&model.module, &backbone.encoder.config, &base, &args.out)?;
    if output.json {
        return output.print_json(&serde_json::json!({ "exported": args.out, "base_model": base }));
    }
    println!(
        "wrote {} (HF PEFT LoRA for {base}); the task's classifier head stays in {}",
        args.out.display(),
        args.dir.display()
    );
    Ok(())
}
