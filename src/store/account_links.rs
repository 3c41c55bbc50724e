//! Account linking: each link and unlink, with the authorization code of a link.

use diesel::prelude::*;

use super::schema::account_links;
use super::{DbConn, Store, StoreError};

/// One linking or unlinking, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = account_links)]
pub struct AccountLink {
    /// The inbox event (the idempotency key).
    pub event_id: i64,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// The user.
    pub psid: String,
    /// `linked` or `unlinked`.
    pub status: String,
    /// The code the bot passed through the linking flow (only when linked).
    pub authorization_code: Option<String>,
    /// When it happened (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `row` unless its event was stored before.
pub fn record(conn: &mut DbConn, row: &AccountLink) -> Result<(), StoreError> {
    per_backend!(conn, c => diesel::insert_into(account_links::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// The latest linking or unlinking of `psid` on Page `page_id`.
pub fn latest(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
) -> Result<Option<AccountLink>, StoreError> {
    Ok(account_links::table
        .filter(account_links::page_id.eq(page_id))
        .filter(account_links::psid.eq(psid))
        .order((
            account_links::event_time.desc(),
            account_links::event_id.desc(),
        ))
        .select(AccountLink::as_select())
        .first(conn)
        .optional()?)
}

impl Store {
    /// The latest linking or unlinking of user `psid` on Page `page_id` (`""` for events
    /// without one): `status` says whether the account is linked now, `authorization_code`
    /// what the link carried.
    pub async fn account_link(
        &self,
        page_id: &str,
        psid: &str,
    ) -> Result<Option<AccountLink>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| latest(conn, &page_id, &psid)).await
    }
}
