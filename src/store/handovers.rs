//! Handover protocol events: thread control passed, taken or requested, and app roles.

use diesel::prelude::*;

use super::schema::handovers;
use super::{DbConn, Store, StoreError};

/// One handover event, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = handovers)]
pub struct Handover {
    /// The inbox event (the idempotency key).
    pub event_id: i64,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// The user whose thread it is; absent for `app_roles`.
    pub psid: Option<String>,
    /// `pass_thread_control`, `take_thread_control`, `request_thread_control` or `app_roles`.
    pub action: String,
    /// The app that owned the thread.
    pub previous_owner_app_id: Option<String>,
    /// The app that owns the thread now.
    pub new_owner_app_id: Option<String>,
    /// The app asking for the thread.
    pub requested_owner_app_id: Option<String>,
    /// The metadata the other app passed.
    pub metadata: Option<String>,
    /// The event's object as received (JSON).
    pub raw: String,
    /// When (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `row` unless its event was stored before.
pub fn record(conn: &mut DbConn, row: &Handover) -> Result<(), StoreError> {
    per_backend!(conn, c => diesel::insert_into(handovers::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Every handover event of `psid`'s thread with Page `page_id`, oldest first.
pub fn for_user(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Vec<Handover>, StoreError> {
    Ok(handovers::table
        .filter(handovers::page_id.eq(page_id))
        .filter(handovers::psid.eq(psid))
        .order((handovers::event_time, handovers::event_id))
        .select(Handover::as_select())
        .load(conn)?)
}

impl Store {
    /// Every handover event of the thread of user `psid` with Page `page_id` (`""` for
    /// events without one), oldest first.
    pub async fn handovers(&self, page_id: &str, psid: &str) -> Result<Vec<Handover>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &psid)).await
    }
}
