//! Parameter-efficient modules, one per task, split like HF PEFT: the config, the layers, and the injection
//! (a [`PeftModule`] holds its layers keyed by the name of the frozen weight they attach to, and acts on the
//! encoder through [`crate::backbone::EncoderHooks`]).

mod adapter;
mod config;
mod hf;
mod lora;
mod module;

pub use adapter::BottleneckAdapter;
pub use config::PeftConfig;
pub use hf::{export_hf_lora, import_hf_lora, is_hf_peft_dir};
pub use lora::LoraLinear;
pub use module::{site_name, PeftModule};
