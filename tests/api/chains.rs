//! A chain of many `simple_text` links, matched at once by the chain's prefilter: the replies
//! are what each link alone would give, `stop` and `fallback` included, and a link whose
//! pattern does not match is never asked.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::json;

use crate::db_test;
use crate::helpers::*;
use pagebot::handlers::{Handler, HandlerError, TextPattern};
use pagebot::{Context, Registry};

const USER: &str = "u_chains";

/// How often [`Never`] was asked whether it wants an event.
static NEVER_ASKED: AtomicUsize = AtomicUsize::new(0);

/// A bot's own handler with a text pattern no test text matches.
struct Never;

#[async_trait]
impl Handler for Never {
    fn should_handle(&self, cx: &Context) -> bool {
        NEVER_ASKED.fetch_add(1, Ordering::SeqCst);
        cx.text() == Some("never")
    }

    async fn handle(&self, _cx: &mut Context) -> Result<(), HandlerError> {
        Ok(())
    }

    fn text_pattern(&self) -> Option<TextPattern<'_>> {
        Some(TextPattern {
            pattern: "^never$",
            ignore_case: false,
        })
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NeverArgs {}

/// 40 `^ruleN (\d+)$` links (odd N ignoring case) that stop, then links that do not, a
/// fallback, and a link without a regex.
fn policy() -> String {
    let mut yaml = String::from("default:\n  - handler: user_profile\nroutes:\n  SIMPLE_TEXT:\n");
    for i in 0..40 {
        yaml.push_str(&format!(
            "    - handler: simple_text\n      args: {{ regex: \"^rule{i} (\\\\d+)$\", ignore_case: {} }}\n      \
             stop: true\n      senders:\n        - text: {{ message: rule, args: {{ i: \"{i}\", n: \"{{match.1}}\" }} }}\n",
            i % 2 == 1
        ));
    }
    yaml.push_str(
        r#"    - handler: simple_text
      args: { regex: "^\\s*hi\\b", ignore_case: true }
      stop: true
      senders:
        - text: { message: hello }
    - handler: simple_text
      args: { regex: "^(?P<word>[a-z]+)$" }
      senders:
        - text: { message: word, args: { word: "{match.word}" } }
    - handler: never
      senders:
        - text: { message: never }
    - handler: simple_text
      args: { regex: "." }
      fallback: true
      senders:
        - text: { message: sorry }
    - handler: simple_text
      senders:
        - text: { message: any }
"#,
    );
    yaml
}

const TEXTS: &str = r#"
rule = rule { $i }: { $n }
hello = hello
word = word { $word }
never = never
sorry = sorry
any = any
"#;

db_test!(replies_are_those_of_each_link_alone, |db| {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("routing.yaml"), policy()).unwrap();
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(locales.join("en-US")).unwrap();
    std::fs::write(locales.join("en-US/bot.ftl"), TEXTS).unwrap();
    let registry = Registry::builtin().handler("never", |_: NeverArgs| Ok(Never));
    let bot = TestBot::new(dir.path().join("routing.yaml"), locales, registry);
    let app = TestApp::spawn_bot(db, bot)
        .await
        .unwrap_or_else(|e| panic!("the test bot must start: {e}"));
    app.graph.set_profile(USER, json!({"first_name": "Ann"}));

    let cases: [(&str, &[&str]); 8] = [
        ("rule7 42", &["rule 7: 42"]),
        ("RULE7 42", &["rule 7: 42"]),
        // Rule 8 minds case: nothing earlier handled, so the fallback answers.
        ("RULE8 42", &["sorry", "any"]),
        ("rule39 1", &["rule 39: 1"]),
        ("rule40 1", &["sorry", "any"]),
        ("  Hi there", &["hello"]),
        ("hello", &["word hello", "any"]),
        ("Hello", &["sorry", "any"]),
    ];
    let mut expected = Vec::new();
    for (n, (text, replies)) in cases.iter().enumerate() {
        let timestamp = 1_700_000_000_000 + i64::try_from(n).unwrap();
        let body = text_message(USER, &format!("m_{n}"), text, timestamp);
        assert_eq!(app.post_webhook(&body).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        expected.extend(replies.iter().map(|r| (*r).to_owned()));
        assert_eq!(app.graph.texts_to(USER), expected, "after {text:?}");
    }
    let inbox = app.inbox().await;
    assert!(inbox.iter().all(|e| e.status == "done"), "{inbox:#?}");
    // The prefilter skipped the link whose pattern never matched, without asking it.
    assert_eq!(NEVER_ASKED.load(Ordering::SeqCst), 0);
});
