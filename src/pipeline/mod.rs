//! The pipeline: claims stored events, runs their policy chains, delivers what the senders
//! built, and marks each event done, failed, retried later or dead.
//!
//! Everything here happens after the webhook answered 200, from what the inbox holds, so a
//! crash or restart loses nothing: an event whose worker died is claimed again when its lease
//! runs out.

mod broadcasts;
mod due;
mod journal;
mod outbox;
mod process;
mod retry;
mod throttle;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

pub use process::Claimed;
pub use throttle::PageThrottle;

use crate::context::Services;
use crate::metrics::Metrics;
use crate::pages::Pages;
use crate::store::InboxEvent;
use crate::store::group_commit::GroupCommit;
use crate::store::inbox::PagesInFlight;
use crate::store::{Store, StoreError, conversations, deliveries, inbox, now_ms, users};

/// The most rows one commit of the pipeline's journal carries.
const JOURNAL_GROUP_ROWS: usize = 500;

/// How the worker loop behaves.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Events processed at once (at most one per user).
    pub workers: usize,
    /// Attempts before an event goes to the dead letters.
    pub max_attempts: i32,
    /// How long a claimed event is reserved for its worker.
    pub lease: Duration,
    /// How often to look for due events when nothing wakes the loop: the longest it sleeps.
    /// It wakes sooner for new events, finished ones, and the retries it scheduled.
    pub poll_interval: Duration,
    /// The first retry's delay; each later one doubles it.
    pub retry_base: Duration,
    /// How long a Page's sends pause after Facebook signals a rate limit.
    pub rate_limit_pause: Duration,
    /// The time the outbox's window rules are judged by.
    pub clock: crate::clock::Clock,
}

/// The Page of each event task in flight, and how many each Page has: what the claim orders
/// the Pages by when it cannot give each of them a slot ([`inbox::claim_fairly`]).
#[derive(Debug, Default)]
struct TasksByPage {
    page_of: HashMap<tokio::task::Id, String>,
    counts: PagesInFlight,
}

impl TasksByPage {
    fn started(&mut self, task: tokio::task::Id, page: String) {
        *self.counts.entry(page.clone()).or_default() += 1;
        self.page_of.insert(task, page);
    }

    fn finished(&mut self, task: tokio::task::Id) {
        let Some(page) = self.page_of.remove(&task) else {
            return;
        };
        if let Some(n) = self.counts.get_mut(&page) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.counts.remove(&page);
            }
        }
    }
}

