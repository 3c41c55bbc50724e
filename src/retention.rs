//! Inbox retention: the inbox keeps every event it stored (that is what makes a crash lose
//! nothing and a redelivery recognisable), so done events are deleted once they are old enough,
//! by `pagebot inbox purge` or, with `PAGEBOT_INBOX_RETENTION_DAYS`, by the server itself.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Store, StoreError, conversations, inbox, now_ms};

/// Done events deleted per statement: short transactions, so the webhook's inbox writes never
/// wait long behind a purge.
pub const PURGE_BATCH: i64 = 5_000;

/// How often a running server purges when retention is on.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// The shortest retention: a purged event's redelivery by Facebook (retried for up to an hour)
/// would no longer be recognised as a duplicate.
pub const MIN_RETENTION_DAYS: u32 = 1;

/// The epoch ms before which done events are old enough to go.
pub fn cutoff(now_ms: i64, retention_days: u32) -> i64 {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    now_ms - i64::from(retention_days) * DAY_MS
}

/// Deletes every done event that finished before `before`, `batch` rows per statement, each
/// batch taking a pooled connection of its own. Returns how many were deleted.
pub async fn purge_before(store: &Store, before: i64, batch: i64) -> Result<usize, StoreError> {
    let mut deleted = 0;
    loop {
        let n = store
            .run(move |conn| inbox::purge_done(conn, before, batch))
            .await?;
        deleted += n;
        if i64::try_from(n).unwrap_or(i64::MAX) < batch {
            return Ok(deleted);
        }
    }
}

/// Deletes every conversation last active before `before`, `batch` rows per statement (an
/// expired conversation reads as empty anyway: this keeps the table small). Returns how many.
pub async fn purge_conversations_before(
    store: &Store,
    before: i64,
    batch: i64,
) -> Result<usize, StoreError> {
    let mut deleted = 0;
    loop {
        let n = store
            .run(move |conn| conversations::purge_idle(conn, before, batch))
            .await?;
        deleted += n;
        if i64::try_from(n).unwrap_or(i64::MAX) < batch {
            return Ok(deleted);
        }
    }
}

/// Purges done events older than `retention_days` now and then hourly, until `shutdown` turns
/// true. A failed purge is logged and tried again the next hour.
pub async fn purge_periodically(
    store: Store,
    retention_days: u32,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut hourly = tokio::time::interval(PURGE_INTERVAL);
    hourly.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = hourly.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let before = cutoff(now_ms(), retention_days);
        // A long purge gives way to shutdown: only the batch running then still finishes, and
        // each batch stands alone.
        let purged = tokio::select! {
            purged = purge_before(&store, before, PURGE_BATCH) => purged,
            _ = shutdown.changed() => return,
        };
        match purged {
            Ok(0) => {}
            Ok(n) => log::info!(
                "inbox retention: {n} done event(s) older than {retention_days} day(s) deleted"
            ),
            Err(e) => log::error!("inbox retention: cannot purge done events: {e}"),
        }
        match purge_conversations_before(&store, before, PURGE_BATCH).await {
            Ok(0) => {}
            Ok(n) => log::info!(
                "inbox retention: {n} conversation(s) idle for {retention_days} day(s) deleted"
            ),
            Err(e) => log::error!("inbox retention: cannot purge idle conversations: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewInboxEvent, Status};

    fn done(key: &str, finished_at: i64) -> NewInboxEvent {
        NewInboxEvent {
            status: Status::Done.as_str().to_owned(),
            finished_at: Some(finished_at),
            ..inbox::test_row(key, key)
        }
    }

    #[test]
    fn the_cutoff_is_whole_days_back() {
        assert_eq!(cutoff(10 * 86_400_000, 7), 3 * 86_400_000);
    }

    #[tokio::test]
    async fn purging_runs_batch_after_batch_until_none_is_left() {
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let rows: Vec<NewInboxEvent> = (0..7).map(|i| done(&format!("d{i}"), 100 + i)).collect();
        let recent = [done("recent", 10_000)];
        store
            .run(move |conn| {
                inbox::insert_batch(conn, &rows)?;
                inbox::insert_batch(conn, &recent)
            })
            .await
            .unwrap();
        // 7 old rows in batches of 3: three statements, the last one short.
        assert_eq!(purge_before(&store, 1_000, 3).await.unwrap(), 7);
        let left = store.run(inbox::all).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].dedupe_key, "recent");
    }

    #[tokio::test]
    async fn a_server_with_retention_purges_at_start_and_stops_on_shutdown() {
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let now = now_ms();
        let rows = [
            done("two days old", cutoff(now, 2)),
            done("an hour old", now - 3_600_000),
        ];
        store
            .run(move |conn| inbox::insert_batch(conn, &rows))
            .await
            .unwrap();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(purge_periodically(store.clone(), 1, stopped));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let left = loop {
            let left = store.run(inbox::all).await.unwrap();
            if left.len() == 1 || tokio::time::Instant::now() > deadline {
                break left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].dedupe_key, "an hour old");
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the purge task stops on shutdown")
            .unwrap();
    }
}
