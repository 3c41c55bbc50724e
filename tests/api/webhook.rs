//! The webhook: verification, signatures, storage, deduplication, malformed bodies.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::*;
use pagebot::testing::{TEST_APP_SECRET, TEST_VERIFY_TOKEN};

db_test!(
    verification_echoes_the_challenge_only_for_the_right_token,
    |db| {
        let app = TestApp::spawn(db).await;
        let ok = app
        .get(&format!(
            "/webhook?hub.mode=subscribe&hub.verify_token={TEST_VERIFY_TOKEN}&hub.challenge=1158201444"
        ))
        .await;
        assert_eq!(ok.status(), 200);
        assert!(
            ok.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(ok.text().await.unwrap(), "1158201444");

        // The challenge is opaque: not necessarily a number.
        let opaque = app
        .get(&format!(
            "/webhook?hub.mode=subscribe&hub.verify_token={TEST_VERIFY_TOKEN}&hub.challenge=abc-%C3%A4"
        ))
        .await;
        assert_eq!(opaque.text().await.unwrap(), "abc-ä");

        for query in [
            "/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            &format!(
                "/webhook?hub.mode=unsubscribe&hub.verify_token={TEST_VERIFY_TOKEN}&hub.challenge=1"
            ),
            &format!("/webhook?hub.verify_token={TEST_VERIFY_TOKEN}&hub.challenge=1"),
            "/webhook",
        ] {
            assert_eq!(app.get(query).await.status(), 403, "{query}");
        }
    }
);

db_test!(
    unsigned_or_wrongly_signed_posts_are_refused_and_store_nothing,
    |db| {
        let app = TestApp::spawn(db).await;
        let body = text_message("u1", "m_unsigned", "hi", 1_700_000_000_001);

        let unsigned = app.post_webhook_with(&body, &[]).await;
        assert_eq!(unsigned.status(), 401);

        let wrong = pagebot::webhook::signature::sign_sha256(b"not-the-secret", &body);
        let forged = app
            .post_webhook_with(&body, &[("X-Hub-Signature-256", &wrong)])
            .await;
        assert_eq!(forged.status(), 403);

        let garbage = app
            .post_webhook_with(&body, &[("X-Hub-Signature-256", "sha256=nothex")])
            .await;
        assert_eq!(garbage.status(), 403);

        // A valid signature of another body.
        let other = pagebot::webhook::signature::sign_sha256(TEST_APP_SECRET.as_bytes(), b"{}");
        let replayed = app
            .post_webhook_with(&body, &[("X-Hub-Signature-256", &other)])
            .await;
        assert_eq!(replayed.status(), 403);

        // sha1 is not accepted unless configured.
        let sha1 = app
            .post_webhook_with(
                &fixture("webhooks/text.json"),
                &[(
                    "X-Hub-Signature",
                    "sha1=5469d97abe5cbd5f8adbec69fd48e6620601b694",
                )],
            )
            .await;
        assert_eq!(sha1.status(), 401);

        assert!(app.inbox().await.is_empty());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(app.graph.sent().is_empty());
    }
);

db_test!(signature_vectors_from_facebook_are_accepted, |db| {
    let app = TestApp::spawn(db).await;
    let vectors: Value =
        serde_json::from_slice(&fixture("signatures.json")).expect("signatures.json");
    let cases = vectors["cases"].as_array().expect("cases");
    assert!(cases.len() >= 3);
    for case in cases {
        assert_eq!(case["app_secret"], TEST_APP_SECRET);
        let body = fixture(case["fixture"].as_str().unwrap());
        let header = case["x_hub_signature_256"].as_str().unwrap();
        let response = app
            .post_webhook_with(&body, &[("X-Hub-Signature-256", header)])
            .await;
        assert_eq!(response.status(), 200, "{}", case["fixture"]);
        // The same vector over a body changed by one byte must fail.
        let mut changed = body.clone();
        changed.push(b' ');
        let response = app
            .post_webhook_with(&changed, &[("X-Hub-Signature-256", header)])
            .await;
        assert_eq!(response.status(), 403, "{}", case["fixture"]);
    }
    // text.json, text_unicode.json and batched.json: 1 + 1 + 4 events.
    assert_eq!(app.inbox().await.len(), 6);
});

