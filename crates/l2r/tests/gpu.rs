//! The GPU path against the CPU path on the same weights (issue 19): a MiniLM-shaped encoder with random weights
//! (the real one does not travel to the GPU machine), an adapter and a LoRA module, their gradients, and a router
//! fit. Compiled only with `--features cuda` and run by `scripts/gpu-check.sh` on a machine with a GPU.
#![cfg(feature = "cuda")]

use candle_core::{Device, Tensor, Var};
use l2r::backbone::tiny::{tiny_config, tiny_tokenizer, tiny_weights};
use l2r::backbone::{mean_pool, Backbone, BackboneName, Encoder, EncoderConfig};
use l2r::compose::{CompositionMode, ModuleStack, Routed};
use l2r::embedded::EmbeddedExamples;
use l2r::head::ClassifierHead;
use l2r::peft::{PeftConfig, PeftModule};
use l2r::router::{fit_router, RouterConfig};

/// MiniLM-L6's shape (hidden 384, 6 layers, 12 heads, 1536 wide) over the tiny tokenizer's vocabulary.
fn minilm_shape() -> EncoderConfig {
    EncoderConfig {
        hidden_size: 384,
        num_hidden_layers: 6,
        num_attention_heads: 12,
        intermediate_size: 1536,
        ..tiny_config()
    }
}

fn backbone_on(device: &Device) -> Backbone {
    let config = minilm_shape();
    let weights = tiny_weights(&config, 7).unwrap().to_device(device).unwrap();
    let encoder = Encoder::load(&weights, &config).unwrap();
    let tokenizer = tiny_tokenizer(64).unwrap().on_device(device);
    Backbone::from_parts(BackboneName::Minilm, encoder, tokenizer)
}

fn gpu() -> Device {
    Device::new_cuda(0).expect("scripts/gpu-check.sh runs this on a machine with a GPU")
}

const TEXTS: [&str; 4] = [
    "the movie was very good",
    "a red cat eats the blue food",
    "dog",
    "the food is not bad and the movie is great",
];

/// A random module of `peft` (seeded), on `device`: made on the CPU, saved, and loaded there, so that every device
/// gets the same values.
fn random_module_on(peft: &PeftConfig, seed: u64, device: &Device) -> PeftModule {
    let encoder = minilm_shape();
    let module = l2r::testing::random_module(peft, &encoder, seed, 0.05).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("module.safetensors");
    module.save(&path).unwrap();
    PeftModule::load_on(&path, peft, &encoder, device).unwrap()
}

/// The largest absolute entry of `t`.
fn abs_max(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    abs_max(&(a - b.to_device(a.device()).unwrap()).unwrap())
}

/// Pooled output and the gradient of its sum to every variable of `module`.
fn pooled_and_gradients(
    backbone: &Backbone,
    module: &PeftModule,
) -> (Tensor, Vec<(String, Tensor)>) {
    let batch = backbone.tokenizer.encode(&TEXTS).unwrap();
    let hidden = backbone.encoder.forward(&batch, module).unwrap();
    let pooled = mean_pool(&hidden, &batch.attention_mask).unwrap();
    let grads = pooled.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    let data = module.varmap().data().lock().unwrap();
    let mut named: Vec<(String, Tensor)> = data
        .iter()
        .map(|(name, var): (&String, &Var)| {
            let grad = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name} gets no gradient on {:?}", var.device()));
            (name.clone(), grad.clone())
        })
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    (pooled, named)
}

#[test]
fn outputs_and_gradients_agree_with_the_cpu_for_both_module_types() {
    let (cpu, gpu) = (backbone_on(&Device::Cpu), backbone_on(&gpu()));
    for peft in [PeftConfig::adapter(), PeftConfig::lora()] {
        let on_cpu = random_module_on(&peft, 3, &Device::Cpu);
        let on_gpu = random_module_on(&peft, 3, gpu.device());
        let (pooled_cpu, grads_cpu) = pooled_and_gradients(&cpu, &on_cpu);
        let (pooled_gpu, grads_gpu) = pooled_and_gradients(&gpu, &on_gpu);
        let diff = max_diff(&pooled_cpu, &pooled_gpu);
        assert!(
            diff < 1e-4,
            "{}: pooled outputs differ by {diff}",
            peft.kind()
        );
        assert_eq!(grads_cpu.len(), grads_gpu.len());
        for ((name, g_cpu), (_, g_gpu)) in grads_cpu.iter().zip(&grads_gpu) {
            let scale = abs_max(g_cpu).max(1.0);
            let diff = max_diff(g_cpu, g_gpu) / scale;
            assert!(
                diff < 1e-4,
                "{}: gradient of {name} differs by {diff} (relative)",
                peft.kind()
            );
        }
    }
}

#[test]
fn routers_fit_on_the_gpu_and_route_like_on_the_cpu() {
    let mut losses = Vec::new();
    for device in [Device::Cpu, gpu()] {
        let backbone = backbone_on(&device);
        let encoder = minilm_shape();
        let modules: Vec<PeftModule> = (0..2)
            .map(|seed| random_module_on(&PeftConfig::adapter(), seed, &device))
            .collect();
        let refs: Vec<&PeftModule> = modules.iter().collect();
        let stack = ModuleStack::new(&refs, encoder.num_hidden_layers).unwrap();
        let heads: Vec<ClassifierHead> = (0..2)
            .map(|i| ClassifierHead::new_on(encoder.hidden_size, 2, i, &device).unwrap())
            .collect();
        let head_refs: Vec<&ClassifierHead> = heads.iter().collect();
        let routed = Routed {
            backbone: &backbone,
            stack: &stack,
            heads: &head_refs,
            mode: CompositionMode::Wavg,
        };
        let texts = [
            "the movie was good",
            "the food was bad",
            "a cat runs",
            "a dog eats",
        ];
        let memory =
            EmbeddedExamples::new(&backbone, &texts, vec![0, 0, 1, 1], vec![1, 0, 0, 1]).unwrap();
        let config = RouterConfig {
            epochs: 5,
            batch_size: 4,
            ..RouterConfig::default()
        };
        let (_, report) = fit_router(&routed, &memory, &config, 1, false).unwrap();
        losses.push(report.epoch_losses);
    }
    for (cpu, gpu) in losses[0].iter().zip(&losses[1]) {
        assert!(
            (cpu - gpu).abs() < 1e-3,
            "epoch losses differ: {:?} vs {:?}",
            losses[0],
            losses[1]
        );
    }
}