/// The event processor: cheap to clone, shared by the webhook (to wake it) and the worker.
#[derive(Clone)]
pub struct Pipeline {
    /// What every Page shares (the store, new users' group commit).
    services: Arc<Services>,
    /// Each Page's policy, texts and Graph client.
    pages: Arc<Pages>,
    metrics: Arc<Metrics>,
    settings: PipelineSettings,
    throttle: Arc<PageThrottle>,
    wake: Arc<Notify>,
    /// When the events this instance released for later become due.
    due: Arc<due::DueTimes>,
    journal: GroupCommit<journal::Entry>,
    /// Where the claims run (see [`Pipeline::new`]).
    claims: Store,
    /// Journal commits a test makes fail.
    #[cfg(test)]
    faults: Arc<tests::JournalFaults>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Pipeline {
    /// A pipeline over `services` routing each event with its Page's policy (`pages`), its
    /// journal (deliveries and outcomes) committed through `journal_store` and its claims made
    /// through `claim_store`
    /// (each the services' store, or one over the same database with connections of its own:
    /// on Postgres the claim's plan wants [`crate::store::Planning::Claim`]).
    ///
    /// Starts its writer task: call it within a tokio runtime.
    pub fn new(
        services: Arc<Services>,
        pages: Arc<Pages>,
        journal_store: Store,
        claim_store: Store,
        metrics: Arc<Metrics>,
        settings: PipelineSettings,
    ) -> Self {
        let in_flight = journal_store.commits_in_flight();
        let journal = GroupCommit::start(journal_store, in_flight, JOURNAL_GROUP_ROWS);
        Self {
            journal,
            claims: claim_store,
            services,
            metrics,
            pages,
            settings,
            throttle: Arc::new(PageThrottle::default()),
            wake: Arc::new(Notify::new()),
            due: Arc::default(),
            #[cfg(test)]
            faults: Arc::default(),
        }
    }

    /// The Pages served.
    pub fn pages(&self) -> &Arc<Pages> {
        &self.pages
    }

    /// Tells the worker that new events were stored.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims and processes events until `shutdown` turns true, then waits for the events in
    /// flight to finish.
    ///
    /// Between claims it sleeps until something may be due: a new event ([`Pipeline::wake`]),
    /// a finished one (the same user's next may wait), the earliest retry this instance
    /// scheduled, or at the latest `poll_interval` (what other instances and the command line
    /// put in the inbox).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut pages = TasksByPage::default();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = self.settings.workers.saturating_sub(in_flight.len());
            let mut claimed = 0;
            // Whether a claim just looked at everything due: then the next due retry may set
            // the wake-up (after a failed claim, or with no free worker, it may not).
            let mut looked = false;
            if free > 0 {
                // The claim reads its clock later: what was due now, it saw.
                let now = now_ms();
                match self.claim(free, pages.counts.clone()).await {
                    Ok(events) => {
                        claimed = events.len();
                        looked = true;
                        self.due.forget_until(now);
                        for event in events {
                            let page = event.event.page_key().to_owned();
                            let pipeline = self.clone();
                            let task = in_flight.spawn(async move {
                                pipeline.process(event).await;
                            });
                            pages.started(task.id(), page);
                        }
                    }
                    Err(e) => log::error!("cannot claim events: {e}"),
                }
            }
            if claimed > 0 && in_flight.len() < self.settings.workers {
                // There may be more due right away.
                continue;
            }
            let sleep = match self.due.next() {
                Some(at) if looked => {
                    let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                    Duration::from_millis(wait).min(self.settings.poll_interval)
                }
                _ => self.settings.poll_interval,
            };
            tokio::select! {
                // A finished event may unblock the same user's next one.
                Some(result) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                    let mut result = Some(result);
                    // Collect every other finished task too: a finished task still counts in
                    // `len()`, and one claim for all the free slots beats one claim per slot.
                    while let Some(result) =
                        result.take().or_else(|| in_flight.try_join_next_with_id())
                    {
                        match result {
                            Ok((id, ())) => pages.finished(id),
                            Err(e) => {
                                log::error!("an event task panicked: {e}");
                                pages.finished(e.id());
                            }
                        }
                    }
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
            }
        }
        while let Some(result) = in_flight.join_next().await {
            if let Err(e) = result {
                log::error!("an event task panicked: {e}");
            }
        }
    }

    /// Claims up to `limit` due events, the Pages ordered by `in_flight` when the claim cannot
    /// give each a slot ([`inbox::claim_fairly`]), with what earlier attempts already delivered
    /// for them and their senders' stored rows.
    async fn claim(
        &self,
        limit: usize,
        in_flight: PagesInFlight,
    ) -> Result<Vec<Claimed>, StoreError> {
        let lease_ms = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Only a policy with `user_profile` uses the users' rows: others skip the read.
        let read_users = self.pages.any_stores_users();
        // Only a policy with steps (or a handler that asks for it) uses the conversations.
        let read_conversations = self.pages.any_uses_conversations();
        self.claims
            .run(move |conn| {
                let events = inbox::claim_fairly(conn, lease_ms, limit, &in_flight)?;
                // Only an event tried before can have messages delivered already: one whose
                // earlier attempt ended in an error (kept even when it is replayed) or was cut
                // short by a crash (it was claimed before). Most events are neither.
                let ids: Vec<i64> = events
                    .iter()
                    .filter(|event| event.attempts > 1 || event.last_error.is_some())
                    .map(|event| event.id)
                    .collect();
                let mut sent = deliveries::sent_seqs_of(conn, &ids)?;
                // A user is a Page and a PSID (`""` for an event that names no Page).
                fn key(event: &InboxEvent) -> Option<(&str, &str)> {
                    event
                        .psid
                        .as_deref()
                        .map(|psid| (event.page_id.as_deref().unwrap_or_default(), psid))
                }
                // The senders' stored rows in one query, for `user_profile`.
                let keys: Vec<(&str, &str)> = match read_users {
                    true => events.iter().filter_map(key).collect(),
                    false => Vec::new(),
                };
                let stored = match keys.is_empty() {
                    true => None,
                    false => Some(users::find_all(conn, &keys)?),
                };
                // Their conversations in one query: read after the claim, so after the commit
                // that finished each user's previous event (and moved their step).
                let flows = match read_conversations {
                    true => {
                        let keys: Vec<(&str, &str)> = events.iter().filter_map(key).collect();
                        Some(conversations::find_all(conn, &keys)?)
                    }
                    false => None,
                };
                Ok(events
                    .into_iter()
                    .map(|event| Claimed {
                        sent: sent.remove(&event.id).unwrap_or_default(),
                        user: stored.as_ref().and_then(|stored| {
                            key(&event).map(|(page, psid)| {
                                stored.get(&(page.to_owned(), psid.to_owned())).cloned()
                            })
                        }),
                        conversation: flows.as_ref().and_then(|flows| {
                            key(&event).map(|(page, psid)| {
                                flows.get(&(page.to_owned(), psid.to_owned())).cloned()
                            })
                        }),
                        event,
                    })
                    .collect())
            })
            .await
    }

    /// Processes every event that is due now, one batch after another, until none is left
    /// (for tests and one-shot tools; the server uses [`Pipeline::run`]).
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut processed = 0;
        loop {
            let events = self
                .claim(self.settings.workers, PagesInFlight::new())
                .await?;
            if events.is_empty() {
                return Ok(processed);
            }
            let mut set = JoinSet::new();
            for event in events {
                let pipeline = self.clone();
                set.spawn(async move { pipeline.process(event).await });
            }
            while let Some(result) = set.join_next().await {
                if result.is_ok() {
                    processed += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::process::Outcome;
    use super::*;
    use crate::graph::GraphClient;
    use crate::i18n::Locales;
    use crate::policy::Policy;
    use crate::registry::Registry;
    use crate::store::{NewInboxEvent, Status, now_ms};
    use crate::testing::{FakeGraph, TestDatabase};

    /// Journal commits (and lease renewals) that fail as if the database were out of reach,
    /// counted down per kind.
    #[derive(Debug, Default)]
    pub(crate) struct JournalFaults {
        /// Commits of delivery records made before the next send.
        pub deliveries: AtomicUsize,
        /// Commits of an outcome (with the last records).
        pub endings: AtomicUsize,
        /// Lease renewals (they run, and their answer is replaced by the failure).
        pub renewals: AtomicUsize,
    }

    impl JournalFaults {
        fn take(counter: &AtomicUsize) -> Option<StoreError> {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .ok()
                .map(|_| StoreError::Pool("injected: the database is out of reach".into()))
        }

        pub(super) fn inject(&self, entry: &journal::Entry) -> Option<StoreError> {
            match entry.end {
                Some(_) => Self::take(&self.endings),
                None => Self::take(&self.deliveries),
            }
        }

        pub(super) fn inject_renewal(&self) -> Option<StoreError> {
            Self::take(&self.renewals)
        }
    }

    /// A pipeline whose bot answers each text twice (two messages: the first one's record
    /// is committed before the second is sent), with a lease of `lease`.
    struct Rig {
        pipeline: Pipeline,
        store: Store,
        graph: FakeGraph,
        _database: TestDatabase,
        _dir: tempfile::TempDir,
    }

    impl Rig {
        async fn start(lease: Duration) -> Self {
            let database = TestDatabase::from_env();
            let store = Store::connect(database.url(), 4).unwrap();
            let graph = FakeGraph::start().await;
            let dir = tempfile::tempdir().unwrap();
            let policy_file = dir.path().join("routing.yaml");
            std::fs::write(
                &policy_file,
                "routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      args: { regex: \"^.*$\" }\n      senders:\n        - text: { message: echo, args: { text: \"{match.0}\" } }\n        - text: { message: echo, args: { text: \"again: {match.0}\" } }\n",
            )
            .unwrap();
            let locales = Arc::new(
                Locales::from_sources(
                    "en-US".parse().unwrap(),
                    vec![(
                        "en-US".into(),
                        vec![("en-US/bot.ftl".into(), "echo = { $text }\n".to_owned())],
                    )],
                )
                .unwrap(),
            );
            let policy =
                Arc::new(Policy::load(&policy_file, &Registry::builtin(), &locales).unwrap());
            let services = Arc::new(Services {
                store: store.clone(),
                new_users: GroupCommit::start(store.clone(), 1, 100),
                graph: GraphClient::new(graph.settings()).unwrap(),
                locales: locales.clone(),
                profile_ttl: Duration::from_secs(3600),
                conversation_idle: Duration::from_secs(3600),
                outbox: crate::outbox::Outbox::new(store.clone()),
            });
            let pages = Arc::new(Pages::single(policy, services.clone()));
            let pipeline = Pipeline::new(
                services,
                pages,
                store.clone(),
                store.clone(),
                Arc::new(Metrics::new()),
                PipelineSettings {
                    workers: 4,
                    max_attempts: 3,
                    lease,
                    poll_interval: Duration::from_millis(50),
                    retry_base: Duration::from_millis(50),
                    rate_limit_pause: Duration::from_millis(300),
                    clock: crate::clock::Clock::system(),
                },
            );
            Self {
                pipeline,
                store,
                graph,
                _database: database,
                _dir: dir,
            }
        }

        /// Stores a text from `psid` and claims it.
        async fn claimed_text(&self, psid: &str, text: &str) -> Claimed {
            let now = now_ms();
            let raw = serde_json::json!({
                "sender": {"id": psid},
                "recipient": {"id": "p1"},
                "timestamp": now,
                "message": {"mid": format!("m-{psid}"), "text": text},
            });
            let row = NewInboxEvent {
                raw: raw.to_string(),
                ..inbox::test_row(&format!("m-{psid}"), psid)
            };
            self.store
                .run(move |conn| inbox::insert_batch(conn, &[row]))
                .await
                .unwrap();
            let mut claimed = self.pipeline.claim(1, PagesInFlight::new()).await.unwrap();
            assert_eq!(claimed.len(), 1);
            claimed.remove(0)
        }

        async fn event(&self) -> crate::store::InboxEvent {
            let mut all = self.store.run(inbox::all).await.unwrap();
            assert_eq!(all.len(), 1);
            all.remove(0)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_that_fail_are_tried_again_and_nothing_is_sent_twice() {
        let rig = Rig::start(Duration::from_secs(30)).await;
        let faults = &rig.pipeline.faults;
        faults.deliveries.store(3, Ordering::SeqCst);
        faults.endings.store(4, Ordering::SeqCst);
        let claimed = rig.claimed_text("u1", "hello").await;
        let outcome = rig.pipeline.process(claimed).await;
        assert!(
            matches!(outcome, Outcome::Done { sent: 2, .. }),
            "{outcome:?}"
        );
        assert_eq!(faults.deliveries.load(Ordering::SeqCst), 0);
        assert_eq!(faults.endings.load(Ordering::SeqCst), 0);
        assert_eq!(rig.graph.texts_to("u1"), ["hello", "again: hello"]);
        assert_eq!(rig.graph.send_attempts(), 2);
        let event = rig.event().await;
        assert_eq!(event.status, Status::Done.as_str());
        assert_eq!(event.attempts, 1);
        let recorded = rig.store.run(deliveries::all).await.unwrap();
        assert_eq!(recorded.len(), 2, "{recorded:?}");
        assert!(recorded.iter().all(|d| d.status == deliveries::SENT));
        // Nothing is left to claim.
        assert_eq!(rig.pipeline.drain().await.unwrap(), 0);
        assert_eq!(rig.graph.send_attempts(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_is_tried_past_the_first_lease_while_renewals_extend_it() {
        // Six failures take over 3 s of pauses; the lease of 2.5 s is renewed every 0.83 s.
        let lease = Duration::from_millis(2500);
        let rig = Rig::start(lease).await;
        rig.pipeline.faults.endings.store(6, Ordering::SeqCst);
        let claimed = rig.claimed_text("u1", "hello").await;
        let started = Instant::now();
        let outcome = rig.pipeline.process(claimed).await;
        assert!(started.elapsed() > lease, "{:?}", started.elapsed());
        assert!(
            matches!(outcome, Outcome::Done { sent: 2, .. }),
            "{outcome:?}"
        );
        assert_eq!(rig.event().await.status, Status::Done.as_str());
        assert_eq!(rig.store.run(deliveries::all).await.unwrap().len(), 2);
        assert_eq!(rig.graph.send_attempts(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_longer_than_the_lease_gives_up_and_the_event_is_claimed_again() {
        // Nothing can be written, renewals included: the worker stops trying once its lease
        // may have run out (a tenth of it early), and the event is claimed again after it. What Facebook accepted
        // and could not be recorded is sent again: the case README "Nothing twice" names.
        let lease = Duration::from_millis(1500);
        let rig = Rig::start(lease).await;
        let faults = &rig.pipeline.faults;
        faults.endings.store(usize::MAX, Ordering::SeqCst);
        faults.renewals.store(usize::MAX, Ordering::SeqCst);
        let claimed = rig.claimed_text("u1", "hello").await;
        let until = claimed.event.locked_until.unwrap();
        let outcome = rig.pipeline.process(claimed).await;
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
        // It stopped about when the lease ran out, not long after.
        let stopped = now_ms();
        assert!(
            stopped < until + 1_000,
            "stopped {} ms after the lease",
            stopped - until
        );
        let event = rig.event().await;
        assert_eq!(event.status, Status::Pending.as_str());
        // The first record was committed before the second send: only the last is resent.
        let recorded = rig.store.run(deliveries::all).await.unwrap();
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        faults.endings.store(0, Ordering::SeqCst);
        faults.renewals.store(0, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(until - now_ms()).unwrap_or(0) + 50,
        ))
        .await;
        assert_eq!(rig.pipeline.drain().await.unwrap(), 1);
        assert_eq!(rig.event().await.status, Status::Done.as_str());
        assert_eq!(
            rig.graph.texts_to("u1"),
            ["hello", "again: hello", "again: hello"]
        );
    }
}
