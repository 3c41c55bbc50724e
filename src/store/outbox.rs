//! The outbox: messages the bot starts, from queued to sent, refused or failed.
//!
//! A row is committed before the API answers 202 (or `Outbox::send` returns), so a crash
//! afterwards loses nothing. The delivery loop claims due rows with a lease, like the inbox's
//! events: a worker that dies leaves its row to be claimed again once the lease runs out.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use super::optins::{self, Optin};
use super::schema::{inbox_events, outbox_messages};
use super::{DbConn, StoreError};

/// Waiting to be delivered.
pub const QUEUED: &str = "queued";
/// Facebook accepted it.
pub const SENT: &str = "sent";
/// Not sent: the Messenger rules do not allow it (the window, no token).
pub const REFUSED: &str = "refused";
/// Facebook refused it, or it could not be sent.
pub const FAILED: &str = "failed";

/// The kinds of event by which a user opens the 24-hour window: a message, a postback, a
/// quick reply, a reaction, a referral. Receipts, echoes and opt-ins do not (MESSENGER.md).
pub const INTERACTIONS: &[&str] = &[
    "SIMPLE_TEXT",
    "QUICK_REPLY",
    "IMAGE",
    "AUDIO",
    "VIDEO",
    "FILE",
    "LOCATION",
    "STICKER",
    "POSTBACK",
    "PERSISTENT_MENU_ONE",
    "PERSISTENT_MENU_TWO",
    "PERSISTENT_MENU_THREE",
    "PERSISTENT_MENU_FOUR",
    "PERSISTENT_MENU_FIVE",
    "GET_STARTED_BUTTON",
    "REACTION",
    "REFERRAL",
    "MESSAGE_EDIT",
    "FALLBACK",
];

/// How long a one-time notification token may be used after the user granted it.
pub const ONE_TIME_TOKEN_LIFETIME_MS: i64 = 365 * 24 * 3600 * 1000;

/// One outbox message, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = outbox_messages)]
pub struct OutboxRow {
    /// Its id (what the API answers).
    pub id: i64,
    /// The Page (`""`: the catch-all Page).
    pub page_id: String,
    /// The user's PSID on that Page.
    pub psid: String,
    /// `response`, `update`, `tag` or `notification`.
    pub intent: String,
    /// The tag of a `tag` intent.
    pub tag: Option<String>,
    /// The topic (opt-in payload) a `notification` is restricted to.
    pub topic: Option<String>,
    /// The Send API `message`, localized.
    pub message: String,
    /// `queued`, `sent`, `refused` or `failed`.
    pub state: String,
    /// Facebook's id of the sent message.
    pub message_id: Option<String>,
    /// Why it was refused or failed (Facebook's message for a refusal of Facebook's).
    pub error: Option<String>,
    /// Facebook's error code.
    pub error_code: Option<i64>,
    /// The caller's idempotency key, unique per Page.
    pub idempotency_key: Option<String>,
    /// The opt-in whose one-time token this message used.
    pub one_time_token_event: Option<i64>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// When it may be claimed (epoch ms): a claim moves it a lease ahead, so that a row whose
    /// worker died is claimed again once the lease passes.
    pub due_at: i64,
    /// When it was queued.
    pub created_at: i64,
}

/// A message to queue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox_messages)]
pub struct NewOutboxMessage {
    /// See [`OutboxRow`].
    pub page_id: String,
    #[allow(missing_docs)]
    pub psid: String,
    #[allow(missing_docs)]
    pub intent: String,
    #[allow(missing_docs)]
    pub tag: Option<String>,
    #[allow(missing_docs)]
    pub topic: Option<String>,
    #[allow(missing_docs)]
    pub message: String,
    #[allow(missing_docs)]
    pub state: String,
    #[allow(missing_docs)]
    pub idempotency_key: Option<String>,
    #[allow(missing_docs)]
    pub attempts: i32,
    #[allow(missing_docs)]
    pub due_at: i64,
    #[allow(missing_docs)]
    pub created_at: i64,
}

