//! Thumbs-up "Like" stickers: one row per message that carried one, so a retried event or a
//! message with both the legacy and the current sticker form counts once.

use diesel::prelude::*;

use super::schema::{thumbs_up, users};
use super::{DbConn, Store, StoreError, now_ms, write_transaction};

/// One message with a thumbs-up sticker, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = thumbs_up)]
pub struct ThumbUp {
    /// The inbox event of the message (the idempotency key).
    pub event_id: i64,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// Who sent it.
    pub psid: String,
    /// The message id.
    pub mid: Option<String>,
    /// Which of the three sizes it was.
    pub sticker_id: String,
    /// When it was sent (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `row` unless its event was stored before, keeps `users.thumbups` of the row's user
/// (its Page and PSID) equal to the number of stored rows for them, and returns that number.
pub fn record(conn: &mut DbConn, row: &ThumbUp) -> Result<i64, StoreError> {
    write_transaction(conn, |conn| {
        super::users::ensure(conn, &row.page_id, &row.psid)?;
        per_backend!(conn, c => diesel::insert_into(thumbs_up::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
        let count = count(conn, &row.page_id, &row.psid)?;
        diesel::update(users::table.find((&row.page_id, &row.psid)))
            .set((users::thumbups.eq(count), users::updated_at.eq(now_ms())))
            .execute(conn)?;
        Ok(count)
    })
}

/// How many messages with a thumbs-up sticker `psid` sent to Page `page_id`.
pub fn count(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<i64, StoreError> {
    Ok(thumbs_up::table
        .filter(thumbs_up::page_id.eq(page_id))
        .filter(thumbs_up::psid.eq(psid))
        .count()
        .get_result(conn)?)
}

impl Store {
    /// How many messages with a thumbs-up "Like" sticker (any size) the user `psid` sent to
    /// Page `page_id` (`""` for events without one); each message counts once, whatever forms
    /// of the sticker it carried.
    pub async fn thumbs_up_count(&self, page_id: &str, psid: &str) -> Result<i64, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| count(conn, &page_id, &psid)).await
    }
}
