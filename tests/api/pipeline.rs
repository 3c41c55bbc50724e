//! From the inbox to the fake Graph API: replies, deduplication, retries, restarts.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use crate::db_test;
use crate::helpers::*;
use pagebot::store::{NewInboxEvent, Store, deliveries, inbox, users};
use pagebot::testing::FakeError;

db_test!(
    a_signed_hi_gets_the_greeting_with_the_users_first_name,
    |db| {
        let app = TestApp::spawn(db).await;
        app.graph
            .set_profile("u_ann", json!({"first_name": "Ann", "last_name": "Lee"}));
        let response = app
            .post_webhook(&text_message(
                "u_ann",
                "m_hi_1",
                "Hi there",
                1_700_000_000_000,
            ))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "EVENT_RECEIVED");

        let sent = app.graph.wait_for_sent(2, PATIENCE).await;
        assert_eq!(
            sent,
            vec![
                json!({"recipient": {"id": "u_ann"}, "sender_action": "typing_on"}),
                json!({
                    "recipient": {"id": "u_ann"},
                    "messaging_type": "RESPONSE",
                    "message": {"text": "Hello Ann! Nice to meet you."}
                }),
            ]
        );
        app.wait_until_processed(PATIENCE).await;
        let inbox = app.inbox().await;
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].status, "done");
        assert_eq!(inbox[0].kind.as_deref(), Some("SIMPLE_TEXT"));
        assert_eq!(inbox[0].psid.as_deref(), Some("u_ann"));

        // The user and the profile were stored, the deliveries recorded.
        let user = app
            .store
            .run(|c| users::find(c, PAGE_ID, "u_ann"))
            .await
            .unwrap()
            .expect("user stored");
        assert_eq!(user.first_name.as_deref(), Some("Ann"));
        assert_eq!(user.last_name.as_deref(), Some("Lee"));
        assert_eq!(user.page_id, PAGE_ID);
        let id = inbox[0].id;
        let recorded = app
            .store
            .run(move |c| deliveries::for_event(c, id))
            .await
            .unwrap();
        assert_eq!(recorded.len(), 2);
        assert!(recorded.iter().all(|d| d.status == "sent"));
        assert!(
            recorded[1]
                .message_id
                .as_deref()
                .unwrap()
                .starts_with("m_fake_")
        );

        // A second message does not fetch the profile again.
        app.post_webhook(&text_message("u_ann", "m_hi_2", "hello", 1_700_000_000_100))
            .await;
        app.graph.wait_for_sent(4, PATIENCE).await;
        assert_eq!(app.graph.profile_calls(), 1);
    }
);

db_test!(other_text_gets_the_fallback_reply, |db| {
    let app = TestApp::spawn(db).await;
    app.post_webhook(&text_message("u_bob", "m_what", "what is this?", 1))
        .await;
    let sent = app.graph.wait_for_sent(1, PATIENCE).await;
    assert_eq!(
        app.graph.texts_to("u_bob"),
        vec!["Sorry, I did not get that. Say \"hi\" to start.".to_owned()]
    );
    assert_eq!(sent.len(), 1);
});

db_test!(the_same_delivery_twice_replies_once, |db| {
    let app = TestApp::spawn(db).await;
    let body = text_message("u_dup", "m_dup", "hi", 1_700_000_000_000);
    assert_eq!(app.post_webhook(&body).await.status(), 200);
    assert_eq!(app.post_webhook(&body).await.status(), 200);
    // The same event inside another delivery (a batch) is still a duplicate.
    let batch = envelope(vec![
        json!({"sender": {"id": "u_dup"}, "recipient": {"id": PAGE_ID}, "timestamp": 1_700_000_000_000i64,
               "message": {"mid": "m_dup", "text": "hi"}}),
    ]);
    assert_eq!(app.post_webhook(&batch).await.status(), 200);
    app.wait_until_processed(PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.inbox().await.len(), 1);
    assert_eq!(app.graph.texts_to("u_dup").len(), 1);
});

