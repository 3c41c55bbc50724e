//! Whether the database answers, as its pools last saw it: kept by every use of a connection
//! (and by the pools' own attempts to open one), read by `/readyz` without waiting on a pool.
//!
//! A success proves the database answered; a failure counts only if nothing succeeded since
//! the failed call began (a call that waited seconds for a connection says nothing about a
//! database that answered someone else meanwhile).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::{Store, StoreError, now_ms};

/// The database's reachability, shared by every [`Store`] over it. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Health(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// When it was found unreachable (epoch ms), 0 while it answers.
    down_since: AtomicI64,
    /// When it last answered (epoch ms).
    last_ok: AtomicI64,
    /// How many times it was found unreachable.
    outages: AtomicU64,
}

impl Health {
    /// Whether the database answered the last time it was asked.
    pub fn is_up(&self) -> bool {
        self.0.down_since.load(Ordering::SeqCst) == 0
    }

    /// Since when (epoch ms) the database has been unreachable, if it is.
    pub fn down_since(&self) -> Option<i64> {
        match self.0.down_since.load(Ordering::SeqCst) {
            0 => None,
            since => Some(since),
        }
    }

    /// How many times the database was found unreachable: a pooled connection that last
    /// worked before the latest of these may have lost its server.
    pub(crate) fn outages(&self) -> u64 {
        self.0.outages.load(Ordering::SeqCst)
    }

    /// The database answered.
    pub(crate) fn succeeded(&self) {
        let now = now_ms();
        self.0.last_ok.fetch_max(now, Ordering::SeqCst);
        let since = self.0.down_since.swap(0, Ordering::SeqCst);
        if since != 0 {
            log::info!(
                "database reachable again after {:.1} s",
                (now - since) as f64 / 1000.0
            );
        }
    }

    /// A call begun at `began` (epoch ms) could not reach the database.
    pub(crate) fn failed(&self, began: i64, error: &dyn std::fmt::Display) {
        if self.0.last_ok.load(Ordering::SeqCst) > began {
            return;
        }
        let now = now_ms().max(1);
        if self
            .0
            .down_since
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.0.outages.fetch_add(1, Ordering::SeqCst);
            log::error!(
                "database unreachable: {error}; webhooks are answered 503 and /readyz says so \
                 until it answers again"
            );
        }
    }

    /// Pings the database through `store` every `every`, unless a call answered within it,
    /// so that a database that went away is noticed without traffic, and one that is back is
    /// noticed at once. Runs until dropped.
    pub async fn probe(store: Store, every: Duration) {
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        loop {
            tokio::time::sleep(every).await;
            let health = store.health();
            let quiet = now_ms() - health.0.last_ok.load(Ordering::SeqCst) >= every_ms;
            if !health.is_up() || quiet {
                // The outcome is recorded by `Store::run` itself.
                let _ = store.run(super::ping).await;
            }
        }
    }
}

/// The pools' error handler: logs a connection that could not be opened (as r2d2's
/// `LoggingErrorHandler` did, but once per outage rather than once per try) and marks the
/// database unreachable.
#[derive(Debug)]
pub(super) struct PoolErrors(pub Health);

impl diesel::r2d2::HandleError<StoreError> for PoolErrors {
    fn handle_error(&self, error: StoreError) {
        if self.0.is_up() {
            log::warn!("database pool: {error}");
        } else {
            log::debug!("database pool: {error}");
        }
        self.0.failed(now_ms(), &error);
    }
}

/// The pools' event handler: a connection opened means the database answers.
#[derive(Debug)]
pub(super) struct PoolEvents(pub Health);

impl diesel::r2d2::HandleEvent for PoolEvents {
    fn handle_acquire(&self, _event: diesel::r2d2::event::AcquireEvent) {
        self.0.succeeded();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_counts_only_if_nothing_succeeded_since_it_began() {
        let health = Health::default();
        assert!(health.is_up());
        let began = now_ms() - 1_000;
        health.failed(began, &"refused");
        assert!(!health.is_up() && health.down_since().is_some());
        health.succeeded();
        assert!(health.is_up() && health.down_since().is_none());
        // A call that began before that success and failed since is old news.
        health.failed(began, &"timed out");
        assert!(health.is_up());
        health.failed(now_ms() + 1, &"refused");
        assert!(!health.is_up());
    }
}