/// Queues `row`; with an idempotency key already used on its Page, queues nothing and returns
/// the message queued first (whatever its state now).
pub fn queue(conn: &mut DbConn, row: &NewOutboxMessage) -> Result<OutboxRow, StoreError> {
    let Some(key) = &row.idempotency_key else {
        let id: i64 = per_backend!(conn, c => diesel::insert_into(outbox_messages::table)
            .values(row)
            .returning(outbox_messages::id)
            .get_result(c))?;
        return find(conn, id)?.ok_or_else(|| StoreError::Task("a queued row vanished".into()));
    };
    per_backend!(conn, c => diesel::insert_into(outbox_messages::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(outbox_messages::table
        .filter(outbox_messages::page_id.eq(&row.page_id))
        .filter(outbox_messages::idempotency_key.eq(key))
        .select(OutboxRow::as_select())
        .first(conn)?)
}

/// The message `id`, if it exists.
pub fn find(conn: &mut DbConn, id: i64) -> Result<Option<OutboxRow>, StoreError> {
    Ok(outbox_messages::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every message, oldest first (tests, inspection).
pub fn all(conn: &mut DbConn) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(outbox_messages::table
        .order(outbox_messages::id)
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// Claims up to `limit` queued messages due at `now`: each is held for `lease_ms` (its
/// `due_at` moved that far ahead) and its attempts counted. A row another instance claimed
/// meanwhile is skipped (the update is guarded by the attempts it read).
pub fn claim(
    conn: &mut DbConn,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    use outbox_messages::dsl as o;
    let due: Vec<OutboxRow> = o::outbox_messages
        .filter(o::state.eq(QUEUED))
        .filter(o::due_at.le(now))
        .order((o::due_at, o::id))
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)?;
    let until = now.saturating_add(lease_ms);
    let mut claimed = Vec::with_capacity(due.len());
    for mut row in due {
        let taken = diesel::update(
            o::outbox_messages
                .filter(o::id.eq(row.id))
                .filter(o::state.eq(QUEUED))
                .filter(o::attempts.eq(row.attempts)),
        )
        .set((o::due_at.eq(until), o::attempts.eq(row.attempts + 1)))
        .execute(conn)?;
        if taken == 1 {
            row.attempts += 1;
            row.due_at = until;
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    /// The final state (`sent`, `refused`, `failed`), or `None`: queued again.
    pub state: Option<&'static str>,
    /// Facebook's message id.
    pub message_id: Option<String>,
    /// Why it did not go out.
    pub error: Option<String>,
    /// Facebook's error code.
    pub error_code: Option<i64>,
    /// For a retry: when it is due again.
    pub due_at: Option<i64>,
    /// For a retry: the attempt does not count (the Page was rate-limited).
    pub refund: bool,
}

/// Records how the attempt of the claim that set `attempts` ended; false if that claim no
/// longer holds (another worker took the row after the lease ran out), and nothing changed.
pub fn finish(
    conn: &mut DbConn,
    id: i64,
    attempts: i32,
    ending: &Ending,
    now: i64,
) -> Result<bool, StoreError> {
    use outbox_messages::dsl as o;
    let target = o::outbox_messages
        .filter(o::id.eq(id))
        .filter(o::state.eq(QUEUED))
        .filter(o::attempts.eq(attempts));
    let changed = match ending.state {
        Some(state) => diesel::update(target)
            .set((
                o::state.eq(state),
                o::message_id.eq(&ending.message_id),
                o::error.eq(&ending.error),
                o::error_code.eq(ending.error_code),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                o::error.eq(&ending.error),
                o::error_code.eq(ending.error_code),
                o::due_at.eq(ending.due_at.unwrap_or(now)),
                o::attempts.eq(if ending.refund {
                    attempts - 1
                } else {
                    attempts
                }),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// When user `psid` last interacted with Page `page_id` (`""`: events that named no Page),
/// as the inbox knows: the time of their newest message, postback, reaction... ([`INTERACTIONS`]).
pub fn last_interaction(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
) -> Result<Option<i64>, StoreError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    use inbox_events::dsl as e;
    // inbox_events_last_seen finds the user's events by PSID; the Page filters those few.
    Ok(e::inbox_events
        .filter(
            sql::<Bool>("COALESCE(page_id, '') = ")
                .bind::<Text, _>(page_id.to_owned())
                .sql(""),
        )
        .filter(e::psid.eq(psid))
        .filter(e::kind.eq_any(INTERACTIONS))
        .select(diesel::dsl::max(e::event_time))
        .first::<Option<i64>>(conn)?)
}

/// The Pages (`""`: none named) whose inbox has events of `psid`, at most two: what a message
/// that names no Page is resolved by on a catch-all deployment.
pub fn pages_of(conn: &mut DbConn, psid: &str) -> Result<Vec<String>, StoreError> {
    use inbox_events::dsl as e;
    let pages: Vec<Option<String>> = e::inbox_events
        .filter(e::psid.eq(psid))
        .select(e::page_id)
        .distinct()
        .limit(2)
        .load(conn)?;
    let mut pages: Vec<String> = pages.into_iter().map(Option::unwrap_or_default).collect();
    pages.dedup();
    Ok(pages)
}

/// A token to send a notification with.
#[derive(Clone, PartialEq, Eq)]
pub enum NotificationToken {
    /// A one-time notification token (`recipient.one_time_notif_token`), of opt-in `event_id`.
    OneTime {
        /// The opt-in it came with.
        event_id: i64,
        /// The token.
        token: String,
    },
    /// A recurring notification messages token (`recipient.notification_messages_token`).
    Recurring {
        /// The token.
        token: String,
    },
}

impl std::fmt::Debug for NotificationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OneTime { event_id, .. } => write!(f, "OneTime({event_id}, <hidden>)"),
            Self::Recurring { .. } => f.write_str("Recurring(<hidden>)"),
        }
    }
}

/// The token message `id` (to `psid` on `page_id`) goes out with at `now`, about `topic` if
/// given: the one-time token it took already (a retry), else the oldest one-time token not
/// yet used by any message, taken for it here (the unique `one_time_token_event` makes sure
/// no other message takes it too), else the newest usable recurring token. `None`: the user
/// granted none, or each was used, stopped or expired.
pub fn take_notification_token(
    conn: &mut DbConn,
    id: i64,
    page_id: &str,
    psid: &str,
    topic: Option<&str>,
    now: i64,
) -> Result<Option<NotificationToken>, StoreError> {
    use outbox_messages::dsl as o;
    let granted = optins::for_user(conn, page_id, psid)?;
    let mine: Option<i64> = o::outbox_messages
        .find(id)
        .select(o::one_time_token_event)
        .first(conn)?;
    if let Some(event_id) = mine {
        return Ok(granted
            .iter()
            .find(|optin| optin.event_id == event_id)
            .and_then(|optin| optin.one_time_notif_token.clone())
            .map(|token| NotificationToken::OneTime { event_id, token }));
    }
    let about = |optin: &Optin| topic.is_none_or(|t| optin.payload.as_deref() == Some(t));
    let used: BTreeSet<i64> = o::outbox_messages
        .filter(o::page_id.eq(page_id))
        .filter(o::psid.eq(psid))
        .filter(o::one_time_token_event.is_not_null())
        .select(o::one_time_token_event.assume_not_null())
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    for optin in &granted {
        let usable = optin.kind.as_deref() == Some("one_time_notif_req")
            && optin.one_time_notif_token.is_some()
            && about(optin)
            && !used.contains(&optin.event_id)
            && optin.event_time.saturating_add(ONE_TIME_TOKEN_LIFETIME_MS) > now;
        if !usable {
            continue;
        }
        let taken = diesel::update(
            o::outbox_messages
                .filter(o::id.eq(id))
                .filter(o::one_time_token_event.is_null()),
        )
        .set(o::one_time_token_event.eq(optin.event_id))
        .execute(conn);
        match taken {
            Ok(1) => {
                return Ok(optin.one_time_notif_token.clone().map(|token| {
                    NotificationToken::OneTime {
                        event_id: optin.event_id,
                        token,
                    }
                }));
            }
            // Another message took this token at the same moment: try the next.
            Ok(_)
            | Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    // Recurring: per topic, the newest opt-in says whether its token may be used.
    let mut newest: HashMap<Option<&str>, &Optin> = HashMap::new();
    for optin in granted
        .iter()
        .filter(|o| o.kind.as_deref() == Some("notification_messages") && about(o))
    {
        newest.insert(optin.payload.as_deref(), optin);
    }
    let mut usable: Vec<&&Optin> = newest
        .values()
        .filter(|o| {
            o.notification_messages_token.is_some()
                && o.notification_messages_status
                    .as_deref()
                    .is_none_or(|s| s.replace('_', " ") != optins::STOP_NOTIFICATIONS)
                && o.token_expiry_timestamp.is_none_or(|at| at > now)
        })
        .collect();
    usable.sort_by_key(|o| (o.event_time, o.event_id));
    Ok(usable.last().and_then(|o| {
        o.notification_messages_token
            .clone()
            .map(|token| NotificationToken::Recurring { token })
    }))
}