db_test!(
    a_batch_is_stored_in_one_go_and_each_user_answered_in_order,
    |db| {
        let app = TestApp::spawn(db).await;
        let response = app.post_webhook(&fixture("webhooks/batched.json")).await;
        assert_eq!(response.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        let inbox = app.inbox().await;
        let kinds: Vec<_> = inbox.iter().map(|e| e.kind.clone().unwrap()).collect();
        assert_eq!(kinds, ["SIMPLE_TEXT", "SIMPLE_TEXT", "READ", "SIMPLE_TEXT"]);
        // "one", "two", "three" from the same user, each answered (fallback) in turn; the
        // deliveries follow the events' order.
        assert_eq!(app.graph.texts_to("7000000000000002").len(), 3);
        let id_of = |text: &str| {
            inbox
                .iter()
                .find(|e| e.raw.contains(&format!("\"text\":\"{text}\"")))
                .map(|e| e.id)
                .unwrap()
        };
        let order = [id_of("one"), id_of("two"), id_of("three")];
        let deliveries = app.store.run(deliveries::all).await.unwrap();
        let delivered_for: Vec<i64> = deliveries
            .iter()
            .filter(|d| d.psid.as_deref() == Some("7000000000000002"))
            .map(|d| d.event_id)
            .collect();
        assert_eq!(delivered_for, order);
        // The reader got nothing: the demo stores read receipts and never answers them.
        assert!(app.graph.sent_to("7000000000000003").is_empty());
    }
);

db_test!(a_retryable_graph_error_is_retried_and_delivers_once, |db| {
    let app = TestApp::spawn(db).await;
    app.graph.fail_next_sends([FakeError::graph(1200, None)]);
    app.post_webhook(&text_message("u_retry", "m_retry", "what?", 1))
        .await;
    let sent = app.graph.wait_for_sent(1, PATIENCE).await;
    assert_eq!(sent.len(), 1);
    app.wait_until_processed(PATIENCE).await;
    let event = &app.inbox().await[0];
    assert_eq!(event.status, "done");
    assert_eq!(event.attempts, 2);
    assert!(event.last_error.as_deref().unwrap().contains("1200"));
    assert_eq!(app.graph.texts_to("u_retry").len(), 1);
});

db_test!(
    an_event_retried_after_a_partial_failure_does_not_resend,
    |db| {
        let app = TestApp::spawn(db).await;
        app.graph
            .set_profile("u_part", json!({"first_name": "Pat"}));
        // typing_on goes through, the greeting fails once with a temporary error.
        app.graph
            .script_sends([None, Some(FakeError::graph(2, None))]);
        app.post_webhook(&text_message("u_part", "m_part", "hi", 1))
            .await;
        app.wait_until_processed(PATIENCE).await;
        let sent = app.graph.sent_to("u_part");
        // typing_on was accepted once and not sent again when the event was retried.
        assert_eq!(sent.len(), 2, "{sent:#?}");
        assert_eq!(app.graph.send_attempts(), 3);
        assert_eq!(app.inbox().await[0].attempts, 2);
        assert_eq!(
            app.graph.texts_to("u_part"),
            ["Hello Pat! Nice to meet you."]
        );
    }
);

db_test!(a_permanent_graph_error_is_recorded_and_not_retried, |db| {
    let app = TestApp::spawn(db).await;
    app.graph.fail_next_sends([FakeError::graph(551, None)]);
    app.post_webhook(&text_message("u_gone", "m_gone", "what?", 1))
        .await;
    app.wait_until_processed(PATIENCE).await;
    let event = &app.inbox().await[0];
    assert_eq!(event.status, "failed");
    assert_eq!(event.attempts, 1);
    assert!(event.last_error.as_deref().unwrap().contains("551"));
    let id = event.id;
    let recorded = app
        .store
        .run(move |c| deliveries::for_event(c, id))
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, "failed");
    assert_eq!(recorded[0].error_code, Some(551));
    assert!(recorded[0].fbtrace_id.is_some());
    assert!(app.graph.sent().is_empty());
});

db_test!(
    a_profile_that_cannot_be_fetched_does_not_fail_the_chain,
    |db| {
        let app = TestApp::spawn(db).await;
        app.graph
            .set_profile_error("u_private", FakeError::graph(100, Some(2018001)));
        app.post_webhook(&text_message("u_private", "m_private", "hi", 1))
            .await;
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.inbox().await[0].status, "done");
        assert_eq!(
            app.graph.texts_to("u_private"),
            ["Hello! Nice to meet you."]
        );
        let user = app
            .store
            .run(|c| users::find(c, PAGE_ID, "u_private"))
            .await
            .unwrap()
            .unwrap();
        assert!(user.first_name.is_none() && user.profile_fetched_at.is_some());
    }
);

