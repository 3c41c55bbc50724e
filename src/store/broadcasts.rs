//! Broadcasts: one message to many users of a Page, expanded into the outbox in batches and
//! released to it at the broadcast's rate (see the migration `2026-12-13-000001_broadcasts`).
//!
//! Every step is one transaction guarded by what it read (the expansion cursor, the token
//! bucket's `released_at`), so that a crash, or two instances doing the same step at once,
//! queues nobody twice: the outbox then sends each row at most once.

use std::collections::HashMap;

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text};
use serde::{Deserialize, Serialize};

use super::outbox::{self as outbox_rows, NewOutboxMessage};
use super::schema::{broadcast_recipients, broadcasts, outbox_messages, users};
use super::{DbConn, StoreError, write_transaction};

/// Waiting to be expanded.
pub const QUEUED: &str = "queued";
/// Expanding or delivering.
pub const RUNNING: &str = "running";
/// Facebook rate-limited the Page: delivery resumes by itself once the pause ends.
pub const PAUSED: &str = "paused";
/// Cancelled: its messages not yet tried were refused.
pub const CANCELLED: &str = "cancelled";
/// Every message of it was sent, refused or failed.
pub const DONE: &str = "done";

/// The `due_at` of an outbox row that waits for its broadcast to release it: never due.
pub const HELD: i64 = i64::MAX;

/// Why a cancelled broadcast's messages were refused.
pub const CANCELLED_REASON: &str = "the broadcast was cancelled";

/// Which users of a Page a broadcast goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Users whose locale (their own choice, else their profile's) is this language or
    /// locale: `fr` matches `fr_FR` and `fr-CA`, `fr_FR` only itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Users who granted a notification token (`true`) or none (`false`). The outbox still
    /// checks, when it sends, that the token may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_notification_token: Option<bool>,
    /// Users who wrote to the Page within this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_within_days: Option<u32>,
}

/// A broadcast, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = broadcasts)]
pub struct BroadcastRow {
    /// Its id.
    pub id: i64,
    /// The Page it is sent on.
    pub page_id: String,
    /// `response`, `update`, `tag` or `notification`.
    pub intent: String,
    /// The tag of a `tag` intent.
    pub tag: Option<String>,
    /// The topic a `notification` is restricted to.
    pub topic: Option<String>,
    /// The API's `message`, as given.
    pub message: String,
    /// The PSIDs it goes to (a JSON array), or `None`: the users matching `filter`.
    pub recipients: Option<String>,
    /// The filter (JSON, a [`Filter`]).
    pub filter: Option<String>,
    /// `queued`, `running`, `paused`, `cancelled` or `done`.
    pub state: String,
    /// Messages released to the outbox per second, at most.
    pub rate_per_sec: i32,
    /// Where the expansion stands: the last PSID taken (filter) or the next index (list).
    pub expand_cursor: String,
    /// 1 once every recipient has its outbox row.
    pub expanded: i32,
    /// Recipients expanded so far.
    pub total: i64,
    /// The token bucket: messages may be released for the time since then.
    pub released_at: i64,
    /// When it was created.
    pub created_at: i64,
    /// The last outbox row released (their ids grow with the expansion).
    pub released_through: i64,
}

/// A broadcast to create.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = broadcasts)]
pub struct NewBroadcast {
    /// See [`BroadcastRow`].
    pub page_id: String,
    #[allow(missing_docs)]
    pub intent: String,
    #[allow(missing_docs)]
    pub tag: Option<String>,
    #[allow(missing_docs)]
    pub topic: Option<String>,
    #[allow(missing_docs)]
    pub message: String,
    #[allow(missing_docs)]
    pub recipients: Option<String>,
    #[allow(missing_docs)]
    pub filter: Option<String>,
    #[allow(missing_docs)]
    pub state: String,
    #[allow(missing_docs)]
    pub rate_per_sec: i32,
    #[allow(missing_docs)]
    pub released_at: i64,
    #[allow(missing_docs)]
    pub created_at: i64,
}

/// A broadcast's messages per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Expanded so far.
    pub total: i64,
    /// Not yet sent (held, released or being tried).
    pub queued: i64,
    /// Of those, released to the outbox and not yet finished.
    pub released: i64,
    /// Sent.
    pub sent: i64,
    /// Refused (the rules, or the broadcast was cancelled).
    pub refused: i64,
    /// Failed.
    pub failed: i64,
}

