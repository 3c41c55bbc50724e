//! The outbox record: every message the pipeline tried to deliver, and Facebook's answer.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use super::schema::deliveries;
use super::{DbConn, StoreError};

/// A delivery attempt's outcome as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// The inbox event that caused it.
    pub event_id: i64,
    /// Its position among the event's outgoing messages.
    pub seq: i32,
    /// The recipient.
    pub psid: Option<String>,
    /// The Send API body (JSON).
    pub request: String,
    /// `sent` or `failed`.
    pub status: String,
    /// Facebook's message id.
    pub message_id: Option<String>,
    /// Graph error code.
    pub error_code: Option<i64>,
    /// Graph error subcode.
    pub error_subcode: Option<i64>,
    /// Graph error message.
    pub error_message: Option<String>,
    /// Facebook's trace id, for their support.
    pub fbtrace_id: Option<String>,
    /// When (epoch ms).
    pub created_at: i64,
}

/// A delivery attempt to record.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = deliveries, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewDelivery {
    /// The inbox event.
    pub event_id: i64,
    /// Position among the event's outgoing messages.
    pub seq: i32,
    /// The recipient.
    pub psid: Option<String>,
    /// The Send API body (JSON).
    pub request: String,
    /// `sent` or `failed`.
    pub status: String,
    /// Facebook's message id.
    pub message_id: Option<String>,
    /// Graph error code.
    pub error_code: Option<i64>,
    /// Graph error subcode.
    pub error_subcode: Option<i64>,
    /// Graph error message.
    pub error_message: Option<String>,
    /// Facebook's trace id.
    pub fbtrace_id: Option<String>,
    /// When (epoch ms).
    pub created_at: i64,
}

/// Delivery status of a message Facebook accepted.
pub const SENT: &str = "sent";
/// Delivery status of a message Facebook refused or never answered for.
pub const FAILED: &str = "failed";

/// Records an attempt; a later attempt of the same (event, seq) replaces the earlier record.
pub fn record(conn: &mut DbConn, delivery: &NewDelivery) -> Result<(), StoreError> {
    per_backend!(conn, c => diesel::insert_into(deliveries::table)
        .values(delivery)
        .on_conflict((deliveries::event_id, deliveries::seq))
        .do_update()
        .set(delivery)
        .execute(c))?;
    Ok(())
}

/// The positions of an event's messages that Facebook already accepted.
pub fn sent_seqs(conn: &mut DbConn, event_id: i64) -> Result<Vec<i32>, StoreError> {
    Ok(deliveries::table
        .filter(deliveries::event_id.eq(event_id))
        .filter(deliveries::status.eq(SENT))
        .select(deliveries::seq)
        .order(deliveries::seq)
        .load(conn)?)
}

/// For each of `event_ids` that has any, the positions of its messages that Facebook already
/// accepted: one query for a whole claim.
pub fn sent_seqs_of(
    conn: &mut DbConn,
    event_ids: &[i64],
) -> Result<HashMap<i64, BTreeSet<i32>>, StoreError> {
    let mut sent: HashMap<i64, BTreeSet<i32>> = HashMap::new();
    // Chunks keep the bind parameters under SQLite's limit.
    for chunk in event_ids.chunks(10_000) {
        let rows: Vec<(i64, i32)> = deliveries::table
            .filter(deliveries::event_id.eq_any(chunk))
            .filter(deliveries::status.eq(SENT))
            .select((deliveries::event_id, deliveries::seq))
            .load(conn)?;
        for (event_id, seq) in rows {
            sent.entry(event_id).or_default().insert(seq);
        }
    }
    Ok(sent)
}

/// Every delivery recorded for an event, in order.
pub fn for_event(conn: &mut DbConn, event_id: i64) -> Result<Vec<Delivery>, StoreError> {
    Ok(deliveries::table
        .filter(deliveries::event_id.eq(event_id))
        .order(deliveries::seq)
        .select(Delivery::as_select())
        .load(conn)?)
}

/// Every delivery, oldest first.
pub fn all(conn: &mut DbConn) -> Result<Vec<Delivery>, StoreError> {
    Ok(deliveries::table
        .order(deliveries::id)
        .select(Delivery::as_select())
        .load(conn)?)
}
