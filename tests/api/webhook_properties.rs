//! Property tests of the webhook (issue 19): whatever a signed body holds, the answer is 200
//! with the body stored (its items, or the body as malformed), or a 4xx; never a 5xx, which
//! would have Facebook redeliver the body forever.
//!
//! Two kinds of bodies, posted to the real server on each backend: arbitrary bytes (some of
//! them a valid webhook with a byte changed, or cut short), and a valid text-message webhook
//! with arbitrary JSON strings in its id fields (the Page id, sender and recipient ids, the
//! mid): NUL, lone surrogate escapes, broken escapes, quotes, long strings, non-strings.
//!
//! The cases are the same on every run (a fixed seed, 64 of them); `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` choose others.

use std::collections::HashSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::Value;

use crate::db_test;
use crate::helpers::*;

/// A body, shown as escaped ASCII when a case fails.
#[derive(Clone)]
struct Body(Vec<u8>);

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// 64 cases from a fixed seed, unless the environment asks for others.
fn config() -> Config {
    let defaults = Config::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    Config {
        cases: if set("PROPTEST_CASES") {
            defaults.cases
        } else {
            64
        },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            defaults.rng_seed
        } else {
            RngSeed::Fixed(19)
        },
        failure_persistence: None,
        max_shrink_iters: 200,
        ..defaults
    }
}

/// A valid webhook with one text message, each id given as the JSON text to put there.
fn webhook(page: &str, sender: &str, recipient: &str, mid: &str) -> Vec<u8> {
    format!(
        "{{\"object\":\"page\",\"entry\":[{{\"id\":{page},\"time\":1700000000000,\
         \"messaging\":[{{\"sender\":{{\"id\":{sender}}},\"recipient\":{{\"id\":{recipient}}},\
         \"timestamp\":1700000000000,\"message\":{{\"mid\":{mid},\"text\":\"hi\"}}}}]}}]}}"
    )
    .into_bytes()
}

/// JSON text for an id: mostly string literals, valid or not.
fn id_json() -> impl Strategy<Value = String> {
    let literal = |s: String| serde_json::to_string(&s).unwrap();
    let awkward = prop::sample::select(vec![
        '\0',
        '\\',
        '"',
        '\n',
        '\u{7f}',
        '\u{200b}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{1f600}',
        'é',
        'a',
        '7',
    ]);
    // Pieces of a literal's text between its quotes: escapes JSON allows, and some it does not.
    let piece = prop::sample::select(vec![
        r"\u0000",
        r"\ud800",
        r"\udfff",
        r"\ud83d\ude00",
        r"\\",
        r#"\""#,
        r"\n",
        r"\/",
        r"\u00",
        r"\x",
        "\u{0}",
        "\u{1}",
        "a",
        "é",
    ]);
    prop_oneof![
        any::<String>().prop_map(literal),
        prop::collection::vec(awkward.clone(), 0..8)
            .prop_map(move |chars| literal(chars.into_iter().collect())),
        (awkward, 200usize..3000).prop_map(move |(c, n)| literal(c.to_string().repeat(n))),
        prop::collection::vec(any::<char>(), 256..2000)
            .prop_map(move |chars| literal(chars.into_iter().collect())),
        // Long and incompressible: more than a Postgres index entry holds.
        prop::collection::vec(any::<u64>(), 100..600)
            .prop_map(move |words| literal(words.iter().map(|w| format!("{w:016x}")).collect())),
        prop::collection::vec(piece, 0..6).prop_map(|pieces| format!("\"{}\"", pieces.concat())),
        prop::sample::select(vec![
            "null",
            "12345678901234567",
            "-1",
            "1e400",
            "[\"1\"]",
            "{}",
            "true"
        ])
        .prop_map(str::to_owned),
    ]
}