/// Creates `row`; returns its id.
pub fn create(conn: &mut DbConn, row: &NewBroadcast) -> Result<i64, StoreError> {
    Ok(
        per_backend!(conn, c => diesel::insert_into(broadcasts::table)
        .values(row)
        .returning(broadcasts::id)
        .get_result(c))?,
    )
}

/// The broadcast `id`, if it exists.
pub fn find(conn: &mut DbConn, id: i64) -> Result<Option<BroadcastRow>, StoreError> {
    Ok(broadcasts::table
        .find(id)
        .select(BroadcastRow::as_select())
        .first(conn)
        .optional()?)
}

/// The broadcasts still to expand or deliver, oldest first.
pub fn active(conn: &mut DbConn) -> Result<Vec<BroadcastRow>, StoreError> {
    Ok(broadcasts::table
        .filter(broadcasts::state.eq_any([QUEUED, RUNNING, PAUSED]))
        .order(broadcasts::id)
        .select(BroadcastRow::as_select())
        .load(conn)?)
}

/// Broadcast `id`'s messages per state.
pub fn counts(conn: &mut DbConn, id: i64) -> Result<Counts, StoreError> {
    use broadcast_recipients::dsl as r;
    use outbox_messages::dsl as o;
    let per_state: Vec<(String, i64)> = r::broadcast_recipients
        .inner_join(o::outbox_messages)
        .filter(r::broadcast_id.eq(id))
        .group_by(o::state)
        .select((o::state, count_star()))
        .load(conn)?;
    let released: i64 = r::broadcast_recipients
        .inner_join(o::outbox_messages)
        .filter(r::broadcast_id.eq(id))
        .filter(o::state.eq(outbox_rows::QUEUED))
        .filter(o::due_at.ne(HELD))
        .select(count_star())
        .first(conn)?;
    let mut counts = Counts {
        released,
        ..Counts::default()
    };
    for (state, n) in per_state {
        counts.total += n;
        match state.as_str() {
            outbox_rows::QUEUED => counts.queued += n,
            outbox_rows::SENT => counts.sent += n,
            outbox_rows::REFUSED => counts.refused += n,
            _ => counts.failed += n,
        }
    }
    Ok(counts)
}

/// Moves broadcast `id` from one of `from` to `to`; false if it was in none of them.
pub fn set_state(conn: &mut DbConn, id: i64, from: &[&str], to: &str) -> Result<bool, StoreError> {
    use broadcasts::dsl as b;
    let target = b::broadcasts
        .filter(b::id.eq(id))
        .filter(b::state.eq_any(from));
    let changed = diesel::update(target).set(b::state.eq(to)).execute(conn)?;
    Ok(changed == 1)
}

/// Up to `limit` users of Page `page_id` matching `filter` whose PSID sorts after `after`,
/// in PSID order, with their locale; `since`: the earliest last interaction that counts as
/// "seen" for `last_seen_within_days`.
pub fn matching_users(
    conn: &mut DbConn,
    page_id: &str,
    filter: &Filter,
    since: Option<i64>,
    after: &str,
    limit: i64,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    use users::dsl as u;
    let mut query = u::users
        .filter(u::page_id.eq(page_id))
        .filter(u::psid.gt(after))
        .into_boxed();
    if let Some(locale) = &filter.locale {
        let n = i32::try_from(locale.chars().count() + 1).unwrap_or(i32::MAX);
        query = query.filter(
            sql::<Bool>("(COALESCE(chosen_locale, locale) = ")
                .bind::<Text, _>(locale.clone())
                .sql(" OR SUBSTR(COALESCE(chosen_locale, locale), 1, ")
                .bind::<Integer, _>(n)
                .sql(") IN (")
                .bind::<Text, _>(format!("{locale}_"))
                .sql(", ")
                .bind::<Text, _>(format!("{locale}-"))
                .sql("))"),
        );
    }
    if let Some(wanted) = filter.has_notification_token {
        let exists = "EXISTS (SELECT 1 FROM optins o WHERE o.page_id = users.page_id \
                      AND o.psid = users.psid AND (o.one_time_notif_token IS NOT NULL \
                      OR o.notification_messages_token IS NOT NULL))";
        query = query.filter(sql::<Bool>(&if wanted {
            exists.to_owned()
        } else {
            format!("NOT {exists}")
        }));
    }
    if let Some(since) = since {
        let kinds = outbox_rows::INTERACTIONS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        // inbox_events_last_seen finds the user's events by PSID and time; the Page filters them.
        query = query.filter(
            sql::<Bool>(&format!(
                "EXISTS (SELECT 1 FROM inbox_events e WHERE COALESCE(e.page_id, '') = \
                 users.page_id AND e.psid = users.psid AND e.kind IN ({kinds}) AND \
                 e.event_time >= "
            ))
            .bind::<BigInt, _>(since)
            .sql(")"),
        );
    }
    Ok(query
        .order(u::psid)
        .limit(limit)
        .select((
            u::psid,
            sql::<diesel::sql_types::Nullable<Text>>("COALESCE(chosen_locale, locale)"),
        ))
        .load(conn)?)
}

