//! The pipeline: claims stored events, runs their policy chains, delivers what the senders
//! built, and marks each event done, failed, retried later or dead.
//!
//! Everything here happens after the webhook answered 200, from what the inbox holds, so a
//! crash or restart loses nothing: an event whose worker died is claimed again when its lease
//! runs out.

mod journal;
mod process;
mod retry;
mod throttle;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

pub use process::Claimed;
pub use throttle::PageThrottle;

use crate::context::Services;
use crate::i18n::Locales;
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::store::InboxEvent;
use crate::store::group_commit::GroupCommit;
use crate::store::{Store, StoreError, conversations, deliveries, inbox, users};

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
    /// How often to look for due events when nothing wakes the loop.
    pub poll_interval: Duration,
    /// The first retry's delay; each later one doubles it.
    pub retry_base: Duration,
    /// How long a Page's sends pause after Facebook signals a rate limit.
    pub rate_limit_pause: Duration,
}

/// The policy and texts in force; replaced whole on reload, read whole per event.
#[derive(Debug)]
pub struct Bot {
    /// The routing policy.
    pub policy: Arc<Policy>,
    /// The Fluent bundles.
    pub locales: Arc<Locales>,
}

/// The event processor: cheap to clone, shared by the webhook (to wake it) and the worker.
#[derive(Clone)]
pub struct Pipeline {
    services: Arc<Services>,
    bot: Arc<arc_swap::ArcSwap<Bot>>,
    metrics: Arc<Metrics>,
    settings: PipelineSettings,
    throttle: Arc<PageThrottle>,
    wake: Arc<Notify>,
    journal: GroupCommit<journal::Entry>,
    /// Where the claims run (see [`Pipeline::new`]).
    claims: Store,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Pipeline {
    /// A pipeline over `services` routing with `bot`'s policy, its journal (deliveries and
    /// outcomes) committed through `journal_store` and its claims made through `claim_store`
    /// (each the services' store, or one over the same database with connections of its own:
    /// on Postgres the claim's plan wants [`crate::store::Planning::Claim`]).
    ///
    /// Starts its writer task: call it within a tokio runtime.
    pub fn new(
        services: Arc<Services>,
        journal_store: Store,
        claim_store: Store,
        bot: Bot,
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
            bot: Arc::new(arc_swap::ArcSwap::from_pointee(bot)),
            settings,
            throttle: Arc::new(PageThrottle::default()),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Replaces the policy and texts; events already running finish with the old ones.
    pub fn replace_bot(&self, bot: Bot) {
        self.bot.store(Arc::new(bot));
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.bot.load().policy.clone()
    }

    /// The services with the locales in force.
    pub(crate) fn services_now(&self) -> Arc<Services> {
        let bot = self.bot.load();
        if Arc::ptr_eq(&bot.locales, &self.services.locales) {
            return self.services.clone();
        }
        Arc::new(Services {
            locales: bot.locales.clone(),
            ..(*self.services).clone()
        })
    }

    /// Tells the worker that new events were stored.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims and processes events until `shutdown` turns true, then waits for the events in
    /// flight to finish.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = self.settings.workers.saturating_sub(in_flight.len());
            let mut claimed = 0;
            if free > 0 {
                match self.claim(free).await {
                    Ok(events) => {
                        claimed = events.len();
                        for event in events {
                            let pipeline = self.clone();
                            in_flight.spawn(async move {
                                pipeline.process(event).await;
                            });
                        }
                    }
                    Err(e) => log::error!("cannot claim events: {e}"),
                }
            }
            if claimed > 0 && in_flight.len() < self.settings.workers {
                // There may be more due right away.
                continue;
            }
            tokio::select! {
                // A finished event may unblock the same user's next one.
                Some(result) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Err(e) = result {
                        log::error!("an event task panicked: {e}");
                    }
                    // Collect every other finished task too: a finished task still counts in
                    // `len()`, and one claim for all the free slots beats one claim per slot.
                    while let Some(result) = in_flight.try_join_next() {
                        if let Err(e) = result {
                            log::error!("an event task panicked: {e}");
                        }
                    }
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        while let Some(result) = in_flight.join_next().await {
            if let Err(e) = result {
                log::error!("an event task panicked: {e}");
            }
        }
    }

    /// Claims up to `limit` due events, with what earlier attempts already delivered for them
    /// and their senders' stored rows.
    async fn claim(&self, limit: usize) -> Result<Vec<Claimed>, StoreError> {
        let lease_ms = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Only a policy with `user_profile` uses the users' rows: others skip the read.
        let read_users = self.bot.load().policy.stores_users();
        // Only a policy with steps (or a handler that asks for it) uses the conversations.
        let read_conversations = self.bot.load().policy.uses_conversations();
        self.claims
            .run(move |conn| {
                let events = inbox::claim(conn, lease_ms, limit)?;
                // Only an event tried before can have messages delivered already: one whose
                // earlier attempt ended in an error (kept even when it is replayed) or was cut
                // short by a crash (it was claimed before). Most events are neither.
                let ids: Vec<i64> = events
                    .iter()
                    .filter(|event| event.attempts > 1 || event.last_error.is_some())
                    .map(|event| event.id)
                    .collect();
                let mut sent = deliveries::sent_seqs_of(conn, &ids)?;
                // The senders' stored rows in one query, for `user_profile`.
                let psids: Vec<&str> = match read_users {
                    true => events.iter().filter_map(|e| e.psid.as_deref()).collect(),
                    false => Vec::new(),
                };
                let stored = match psids.is_empty() {
                    true => None,
                    false => Some(users::find_all(conn, &psids)?),
                };
                // Their conversations in one query: read after the claim, so after the commit
                // that finished each user's previous event (and moved their step).
                fn key(event: &InboxEvent) -> Option<(&str, &str)> {
                    event
                        .psid
                        .as_deref()
                        .map(|psid| (event.page_id.as_deref().unwrap_or_default(), psid))
                }
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
                            event.psid.as_deref().map(|psid| stored.get(psid).cloned())
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
            let events = self.claim(self.settings.workers).await?;
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
