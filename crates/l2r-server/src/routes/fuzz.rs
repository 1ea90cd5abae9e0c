//! `POST /v1/classify` bodies fuzzed (issue 18): valid requests mutated (bytes set, inserted, deleted; JSON and
//! UTF-8 breakers injected) and random bytes, under every content type. The server, with no model loaded, must
//! answer each with a 4xx or 503 and a JSON error: never a panic, never a 500. `L2R_FUZZ_CASES` sets the count
//! (default 256), as for the parsers' fuzzing in `crates/l2r/tests/fuzz_parsers.rs`.

use super::{router, AppState};
use crate::{BatchPolicy, Limits};
use axum::body::{to_bytes, Body};
use axum::http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRng, TestRunner};
use std::sync::Arc;
use tower::ServiceExt;

const VALID: &str = r#"{"texts": ["rain over Oslo", "a honey cake \u00e9"], "task": "weather"}"#;
const BREAKERS: [&[u8]; 12] = [
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\xff",
    b"\xc3\x28",
    b"\x00",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
];

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| (i, vec![b], 1)),
        (
            any::<prop::sample::Index>(),
            prop::sample::select(BREAKERS.to_vec())
        )
            .prop_map(|(i, b)| (i, b.to_vec(), 0)),
        (any::<prop::sample::Index>(), 1usize..12).prop_map(|(i, n)| (i, vec![], n)),
    ];
    prop_oneof![
        4 => prop::collection::vec(edit, 0..5).prop_map(|edits| {
            let mut bytes = VALID.as_bytes().to_vec();
            for (i, insert, delete) in edits {
                let at = i.index(bytes.len() + 1);
                let end = (at + delete).min(bytes.len());
                bytes.splice(at..end, insert);
            }
            bytes
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

#[test]
fn classify_bodies_never_panic_and_always_answer_a_json_error() {
    let cases = std::env::var("L2R_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let limits = Limits {
        max_body_bytes: 200,
        max_texts: 3,
        max_text_chars: 40,
        ..Limits::default()
    };
    let state = AppState::with(None, None, limits, BatchPolicy::default(), None);
    let app = router(Arc::new(state));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let content_types = prop::sample::select(vec!["application/json", "text/plain", ""]);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let result = runner.run(&(bodies(), content_types), |(body, content_type)| {
        let mut request = Request::post("/v1/classify");
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Body::from(body.clone())).unwrap();
        let (status, answer) = runtime.block_on(async {
            let response = app.clone().oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                to_bytes(response.into_body(), 1 << 20).await.unwrap(),
            )
        });
        let json: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        prop_assert!(
            (400..500).contains(&status) || status == 503,
            "{status} for {:?}",
            String::from_utf8_lossy(&body)
        );
        prop_assert!(json["error"].is_string(), "no JSON error: {answer:?}");
        Ok(())
    });
    eprintln!("classify bodies: {cases} cases, no panic, never a 500");
    if let Err(error) = result {
        panic!("{error}");
    }
}