/// The locale of each of `psids` on Page `page_id` that has a user row.
pub fn locales_of(
    conn: &mut DbConn,
    page_id: &str,
    psids: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    use users::dsl as u;
    let found: Vec<(String, Option<String>, Option<String>)> = u::users
        .filter(u::page_id.eq(page_id))
        .filter(u::psid.eq_any(psids))
        .select((u::psid, u::chosen_locale, u::locale))
        .load(conn)?;
    Ok(found
        .into_iter()
        .filter_map(|(psid, chosen, profile)| chosen.or(profile).map(|l| (psid, l)))
        .collect())
}

/// One batch of the expansion of broadcast `id`: if its cursor is still `from` (and it is
/// neither cancelled nor expanded), moves it to `to` (`last`: the expansion is complete) and
/// queues `messages` held, each linked to the broadcast, in one transaction. Returns false if
/// the cursor had moved (another instance took this batch): nothing changed.
pub fn expand(
    conn: &mut DbConn,
    id: i64,
    from: &str,
    to: &str,
    last: bool,
    messages: &[NewOutboxMessage],
) -> Result<bool, StoreError> {
    use broadcasts::dsl as b;
    use outbox_messages::dsl as o;
    write_transaction(conn, |conn| {
        // First, so that the broadcast's row is locked for the batch.
        let n = i64::try_from(messages.len()).unwrap_or(i64::MAX);
        let moved = diesel::update(
            b::broadcasts
                .filter(b::id.eq(id))
                .filter(b::expand_cursor.eq(from))
                .filter(b::expanded.eq(0))
                .filter(b::state.eq_any([QUEUED, RUNNING, PAUSED])),
        )
        .set((
            b::expand_cursor.eq(to),
            b::expanded.eq(i32::from(last)),
            b::total.eq(b::total + n),
            b::state.eq(sql::<Text>(
                "CASE WHEN state = 'queued' THEN 'running' ELSE state END",
            )),
        ))
        .execute(conn)?;
        if moved == 0 {
            return Ok(false);
        }
        if messages.is_empty() {
            return Ok(true);
        }
        // SQLite takes no batch insert with ON CONFLICT: one statement per row there (in the
        // one transaction, which is what costs).
        match &mut *conn {
            DbConn::Postgres(c) => {
                for chunk in messages.chunks(500) {
                    diesel::insert_into(o::outbox_messages)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .execute(c)?;
                }
            }
            DbConn::Sqlite(c) => {
                for message in messages {
                    diesel::insert_into(o::outbox_messages)
                        .values(message)
                        .on_conflict_do_nothing()
                        .execute(c)?;
                }
            }
        }
        let page_id = &messages[0].page_id;
        let keys: Vec<&str> = messages
            .iter()
            .filter_map(|m| m.idempotency_key.as_deref())
            .collect();
        let mut links = Vec::with_capacity(messages.len());
        for chunk in keys.chunks(500) {
            let found: Vec<(i64, String)> = o::outbox_messages
                .filter(o::page_id.eq(page_id))
                .filter(o::idempotency_key.eq_any(chunk))
                .select((o::id, o::psid))
                .load(conn)?;
            links.extend(found.into_iter().map(|(outbox_id, psid)| {
                (
                    broadcast_recipients::broadcast_id.eq(id),
                    broadcast_recipients::page_id.eq(page_id.clone()),
                    broadcast_recipients::psid.eq(psid),
                    broadcast_recipients::outbox_id.eq(outbox_id),
                )
            }));
        }
        match &mut *conn {
            DbConn::Postgres(c) => {
                for chunk in links.chunks(500) {
                    diesel::insert_into(broadcast_recipients::table)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .execute(c)?;
                }
            }
            DbConn::Sqlite(c) => {
                for link in &links {
                    diesel::insert_into(broadcast_recipients::table)
                        .values(link.clone())
                        .on_conflict_do_nothing()
                        .execute(c)?;
                }
            }
        }
        Ok(true)
    })
}