db_test!(every_fixture_is_accepted_and_stored_once_per_event, |db| {
    let app = TestApp::spawn(db).await;
    let index: Value = serde_json::from_slice(&fixture("webhooks/index.json")).expect("index.json");
    let expected = index["expected"].as_object().expect("expected");
    let mut keys = std::collections::BTreeSet::new();
    for (name, kinds) in expected {
        let body = fixture(&format!("webhooks/{name}.json"));
        let response = app.post_webhook(&body).await;
        assert_eq!(response.status(), 200, "{name}");
        for item in pagebot::event::parse_envelope(&body).unwrap().items {
            keys.insert(item.dedupe_key);
        }
        assert!(!kinds.as_array().unwrap().is_empty());
    }
    let inbox = app.inbox().await;
    // Fixtures that repeat an event (message_edit reuses text.json's mid only inside its
    // own key, say) are stored once per distinct event.
    assert_eq!(inbox.len(), keys.len());
    assert!(inbox.iter().all(|e| e.status != "malformed"));

    app.wait_until_processed(PATIENCE).await;
    let inbox = app.inbox().await;
    let failed: Vec<_> = inbox.iter().filter(|e| e.status != "done").collect();
    assert!(failed.is_empty(), "not done: {failed:#?}");
    // Every stored event was classified as index.json says.
    let mut stored_kinds: Vec<String> = inbox.iter().filter_map(|e| e.kind.clone()).collect();
    stored_kinds.sort();
    assert_eq!(stored_kinds.len(), inbox.len());
    assert!(stored_kinds.contains(&"PERSISTENT_MENU_ONE".to_owned()));
    assert!(stored_kinds.contains(&"GET_STARTED_BUTTON".to_owned()));
    assert!(stored_kinds.contains(&"UNKNOWN".to_owned()));
});

db_test!(
    a_signed_body_that_is_not_messenger_is_kept_as_malformed,
    |db| {
        let app = TestApp::spawn(db).await;
        for body in [
            &b"not json at all"[..],
            br#"{"object":"page","entry":"nope"}"#,
        ] {
            let response = app.post_webhook(body).await;
            assert_eq!(response.status(), 200);
            // Facebook retries: the same body is not stored twice.
            assert_eq!(app.post_webhook(body).await.status(), 200);
        }
        let inbox = app.inbox().await;
        assert_eq!(inbox.len(), 2);
        assert!(inbox.iter().all(|e| e.status == "malformed"));
        assert_eq!(inbox[0].raw, "not json at all");
        assert!(inbox[0].last_error.as_deref().unwrap().contains("not json"));
        assert!(inbox[1].last_error.as_deref().unwrap().contains("entry"));
    }
);

db_test!(other_objects_are_acknowledged_and_ignored, |db| {
    let app = TestApp::spawn(db).await;
    let body = json!({"object": "instagram", "entry": [{"id": "1", "time": 1, "messaging": [
        {"sender": {"id": "1"}, "recipient": {"id": "2"}, "timestamp": 1, "message": {"mid": "ig_1", "text": "hi"}}
    ]}]})
    .to_string();
    let response = app.post_webhook(body.as_bytes()).await;
    assert_eq!(response.status(), 200);
    assert!(app.inbox().await.is_empty());
});

db_test!(a_body_over_the_size_limit_is_refused, |db| {
    let app = TestApp::spawn(db).await;
    let text = "a".repeat(2 * 1024 * 1024);
    let body = text_message("u_big", "m_big", &text, 1);
    let response = app.post_webhook(&body).await;
    assert_eq!(response.status(), 413);
    assert!(app.inbox().await.is_empty());
});

db_test!(health_answers, |db| {
    let app = TestApp::spawn(db).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
});

