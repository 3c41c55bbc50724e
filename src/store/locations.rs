//! Locations users shared: every location attachment, keyed by event and position.

use diesel::prelude::*;

use super::schema::locations;
use super::{DbConn, Store, StoreError};

/// One shared location, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = locations, treat_none_as_default_value = false)]
pub struct Location {
    /// The inbox event of the message.
    pub event_id: i64,
    /// The attachment's position in the message, from 0.
    pub seq: i32,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// Who shared it.
    pub psid: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub long: f64,
    /// The title Facebook gave it ("Pinned Location", a place name).
    pub title: Option<String>,
    /// A map URL.
    pub url: Option<String>,
    /// The message id.
    pub mid: Option<String>,
    /// When it was sent (epoch ms).
    #[diesel(column_name = event_time)]
    pub time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `rows`; rows of an event stored before are skipped.
pub fn record(conn: &mut DbConn, rows: &[Location]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    per_backend!(conn, c => diesel::insert_into(locations::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Every location `psid` shared with Page `page_id`, oldest first.
pub fn for_user(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Vec<Location>, StoreError> {
    Ok(locations::table
        .filter(locations::page_id.eq(page_id))
        .filter(locations::psid.eq(psid))
        .order((locations::event_time, locations::event_id, locations::seq))
        .select(Location::as_select())
        .load(conn)?)
}

impl Store {
    /// Every location the user `psid` shared with Page `page_id` (`""` for events without
    /// one), oldest first.
    pub async fn locations(&self, page_id: &str, psid: &str) -> Result<Vec<Location>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &psid)).await
    }
}