db_test!(
    events_stored_before_a_restart_are_processed_after_it,
    |db| {
        // Stored as an acknowledged webhook would have left them, with no server running.
        {
            let url = db.url().to_owned();
            let store = tokio::task::spawn_blocking(move || Store::connect(&url, 1))
                .await
                .unwrap()
                .unwrap();
            let items = pagebot::event::parse_envelope(&text_message("u_restart", "m_r1", "hi", 5))
                .unwrap()
                .items;
            let rows: Vec<NewInboxEvent> = items
                .into_iter()
                .map(|item| NewInboxEvent {
                    dedupe_key: item.dedupe_key,
                    page_id: item.page_id,
                    psid: item.sender,
                    event_time: item.timestamp.unwrap(),
                    standby: 0,
                    kind: None,
                    raw: item.raw.to_string(),
                    status: "pending".into(),
                    attempts: 1,
                    last_error: None,
                    available_at: 0,
                    // Claimed by a worker that died: its lease ran out long ago.
                    locked_until: Some(1),
                    received_at: 0,
                    finished_at: None,
                    raw_bytes: None,
                })
                .collect();
            let inserted = store
                .run(move |c| inbox::insert_batch(c, &rows))
                .await
                .unwrap();
            assert_eq!(inserted.len(), 1);
        }
        let app = TestApp::spawn(db).await;
        app.graph.wait_for_sent(2, PATIENCE).await;
        app.wait_until_processed(PATIENCE).await;
        let inbox = app.inbox().await;
        assert_eq!(inbox[0].status, "done");
        assert_eq!(inbox[0].attempts, 2);
    }
);

db_test!(
    temporary_then_rate_limit_then_success_delivers_one_message,
    |db| {
        let app = TestApp::spawn(db).await;
        app.graph
            .fail_next_sends([FakeError::graph(1200, None), FakeError::graph(613, None)]);
        app.post_webhook(&text_message("u_rl", "m_rl", "what?", 1))
            .await;
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.graph.texts_to("u_rl").len(), 1);
        assert_eq!(app.graph.send_attempts(), 3);
        let event = &app.inbox().await[0];
        assert_eq!(event.status, "done");
        // The rate-limited attempt did not count against the event.
        assert_eq!(event.attempts, 2);
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("pagebot_graph_errors_total{page=\"default\",code=\"613\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("pagebot_graph_errors_total{page=\"default\",code=\"1200\"} 1"),
            "{metrics}"
        );
    }
);

db_test!(
    a_bare_429_pauses_the_page_and_the_reply_goes_once_after_it,
    |db| {
        let app = TestApp::spawn(db).await;
        // An edge's or a proxy's 429, without a Graph error: more of them than the 3 attempts
        // the test app allows. Without Retry-After the Page pauses for the configured 300 ms;
        // with one, for what it asks.
        app.graph.fail_next_sends([
            FakeError::http(429, "Too Many Requests"),
            FakeError::http(429, "").with_retry_after("1"),
            FakeError::http(429, "<html>slow down</html>"),
        ]);
        app.post_webhook(&text_message("u_429", "m_429", "what?", 1))
            .await;
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.graph.texts_to("u_429").len(), 1);
        assert_eq!(app.graph.send_attempts(), 4);
        let event = &app.inbox().await[0];
        assert_eq!(event.status, "done");
        // No throttled attempt counted against the event.
        assert_eq!(event.attempts, 1);
        assert!(
            event.last_error.as_deref().unwrap().contains("http 429"),
            "{:?}",
            event.last_error
        );
        let id = event.id;
        let recorded = app
            .store
            .run(move |c| deliveries::for_event(c, id))
            .await
            .unwrap();
        // One delivery, recorded as sent (the failed sends' records were overwritten by it).
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].status, "sent");
        // Each send after a 429 waited for the pause that 429 set.
        let arrivals = app.graph.send_arrivals();
        let gaps: Vec<Duration> = arrivals
            .windows(2)
            .map(|pair| pair[1].duration_since(pair[0]).unwrap())
            .collect();
        assert!(gaps[0] >= Duration::from_millis(300), "{gaps:?}");
        assert!(gaps[1] >= Duration::from_secs(1), "{gaps:?}");
        assert!(gaps[2] >= Duration::from_millis(300), "{gaps:?}");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("pagebot_graph_errors_total{page=\"default\",code=\"http_429\"} 3"),
            "{metrics}"
        );
    }
);

