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

/// The user's latest linking or unlinking.
pub fn latest(conn: &mut DbConn, psid: &str) -> Result<Option<AccountLink>, StoreError> {
    Ok(account_links::table
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
    /// The user's latest linking or unlinking: `status` says whether the account is linked
    /// now, `authorization_code` what the link carried.
    pub async fn account_link(&self, psid: &str) -> Result<Option<AccountLink>, StoreError> {
        let psid = psid.to_owned();
        self.run(move |conn| latest(conn, &psid)).await
    }
}
