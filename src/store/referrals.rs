//! Referrals: how users came into the thread (m.me links, ads, the chat plugin).

use diesel::prelude::*;

use super::schema::referrals;
use super::{DbConn, Store, StoreError};

/// One referral, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = referrals)]
pub struct Referral {
    /// The inbox event (the idempotency key).
    pub event_id: i64,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// The user.
    pub psid: String,
    /// The `ref` parameter of the link, ad or plugin.
    #[diesel(column_name = ref_)]
    pub ref_: Option<String>,
    /// `SHORTLINK`, `ADS`, `CUSTOMER_CHAT_PLUGIN`, ...
    pub source: Option<String>,
    /// Usually `OPEN_THREAD`.
    pub kind: Option<String>,
    /// The ad, for `ADS` referrals.
    pub ad_id: Option<String>,
    /// The page the chat plugin was on.
    pub referer_uri: Option<String>,
    /// What the ad showed, as JSON.
    pub ads_context_data: Option<String>,
    /// When (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `row` unless its event was stored before.
pub fn record(conn: &mut DbConn, row: &Referral) -> Result<(), StoreError> {
    per_backend!(conn, c => diesel::insert_into(referrals::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Every referral of `psid` to Page `page_id`, oldest first.
pub fn for_user(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Vec<Referral>, StoreError> {
    Ok(referrals::table
        .filter(referrals::page_id.eq(page_id))
        .filter(referrals::psid.eq(psid))
        .order((referrals::event_time, referrals::event_id))
        .select(Referral::as_select())
        .load(conn)?)
}

impl Store {
    /// Every referral of the user `psid` to Page `page_id` (`""` for events without one),
    /// oldest first.
    pub async fn referrals(&self, page_id: &str, psid: &str) -> Result<Vec<Referral>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &psid)).await
    }
}
