//! The outbox record: every message the pipeline tried to deliver, and Facebook's answer.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use super::schema::deliveries;
use super::{DbConn, Prepared, StoreError};

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
    /// The Page that sent it (its event's; `""` when the event named none).
    pub page_id: String,
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
    /// The Page that sends it (its event's; `""` when the event named none).
    pub page_id: String,
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

/// Records many attempts, in order; as [`record`], a later attempt of the same (event, seq)
/// replaces the earlier record (two of the same in one call fail the call).
///
/// On Postgres, one statement whose columns are bound as arrays: its text does not depend on
/// how many rows it carries, so it is planned once and prepared for good. SQLite runs in the
/// process, where one statement per row costs little.
pub fn record_all(conn: &mut DbConn, records: &[&NewDelivery]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let DbConn::Postgres(pg) = conn else {
        for delivery in records {
            record(conn, delivery)?;
        }
        return Ok(());
    };
    bind_record_all(Prepared::new(RECORD_ALL_SQL), records).execute(pg)?;
    Ok(())
}

/// [`record_all`]'s statement on Postgres, its columns bound as arrays from `$1` on
/// ([`RECORD_ALL_PARAMS`] of them) by [`bind_record_all`] (also run inside
/// [`super::inbox::record_and_finish_all`]).
pub(super) const RECORD_ALL_SQL: &str = "INSERT INTO deliveries (event_id, seq, psid, request, \
     status, message_id, error_code, error_subcode, error_message, fbtrace_id, created_at, \
     page_id) \
     SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], \
     $12::text[]) \
     ON CONFLICT (event_id, seq) DO UPDATE SET page_id = excluded.page_id, \
     psid = excluded.psid, \
     request = excluded.request, status = excluded.status, \
     message_id = excluded.message_id, error_code = excluded.error_code, \
     error_subcode = excluded.error_subcode, error_message = excluded.error_message, \
     fbtrace_id = excluded.fbtrace_id, created_at = excluded.created_at";

/// How many parameters [`RECORD_ALL_SQL`] binds (one array per column).
pub(super) const RECORD_ALL_PARAMS: usize = 12;

/// Binds the columns of `rows` as [`RECORD_ALL_SQL`]'s twelve arrays.
pub(super) fn bind_record_all<'a>(query: Prepared<'a>, rows: &[&'a NewDelivery]) -> Prepared<'a> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};

    use super::column;

    query
        .bind::<Array<BigInt>, _>(column(rows, |d| d.event_id))
        .bind::<Array<Integer>, _>(column(rows, |d| d.seq))
        .bind::<Array<Nullable<Text>>, _>(column(rows, |d| d.psid.as_deref()))
        .bind::<Array<Text>, _>(column(rows, |d| d.request.as_str()))
        .bind::<Array<Text>, _>(column(rows, |d| d.status.as_str()))
        .bind::<Array<Nullable<Text>>, _>(column(rows, |d| d.message_id.as_deref()))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |d| d.error_code))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |d| d.error_subcode))
        .bind::<Array<Nullable<Text>>, _>(column(rows, |d| d.error_message.as_deref()))
        .bind::<Array<Nullable<Text>>, _>(column(rows, |d| d.fbtrace_id.as_deref()))
        .bind::<Array<BigInt>, _>(column(rows, |d| d.created_at))
        .bind::<Array<Text>, _>(column(rows, |d| d.page_id.as_str()))
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
