//! Operator commands on the inbox: `pagebot inbox stats | dead | replay | purge`.
//!
//! Each returns the text to print; `main.rs` prints it. Nothing here prints PSIDs or bodies:
//! dead letters show the event id, kind, attempts and error, enough to decide on a replay.

use std::fmt::Write;

use crate::retention;
use crate::store::{DatabaseTarget, Store, StoreError, inbox, now_ms};

/// Opens the inbox the commands look into. A SQLite file that does not exist is refused,
/// naming the path tried: opening it would create an empty database there and report zeros
/// (a command run from another folder than the server's). Only pagebot's migrations are run:
/// the commands read the inbox, never an app's own tables, which `serve` migrates.
pub(crate) fn open_existing(database_url: &str) -> Result<Store, StoreError> {
    if let DatabaseTarget::Sqlite(path) = DatabaseTarget::parse(database_url)? {
        let path = std::path::Path::new(&path);
        if !path.exists() {
            let tried = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            return Err(StoreError::Connect(format!(
                "no database at {}: run the command where the server keeps its database, \
                 or point DATABASE_URL at it",
                tried.display()
            )));
        }
    }
    Store::connect(database_url, 1)
}

/// `pagebot inbox stats`: events per status and the age of the oldest pending one.
pub fn stats(database_url: &str) -> Result<String, StoreError> {
    let store = open_existing(database_url)?;
    let mut conn = store.get()?;
    let stats = inbox::stats(&mut conn)?;
    let oldest = inbox::oldest_pending(&mut conn)?;
    let mut out = String::new();
    let _ = writeln!(out, "pending    {}", stats.pending);
    let _ = writeln!(out, "done       {}", stats.done);
    let _ = writeln!(out, "failed     {}", stats.failed);
    let _ = writeln!(out, "dead       {}", stats.dead);
    let _ = writeln!(out, "malformed  {}", stats.malformed);
    if let Some(at) = oldest {
        let age = (now_ms() - at).max(0) / 1000;
        let _ = writeln!(out, "oldest pending event: {age} s old");
    }
    Ok(out)
}

/// `pagebot inbox dead`: the newest dead and failed events with their errors.
pub fn dead(database_url: &str, limit: i64) -> Result<String, StoreError> {
    let store = open_existing(database_url)?;
    let events = inbox::dead_letters(&mut *store.get()?, limit)?;
    if events.is_empty() {
        return Ok("no dead or failed events\n".to_owned());
    }
    let mut out = String::new();
    for event in events {
        let received = jiff::Timestamp::from_millisecond(event.received_at)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| event.received_at.to_string());
        let _ = writeln!(
            out,
            "{id}\t{status}\t{kind}\tattempts {attempts}\treceived {received}\t{error}",
            id = event.id,
            status = event.status,
            kind = event.kind.as_deref().unwrap_or("?"),
            attempts = event.attempts,
            error = event.last_error.as_deref().unwrap_or("").replace('\n', " "),
        );
    }
    Ok(out)
}

/// `pagebot inbox replay ID` or `--all`: puts dead and failed events back in the queue of a
/// running server. Returns how many were requeued.
pub fn replay(database_url: &str, id: Option<i64>) -> Result<usize, StoreError> {
    let store = open_existing(database_url)?;
    inbox::replay(&mut *store.get()?, id, now_ms())
}

/// `pagebot inbox purge`: deletes the done events that finished more than `older_than_days`
/// days ago, with their deliveries, in short batches. Returns how many were deleted.
///
/// A deleted event's dedupe key is forgotten too, so the age must outlast Facebook's
/// redeliveries: the command line asks for at least [`retention::MIN_RETENTION_DAYS`].
pub fn purge(database_url: &str, older_than_days: u32) -> Result<usize, StoreError> {
    let store = open_existing(database_url)?;
    let before = retention::cutoff(now_ms(), older_than_days);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Task(e.to_string()))?;
    runtime.block_on(retention::purge_before(
        &store,
        before,
        retention::PURGE_BATCH,
    ))
}
