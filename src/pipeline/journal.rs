//! What an attempt writes when it is over: the delivery records not yet written and the
//! event's outcome, committed together with other workers' (see [`crate::store::group_commit`]).
//!
//! Each event used to pay one commit per delivery and one for its outcome; under load, a
//! group now pays one commit for the endings of dozens of events.

use crate::store::deliveries::{self, NewDelivery};
use crate::store::group_commit::GroupWork;
use crate::store::inbox::{self, Status};
use crate::store::{DbConn, StoreError, now_ms};

/// How the claim of an event ends.
#[derive(Debug)]
pub(super) enum Ending {
    /// A final status: done, failed or dead.
    Finish {
        status: Status,
        error: Option<String>,
    },
    /// Released, to be claimed again `after_ms` from when this is written.
    Retry {
        error: String,
        after_ms: i64,
        /// The attempt does not count (the event was not at fault).
        refund: bool,
    },
}

/// The end of one claim, as the claim that set `attempts` recorded it.
#[derive(Debug)]
pub(super) struct ClaimEnd {
    pub id: i64,
    pub attempts: i32,
    pub kind: Option<&'static str>,
    pub ending: Ending,
}

/// One worker's writes.
#[derive(Debug)]
pub(super) struct Entry {
    /// Delivery attempts to record, in order.
    pub deliveries: Vec<NewDelivery>,
    /// How the claim ends, if it does with this entry.
    pub end: Option<ClaimEnd>,
}

impl GroupWork for Entry {
    /// Whether the claim still held when its end was recorded (true without an end): false
    /// means another worker claimed the event after this one's lease ran out, and nothing of
    /// the end was written.
    type Output = bool;

    fn rows(&self) -> usize {
        self.deliveries.len() + usize::from(self.end.is_some())
    }

    fn apply(conn: &mut DbConn, group: &[Self]) -> Result<Vec<bool>, StoreError> {
        let now = now_ms();
        let mut held = Vec::with_capacity(group.len());
        for entry in group {
            for delivery in &entry.deliveries {
                deliveries::record(conn, delivery)?;
            }
            held.push(match &entry.end {
                None => true,
                Some(end) => record_end(conn, end, now)?,
            });
        }
        Ok(held)
    }
}

fn record_end(conn: &mut DbConn, end: &ClaimEnd, now: i64) -> Result<bool, StoreError> {
    match &end.ending {
        Ending::Finish { status, error } => inbox::finish(
            conn,
            end.id,
            end.attempts,
            *status,
            end.kind,
            error.as_deref(),
            now,
        ),
        Ending::Retry {
            error,
            after_ms,
            refund,
        } => inbox::retry_later(
            conn,
            end.id,
            end.attempts,
            end.kind,
            error,
            now.saturating_add(*after_ms),
            *refund,
        ),
    }
}
