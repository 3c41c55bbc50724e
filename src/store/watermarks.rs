//! Delivery and read watermarks: the highest seen per user (a Page and a PSID). Raising a
//! maximum is idempotent, so retried and out-of-order receipts need no event key.

use diesel::prelude::*;

use super::schema::watermarks;
use super::{DbConn, Store, StoreError, now_ms};

/// Which receipt a watermark comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Receipt {
    /// `delivery`: messages sent before the watermark were delivered.
    Delivery,
    /// `read`: messages sent before the watermark were read.
    Read,
}

impl Receipt {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Delivery => "delivery",
            Self::Read => "read",
        }
    }
}

/// A user's watermarks (epoch ms), when any receipt was seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermarks {
    /// Everything the Page sent before this was delivered.
    pub delivered: Option<i64>,
    /// Everything the Page sent before this was read.
    pub read: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = watermarks)]
struct NewWatermark<'a> {
    page_id: &'a str,
    psid: &'a str,
    kind: &'a str,
    watermark: i64,
    updated_at: i64,
}

/// Raises the `receipt` watermark of `psid` on Page `page_id` to `watermark` if it is higher
/// than the stored one.
pub fn raise(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
    receipt: Receipt,
    watermark: i64,
) -> Result<(), StoreError> {
    let now = now_ms();
    let kind = receipt.as_str();
    let row = NewWatermark {
        page_id,
        psid,
        kind,
        watermark,
        updated_at: now,
    };
    per_backend!(conn, c => diesel::insert_into(watermarks::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(c))?;
    // One statement, so that it is atomic on both backends: only ever raised.
    diesel::update(
        watermarks::table
            .find((page_id, psid, kind))
            .filter(watermarks::watermark.lt(watermark)),
    )
    .set((
        watermarks::watermark.eq(watermark),
        watermarks::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// The watermarks of `psid` on Page `page_id`.
pub fn for_user(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Watermarks, StoreError> {
    let rows: Vec<(String, i64)> = watermarks::table
        .filter(watermarks::page_id.eq(page_id))
        .filter(watermarks::psid.eq(psid))
        .select((watermarks::kind, watermarks::watermark))
        .load(conn)?;
    let mut out = Watermarks::default();
    for (kind, watermark) in rows {
        match kind.as_str() {
            "delivery" => out.delivered = Some(watermark),
            "read" => out.read = Some(watermark),
            _ => {}
        }
    }
    Ok(out)
}

impl Store {
    /// The highest delivery and read watermarks seen for the user `psid` of Page `page_id`
    /// (`""` for events without one).
    pub async fn watermarks(&self, page_id: &str, psid: &str) -> Result<Watermarks, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &psid)).await
    }
}
