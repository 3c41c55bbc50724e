//! The Page's own messages echoed back: which app sent what to whom.

use diesel::prelude::*;

use super::schema::echoes;
use super::{DbConn, Store, StoreError};

/// One echo, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = echoes)]
pub struct Echo {
    /// The inbox event (the idempotency key).
    pub event_id: i64,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// The user the message was sent to (the echo's recipient).
    pub psid: Option<String>,
    /// The message id.
    pub mid: Option<String>,
    /// The app that sent it (Meta's Page Inbox app when a person answered by hand).
    pub app_id: Option<String>,
    /// The `metadata` the sender attached.
    pub metadata: Option<String>,
    /// When it was sent (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `row` unless its event was stored before.
pub fn record(conn: &mut DbConn, row: &Echo) -> Result<(), StoreError> {
    per_backend!(conn, c => diesel::insert_into(echoes::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Every echo of a message Page `page_id` sent to `psid`, oldest first.
pub fn for_user(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Vec<Echo>, StoreError> {
    Ok(echoes::table
        .filter(echoes::page_id.eq(page_id))
        .filter(echoes::psid.eq(psid))
        .order((echoes::event_time, echoes::event_id))
        .select(Echo::as_select())
        .load(conn)?)
}

impl Store {
    /// Every stored echo of a message Page `page_id` (`""` for events without one) sent to
    /// the user `psid`, oldest first.
    pub async fn echoes(&self, page_id: &str, psid: &str) -> Result<Vec<Echo>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &psid)).await
    }
}
