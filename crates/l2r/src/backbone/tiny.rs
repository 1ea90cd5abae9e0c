//! A tiny randomly initialised BERT (and an MPNet of the same size) with a word-level tokenizer, built in code:
//! the model of tests, so they need no downloaded asset. Compiled for tests and with the `test-support` feature.

use super::{
    Architecture, Backbone, BackboneName, Encoder, EncoderConfig, TextTokenizer, WeightMap,
};
use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use rand::SeedableRng;
use std::collections::HashMap;
use std::str::FromStr;

/// Words the tiny tokenizer knows; anything else maps to [UNK].
pub const TINY_WORDS: &[&str] = &[
    "good", "great", "fine", "bad", "awful", "poor", "the", "movie", "food", "was", "is", "a",
    "very", "not", "cat", "dog", "runs", "eats", "red", "blue",
];

pub fn tiny_config() -> EncoderConfig {
    EncoderConfig {
        model_type: "bert".into(),
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 32,
        layer_norm_eps: 1e-12,
        max_position_embeddings: 64,
        vocab_size: TINY_WORDS.len() + 4,
        pad_token_id: 0,
        relative_attention_num_buckets: 32,
        hidden_act: "gelu".into(),
    }
}

/// The tiny MPNet: [`tiny_config`]'s shape with MPNet's architecture (no token types, relative-position bias).
pub fn tiny_mpnet_config() -> EncoderConfig {
    EncoderConfig {
        model_type: "mpnet".into(),
        ..tiny_config()
    }
}

/// Names and shapes of a BERT or MPNet checkpoint's tensors, as transformers names them; `true` marks
/// layer-norm scales (initialised to one).
fn tiny_tensor_specs(config: &EncoderConfig) -> Result<Vec<(String, Vec<usize>, bool)>> {
    let architecture = config.architecture().map_err(Error::invalid)?;
    let (h, i) = (config.hidden_size, config.intermediate_size);
    let mut specs = vec![
        (
            "embeddings.word_embeddings.weight".to_owned(),
            vec![config.vocab_size, h],
            false,
        ),
        (
            "embeddings.position_embeddings.weight".to_owned(),
            vec![config.max_position_embeddings, h],
            false,
        ),
    ];
    let (attention, attention_norm) = match architecture {
        Architecture::Bert => {
            specs.push((
                "embeddings.token_type_embeddings.weight".to_owned(),
                vec![2, h],
                false,
            ));
            (
                [
                    "attention.self.query",
                    "attention.self.key",
                    "attention.self.value",
                    "attention.output.dense",
                ],
                "attention.output.LayerNorm",
            )
        }
        Architecture::MPNet => {
            specs.push((
                "encoder.relative_attention_bias.weight".to_owned(),
                vec![
                    config.relative_attention_num_buckets,
                    config.num_attention_heads,
                ],
                false,
            ));
            (
                [
                    "attention.attn.q",
                    "attention.attn.k",
                    "attention.attn.v",
                    "attention.attn.o",
                ],
                "attention.LayerNorm",
            )
        }
    };
    let mut norms = vec!["embeddings.LayerNorm".to_owned()];
    for layer in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{layer}");
        let linears = attention
            .iter()
            .map(|name| (*name, h, h))
            .chain([("intermediate.dense", i, h), ("output.dense", h, i)]);
        for (name, out_dim, in_dim) in linears {
            specs.push((format!("{p}.{name}.weight"), vec![out_dim, in_dim], false));
            specs.push((format!("{p}.{name}.bias"), vec![out_dim], false));
        }
        norms.push(format!("{p}.{attention_norm}"));
        norms.push(format!("{p}.output.LayerNorm"));
    }
    for norm in norms {
        specs.push((format!("{norm}.weight"), vec![h], true));
        specs.push((format!("{norm}.bias"), vec![h], false));
    }
    Ok(specs)
}

/// The weights of a tiny BERT or MPNet (as `config.model_type` says), random with `seed`, named like a
/// Hugging Face checkpoint.
pub fn tiny_weights(config: &EncoderConfig, seed: u64) -> Result<WeightMap> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut tensors = HashMap::new();
    for (name, shape, ones) in tiny_tensor_specs(config)? {
        let tensor = if ones {
            Tensor::ones(shape, candle_core::DType::F32, &Device::Cpu)?
        } else {
            crate::init::seeded_uniform(shape, 0.35, &mut rng)?
        };
        tensors.insert(name, tensor);
    }
    Ok(WeightMap::from_tensors("<tiny model>", tensors))
}

/// A word-level tokenizer over [`TINY_WORDS`] with BERT's special tokens ([PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3).
pub fn tiny_tokenizer(max_len: usize) -> Result<TextTokenizer> {
    let mut vocab = serde_json::Map::new();
    for (id, token) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .chain(TINY_WORDS)
        .enumerate()
    {
        vocab.insert((*token).to_owned(), id.into());
    }
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    let tokenizer = tokenizers::Tokenizer::from_str(&json.to_string())
        .map_err(|e| Error::Tokenizer(format!("tiny tokenizer: {e}")))?;
    TextTokenizer::from_tokenizer(tokenizer, max_len)
}

/// A complete tiny BERT backbone (random weights from `seed`).
pub fn tiny_backbone(seed: u64) -> Result<Backbone> {
    tiny_backbone_from(BackboneName::Minilm, &tiny_config(), seed)
}

/// A complete tiny MPNet backbone (random weights from `seed`), for code that depends on the architecture.
pub fn tiny_mpnet_backbone(seed: u64) -> Result<Backbone> {
    tiny_backbone_from(BackboneName::Mpnet, &tiny_mpnet_config(), seed)
}

fn tiny_backbone_from(name: BackboneName, config: &EncoderConfig, seed: u64) -> Result<Backbone> {
    let weights = tiny_weights(config, seed)?;
    Ok(Backbone::from_parts(
        name,
        Encoder::load(&weights, config)?,
        tiny_tokenizer(32)?,
    ))
}