/// The idempotency key of broadcast `id`'s message to `psid` (what links an expanded row
/// back to its recipient).
pub fn message_key(id: i64, psid: &str) -> String {
    format!("broadcast:{id}:{psid}")
}

/// Releases to the outbox as many held messages of `broadcast` as its token bucket allows at
/// `now` (at most a second's worth at once), while fewer than `in_flight_cap` released ones
/// wait: so that a paused Page does not pile them up. Returns how many were released.
pub fn release(
    conn: &mut DbConn,
    broadcast: &BroadcastRow,
    released: i64,
    in_flight_cap: i64,
    now: i64,
) -> Result<usize, StoreError> {
    use broadcast_recipients::dsl as r;
    use broadcasts::dsl as b;
    use outbox_messages::dsl as o;
    let rate = i64::from(broadcast.rate_per_sec.max(1));
    let from = broadcast.released_at.max(now - 1000);
    let tokens = now.saturating_sub(from).saturating_mul(rate) / 1000;
    let n = tokens.min(in_flight_cap - released);
    if n <= 0 {
        return Ok(0);
    }
    write_transaction(conn, |conn| {
        let ids: Vec<i64> = r::broadcast_recipients
            .filter(r::broadcast_id.eq(broadcast.id))
            .filter(r::outbox_id.gt(broadcast.released_through))
            .order(r::outbox_id)
            .limit(n)
            .select(r::outbox_id)
            .load(conn)?;
        let Some(&through) = ids.last() else {
            return Ok(0);
        };
        let spent = (i64::try_from(ids.len()).unwrap_or(n) * 1000 + rate - 1) / rate;
        let taken = diesel::update(
            b::broadcasts
                .filter(b::id.eq(broadcast.id))
                .filter(b::released_at.eq(broadcast.released_at))
                .filter(b::released_through.eq(broadcast.released_through)),
        )
        .set((
            b::released_at.eq(from + spent),
            b::released_through.eq(through),
        ))
        .execute(conn)?;
        if taken == 0 {
            return Ok(0);
        }
        let changed = diesel::update(
            o::outbox_messages
                .filter(o::id.eq_any(&ids))
                .filter(o::state.eq(outbox_rows::QUEUED))
                .filter(o::due_at.eq(HELD)),
        )
        .set(o::due_at.eq(now))
        .execute(conn)?;
        Ok(changed)
    })
}

/// Cancels broadcast `id`: it expands and releases nothing more, and each of its
/// messages not yet tried (held, or released and not claimed) is refused. A message being
/// sent, or tried once and waiting to be tried again, is left to finish. Returns the
/// broadcast's state before (`None`: no such broadcast) and how many messages were refused.
pub fn cancel(conn: &mut DbConn, id: i64) -> Result<Option<(String, usize)>, StoreError> {
    use broadcast_recipients::dsl as r;
    use broadcasts::dsl as b;
    use outbox_messages::dsl as o;
    write_transaction(conn, |conn| {
        let Some(state) = b::broadcasts
            .find(id)
            .select(b::state)
            .first::<String>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        if state == DONE || state == CANCELLED {
            return Ok(Some((state, 0)));
        }
        diesel::update(b::broadcasts.find(id))
            .set(b::state.eq(CANCELLED))
            .execute(conn)?;
        let mine = r::broadcast_recipients
            .filter(r::broadcast_id.eq(id))
            .select(r::outbox_id);
        // attempts = 0: no worker holds it (a claim counts the attempt as it takes the row).
        let refused = diesel::update(
            o::outbox_messages
                .filter(o::id.eq_any(mine))
                .filter(o::state.eq(outbox_rows::QUEUED))
                .filter(o::due_at.eq(HELD).or(o::attempts.eq(0))),
        )
        .set((
            o::state.eq(outbox_rows::REFUSED),
            o::error.eq(CANCELLED_REASON),
        ))
        .execute(conn)?;
        Ok(Some((state, refused)))
    })
}
