//! A handler or sender that panics: the event is retried with backoff and dead-lettered after
//! its last attempt, with the panic's message as its error, and nothing else stops.

use async_trait::async_trait;
use serde_json::json;

use crate::db_test;
use crate::helpers::*;
use pagebot::handlers::{Handler, HandlerError};
use pagebot::senders::{Outgoing, SendError, Sender};
use pagebot::{Context, Registry};

const USER: &str = "u_panics";

/// A bot's own handler with a bug: it panics on the text `boom`.
struct Explode;

#[async_trait]
impl Handler for Explode {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.text() == Some("boom")
    }

    async fn handle(&self, _cx: &mut Context) -> Result<(), HandlerError> {
        panic!("boom went the handler");
    }
}

/// A bot's own sender with a bug: it panics on the text `bang`.
struct Bang;

impl Sender for Bang {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        if let Some(text) = cx.text() {
            // A formatted message: the panic's payload is a String, not a &str.
            panic!("{text} went the sender");
        }
        Ok(Vec::new())
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

const POLICY: &str = r#"routes:
  SIMPLE_TEXT:
    - handler: explode
    - handler: simple_text
      args: { regex: "^bang$" }
      stop: true
      senders:
        - bang: {}
    - handler: simple_text
      senders:
        - text: { message: ok }
"#;

db_test!(
    a_panic_is_retried_then_dead_lettered_and_the_rest_goes_on,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("routing.yaml"), POLICY).unwrap();
        let locales = dir.path().join("locales");
        std::fs::create_dir_all(locales.join("en-US")).unwrap();
        std::fs::write(locales.join("en-US/bot.ftl"), "ok = ok\n").unwrap();
        let registry = Registry::builtin()
            .handler("explode", |_: NoArgs| Ok(Explode))
            .sender("bang", |_: NoArgs| Ok(Bang));
        let bot = TestBot::new(dir.path().join("routing.yaml"), locales, registry);
        let app = TestApp::spawn_bot(db, bot)
            .await
            .unwrap_or_else(|e| panic!("the test bot must start: {e}"));
        app.graph.set_profile(USER, json!({"first_name": "Ann"}));

        for (n, text) in ["boom", "bang", "fine"].into_iter().enumerate() {
            let timestamp = 1_700_000_000_000 + i64::try_from(n).unwrap();
            // Three users, so that the panicking events do not hold up the third in per-user order.
            let body = text_message(&format!("{USER}{n}"), &format!("m_{n}"), text, timestamp);
            assert_eq!(app.post_webhook(&body).await.status(), 200);
        }
        app.wait_until_processed(PATIENCE).await;

        let inbox = app.inbox().await;
        let by_text = |text: &str| {
            inbox
                .iter()
                .find(|e| e.raw.contains(&format!("\"text\":\"{text}\"")))
                .unwrap_or_else(|| panic!("no event {text}: {inbox:#?}"))
        };
        let boom = by_text("boom");
        assert_eq!(
            (boom.status.as_str(), boom.attempts),
            ("dead", 3),
            "{boom:#?}"
        );
        assert_eq!(
            boom.last_error.as_deref(),
            Some("handler explode (line 3) panicked: boom went the handler")
        );
        let bang = by_text("bang");
        assert_eq!(
            (bang.status.as_str(), bang.attempts),
            ("dead", 3),
            "{bang:#?}"
        );
        assert_eq!(
            bang.last_error.as_deref(),
            Some("a sender of line 4 panicked: bang went the sender")
        );
        let fine = by_text("fine");
        assert_eq!(
            (fine.status.as_str(), fine.attempts),
            ("done", 1),
            "{fine:#?}"
        );
        assert_eq!(app.graph.texts_to(&format!("{USER}2")), ["ok"]);
        assert!(app.graph.texts_to(&format!("{USER}1")).is_empty());
    }
);
