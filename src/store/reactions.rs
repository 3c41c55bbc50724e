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

/// Every reaction of `psid`, oldest first.
pub fn for_user(conn: &mut DbConn, psid: &str) -> Result<Vec<Reaction>, StoreError> {
    Ok(reactions::table
        .filter(reactions::psid.eq(psid))
        .order((reactions::event_time, reactions::event_id))
        .select(Reaction::as_select())
        .load(conn)?)
}

impl Store {
    /// Every reaction (and removal) of the user, oldest first.
    pub async fn reactions(&self, psid: &str) -> Result<Vec<Reaction>, StoreError> {
        let psid = psid.to_owned();
        self.run(move |conn| for_user(conn, &psid)).await
    }
}
