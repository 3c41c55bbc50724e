//! Messages the bot starts, over HTTP on both databases: the send API (token, bodies,
//! idempotency), the 24-hour window and the tags judged at delivery by a clock the tests pin,
//! notification tokens used once (one-time) or until stopped (recurring), a Fluent message in
//! the user's language, a handler queuing through `cx.outbox()`, Facebook's refusal recorded,
//! and two Pages each sending with its own token.

use std::time::Duration;

use async_trait::async_trait;
use pagebot::config::{PageSettings, Settings};
use pagebot::handlers::{Handler, HandlerError};
use pagebot::outbox::{Content, Draft, Intent};
use pagebot::senders::Tag;
use pagebot::store::outbox as rows;
use pagebot::testing::{FakeError, TEST_API_TOKEN, TEST_PAGE_ID, Webhook};
use pagebot::{Context, Registry};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;

const HOUR: i64 = 3600 * 1000;
/// When the test users last wrote (the clock is pinned relative to it).
const T0: i64 = 1_780_000_000_000;

/// The user `psid` writes "hi" at `at`; returns once the bot has processed it.
async fn user_writes(app: &TestApp, psid: &str, at: i64) {
    let response = app.post(&Webhook::text(psid, "hi").at(at)).await;
    assert_eq!(response.status(), 200);
    app.wait_until_processed(PATIENCE).await;
}

/// POSTs `body` to the send API with the test token.
async fn queue(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_api("/api/messages", Some(TEST_API_TOKEN), &[], &body)
        .await
}

/// Queues `body` and returns its id (asserting a 202 `queued`).
async fn queued(app: &TestApp, body: Value) -> i64 {
    let response = queue(app, body).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["state"], "queued", "{answer}");
    answer["id"].as_i64().unwrap()
}

/// Waits until message `id` is no longer queued; returns the API's view of it.
async fn settled(app: &TestApp, id: i64) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = app
            .get_api(&format!("/api/messages/{id}"), Some(TEST_API_TOKEN))
            .await;
        assert_eq!(response.status(), 200);
        let view: Value = response.json().await.unwrap();
        if view["state"] != "queued" {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {id} still queued: {view}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text_to(psid: &str, text: &str, intent: Value) -> Value {
    json!({ "recipient": { "psid": psid }, "message": { "text": text }, "intent": intent })
}

/// What the fake Graph received that carries `text`.
fn sends_of(app: &TestApp, text: &str) -> Vec<Value> {
    app.graph
        .sent()
        .into_iter()
        .filter(|b| b.pointer("/message/text").and_then(Value::as_str) == Some(text))
        .collect()
}

db_test!(a_free_form_message_needs_the_24_hour_window, |db| {
    let app = TestApp::spawn(db).await;
    user_writes(&app, "u1", T0).await;
    app.clock().set_ms(T0 + HOUR);
    let id = queued(&app, text_to("u1", "your order shipped", json!("update"))).await;
    let view = settled(&app, id).await;
    assert_eq!(view["state"], "sent", "{view}");
    assert!(view["message_id"].as_str().is_some_and(|m| !m.is_empty()));
    let sent = sends_of(&app, "your order shipped");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["recipient"], json!({ "id": "u1" }));
    assert_eq!(sent[0]["messaging_type"], "UPDATE");

    // 30 hours later the window is closed: refused, not sent.
    app.clock().set_ms(T0 + 30 * HOUR);
    let id = queued(&app, text_to("u1", "late news", json!("response"))).await;
    let view = settled(&app, id).await;
    assert_eq!(view["state"], "refused", "{view}");
    let reason = view["error"]["message"].as_str().unwrap();
    assert!(
        reason.starts_with("outside the 24-hour window: last message from the user ")
            && reason.contains("(30 h ago)")
            && reason.contains("use a tag or a notification token"),
        "{reason}"
    );
    assert!(sends_of(&app, "late news").is_empty());

    // A user who never wrote has no window at all.
    let id = queued(&app, text_to("stranger", "hello?", json!("update"))).await;
    let view = settled(&app, id).await;
    assert_eq!(view["state"], "refused");
    assert!(sends_of(&app, "hello?").is_empty());
});

