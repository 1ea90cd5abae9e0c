//! Every parser of untrusted input, fuzzed on stable Rust with proptest (issue 18): task files (CSV, TSV, JSONL),
//! the paper's formats (MTL5, AfriSenti, WOS), TOML run and library configs, task.json, library manifests,
//! safetensors headers and PEFT `adapter_config.json`. Inputs are valid files mutated (bytes flipped, inserted,
//! deleted, lines duplicated, delimiters and quotes injected, invalid UTF-8) or random bytes. The property: the
//! parser returns, a value or a typed error, and never panics.
//!
//! CI runs `L2R_FUZZ_CASES` (default 256) cases per parser. The long run, a million cases in all:
//!
//!     L2R_FUZZ_CASES=80000 cargo test --release -p l2r --test fuzz_parsers -- --nocapture --test-threads 2
//!
//! Each parser prints its count of cases. A failing case is shrunk by proptest and saved in
//! `crates/l2r/tests/fuzz_parsers.proptest-regressions`, which later runs replay first.

use l2r::backbone::EncoderConfig;
use l2r::continual::RunConfig;
use l2r::library::{LibraryConfig, Manifest};
use l2r::train::{TaskArtifacts, TaskRecord};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use std::path::Path;

const CSV: &str = "text,label\n\"a, quoted text\",pos\nplain text,neg\n\"multi\nline\",pos\n";
const TSV: &str = "text\tlabel\na \"bare\" quote\tpos\nanother one\tneg\n";
const JSONL: &str =
    "{\"text\": \"first\", \"label\": \"pos\"}\n{\"text\": \"second \\u00e9\", \"label\": 2}\n";
const MTL5: &str =
    "\"1\",\"Title\",\"Body, with comma\"\n\"2\",\"\",\"Only body\"\n\"3\",\"t\",\"b\"\n";
const AFRISENTI: &str = "tweet\tlabel\nlove it\tpositive\nhate it\tnegative\nok\tneutral\n";
const WOS_X: &str = "abstract one\nabstract two\nabstract three\n";
const WOS_Y: &str = "0\n1\n0\n";
const RUN_TOML: &str = "benchmark = \"far5\"\nseeds = [0, 1]\n[module]\ntype = \"adapter\"\nsize = 8\n[train]\nepochs = 1\n\
[memory]\nper_class = 5\n[router]\nepochs = 2\nprior_reference = \"gaussian\"\n[baselines]\nridge_dim = 64\n";
const LIBRARY_TOML: &str = "max_len = 32\nseed = 1\n[module]\ntype = \"lora\"\nrank = 4\nalpha = 8.0\n[router]\nepochs = 2\n";
const MANIFEST: &str = r#"{"generation":2,"parent":1,"created":1,"change":{"added":"b"},"tasks":[{"name":"a","id":"a-g1","labels":["x","y"]}],"cil":0.5,"routing":0.9}"#;
const ADAPTER_CONFIG: &str = r#"{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["query","value"],"lora_dropout":0.0,"bias":"none"}"#;

fn cases() -> u32 {
    std::env::var("L2R_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Bytes of a valid `seed` file, mutated, or random bytes.
fn mutated(seed: impl Into<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let seed: Vec<u8> = seed.into();
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..8)
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<prop::sample::Index>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        (
            any::<prop::sample::Index>(),
            prop::sample::select(TOKENS.to_vec())
        )
            .prop_map(|(i, t)| Edit::Insert(i, t.as_bytes().to_vec())),
        any::<prop::sample::Index>().prop_map(Edit::DuplicateLine),
    ];
    prop_oneof![
        4 => prop::collection::vec(edit, 0..6).prop_map(move |edits| {
            let mut bytes = seed.clone();
            for edit in edits {
                edit.apply(&mut bytes);
            }
            bytes
        }),
        1 => prop::collection::vec(any::<u8>(), 0..128),
    ]
}

/// What parsers split on and quote with, and bytes that are not UTF-8.
const TOKENS: [&str; 16] = [
    ",",
    "\t",
    "\n",
    "\r\n",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    "=",
    ":",
    "\u{0}",
    "\u{feff}",
    "\\u",
    "\u{10ffff}",
];

#[derive(Debug, Clone)]
enum Edit {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    DuplicateLine(prop::sample::Index),
}

impl Edit {
    fn apply(self, bytes: &mut Vec<u8>) {
        let at = |i: &prop::sample::Index, len: usize| i.index(len + 1).min(len);
        match self {
            Edit::Set(i, b) if !bytes.is_empty() => {
                let k = i.index(bytes.len());
                bytes[k] = b;
            }
            Edit::Set(..) => {}
            Edit::Insert(i, new) => {
                let k = at(&i, bytes.len());
                bytes.splice(k..k, new);
            }
            Edit::Delete(i, n) => {
                let k = at(&i, bytes.len());
                let end = (k + n).min(bytes.len());
                bytes.drain(k..end);
            }
            Edit::DuplicateLine(i) => {
                let lines: Vec<Vec<u8>> =
                    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let k = i.index(lines.len());
                let mut out = Vec::with_capacity(bytes.len() * 2);
                for (j, line) in lines.iter().enumerate() {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                    if j == k {
                        out.extend_from_slice(line);
                        out.push(b'\n');
                    }
                }
                *bytes = out;
            }
        }
    }
}

