//! Opt-ins: send-to-Messenger and checkbox plugins, one-time notification requests and
//! recurring notification messages, with their tokens and when those expire.
//!
//! Tokens let the Page message a user outside the 24-hour window: they are stored, never
//! logged (the `Debug` form of [`Optin`] hides them).

use diesel::prelude::*;

use super::schema::optins;
use super::{DbConn, Store, StoreError};

/// The `notification_messages_status` with which a user stops recurring notifications.
pub const STOP_NOTIFICATIONS: &str = "STOP NOTIFICATIONS";

/// One opt-in, as stored.
#[derive(Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = optins)]
pub struct Optin {
    /// The inbox event (the idempotency key).
    pub event_id: i64,
    /// The Page the event came to (`""` when it named none).
    pub page_id: String,
    /// The user's PSID; absent for checkbox opt-ins, which have no sender.
    pub psid: Option<String>,
    /// The checkbox plugin's reference (send to it with `recipient.user_ref`).
    pub user_ref: Option<String>,
    /// The `data-ref` pass-through parameter.
    #[diesel(column_name = ref_)]
    pub ref_: Option<String>,
    /// `one_time_notif_req`, `notification_messages`, or absent for plugin opt-ins.
    pub kind: Option<String>,
    /// The payload (topic) of a notification request.
    pub payload: Option<String>,
    /// The token for one follow-up message.
    pub one_time_notif_token: Option<String>,
    /// The token for recurring notification messages.
    pub notification_messages_token: Option<String>,
    /// `STOP NOTIFICATIONS` or `RESUME NOTIFICATIONS`.
    pub notification_messages_status: Option<String>,
    /// When the notification messages token expires (epoch ms).
    pub token_expiry_timestamp: Option<i64>,
    /// `REFRESHED` or `NOT_REFRESHED`.
    pub user_token_status: Option<String>,
    /// When the user opted in (epoch ms).
    pub event_time: i64,
    /// When it was stored (epoch ms).
    pub created_at: i64,
}

impl std::fmt::Debug for Optin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |t: &Option<String>| t.as_ref().map(|_| "<hidden>");
        f.debug_struct("Optin")
            .field("event_id", &self.event_id)
            .field("page_id", &self.page_id)
            .field("psid", &self.psid)
            .field("user_ref", &self.user_ref)
            .field("ref_", &self.ref_)
            .field("kind", &self.kind)
            .field("payload", &self.payload)
            .field("one_time_notif_token", &hidden(&self.one_time_notif_token))
            .field(
                "notification_messages_token",
                &hidden(&self.notification_messages_token),
            )
            .field(
                "notification_messages_status",
                &self.notification_messages_status,
            )
            .field("token_expiry_timestamp", &self.token_expiry_timestamp)
            .field("user_token_status", &self.user_token_status)
            .field("event_time", &self.event_time)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Stores `row` unless its event was stored before.
pub fn record(conn: &mut DbConn, row: &Optin) -> Result<(), StoreError> {
    per_backend!(conn, c => diesel::insert_into(optins::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Every opt-in on Page `page_id` of the user whose PSID or checkbox `user_ref` is `key`,
/// oldest first.
pub fn for_user(conn: &mut DbConn, page_id: &str, key: &str) -> Result<Vec<Optin>, StoreError> {
    Ok(optins::table
        .filter(optins::page_id.eq(page_id))
        .filter(optins::psid.eq(key).or(optins::user_ref.eq(key)))
        .order((optins::event_time, optins::event_id))
        .select(Optin::as_select())
        .load(conn)?)
}

/// The latest recurring-notification opt-in of `psid` on Page `page_id` for `payload`, if it
/// still lets the Page send: it has a token, the user did not stop notifications since, and
/// the token has not expired at `now` (epoch ms).
pub fn notification_token(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
    payload: &str,
    now: i64,
) -> Result<Option<Optin>, StoreError> {
    let latest = optins::table
        .filter(optins::page_id.eq(page_id))
        .filter(optins::psid.eq(psid))
        .filter(optins::kind.eq("notification_messages"))
        .filter(optins::payload.eq(payload))
        .order((optins::event_time.desc(), optins::event_id.desc()))
        .select(Optin::as_select())
        .first(conn)
        .optional()?;
    Ok(latest.filter(|o| {
        o.notification_messages_token.is_some()
            && o.notification_messages_status.as_deref() != Some(STOP_NOTIFICATIONS)
            && o.token_expiry_timestamp.is_none_or(|at| at > now)
    }))
}

impl Store {
    /// Every opt-in on Page `page_id` (`""` for events without one) of the user whose PSID or
    /// checkbox `user_ref` is `key`, oldest first.
    pub async fn optins(&self, page_id: &str, key: &str) -> Result<Vec<Optin>, StoreError> {
        let (page_id, key) = (page_id.to_owned(), key.to_owned());
        self.run(move |conn| for_user(conn, &page_id, &key)).await
    }

    /// The opt-in whose `notification_messages_token` Page `page_id` may use now to send the
    /// user `psid` a recurring notification about `payload`: `None` if they never opted in,
    /// stopped, or the token expired.
    pub async fn notification_token(
        &self,
        page_id: &str,
        psid: &str,
        payload: &str,
    ) -> Result<Option<Optin>, StoreError> {
        let (page_id, psid, payload) = (page_id.to_owned(), psid.to_owned(), payload.to_owned());
        self.run(move |conn| notification_token(conn, &page_id, &psid, &payload, super::now_ms()))
            .await
    }
}
