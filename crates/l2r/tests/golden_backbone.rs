//! The real encoders against golden values from the design reference of the people steering the project
//! (docs/design.md, "Data and benchmarks"). MiniLM must be present (run `scripts/setup.sh`); MPNet is optional
//! (`scripts/setup.sh --with-mpnet`) and skipped with a message when absent.

use l2r::backbone::{cosine_similarity, Backbone, BackboneName, Precision, DEFAULT_MAX_LEN};

/// The steering reference's golden values (docs/design.md, "Data and benchmarks"): cosine similarity of "A man is
/// eating pasta." to each of these.
const GOLDEN_OTHERS: [&str; 5] = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "A man is riding a white horse on an enclosed ground.",
    "A cheetah is running behind its prey.",
];
const GOLDEN_SIMILARITIES: [f32; 5] = [0.7035, 0.5272, 0.1889, 0.1047, 0.0980];

fn similarities(backbone: &Backbone, query: &str, others: &[&str]) -> Vec<f32> {
    let mut texts = vec![query];
    texts.extend_from_slice(others);
    let embeddings = backbone.embed(&texts).unwrap();
    (1..texts.len())
        .map(|i| {
            cosine_similarity(&embeddings.get(0).unwrap(), &embeddings.get(i).unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn minilm_matches_golden_token_ids_and_similarities() {
    let backbone =
        Backbone::load(BackboneName::Minilm, DEFAULT_MAX_LEN).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        backbone
            .tokenizer
            .token_ids("A man is eating food.")
            .unwrap(),
        vec![101, 1037, 2158, 2003, 5983, 2833, 1012, 102]
    );
    let (others, expected) = (GOLDEN_OTHERS, GOLDEN_SIMILARITIES);
    // Batched together, so padding and the attention mask are exercised too.
    let got = similarities(&backbone, "A man is eating pasta.", &others);
    for ((text, g), e) in others.iter().zip(&got).zip(expected) {
        assert!((g - e).abs() < 1e-3, "{text}: got {g:.4}, expected {e:.4}");
    }
}

#[test]
fn minilm_in_bf16_stays_near_the_golden_similarities() {
    let backbone = Backbone::load(BackboneName::Minilm, DEFAULT_MAX_LEN)
        .and_then(|b| b.with_precision(Precision::Bf16))
        .unwrap_or_else(|e| panic!("{e}"));
    if backbone.precision != Precision::Bf16 {
        eprintln!("skipped: this CPU has no AVX-512 BF16 (the backbone fell back to fp32)");
        return;
    }
    let (others, expected) = (GOLDEN_OTHERS, GOLDEN_SIMILARITIES);
    let got = similarities(&backbone, "A man is eating pasta.", &others);
    // bf16 keeps 8 bits of mantissa in the frozen linears' inputs and weights; sums stay fp32.
    for ((text, g), e) in others.iter().zip(&got).zip(expected) {
        assert!((g - e).abs() < 1e-2, "{text}: got {g:.4}, expected {e:.4}");
    }
}

#[test]
fn minilm_embedding_does_not_depend_on_batch_padding() {
    let backbone =
        Backbone::load(BackboneName::Minilm, DEFAULT_MAX_LEN).unwrap_or_else(|e| panic!("{e}"));
    let alone = backbone.embed(&["A short one."]).unwrap();
    let padded = backbone
        .embed(&[
            "A short one.",
            "A much longer sentence that forces the first one to be padded a lot.",
        ])
        .unwrap();
    let diff = (alone.get(0).unwrap() - padded.get(0).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max(0)
        .unwrap();
    assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
}

#[test]
fn minilm_truncates_long_texts_to_the_maximum_length() {
    let backbone = Backbone::load(BackboneName::Minilm, 16).unwrap_or_else(|e| panic!("{e}"));
    let ids = backbone.tokenizer.token_ids(&"word ".repeat(100)).unwrap();
    assert_eq!(ids.len(), 16);
    assert_eq!((ids[0], ids[15]), (101, 102));
}

#[test]
fn mpnet_matches_reference_similarity_when_present() {
    let backbone = match Backbone::load(BackboneName::Mpnet, DEFAULT_MAX_LEN) {
        Ok(backbone) => backbone,
        Err(e) => {
            eprintln!("skipped: {e} (fetch it with `scripts/setup.sh --with-mpnet`)");
            return;
        }
    };
    let got = similarities(
        &backbone,
        "A man is eating food.",
        &["A man is eating a piece of bread."],
    );
    assert!((got[0] - 0.660).abs() < 5e-3, "got {}", got[0]);
}