/// Each id left as a fine one or replaced, the mid fine one unique to the case.
fn webhook_with_odd_ids() -> impl Strategy<Value = Body> {
    let id = || prop_oneof![2 => Just(None), 3 => id_json().prop_map(Some)];
    (id(), id(), id(), id(), any::<u64>()).prop_map(|(page, sender, recipient, mid, n)| {
        let page_id = format!("\"{PAGE_ID}\"");
        let fine_mid = format!("\"m_prop_{n}\"");
        Body(webhook(
            page.as_deref().unwrap_or(&page_id),
            sender.as_deref().unwrap_or("\"u_prop\""),
            recipient.as_deref().unwrap_or(&page_id),
            mid.as_deref().unwrap_or(&fine_mid),
        ))
    })
}

/// Arbitrary bytes, or a valid webhook with one byte changed, or cut short.
fn arbitrary_body() -> impl Strategy<Value = Body> {
    let valid = || {
        webhook(
            &format!("\"{PAGE_ID}\""),
            "\"u_bytes\"",
            "\"1\"",
            "\"m_bytes\"",
        )
    };
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512).prop_map(Body),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(move |(at, byte)| {
            let mut body = valid();
            let at = at.index(body.len());
            body[at] = byte;
            Body(body)
        }),
        any::<prop::sample::Index>().prop_map(move |at| {
            let mut body = valid();
            body.truncate(at.index(body.len()));
            Body(body)
        }),
    ]
}

/// What storing `body` must leave in the inbox: for each dedupe key, the item's JSON, or
/// `None` for the whole body kept as malformed (keyed by its hash).
fn expected_rows(body: &[u8]) -> Vec<(String, Option<Value>)> {
    use sha2::{Digest, Sha256};
    match pagebot::event::parse_envelope(body) {
        Ok(envelope) if envelope.object != "page" => Vec::new(),
        Ok(envelope) => envelope
            .items
            .into_iter()
            .map(|item| (item.dedupe_key, Some(item.raw)))
            .collect(),
        Err(_) => vec![(
            format!("body:sha256:{}", hex::encode(Sha256::digest(body))),
            None,
        )],
    }
}

/// Posts `body` and checks the answer and the inbox.
async fn post_and_check(app: &TestApp, Body(body): Body) -> Result<(), TestCaseError> {
    let expected = expected_rows(&body);
    let before: HashSet<String> = app
        .inbox()
        .await
        .into_iter()
        .map(|e| e.dedupe_key)
        .collect();
    let response = app.post_webhook(&body).await;
    let status = response.status();
    if status.is_client_error() {
        return Ok(());
    }
    prop_assert_eq!(status.as_u16(), 200, "{}", response.text().await.unwrap());
    let inbox = app.inbox().await;
    for (key, item) in expected {
        let Some(event) = inbox.iter().find(|e| e.dedupe_key == key) else {
            return Err(TestCaseError::fail(format!(
                "acknowledged, not stored: {key}"
            )));
        };
        if before.contains(&key) {
            // A duplicate of an earlier case (a fine id twice, or a shrinking step).
            continue;
        }
        match item {
            None => {
                prop_assert_eq!(&event.status, "malformed");
                prop_assert_eq!(event.raw_body(), &body[..]);
            }
            Some(item) => {
                let stored: Value = serde_json::from_slice(event.raw_body())
                    .map_err(|e| TestCaseError::fail(format!("stored item is not json: {e}")))?;
                prop_assert_eq!(stored, item);
            }
        }
    }
    Ok(())
}

/// Runs `strategy`'s cases against `app`, each posted from a blocking section of the test's
/// runtime (proptest's runner is synchronous).
fn run_cases(app: &TestApp, strategy: impl Strategy<Value = Body>) {
    let runtime = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(config());
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |body| {
            runtime.block_on(post_and_check(app, body))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

db_test!(any_signed_bytes_are_stored_or_refused_never_a_5xx, |db| {
    let app = TestApp::spawn(db).await;
    run_cases(&app, arbitrary_body());
});

db_test!(
    any_json_in_the_id_fields_is_stored_or_refused_never_a_5xx,
    |db| {
        let app = TestApp::spawn(db).await;
        run_cases(&app, webhook_with_odd_ids());
    }
);