db_test!(human_agent_is_allowed_for_7_days_and_refused_after, |db| {
    let app = TestApp::spawn(db).await;
    user_writes(&app, "u1", T0).await;
    app.clock().set_ms(T0 + 3 * 24 * HOUR);
    let agent = json!({ "tag": "HUMAN_AGENT" });
    let id = queued(&app, text_to("u1", "an agent here", agent.clone())).await;
    assert_eq!(settled(&app, id).await["state"], "sent");
    let sent = sends_of(&app, "an agent here");
    assert_eq!(sent[0]["messaging_type"], "MESSAGE_TAG");
    assert_eq!(sent[0]["tag"], "HUMAN_AGENT");

    app.clock().set_ms(T0 + 8 * 24 * HOUR);
    let id = queued(&app, text_to("u1", "too late", agent)).await;
    let view = settled(&app, id).await;
    assert_eq!(view["state"], "refused");
    let reason = view["error"]["message"].as_str().unwrap();
    assert!(
        reason.starts_with("outside the 7 days of tag HUMAN_AGENT") && reason.contains("(8 d ago)"),
        "{reason}"
    );
    assert!(sends_of(&app, "too late").is_empty());
});

/// The user opts in (`optin` of `kind`, with `extra` fields) at `at`.
async fn opts_in(app: &TestApp, psid: &str, at: i64, optin: Value) {
    let response = app.post(&Webhook::event(psid, "optin", optin).at(at)).await;
    assert_eq!(response.status(), 200);
    app.wait_until_processed(PATIENCE).await;
}

