//! Broadcasts over HTTP on both databases: many users seeded straight into the database, a
//! rate limit from Facebook half-way (every user gets the message once, none twice), a filter
//! by locale, cancel, and the API's 401 and 400s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use pagebot::store::DbConn;
use pagebot::testing::{FakeError, TEST_API_TOKEN, TEST_PAGE_ID};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;

/// When the seeded users last wrote (the clock is pinned an hour later).
const T0: i64 = 1_780_000_000_000;
const HOUR: i64 = 3600 * 1000;

/// Seeds `n` users `p00001`.. of the test Page in one statement per table, each with a text
/// event at `T0` (what opens the 24-hour window); odd ones speak French, even ones English.
fn seed_users(app: &TestApp, n: usize) {
    seed_users_at(&mut app.store.get().unwrap(), n, T0);
}

/// [`seed_users`] on `conn`, their text event at `at` (epoch ms).
pub(crate) fn seed_users_at(conn: &mut DbConn, n: usize, at: i64) {
    let page = TEST_PAGE_ID;
    let (series, psid, dedupe) = match conn {
        DbConn::Postgres(_) => (
            format!("(SELECT g FROM generate_series(1, {n}) AS g) AS s"),
            "'p' || lpad(g::text, 5, '0')".to_owned(),
            "'seed:' || g".to_owned(),
        ),
        DbConn::Sqlite(_) => (
            format!(
                "(WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < {n}) \
                 SELECT g FROM c) AS s"
            ),
            "printf('p%05d', g)".to_owned(),
            "'seed:' || g".to_owned(),
        ),
    };
    diesel::sql_query(format!(
        "INSERT INTO users (psid, page_id, locale, thumbups, created_at, updated_at) \
         SELECT {psid}, '{page}', CASE WHEN g % 2 = 1 THEN 'fr_FR' ELSE 'en_US' END, 0, {at}, \
         {at} FROM {series}"
    ))
    .execute(conn)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO inbox_events (dedupe_key, page_id, psid, event_time, standby, kind, raw, \
         status, attempts, available_at, received_at) SELECT {dedupe}, '{page}', {psid}, {at}, \
         0, 'SIMPLE_TEXT', '{{}}', 'done', 1, {at}, {at} FROM {series}"
    ))
    .execute(conn)
    .unwrap();
}

async fn create(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_api("/api/broadcasts", Some(TEST_API_TOKEN), &[], &body)
        .await
}

async fn created(app: &TestApp, body: Value) -> i64 {
    let response = create(app, body).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    answer["id"].as_i64().unwrap()
}

