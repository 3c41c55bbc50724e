//! Reactions users put on (or took off) messages.

use diesel::prelude::*;

use super::schema::reactions;
use super::{DbConn, Store, StoreError};

/// One reaction or its removal, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reactions)]
pub struct Reaction {
    /// The inbox event (the idempotency key).
    pub event_id: i64,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// Who reacted.
    pub psid: String,
    /// The message reacted to.
    pub mid: Option<String>,
    /// `smile`, `angry`, `sad`, `wow`, `love`, `like`, `dislike` or `other`.
    pub reaction: Option<String>,
    /// The emoji (absent on `unreact`).
    pub emoji: Option<String>,
    /// `react` or `unreact`.
    pub action: Option<String>,
    /// When (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `row` unless its event was stored before.
pub fn record(conn: &mut DbConn, row: &Reaction) -> Result<(), StoreError> {
    per_backend!(conn, c => diesel::insert_into(reactions::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Every reaction of `psid` on Page `page_id`, oldest first.
pub fn for_user(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Vec<Reaction>, StoreError> {
    Ok(reactions::table
        .filter(reactions::page_id.eq(page_id))
        .filter(reactions::psid.eq(psid))
        .order((reactions::event_time, reactions::event_id))
        .select(Reaction::as_select())
        .load(conn)?)
}

impl Store {
    /// Every reaction (and removal) of the user `psid` on Page `page_id` (`""` for events
    /// without one), oldest first.
    pub async fn reactions(&self, page_id: &str, psid: &str) -> Result<Vec<Reaction>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &psid)).await
    }
}