db_test!(
    a_one_time_token_is_used_once_and_the_second_is_refused,
    |db| {
        let app = TestApp::spawn(db).await;
        opts_in(
            &app,
            "u1",
            T0,
            json!({ "type": "one_time_notif_req", "payload": "restock",
                "one_time_notif_token": "OTN-SECRET-1" }),
        )
        .await;
        // Ten days on: no window, only the token.
        app.clock().set_ms(T0 + 240 * HOUR);
        let first = queued(&app, text_to("u1", "back in stock", json!("notification"))).await;
        let view = settled(&app, first).await;
        assert_eq!(view["state"], "sent", "{view}");
        let sent = sends_of(&app, "back in stock");
        assert_eq!(
            sent[0]["recipient"],
            json!({ "one_time_notif_token": "OTN-SECRET-1" })
        );
        assert!(!view.to_string().contains("OTN-SECRET-1"), "{view}");

        let second = queued(&app, text_to("u1", "again", json!("notification"))).await;
        let view = settled(&app, second).await;
        assert_eq!(view["state"], "refused");
        assert!(
            view["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("no notification token"),
            "{view}"
        );
        assert!(sends_of(&app, "again").is_empty());
    }
);

db_test!(a_recurring_token_is_used_until_the_user_stops_it, |db| {
    let app = TestApp::spawn(db).await;
    let token = |status: &str| {
        json!({ "type": "notification_messages", "payload": "news",
                "notification_messages_token": "NMT-1",
                "notification_messages_status": status,
                "token_expiry_timestamp": T0 + 1000 * 24 * HOUR })
    };
    opts_in(&app, "u1", T0, token("RESUME NOTIFICATIONS")).await;
    app.clock().set_ms(T0 + 100 * HOUR);
    let topic = json!({ "notification": { "topic": "news" } });
    for text in ["weekly 1", "weekly 2"] {
        let id = queued(&app, text_to("u1", text, topic.clone())).await;
        assert_eq!(settled(&app, id).await["state"], "sent");
        assert_eq!(
            sends_of(&app, text)[0]["recipient"],
            json!({ "notification_messages_token": "NMT-1" })
        );
    }
    // Another topic has no token.
    let other = json!({ "notification": { "topic": "offers" } });
    let id = queued(&app, text_to("u1", "an offer", other)).await;
    assert_eq!(settled(&app, id).await["state"], "refused");

    opts_in(&app, "u1", T0 + 101 * HOUR, token("STOP NOTIFICATIONS")).await;
    let id = queued(&app, text_to("u1", "weekly 3", topic)).await;
    assert_eq!(settled(&app, id).await["state"], "refused");
    assert!(sends_of(&app, "weekly 3").is_empty());
});

db_test!(without_the_api_token_nothing_is_queued, |db| {
    let app = TestApp::spawn(db).await;
    let body = text_to("u1", "hi", json!("update"));
    for token in [None, Some("wrong"), Some("")] {
        let response = app.post_api("/api/messages", token, &[], &body).await;
        assert_eq!(response.status(), 401, "{token:?}");
        let answer = response.text().await.unwrap();
        assert!(!answer.contains(TEST_API_TOKEN), "{answer}");
    }
    let response = app.get_api("/api/messages/1", Some("wrong")).await;
    assert_eq!(response.status(), 401);
    for unknown in ["/api/messages/1", "/api/messages/not-a-number"] {
        let response = app.get_api(unknown, Some(TEST_API_TOKEN)).await;
        assert_eq!(response.status(), 404, "{unknown}");
    }
    assert!(app.store.run(rows::all).await.unwrap().is_empty());
});

db_test!(the_api_is_off_without_a_token, |db| {
    let configure = |settings: &mut Settings| settings.api_token = None;
    let app = TestApp::spawn_with(db, TestBot::demo(), configure)
        .await
        .unwrap();
    let body = text_to("u1", "hi", json!("update"));
    let response = app
        .post_api("/api/messages", Some(TEST_API_TOKEN), &[], &body)
        .await;
    assert_eq!(response.status(), 404);
    assert!(app.store.run(rows::all).await.unwrap().is_empty());
});

db_test!(a_bad_body_is_refused_with_the_field_named, |db| {
    let app = TestApp::spawn(db).await;
    let long = "x".repeat(2001);
    for (body, field) in [
        (
            json!({ "message": { "text": "hi" }, "intent": "update" }),
            "recipient",
        ),
        (
            json!({ "recipient": {}, "message": { "text": "hi" }, "intent": "update" }),
            "recipient.psid",
        ),
        (
            json!({ "recipient": { "psid": "u1" }, "intent": "update" }),
            "message",
        ),
        (text_to("u1", &long, json!("update")), "message.text"),
        (text_to("u1", "hi", json!("whenever")), "intent"),
        (
            text_to("u1", "hi", json!({ "tag": "ACCOUNT_UPDATE" })),
            "intent.tag",
        ),
        (
            json!({ "recipient": { "psid": "u1" }, "message": { "text": "hi" } }),
            "intent",
        ),
        (
            json!({ "recipient": { "psid": "u1", "page": ["999"] }, "message": { "text": "hi" },
                    "intent": "update" }),
            "recipient.page",
        ),
        (
            json!({ "recipient": { "psid": "u1" }, "message": { "fluent": "no-such-message" },
                    "intent": "update" }),
            "message.fluent",
        ),
        (
            json!({ "recipient": { "psid": "u1" }, "intent": "update",
                    "message": { "text": "pick", "quick_replies": [
                        { "content_type": "text", "title": "a title longer than twenty",
                          "payload": "P" }] } }),
            "message.quick_replies[0].title",
        ),
    ] {
        let response = queue(&app, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["field"], field, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
    let response = app
        .post_api(
            "/api/messages",
            Some(TEST_API_TOKEN),
            &[],
            &json!("not an object"),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(app.store.run(rows::all).await.unwrap().is_empty());
});

db_test!(an_idempotency_key_queues_a_retry_once, |db| {
    let app = TestApp::spawn(db).await;
    user_writes(&app, "u1", T0).await;
    app.clock().set_ms(T0 + HOUR);
    let body = text_to("u1", "only once", json!("update"));
    let key = [("Idempotency-Key", "order-1001-shipped")];
    let mut ids = Vec::new();
    for _ in 0..3 {
        let response = app
            .post_api("/api/messages", Some(TEST_API_TOKEN), &key, &body)
            .await;
        assert_eq!(response.status(), 202);
        let answer: Value = response.json().await.unwrap();
        ids.push(answer["id"].as_i64().unwrap());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(settled(&app, ids[0]).await["state"], "sent");
    assert_eq!(app.store.run(rows::all).await.unwrap().len(), 1);
    assert_eq!(sends_of(&app, "only once").len(), 1);
});

db_test!(a_fluent_message_speaks_the_users_language, |db| {
    let app = TestApp::spawn(db).await;
    // The demo's language picker: the user chooses 中文 (stored as their locale on the Page).
    let picked = Webhook::quick_reply("u1", "中文", "LOCALE:zh-TW").at(T0);
    assert_eq!(app.post(&picked).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    app.clock().set_ms(T0 + HOUR);
    let body = json!({ "recipient": { "psid": "u1" },
                       "message": { "fluent": "hello", "args": { "name": "Mei" } },
                       "intent": "update" });
    let id = queued(&app, body).await;
    assert_eq!(settled(&app, id).await["state"], "sent");
    let expected = "Mei，你好！很高興認識你。";
    assert_eq!(sends_of(&app, expected).len(), 1, "{:?}", app.graph.sent());
});

db_test!(
    facebook_refusing_a_message_is_recorded_with_its_error,
    |db| {
        let app = TestApp::spawn(db).await;
        user_writes(&app, "u1", T0).await;
        app.clock().set_ms(T0 + HOUR);
        app.graph.fail_next_sends([
            FakeError::graph(100, Some(2_018_001)).with_message("No matching user found")
        ]);
        let id = queued(&app, text_to("u1", "refused by Facebook", json!("update"))).await;
        let view = settled(&app, id).await;
        assert_eq!(view["state"], "failed", "{view}");
        assert_eq!(view["error"]["code"], 100);
        assert!(
            view["error"]["message"]
                .as_str()
                .unwrap()
                .contains("No matching user found"),
            "{view}"
        );
        assert!(view.get("message_id").is_none());
        // A passing error is retried, and the message goes out once.
        app.graph.fail_next_sends([FakeError::graph(2, None)]);
        let id = queued(&app, text_to("u1", "after a hiccup", json!("update"))).await;
        let view = settled(&app, id).await;
        assert_eq!(view["state"], "sent", "{view}");
        assert_eq!(view["attempts"], 2);
        assert_eq!(sends_of(&app, "after a hiccup").len(), 1);
    }
);

/// A handler that hands the conversation to a human: it queues the agent's first words,
/// tagged HUMAN_AGENT, through the outbox; its first try then fails (the database, say), so
/// that the event is tried again and queues the same draft a second time.
#[derive(Default)]
struct CallAgent {
    failed_once: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Handler for CallAgent {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.text() == Some("agent")
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let psid = cx.psid().unwrap_or_default().to_owned();
        let page = cx.event.page_id.clone().unwrap_or_default();
        let content = Content::text("An agent will answer you here").expect("a short text");
        let draft = Draft::new(psid, content)
            .page(page)
            .intent(Intent::Tag(Tag::HumanAgent));
        cx.outbox().send(draft).await?;
        if !self
            .failed_once
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(HandlerError::Store(
                pagebot::store::StoreError::Unavailable(
                    "injected after the draft was queued".into(),
                ),
            ));
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

db_test!(a_handler_queues_through_its_context, |db| {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("routing.yaml");
    std::fs::write(
        &policy,
        "routes:\n  SIMPLE_TEXT:\n    - handler: call_agent\n",
    )
    .unwrap();
    let registry = Registry::builtin().handler("call_agent", |_: NoArgs| Ok(CallAgent::default()));
    let bot = TestBot::new(policy, TestBot::demo().locales, registry);
    let app = TestApp::spawn_bot(db, bot).await.unwrap();
    app.clock().set_ms(T0 + 2 * HOUR);
    let response = app.post(&Webhook::text("u1", "agent").at(T0)).await;
    assert_eq!(response.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    let event = app.inbox().await.remove(0);
    assert_eq!((event.status.as_str(), event.attempts), ("done", 2));
    let sent = app.graph.wait_for_sent(1, PATIENCE).await;
    assert_eq!(sent[0]["message"]["text"], "An agent will answer you here");
    assert_eq!(sent[0]["tag"], "HUMAN_AGENT");
    // Tried twice, queued once.
    let stored = app.store.run(rows::all).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].page_id, TEST_PAGE_ID);
    assert_eq!(settled(&app, stored[0].id).await["state"], "sent");
    assert_eq!(app.graph.sent().len(), 1);
});

db_test!(the_apps_own_code_queues_through_its_outbox, |db| {
    let app = TestApp::spawn(db).await;
    user_writes(&app, "u1", T0).await;
    app.clock().set_ms(T0 + HOUR);
    let queued = app
        .outbox()
        .send(Draft::new("u1", Content::text("from Rust").unwrap()))
        .await
        .unwrap();
    assert_eq!(queued.state, "queued");
    // No Page named: the catch-all Page, with the Page id the user's events carry.
    assert_eq!(settled(&app, queued.id).await["page"], TEST_PAGE_ID);
    assert_eq!(sends_of(&app, "from Rust").len(), 1);
});

const SHOP: &str = "111";
const NEWS: &str = "222";
const SHOP_TOKEN: &str = "token-of-the-shop";
const NEWS_TOKEN: &str = "token-of-the-news";

fn page(id: &str, name: &str, token: &str) -> PageSettings {
    let demo = TestBot::demo();
    PageSettings {
        id: Some(id.to_owned()),
        name: name.to_owned(),
        token: Some(SecretString::from(token)),
        policy: demo.policy,
        locales: demo.locales,
        default_locale: "en-US".to_owned(),
        thread_settings: None,
    }
}

db_test!(each_page_sends_with_its_own_token, |db| {
    let pages = vec![
        page(SHOP, "Shop", SHOP_TOKEN),
        page(NEWS, "News", NEWS_TOKEN),
    ];
    let configure = |settings: &mut Settings| settings.pages = pages;
    let app = TestApp::spawn_with(db, TestBot::demo(), configure)
        .await
        .unwrap();
    app.graph.add_page_token(SHOP_TOKEN);
    app.graph.add_page_token(NEWS_TOKEN);
    let both = Webhook::text("u1", "hi")
        .page(SHOP)
        .at(T0)
        .and(Webhook::text("u1", "hi").page(NEWS).at(T0 - 48 * HOUR));
    assert_eq!(app.post(&both).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    app.clock().set_ms(T0 + HOUR);
    let to = |page: &str, text: &str| {
        json!({ "recipient": { "page": page, "psid": "u1" }, "message": { "text": text },
                "intent": "update" })
    };
    let shop = queued(&app, to(SHOP, "from the shop")).await;
    // The same PSID on the news Page is another person, who last wrote 49 hours ago.
    let news = queued(&app, to(NEWS, "from the news")).await;
    assert_eq!(settled(&app, shop).await["state"], "sent");
    assert_eq!(settled(&app, news).await["state"], "refused");
    let shop_sends: Vec<Value> = app
        .graph
        .sent_with_token(SHOP_TOKEN)
        .into_iter()
        .filter(|b| b["message"]["text"] == "from the shop")
        .collect();
    assert_eq!(shop_sends.len(), 1);
    assert!(
        app.graph
            .sent_with_token(NEWS_TOKEN)
            .iter()
            .all(|b| b["message"]["text"] != "from the news")
    );
    // A Page not served, and a message naming no Page, are refused.
    let response = queue(&app, to("999", "nobody's")).await;
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["field"], "recipient.page");
    let response = queue(&app, text_to("u1", "which Page?", json!("update"))).await;
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["field"], "recipient.page");
});

db_test!(
    a_message_whose_worker_died_is_sent_once_after_its_lease,
    |db| {
        let app = TestApp::spawn(db).await;
        user_writes(&app, "u1", T0).await;
        app.clock().set_ms(T0 + HOUR);
        // What a worker that claimed the message and then died (kill -9) leaves behind: attempts
        // counted, and `due_at` a lease ahead.
        let now = pagebot::store::now_ms();
        let row = rows::NewOutboxMessage {
            page_id: TEST_PAGE_ID.to_owned(),
            psid: "u1".to_owned(),
            intent: "update".to_owned(),
            tag: None,
            topic: None,
            message: json!({ "text": "survived a crash" }).to_string(),
            state: rows::QUEUED.to_owned(),
            idempotency_key: None,
            attempts: 1,
            due_at: now + 1_500,
            created_at: now,
        };
        let id = app
            .store
            .run(move |conn| rows::queue(conn, &row))
            .await
            .unwrap()
            .id;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(
            sends_of(&app, "survived a crash").is_empty(),
            "sent while held"
        );
        let view = settled(&app, id).await;
        assert_eq!(view["state"], "sent", "{view}");
        assert_eq!(view["attempts"], 2);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sends_of(&app, "survived a crash").len(), 1);
    }
);

db_test!(
    a_rate_limit_pauses_the_page_and_the_message_goes_out_once_after,
    |db| {
        let app = TestApp::spawn(db).await;
        user_writes(&app, "u1", T0).await;
        app.clock().set_ms(T0 + HOUR);
        let before = app.graph.send_attempts();
        app.graph.fail_next_sends([FakeError::graph(613, None)]);
        let started = std::time::Instant::now();
        let id = queued(&app, text_to("u1", "after the pause", json!("update"))).await;
        let view = settled(&app, id).await;
        assert_eq!(view["state"], "sent", "{view}");
        // The test kit's Page pauses 300 ms; the throttled attempt was not counted.
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(view["attempts"], 1);
        assert_eq!(sends_of(&app, "after the pause").len(), 1);
        assert_eq!(
            app.graph.send_attempts(),
            before + 2,
            "the 613, then the send"
        );
    }
);