/// Runs `parse` on `cases()` inputs from `strategy`; a panic fails the test with the (shrunk) input.
fn fuzz(name: &str, strategy: impl Strategy<Value = Vec<u8>>, parse: impl Fn(&[u8])) {
    let config = Config {
        cases: cases(),
        // Relative to the crate's folder, where cargo runs its tests.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/fuzz_parsers.proptest-regressions",
        ))),
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let result = runner.run(&strategy, |bytes| {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&bytes)));
        prop_assert!(
            outcome.is_ok(),
            "{name} panicked on {:?}",
            String::from_utf8_lossy(&bytes)
        );
        Ok(())
    });
    eprintln!("{name}: {} cases, no panic", cases());
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// A file named `name` holding `bytes` in a fresh folder, for the parsers that read paths.
fn with_file(name: &str, bytes: &[u8], read: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    read(&path);
}

#[test]
fn task_files_in_csv_tsv_and_jsonl() {
    for (extension, seed) in [("csv", CSV), ("tsv", TSV), ("jsonl", JSONL)] {
        fuzz(extension, mutated(seed), |bytes| {
            with_file(&format!("task.{extension}"), bytes, |path| {
                let _ = l2r::data::user::load_user_task(path, None);
            })
        });
    }
}

#[test]
fn the_papers_formats() {
    fuzz("mtl5", mutated(MTL5), |bytes| {
        with_file("train.csv", bytes, |path| {
            let _ = l2r::data::mtl5::load_mtl5_csv(path, "ag", None);
        })
    });
    fuzz("afrisenti", mutated(AFRISENTI), |bytes| {
        with_file("hau_train.tsv", bytes, |path| {
            let _ = l2r::data::afrisenti::load_afrisenti_tsv(path, "hau");
        })
    });
    fuzz("wos", mutated(WOS_Y), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("X.txt"), WOS_X).unwrap();
        std::fs::write(dir.path().join("YL1.txt"), bytes).unwrap();
        std::fs::write(dir.path().join("YL2.txt"), bytes).unwrap();
        let _ = l2r::data::wos::load_wos_domain_tasks(dir.path());
    });
}

#[test]
fn toml_configs() {
    fuzz("run config", mutated(RUN_TOML), |bytes| {
        let _ = RunConfig::from_toml(&String::from_utf8_lossy(bytes), Path::new("run.toml"));
    });
    fuzz("library config", mutated(LIBRARY_TOML), |bytes| {
        with_file("library.toml", bytes, |path| {
            let _ = LibraryConfig::from_file(path);
        })
    });
}

#[test]
fn json_records_and_manifests() {
    let record = serde_json::to_string(&sample_record()).unwrap();
    fuzz("task.json", mutated(record), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("task.json"), bytes).unwrap();
        let _ = TaskArtifacts::new(dir.path()).load_record();
    });
    fuzz("manifest", mutated(MANIFEST), |bytes| {
        with_file("manifest.json", bytes, |path| {
            let _ = l2r::io::read_json::<Manifest>(path);
        })
    });
}

#[test]
fn safetensors_headers_and_peft_configs() {
    let tensors = safetensors_file();
    let header_len = u64::from_le_bytes(tensors[..8].try_into().unwrap()) as usize;
    let header = tensors[8..8 + header_len].to_vec();
    let data = tensors[8 + header_len..].to_vec();
    fuzz("safetensors header", mutated(header), |bytes| {
        let mut file = (bytes.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(bytes);
        file.extend_from_slice(&data);
        with_file("module.safetensors", &file, |path| {
            let _ = l2r::io::read_safetensors(path, "fuzzed tensors");
        })
    });
    fuzz("safetensors bytes", mutated(tensors.clone()), |bytes| {
        with_file("module.safetensors", bytes, |path| {
            let _ = l2r::io::read_safetensors(path, "fuzzed tensors");
        })
    });
    let encoder = tiny_encoder();
    fuzz("adapter_config.json", mutated(ADAPTER_CONFIG), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("adapter_config.json"), bytes).unwrap();
        std::fs::write(dir.path().join("adapter_model.safetensors"), &tensors).unwrap();
        let _ = l2r::peft::import_hf_lora(dir.path(), &encoder, &candle_core::Device::Cpu);
    });
}

fn sample_record() -> TaskRecord {
    TaskRecord {
        task: "bbc".into(),
        labels: vec!["a".into(), "b".into()],
        backbone: l2r::backbone::BackboneName::Minilm,
        max_len: 32,
        peft: l2r::peft::PeftConfig::adapter(),
        train: l2r::train::TrainConfig::default(),
        split: l2r::train::SplitSpec::default(),
        report: None,
        test: None,
    }
}

/// A small valid safetensors file.
fn safetensors_file() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.safetensors");
    let a = candle_core::Tensor::arange(0f32, 6.0, &candle_core::Device::Cpu)
        .unwrap()
        .reshape((2, 3))
        .unwrap();
    l2r::io::write_safetensors(&path, vec![("base_model.model.a".to_owned(), a)]).unwrap();
    std::fs::read(&path).unwrap()
}

fn tiny_encoder() -> EncoderConfig {
    l2r::backbone::tiny::tiny_backbone(1)
        .unwrap()
        .encoder
        .config
        .clone()
}
