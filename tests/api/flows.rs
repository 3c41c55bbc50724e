//! Conversations over HTTP: steps and remembered values, written once per event with its
//! outcome, on both databases.

use crate::db_test;
use crate::helpers::*;
use async_trait::async_trait;
use pagebot::handlers::{Handler, HandlerError};
use pagebot::testing::{FakeError, Webhook};
use pagebot::{Context, Registry};

/// A bot's own handler driving a conversation through the Context: it counts the user's texts
/// in a remembered value, and `stop` ends the conversation.
struct Tally;

#[async_trait]
impl Handler for Tally {
    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let stop = cx.text() == Some("stop");
        let conversation = cx.conversation().await?;
        if stop {
            conversation.end();
            return Ok(());
        }
        let count: u32 = conversation
            .get("count")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        conversation.remember("count", (count + 1).to_string());
        conversation.set_step("counting");
        Ok(())
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

/// A bot of `routing.yaml` and `texts` (en-US) with the `tally` handler.
pub async fn spawn(db: TestDatabase, routing: &str, texts: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("routing.yaml"), routing).unwrap();
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(locales.join("en-US")).unwrap();
    std::fs::write(locales.join("en-US/bot.ftl"), texts).unwrap();
    let registry = Registry::builtin().handler("tally", |_: NoArgs| Ok(Tally));
    let bot = TestBot::new(dir.path().join("routing.yaml"), locales, registry);
    let app = TestApp::spawn_bot(db, bot)
        .await
        .unwrap_or_else(|e| panic!("the test bot must start: {e}"));
    (app, dir)
}

db_test!(
    a_handler_moves_the_conversation_once_per_event_even_when_retried,
    |db| {
        let (app, _dir) = spawn(
        db,
        "routes:\n  SIMPLE_TEXT:\n    - handler: tally\n      senders:\n        - text: { message: count, args: { n: \"{memory.count|none}\" } }\n",
        "count = count { $n }\n",
    )
    .await;
        let user = "u_tally";
        // The first answer fails (a passing Graph error): that attempt counted, but changed
        // nothing; the retry counts again from what is stored.
        app.graph.fail_next_sends([FakeError::graph(2, None)]);
        assert_eq!(app.post(&Webhook::text(user, "a")).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.post(&Webhook::text(user, "b")).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.graph.texts_to(user), ["count 1", "count 2"]);
        let stored = app
            .store
            .conversation(pagebot::testing::TEST_PAGE_ID, user)
            .await
            .unwrap()
            .expect("a conversation");
        assert_eq!(stored.step.as_deref(), Some("counting"));
        assert_eq!(stored.memory["count"].value, "2");

        // Ended: nothing is left, and the senders no longer see the value.
        assert_eq!(app.post(&Webhook::text(user, "stop")).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.graph.texts_to(user).last().unwrap(), "count none");
        let stored = app
            .store
            .conversation(pagebot::testing::TEST_PAGE_ID, user)
            .await
            .unwrap();
        assert_eq!(stored, None);
        app.stop().await;
    }
);
