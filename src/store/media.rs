//! Media users sent (image, audio, video, file), when the `multimedia` handler stores them.

use diesel::prelude::*;

use super::schema::media;
use super::{DbConn, Store, StoreError};

/// One attachment, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = media, treat_none_as_default_value = false)]
pub struct Media {
    /// The inbox event of the message.
    pub event_id: i64,
    /// The attachment's position in the message, from 0.
    pub seq: i32,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// Who sent it.
    pub psid: String,
    /// `image`, `audio`, `video` or `file`.
    pub kind: String,
    /// Where it can be downloaded (Facebook's URLs expire).
    pub url: Option<String>,
    /// The message id.
    pub mid: Option<String>,
    /// When it was sent (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

/// Stores `rows`; rows of an event stored before are skipped.
pub fn record(conn: &mut DbConn, rows: &[Media]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    per_backend!(conn, c => diesel::insert_into(media::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Every attachment stored for `psid` of Page `page_id`, oldest first.
pub fn for_user(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Vec<Media>, StoreError> {
    Ok(media::table
        .filter(media::page_id.eq(page_id))
        .filter(media::psid.eq(psid))
        .order((media::event_time, media::event_id, media::seq))
        .select(Media::as_select())
        .load(conn)?)
}

impl Store {
    /// Every image, audio, video and file the `multimedia` handler stored for the user `psid`
    /// of Page `page_id` (`""` for events without one), oldest first.
    pub async fn media(&self, page_id: &str, psid: &str) -> Result<Vec<Media>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &psid)).await
    }
}