async fn status(app: &TestApp, id: i64) -> Value {
    let response = app
        .get_api(&format!("/api/broadcasts/{id}"), Some(TEST_API_TOKEN))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits (up to `patience`) until broadcast `id` is done; returns its view.
async fn finished(app: &TestApp, id: i64, patience: Duration) -> Value {
    let deadline = Instant::now() + patience;
    loop {
        let view = status(app, id).await;
        if view["state"] == "done" {
            return view;
        }
        assert!(Instant::now() < deadline, "broadcast {id} not done: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many messages carrying `text` each PSID got from the fake Graph.
fn per_psid(app: &TestApp, text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for body in app.graph.sent() {
        if body.pointer("/message/text").and_then(Value::as_str) == Some(text) {
            let psid = body["recipient"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            *counts.entry(psid).or_insert(0) += 1;
        }
    }
    counts
}

/// The size of the big broadcast: 2,000 users by default (10,000 take longer than a minute
/// in a debug build on a busy 2-core machine); PAGEBOT_BROADCAST_USERS=10000 for the full one.
fn users() -> usize {
    std::env::var("PAGEBOT_BROADCAST_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

db_test!(
    a_large_broadcast_survives_a_rate_limit_and_sends_once_each,
    |db| {
        let app = TestApp::spawn(db).await;
        let users = users();
        seed_users(&app, users);
        app.clock().set_ms(T0 + HOUR);
        // Facebook rate-limits the Page half-way.
        app.graph.script_sends(
            (0..users / 2)
                .map(|_| None)
                .chain([Some(FakeError::graph(613, None))]),
        );
        let started = Instant::now();
        let id = created(
            &app,
            json!({
                "page": TEST_PAGE_ID,
                "message": { "text": "the sale starts now" },
                "intent": "update",
                "filter": {},
                "rate_per_sec": 1000,
            }),
        )
        .await;
        let view = finished(&app, id, Duration::from_secs(120)).await;
        let took = started.elapsed();
        let failed: Vec<_> = pagebot::store::outbox::all(&mut app.store.get().unwrap())
            .unwrap()
            .into_iter()
            .filter(|row| row.state != "sent")
            .map(|row| (row.psid, row.error, row.attempts))
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(view["total"], users, "{view}");
        assert_eq!(view["counts"]["sent"], users, "{view}");
        assert_eq!(view["counts"]["queued"], 0);
        assert_eq!(view["counts"]["refused"], 0);
        assert_eq!(view["counts"]["failed"], 0);
        let got = per_psid(&app, "the sale starts now");
        assert_eq!(got.len(), users, "every user got it");
        assert!(got.values().all(|&n| n == 1), "nobody got it twice");
        // At 1,000 a second (after a first second's worth at once), the rate holds.
        let floor =
            Duration::from_millis(u64::try_from(users.saturating_sub(1000)).unwrap() * 9 / 10);
        assert!(took >= floor, "too fast for the rate: {took:?}");
        assert!(took < Duration::from_secs(60), "took {took:?}");
        eprintln!("{users} users broadcast in {took:?}");
    }
);

db_test!(a_filter_by_locale_reaches_only_those_users, |db| {
    let app = TestApp::spawn(db).await;
    seed_users(&app, 40);
    app.clock().set_ms(T0 + HOUR);
    let id = created(
        &app,
        json!({
            "page": TEST_PAGE_ID,
            "message": { "text": "bonjour" },
            "intent": "update",
            "filter": { "locale": "fr", "last_seen_within_days": 2 },
            "rate_per_sec": 200,
        }),
    )
    .await;
    let view = finished(&app, id, PATIENCE).await;
    assert_eq!(view["counts"]["sent"], 20, "{view}");
    assert_eq!(view["filter"]["locale"], "fr");
    let got = per_psid(&app, "bonjour");
    assert_eq!(got.len(), 20);
    // The odd ones speak French.
    assert!(got.contains_key("p00001") && !got.contains_key("p00002"));

    // Nobody was seen within a day of ten days later: nothing to send, done at once.
    app.clock().set_ms(T0 + 10 * 24 * HOUR);
    let id = created(
        &app,
        json!({
            "page": TEST_PAGE_ID,
            "message": { "text": "anyone?" },
            "intent": "update",
            "filter": { "last_seen_within_days": 1 },
        }),
    )
    .await;
    let view = finished(&app, id, PATIENCE).await;
    assert_eq!(view["total"], 0, "{view}");
    assert!(per_psid(&app, "anyone?").is_empty());
});

db_test!(a_list_broadcast_refuses_those_outside_the_window, |db| {
    let app = TestApp::spawn(db).await;
    seed_users(&app, 3);
    app.clock().set_ms(T0 + HOUR);
    let id = created(
        &app,
        json!({
            "page": TEST_PAGE_ID,
            "message": { "text": "your order" },
            "intent": "update",
            "recipients": ["p00001", "p00002", "stranger", "p00001"],
        }),
    )
    .await;
    let view = finished(&app, id, PATIENCE).await;
    assert_eq!(view["total"], 3, "the duplicate counted once: {view}");
    assert_eq!(view["counts"]["sent"], 2);
    assert_eq!(view["counts"]["refused"], 1, "the stranger never wrote");
    assert_eq!(per_psid(&app, "your order").len(), 2);
});

db_test!(cancel_refuses_what_is_not_sent_yet, |db| {
    let app = TestApp::spawn(db).await;
    seed_users(&app, 200);
    app.clock().set_ms(T0 + HOUR);
    let id = created(
        &app,
        json!({
            "page": TEST_PAGE_ID,
            "message": { "text": "slowly" },
            "intent": "update",
            "filter": {},
            "rate_per_sec": 20,
        }),
    )
    .await;
    // Wait for a few to go out at 20 a second, then cancel.
    app.graph.wait_for_sent(5, PATIENCE).await;
    let response = app
        .post_api(
            &format!("/api/broadcasts/{id}/cancel"),
            Some(TEST_API_TOKEN),
            &[],
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["state"], "cancelled", "{view}");
    // What was in flight settles; nothing more is released.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let view = status(&app, id).await;
    let sent = view["counts"]["sent"].as_i64().unwrap();
    let refused = view["counts"]["refused"].as_i64().unwrap();
    assert_eq!(view["counts"]["queued"], 0, "{view}");
    assert!((5..200).contains(&sent), "{view}");
    assert_eq!(sent + refused, view["total"].as_i64().unwrap(), "{view}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = per_psid(&app, "slowly");
    assert_eq!(
        got.len() as i64,
        sent,
        "sent stays sent, nothing after the cancel"
    );
    assert_eq!(status(&app, id).await["state"], "cancelled");
    // Cancelling again changes nothing.
    let again = app
        .post_api(
            &format!("/api/broadcasts/{id}/cancel"),
            Some(TEST_API_TOKEN),
            &[],
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 200);
});

db_test!(a_bad_token_is_401_and_nothing_is_queued, |db| {
    let app = TestApp::spawn(db).await;
    seed_users(&app, 5);
    let body = json!({
        "page": TEST_PAGE_ID,
        "message": { "text": "x" },
        "intent": "update",
        "filter": {},
    });
    for token in [None, Some("wrong"), Some("")] {
        let response = app.post_api("/api/broadcasts", token, &[], &body).await;
        assert_eq!(response.status(), 401);
    }
    let response = app.get_api("/api/broadcasts/1", Some("wrong")).await;
    assert_eq!(response.status(), 401);
    let mut conn = app.store.get().unwrap();
    assert!(
        pagebot::store::broadcasts::find(&mut conn, 1)
            .unwrap()
            .is_none()
    );
    assert!(pagebot::store::outbox::all(&mut conn).unwrap().is_empty());
});

db_test!(a_bad_body_is_400_naming_the_field, |db| {
    let app = TestApp::spawn(db).await;
    let ok = json!({
        "page": TEST_PAGE_ID,
        "message": { "text": "x" },
        "intent": "update",
        "filter": {},
    });
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases = [
        (without("message"), "message"),
        (without("intent"), "intent"),
        (without("filter"), "recipients"),
        (with("recipients", json!(["a"])), "recipients"),
        (with("filter", json!({ "locale": "" })), "filter.locale"),
        (with("filter", json!({ "colour": "red" })), "filter.colour"),
        (
            with("filter", json!({ "last_seen_within_days": 0 })),
            "filter.last_seen_within_days",
        ),
        (with("rate_per_sec", json!(0)), "rate_per_sec"),
        (with("rate_per_sec", json!(1_000_000)), "rate_per_sec"),
        (with("intent", json!("shout")), "intent"),
        (with("message", json!({ "text": "" })), "message.text"),
        (with("surprise", json!(1)), "surprise"),
    ];
    for (body, field) in cases {
        let response = create(&app, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    let mut bad_list = ok.clone();
    bad_list.as_object_mut().unwrap().remove("filter");
    bad_list["recipients"] = json!(["p1", 7]);
    let answer: Value = create(&app, bad_list).await.json().await.unwrap();
    assert_eq!(answer["field"], "recipients[1]");
    let response = app
        .get_api("/api/broadcasts/999", Some(TEST_API_TOKEN))
        .await;
    assert_eq!(response.status(), 404);
    let mut conn = app.store.get().unwrap();
    assert!(
        pagebot::store::broadcasts::active(&mut conn)
            .unwrap()
            .is_empty()
    );
});

db_test!(
    the_cli_creates_shows_and_cancels_a_broadcast_and_sends_one_message,
    |db| {
        let app = TestApp::spawn(db).await;
        seed_users(&app, 6);
        app.clock().set_ms(T0 + HOUR);
        let url = app.database_url().to_owned();
        let cli = |args: Vec<String>| {
            let url = url.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut full = vec!["pagebot".to_owned()];
                    full.extend(args);
                    full.extend(["--database-url".to_owned(), url]);
                    pagebot::cli::run_from(full, pagebot::Registry::builtin())
                })
                .await
                .unwrap()
            }
        };
        let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let code = cli(args(&format!(
        "broadcast create --page {TEST_PAGE_ID} --text from-the-cli --locale en --rate-per-sec 100"
    )))
    .await;
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        let view = finished(&app, 1, PATIENCE).await;
        assert_eq!(view["counts"]["sent"], 3, "the English half: {view}");
        assert_eq!(per_psid(&app, "from-the-cli").len(), 3);
        assert_eq!(
            cli(args("broadcast status 1 --watch")).await,
            std::process::ExitCode::SUCCESS
        );
        assert_eq!(
            cli(args("broadcast cancel 1")).await,
            std::process::ExitCode::SUCCESS,
            "done already: nothing to cancel, not an error"
        );
        assert_ne!(
            cli(args("broadcast status 99")).await,
            std::process::ExitCode::SUCCESS
        );
        let code = cli(args(&format!(
            "send --page {TEST_PAGE_ID} --psid p00002 --text one-to-one --tag HUMAN_AGENT"
        )))
        .await;
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        app.graph.wait_for_sent(4, PATIENCE).await;
        let deadline = Instant::now() + PATIENCE;
        while per_psid(&app, "one-to-one").is_empty() {
            assert!(Instant::now() < deadline, "the CLI's message was not sent");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(app.graph.sent_to("p00002").len(), 1 + 1);
        assert_ne!(
            cli(args(&format!(
                "send --page {TEST_PAGE_ID} --psid p00002 --text x --tag NOT_A_TAG"
            )))
            .await,
            std::process::ExitCode::SUCCESS
        );
    }
);