db_test!(a_bare_503_is_retried_with_backoff, |db| {
    let app = TestApp::spawn(db).await;
    app.graph.fail_next_sends([
        FakeError::http(503, "Service Unavailable"),
        FakeError::http(502, "<html>502 Bad Gateway</html>"),
    ]);
    app.post_webhook(&text_message("u_503", "m_503", "what?", 1))
        .await;
    app.wait_until_processed(PATIENCE).await;
    let event = &app.inbox().await[0];
    assert_eq!(event.status, "done");
    // Two passing errors: two attempts used, the third delivered.
    assert_eq!(event.attempts, 3);
    assert_eq!(app.graph.texts_to("u_503").len(), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for code in ["http_503", "http_502"] {
        assert!(
            metrics.contains(&format!(
                "pagebot_graph_errors_total{{page=\"default\",code=\"{code}\"}} 1"
            )),
            "{metrics}"
        );
    }
});

db_test!(
    an_event_failing_every_attempt_goes_dead_and_can_be_replayed,
    |db| {
        let app = TestApp::spawn(db).await;
        // The test app allows 3 attempts.
        app.graph.fail_next_sends([
            FakeError::graph(2, None),
            FakeError::graph(2, None),
            FakeError::graph(2, None),
        ]);
        app.post_webhook(&text_message("u_dead", "m_dead", "what?", 1))
            .await;
        app.wait_until_processed(PATIENCE).await;
        let event = app.inbox().await.remove(0);
        assert_eq!((event.status.as_str(), event.attempts), ("dead", 3));

        let cli = |args: &[&str]| {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_pagebot"))
                .args(args)
                .env("DATABASE_URL", app.database_url())
                .env("RUST_LOG", "off")
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            String::from_utf8(output.stdout).unwrap()
        };
        let stats = cli(&["inbox", "stats"]);
        assert!(stats.contains("dead       1"), "{stats}");
        let dead = cli(&["inbox", "dead"]);
        assert!(
            dead.starts_with(&format!("{}\tdead\tSIMPLE_TEXT\tattempts 3", event.id)),
            "{dead}"
        );
        assert!(dead.contains("send: graph error 2"), "{dead}");
        assert!(!dead.contains("u_dead"), "no PSIDs in the listing: {dead}");

        assert_eq!(cli(&["inbox", "replay", "--all"]), "1 event(s) requeued\n");
        app.wait_until_processed(PATIENCE).await;
        assert_eq!(app.inbox().await[0].status, "done");
        assert_eq!(app.graph.texts_to("u_dead").len(), 1);
        assert_eq!(
            cli(&["inbox", "replay", &event.id.to_string()]),
            "0 event(s) requeued\n"
        );

        // The event just done is younger than the purge's age: it stays.
        assert_eq!(
            cli(&["inbox", "purge"]),
            "0 done event(s) older than 7 day(s) deleted\n"
        );
        assert_eq!(app.inbox().await.len(), 1);
        // An age under a day would forget events Facebook may still redeliver.
        let refused = std::process::Command::new(env!("CARGO_BIN_EXE_pagebot"))
            .args(["inbox", "purge", "--older-than-days", "0"])
            .env("DATABASE_URL", app.database_url())
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("--older-than-days"));
    }
);

db_test!(
    a_retry_is_claimed_when_it_is_due_not_at_the_next_poll,
    |db| {
        // The production poll (500 ms) and a first retry of about 200 ms (±20 % jitter): a worker
        // that woke only to poll would send the retry some 260 to 340 ms after it was due.
        let app = TestApp::spawn_with(db, TestBot::demo(), |settings| {
            settings.poll_interval = Duration::from_millis(500);
            settings.retry_base = Duration::from_millis(200);
        })
        .await
        .unwrap();
        app.graph.fail_next_sends([FakeError::http(503, "")]);
        app.post_webhook(&text_message("u_due", "m_due", "what?", 1))
            .await;
        app.wait_until_processed(PATIENCE).await;
        let event = &app.inbox().await[0];
        assert_eq!((event.status.as_str(), event.attempts), ("done", 2));
        // The inbox keeps when the retry became due; the fake Graph, when each send arrived.
        let due = event.available_at;
        let arrivals: Vec<i64> = app
            .graph
            .send_arrivals()
            .iter()
            .map(|at| at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
            .collect();
        assert_eq!(arrivals.len(), 2);
        let delay = due - arrivals[0];
        assert!(
            delay >= 160,
            "the retry was due {delay} ms after the failure"
        );
        let late = arrivals[1] - due;
        assert!(
            (0..150).contains(&late),
            "the retry was sent {late} ms after it was due ({delay} ms after the failure)"
        );
    }
);
