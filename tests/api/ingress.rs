//! Group commit: concurrent webhook requests share inbox transactions, and each request is
//! still answered only after its own events are stored, each event once.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::db_test;
use crate::helpers::*;

db_test!(
    concurrent_deliveries_are_all_stored_once_before_their_200,
    |db| {
        let app = Arc::new(TestApp::spawn(db).await);
        // 40 deliveries of two events each, and 10 of them delivered a second time at once.
        let bodies: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            envelope(vec![
                serde_json::json!({"sender": {"id": format!("u{i}")}, "recipient": {"id": PAGE_ID},
                    "timestamp": 1_700_000_000_000i64 + i, "message": {"mid": format!("m_{i}_a"), "text": "x"}}),
                serde_json::json!({"sender": {"id": format!("u{i}")}, "recipient": {"id": PAGE_ID},
                    "timestamp": 1_700_000_000_001i64 + i, "message": {"mid": format!("m_{i}_b"), "text": "y"}}),
            ])
        })
        .collect();
        let mut requests = tokio::task::JoinSet::new();
        let again = bodies[..10].to_vec();
        for body in bodies.into_iter().chain(again) {
            let app = app.clone();
            requests.spawn(async move { app.post_webhook(&body).await.status() });
        }
        while let Some(status) = requests.join_next().await {
            assert_eq!(status.unwrap(), 200);
        }
        let mut stored: BTreeMap<String, usize> = BTreeMap::new();
        for event in app.inbox().await {
            *stored.entry(event.dedupe_key).or_default() += 1;
        }
        assert_eq!(stored.len(), 80, "{stored:?}");
        assert!(stored.values().all(|n| *n == 1), "{stored:?}");
        for i in 0..40 {
            assert!(
                stored.contains_key(&format!("mid:m_{i}_a")),
                "m_{i}_a missing"
            );
            assert!(
                stored.contains_key(&format!("mid:m_{i}_b")),
                "m_{i}_b missing"
            );
        }
        app.wait_until_processed(PATIENCE).await;
    }
);