db_test!(readiness_and_metrics_show_the_inbox, |db| {
    let app = TestApp::spawn(db).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let body = text_message("u_metrics", "m_metrics", "hi", 1);
    app.post_webhook(&body).await;
    app.post_webhook(&body).await;
    app.post_webhook(b"garbage").await;
    app.wait_until_processed(PATIENCE).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for line in [
        "pagebot_events_received_total{page=\"default\",kind=\"SIMPLE_TEXT\"} 1",
        "pagebot_events_deduplicated_total{page=\"default\",kind=\"SIMPLE_TEXT\"} 1",
        "pagebot_events_received_total{page=\"default\",kind=\"MALFORMED\"} 1",
        "pagebot_events_processed_total{page=\"default\",kind=\"SIMPLE_TEXT\"} 1",
        "pagebot_inbox_pending 0",
        "pagebot_handler_seconds_count{handler=\"simple_text\"} 1",
        "pagebot_graph_send_seconds_count 2",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // No user id, token or text in the metrics.
    assert!(!text.contains("u_metrics") && !text.contains("fake-page-token"));
});

/// `pagebot inbox ARGS` on `database_url`: its standard output.
fn inbox_command(database_url: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pagebot"))
        .arg("inbox")
        .args(args)
        .env("RUST_LOG", "off")
        .env("DATABASE_URL", database_url)
        .output()
        .expect("the pagebot binary runs");
    assert!(
        output.status.success(),
        "inbox {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

db_test!(
    bodies_and_ids_that_text_cannot_hold_are_stored_as_malformed,
    |db| {
        // Postgres text holds no U+0000, and UTF-8 only: each of these once failed the insert
        // there (503 on every redelivery). Each is acknowledged and kept, losslessly, once.
        let app = TestApp::spawn(db).await;
        let raw_nul: &[u8] = b"not json \x00 here";
        let not_utf8: &[u8] = b"\xff\xfe{\"object\":\"page\"}";
        let nul_mid = text_message("u_nul_mid", "m\u{0}x", "hi", 1_700_000_000_001);
        let nul_sender = text_message("1\u{0}2", "m_nul_sender", "hi", 1_700_000_000_002);
        assert!(String::from_utf8_lossy(&nul_mid).contains(r#""mid":"m\u0000x""#));
        assert!(String::from_utf8_lossy(&nul_sender).contains(r#""sender":{"id":"1\u00002"}"#));
        let bodies: [&[u8]; 4] = [raw_nul, not_utf8, &nul_mid, &nul_sender];
        for body in bodies {
            for delivery in ["first", "again"] {
                let response = app.post_webhook(body).await;
                assert_eq!(
                    response.status(),
                    200,
                    "{delivery} delivery of {:?}",
                    String::from_utf8_lossy(body)
                );
            }
        }

        let inbox = app.inbox().await;
        assert_eq!(inbox.len(), 4, "{inbox:#?}");
        assert!(inbox.iter().all(|e| e.status == "malformed"), "{inbox:#?}");
        assert!(
            inbox
                .iter()
                .all(|e| e.kind.is_none() && e.finished_at.is_some())
        );

        // Whole bodies: the exact bytes, and a readable copy in `raw`.
        for (event, body) in inbox[..2].iter().zip([raw_nul, not_utf8]) {
            assert_eq!(event.raw_body(), body);
            assert_eq!(event.raw_bytes.as_deref(), Some(body));
            assert!(!event.raw.contains('\0'));
            assert!(event.last_error.as_deref().unwrap().contains("not json"));
            assert!(event.dedupe_key.starts_with("body:sha256:"));
        }
        assert_eq!(inbox[0].raw, "not json \u{FFFD} here");
        assert!(inbox[1].raw.ends_with("{\"object\":\"page\"}"));

        // Items: their JSON whole (a NUL as the escape \u0000), ids that cannot be stored left
        // out, the key of a NUL mid hashed.
        for (event, body) in inbox[2..].iter().zip([&nul_mid, &nul_sender]) {
            let item = pagebot::event::parse_envelope(body)
                .unwrap()
                .items
                .remove(0);
            assert_eq!(event.raw_bytes, None);
            let stored: Value = serde_json::from_slice(event.raw_body()).unwrap();
            assert_eq!(stored, item.raw);
            assert_eq!(event.dedupe_key, item.dedupe_key);
            assert_eq!(event.page_id.as_deref(), Some(PAGE_ID));
            assert!(event.last_error.as_deref().unwrap().contains("U+0000"));
        }
        assert_eq!(inbox[2].raw_body(), br#"{"message":{"mid":"m\u0000x","text":"hi"},"recipient":{"id":"104857600000001"},"sender":{"id":"u_nul_mid"},"timestamp":1700000000001}"#);
        assert!(inbox[2].dedupe_key.starts_with("mid:sha256:"));
        assert_eq!(inbox[2].psid.as_deref(), Some("u_nul_mid"));
        assert!(
            inbox[2]
                .last_error
                .as_deref()
                .unwrap()
                .starts_with("message.mid holds")
        );
        assert_eq!(inbox[3].dedupe_key, "mid:m_nul_sender");
        assert_eq!(inbox[3].psid, None);
        assert!(
            inbox[3]
                .last_error
                .as_deref()
                .unwrap()
                .starts_with("sender holds")
        );

        // The operator sees them as malformed, and none as dead or failed.
        let stats = inbox_command(app.database_url(), &["stats"]);
        assert!(stats.contains("malformed  4\n"), "{stats}");
        assert!(stats.contains("pending    0\n"), "{stats}");
        let dead = inbox_command(app.database_url(), &["dead"]);
        assert_eq!(dead, "no dead or failed events\n");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        for line in [
            "pagebot_events_received_total{page=\"default\",kind=\"MALFORMED\"} 4",
            "pagebot_events_deduplicated_total{page=\"default\",kind=\"MALFORMED\"} 4",
        ] {
            assert!(metrics.contains(line), "missing {line:?} in:\n{metrics}");
        }
    }
);

db_test!(
    an_item_with_a_nul_id_leaves_the_others_of_its_body_alone,
    |db| {
        let app = TestApp::spawn(db).await;
        let item = |psid: &str, mid: &str| {
            json!({"sender": {"id": psid}, "recipient": {"id": PAGE_ID},
               "timestamp": 1_700_000_000_010i64, "message": {"mid": mid, "text": "hi"}})
        };
        let body = envelope(vec![
            item("u_fine", "m_fine"),
            item("u\u{0}", "m_nul_psid"),
            json!({"sender": {"id": "u_fine"}, "recipient": {"id": "P\u{0}"}, "timestamp": 1,
               "read": {"watermark": 1}}),
        ]);
        assert_eq!(app.post_webhook(&body).await.status(), 200);
        app.wait_until_processed(PATIENCE).await;
        let inbox = app.inbox().await;
        let states: Vec<(&str, &str, Option<&str>)> = inbox
            .iter()
            .map(|e| (e.dedupe_key.as_str(), e.status.as_str(), e.psid.as_deref()))
            .collect();
        assert_eq!(states[0], ("mid:m_fine", "done", Some("u_fine")));
        assert_eq!(states[1], ("mid:m_nul_psid", "malformed", None));
        assert_eq!(states[2].1, "malformed");
        assert!(states[2].0.starts_with("read:sha256:"), "{states:?}");
        assert!(
            inbox[2]
                .last_error
                .as_deref()
                .unwrap()
                .starts_with("recipient holds")
        );
        // Only the fine message was answered.
        let answered = app.graph.sent_to("u_fine").len();
        assert!(answered > 0);
        assert_eq!(app.graph.sent().len(), answered);
    }
);

db_test!(
    an_item_whose_sender_no_index_holds_is_stored_as_malformed,
    |db| {
        // Incompressible, and longer than a Postgres index entry may be: the insert failed there.
        let app = TestApp::spawn(db).await;
        let psid: String = (0..400u64)
            .map(|n| format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let body = text_message(&psid, "m_long_sender", "hi", 1_700_000_000_020);
        for _ in 0..2 {
            assert_eq!(app.post_webhook(&body).await.status(), 200);
        }
        let inbox = app.inbox().await;
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].status, "malformed");
        assert_eq!(inbox[0].psid, None);
        assert_eq!(inbox[0].dedupe_key, "mid:m_long_sender");
        assert_eq!(
            inbox[0].last_error.as_deref(),
            Some("sender is 6400 bytes long, longer than any Messenger id (at most 1024)")
        );
        let stored: Value = serde_json::from_str(&inbox[0].raw).unwrap();
        assert_eq!(stored["sender"]["id"], psid.as_str());
    }
);
