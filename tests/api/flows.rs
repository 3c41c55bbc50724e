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

/// A bot's own handler that reads the conversation in `should_handle`: it wants the event
/// only while the user is at step `counting`.
struct AtCounting;

#[async_trait]
impl Handler for AtCounting {
    fn should_handle(&self, cx: &Context) -> bool {
        let conversation = cx
            .loaded_conversation()
            .expect("read with the claim, since the handler uses it");
        conversation.step() == Some("counting")
    }

    async fn handle(&self, _cx: &mut Context) -> Result<(), HandlerError> {
        Ok(())
    }

    fn uses_conversation(&self) -> bool {
        true
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
    let registry = Registry::builtin()
        .handler("tally", |_: NoArgs| Ok(Tally))
        .handler("at_counting", |_: NoArgs| Ok(AtCounting));
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

/// A small order flow: pick a size (quick replies), give an email (validated), confirm.
pub(crate) const ORDER_FLOW: &str = r#"steps:
  ask_size:
    ask:
      - quick_replies:
          message: pick-size
          replies:
            - { title: size-s, payload: SIZE_S }
            - { title: size-l, payload: SIZE_L }
  ask_email:
    ask:
      - text: { message: ask-email }
    reask:
      - text: { message: bad-email }
  confirm:
    ask:
      - text: { message: confirm }
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      args: { regex: "^cancel$" }
      global: true
      then: end
      stop: true
      senders:
        - text: { message: cancelled }
    - handler: simple_text
      when: { step: ask_email }
      remember: { name: email, validate: email }
      then: { step: confirm }
      stop: true
      senders:
        - text: { message: got-email, args: { email: "{memory.email}" } }
    - handler: simple_text
      when: { step: confirm }
      args: { regex: "^yes$" }
      then: end
      stop: true
      senders:
        - text: { message: done, args: { size: "{memory.size}", email: "{memory.email}" } }
    - handler: simple_text
      args: { regex: "^order$" }
      then: { step: ask_size }
      stop: true
    - handler: simple_text
      fallback: true
      senders:
        - text: { message: what }
  QUICK_REPLY:
    - handler: quick_reply
      when: { step: ask_size }
      args: { regex: "^SIZE_(?P<size>S|L)$" }
      remember: { name: size, from: match.size }
      then: { step: ask_email }
      senders:
        - text: { message: got-size, args: { size: "{memory.size}" } }
"#;

pub(crate) const ORDER_TEXTS: &str = r#"
pick-size = Pick a size
size-s = S
size-l = L
ask-email = Your email?
bad-email = That is not an email.
confirm = Confirm?
cancelled = Cancelled.
got-email = Got { $email }.
got-size = Size { $size }.
done = Done: { $size } to { $email }.
what = What?
"#;

/// Posts `webhook` and waits until the bot is done with it.
async fn say(app: &TestApp, webhook: Webhook) {
    assert_eq!(app.post(&webhook).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
}

/// The stored step of `user`.
async fn step_of(app: &TestApp, user: &str) -> Option<String> {
    app.store
        .conversation(pagebot::testing::TEST_PAGE_ID, user)
        .await
        .unwrap()
        .and_then(|c| c.step)
}

db_test!(a_flow_walks_its_steps_validates_asks_again_and_ends, |db| {
    let (app, _dir) = spawn(db, ORDER_FLOW, ORDER_TEXTS).await;
    let user = "u_order";
    let texts_since = |n: usize| app.graph.texts_to(user)[n..].to_vec();

    say(&app, Webhook::text(user, "hello")).await;
    assert_eq!(texts_since(0), ["What?"]);
    say(&app, Webhook::text(user, "order")).await;
    assert_eq!(texts_since(1), ["Pick a size"]);
    assert_eq!(step_of(&app, user).await.as_deref(), Some("ask_size"));
    // Text at a step that waits for a quick reply: nothing of the chain takes it (the
    // fallback waits for no step), so the question comes again.
    say(&app, Webhook::text(user, "hello")).await;
    assert_eq!(texts_since(2), ["Pick a size"]);
    say(&app, Webhook::quick_reply(user, "L", "SIZE_L")).await;
    assert_eq!(texts_since(3), ["Size L.", "Your email?"]);
    assert_eq!(step_of(&app, user).await.as_deref(), Some("ask_email"));
    // Not an email: the step's reask, and the step stays.
    say(&app, Webhook::text(user, "not an email")).await;
    assert_eq!(texts_since(5), ["That is not an email."]);
    assert_eq!(step_of(&app, user).await.as_deref(), Some("ask_email"));
    say(&app, Webhook::text(user, "Ann@Example.COM")).await;
    assert_eq!(texts_since(6), ["Got Ann@example.com.", "Confirm?"]);
    say(&app, Webhook::text(user, "yes")).await;
    assert_eq!(texts_since(8), ["Done: L to Ann@example.com."]);
    assert_eq!(
        app.store
            .conversation(pagebot::testing::TEST_PAGE_ID, user)
            .await
            .unwrap(),
        None
    );
    app.stop().await;
});

db_test!(
    cancel_escapes_from_any_step_and_an_idle_step_expires,
    |db| {
        let (app, _dir) = spawn(db, ORDER_FLOW, ORDER_TEXTS).await;
        let user = "u_cancel";
        say(&app, Webhook::text(user, "order")).await;
        say(&app, Webhook::quick_reply(user, "S", "SIZE_S")).await;
        assert_eq!(step_of(&app, user).await.as_deref(), Some("ask_email"));
        // The global link runs at the step (and before the step's own link).
        say(&app, Webhook::text(user, "cancel")).await;
        assert_eq!(app.graph.texts_to(user).last().unwrap(), "Cancelled.");
        assert_eq!(step_of(&app, user).await, None);

        // Idle for longer than the idle time (an hour in the test kit): the user starts afresh.
        say(&app, Webhook::text(user, "order")).await;
        assert_eq!(step_of(&app, user).await.as_deref(), Some("ask_size"));
        let later = pagebot::store::now_ms() + 2 * 3600 * 1000;
        say(&app, Webhook::text(user, "hello").at(later)).await;
        assert_eq!(app.graph.texts_to(user).last().unwrap(), "What?");
        // Nothing moved it, so the stale row stays, but it reads as no step.
        say(
            &app,
            Webhook::quick_reply(user, "S", "SIZE_S").at(later + 1),
        )
        .await;
        assert_eq!(app.graph.texts_to(user).last().unwrap(), "What?");
        app.stop().await;
    }
);

db_test!(two_quick_answers_never_both_answer_one_question, |db| {
    let (app, _dir) = spawn(db, ORDER_FLOW, ORDER_TEXTS).await;
    let user = "u_quick";
    say(&app, Webhook::text(user, "order")).await;
    // Two taps in one delivery: the second is processed after the first moved the step, so
    // it finds the email question, where a size is no answer: the step asks again (its
    // `reask`).
    say(
        &app,
        Webhook::quick_reply(user, "S", "SIZE_S").and(Webhook::quick_reply(user, "L", "SIZE_L")),
    )
    .await;
    assert_eq!(
        app.graph.texts_to(user),
        [
            "Pick a size",
            "Size S.",
            "Your email?",
            "That is not an email."
        ]
    );
    let stored = app
        .store
        .conversation(pagebot::testing::TEST_PAGE_ID, user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.step.as_deref(), Some("ask_email"));
    assert_eq!(stored.memory["size"].value, "S");
    app.stop().await;
});

db_test!(the_conversations_of_two_pages_are_apart, |db| {
    let (app, _dir) = spawn(db, ORDER_FLOW, ORDER_TEXTS).await;
    let user = "u_two_pages";
    say(&app, Webhook::text(user, "order").page("page_a")).await;
    say(&app, Webhook::text(user, "hello").page("page_b")).await;
    assert_eq!(app.graph.texts_to(user), ["Pick a size", "What?"]);
    let on = |page: &'static str| {
        let store = app.store.clone();
        async move { store.conversation(page, user).await.unwrap() }
    };
    assert_eq!(
        on("page_a").await.and_then(|c| c.step).as_deref(),
        Some("ask_size")
    );
    assert_eq!(on("page_b").await, None);
    app.stop().await;
});

db_test!(
    a_handler_that_uses_the_conversation_finds_it_read_with_the_claim,
    |db| {
        let (app, _dir) = spawn(
        db,
        "routes:\n  SIMPLE_TEXT:\n    - handler: at_counting\n      senders:\n        - text: { message: at }\n    - handler: tally\n      senders:\n        - text: { message: count, args: { n: \"{memory.count}\" } }\n",
        "count = count { $n }\nat = at step\n",
    )
    .await;
        let user = "u_at_counting";
        say(&app, Webhook::text(user, "a")).await;
        say(&app, Webhook::text(user, "b")).await;
        assert_eq!(app.graph.texts_to(user), ["count 1", "at step", "count 2"]);
        app.stop().await;
    }
);
