//! The fault suite: load with faults injected, and the counts every fault is judged by, printed
//! as one line each (`cargo test --test api faults -- --nocapture` shows them; the README's
//! guarantees quote them):
//!
//! - sent: webhooks Facebook sent (one event each, a user each);
//! - acknowledged: events answered 200 (a 503 is delivered again, as Facebook does);
//! - answered: events whose reply Facebook accepted;
//! - refused: events Facebook refused for good (551: the person is unavailable);
//! - duplicated: replies beyond the first for one event;
//! - lost: acknowledged events neither answered nor refused.
//!
//! The faults: Postgres stopped under load and started again (a private cluster, by its PID),
//! and the Graph API failing with 500, a bare 429, 613 and 551 under load. kill -9 under load
//! is in `durability.rs`, which asserts the same counts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::db_test;
use crate::helpers::*;
use crate::outage::{Cluster, echo_app_on_a_cluster, echo_bot, fresh_store, with_cluster};
use pagebot::store::{Store, inbox};
use pagebot::testing::{FakeError, FakeGraph};

/// The counts of one run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    sent: usize,
    acknowledged: usize,
    answered: usize,
    refused: usize,
    duplicated: usize,
    lost: usize,
}

impl Tally {
    /// Counts the replies at `graph` to users `0..sent` and the inbox's failed events.
    async fn count(graph: &FakeGraph, store: &Store, sent: usize, acknowledged: usize) -> Self {
        let mut replies: BTreeMap<String, usize> = BTreeMap::new();
        for body in graph.sent() {
            if let Some(psid) = body["recipient"]["id"].as_str() {
                *replies.entry(psid.to_owned()).or_default() += 1;
            }
        }
        let events = store.run(inbox::all).await.unwrap();
        let refused = events.iter().filter(|e| e.status == "failed").count();
        let answered = (0..sent)
            .filter(|n| replies.contains_key(&user(*n)))
            .count();
        let duplicated = replies.values().map(|n| n.saturating_sub(1)).sum();
        Self {
            sent,
            acknowledged,
            answered,
            refused,
            duplicated,
            lost: acknowledged.saturating_sub(answered + refused),
        }
    }

    fn print(&self, fault: &str) {
        println!(
            "fault suite: {fault}: sent {}, acknowledged {}, answered {}, refused {}, duplicated {}, lost {}",
            self.sent, self.acknowledged, self.answered, self.refused, self.duplicated, self.lost
        );
    }
}

fn user(n: usize) -> String {
    format!("u_fault_{n}")
}

/// Posts `total` webhooks, one user each, `per_second` a second; a 503 (or no answer) is
/// delivered again after a pause, as Facebook does. Returns how many were acknowledged.
async fn load(app: &TestApp, total: usize, per_second: u64) -> usize {
    let mut acknowledged = 0;
    let period = Duration::from_micros(1_000_000 / per_second);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let body = text_message(
            &user(n),
            &format!("m_fault_{n}"),
            &format!("hello {n}"),
            1_700_000_000_000 + i64::try_from(n).unwrap(),
        );
        let client = reqwest::Client::new();
        let url = format!("{}/webhook", app.address);
        let signature = pagebot::webhook::signature::sign_sha256(
            pagebot::testing::TEST_APP_SECRET.as_bytes(),
            &body,
        );
        tasks.spawn(async move {
            let deadline = Instant::now() + 4 * PATIENCE;
            while Instant::now() < deadline {
                let answer = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .header("X-Hub-Signature-256", &signature)
                    .body(body.clone())
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match answer.map(|a| a.status().as_u16()) {
                    Ok(200) => return true,
                    Ok(503) | Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                    Ok(other) => panic!("webhook {n}: {other}"),
                }
            }
            false
        });
        tokio::time::sleep(period).await;
    }
    while let Some(done) = tasks.join_next().await {
        acknowledged += usize::from(done.unwrap());
    }
    acknowledged
}

/// Waits until every stored event is finished (done, failed or dead: a dead one counts as
/// lost).
async fn wait_until_finished(store: &Store, total: usize) {
    let deadline = Instant::now() + 4 * PATIENCE;
    loop {
        let events = store.run(inbox::all).await.unwrap_or_default();
        if events.len() >= total
            && events
                .iter()
                .all(|e| matches!(e.status.as_str(), "done" | "failed" | "dead"))
        {
            return;
        }
        if Instant::now() > deadline {
            let unfinished: Vec<_> = events
                .iter()
                .filter(|e| !matches!(e.status.as_str(), "done" | "failed" | "dead"))
                .map(|e| (e.id, &e.status, e.attempts, &e.last_error))
                .collect();
            panic!(
                "{} of {total} stored; unfinished: {unfinished:#?}",
                events.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pagebot_postgres_binaries),
    ignore = "needs the Postgres binaries (initdb): set PAGEBOT_PG_BIN"
)]
async fn postgres_stopped_under_load_loses_nothing_and_sends_nothing_twice() {
    init_logs();
    let (cluster, app, url, _bot) = echo_app_on_a_cluster().await;
    const TOTAL: usize = 200;
    // 100 webhooks a second for 2 s; Postgres goes away after 0.6 s for 3 s.
    let outage = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            with_cluster(&cluster, Cluster::stop_server).await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            with_cluster(&cluster, Cluster::start_server).await;
        })
    };
    let acknowledged = load(&app, TOTAL, 100).await;
    outage.await.unwrap();
    let store = fresh_store(&url).await;
    wait_until_finished(&store, TOTAL).await;
    let tally = Tally::count(&app.graph, &store, TOTAL, acknowledged).await;
    tally.print("Postgres stopped 3 s under 100 webhooks/s");
    assert_eq!(
        tally,
        Tally {
            sent: TOTAL,
            acknowledged: TOTAL,
            answered: TOTAL,
            refused: 0,
            duplicated: 0,
            lost: 0,
        }
    );
}

db_test!(
    graph_failures_under_load_are_retried_paused_or_refused_never_lost,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        // Production's attempts: a 500 met three times by one event (the script's failures fall
        // on whichever send comes) would otherwise dead-letter it under the test kit's 3.
        let app = TestApp::spawn_with(db, echo_bot(dir.path()), |settings| {
            settings.max_attempts = 8;
        })
        .await
        .unwrap();
        const TOTAL: usize = 120;
        // Among the first sends: 500s (retried), bare 429s and 613s (the Page pauses, the
        // attempt is not counted), 551s (this person is unavailable: refused for good).
        let mut script: Vec<Option<FakeError>> = Vec::new();
        for i in 0..60 {
            script.push(match i % 12 {
                1 => Some(FakeError::graph(2, None)),
                4 => Some(FakeError::http(429, "Too Many Requests")),
                7 => Some(FakeError::graph(613, None)),
                10 => Some(FakeError::graph(551, None)),
                _ => None,
            });
        }
        app.graph.script_sends(script);
        let acknowledged = load(&app, TOTAL, 200).await;
        let store = &app.store;
        wait_until_finished(store, TOTAL).await;
        let tally = Tally::count(&app.graph, store, TOTAL, acknowledged).await;
        tally.print("Graph 500, bare 429, 613 and 551 among 120 replies");
        // Five 551s: five events refused for good, every other one answered once.
        assert_eq!(
            tally,
            Tally {
                sent: TOTAL,
                acknowledged: TOTAL,
                answered: TOTAL - 5,
                refused: 5,
                duplicated: 0,
                lost: 0,
            }
        );
    }
);
