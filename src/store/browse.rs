//! What the admin (`/admin`) reads: the inbox by status, Page and kind; the users page by
//! page (keyset pagination on their key); the last hour's activity per minute; Graph errors.
//!
//! Every list pages by key, never by OFFSET: the next page starts after the last row shown,
//! so that the thousandth page of a million users costs what the first does.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::schema::{deliveries, inbox_events, users};
use super::{DbConn, InboxEvent, StoreError, User};

/// Which events the inbox page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// The statuses (none: every status).
    pub statuses: Vec<String>,
    /// The Page's id (`""` for events that named none).
    pub page_id: Option<String>,
    /// The kind (`message`, `postback`, ...).
    pub kind: Option<String>,
    /// Only events with a smaller id (the next page).
    pub before_id: Option<i64>,
}

/// Events as `filter` says, newest first, at most `limit`.
pub fn events(
    conn: &mut DbConn,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<InboxEvent>, StoreError> {
    use inbox_events::dsl as e;
    let mut query = e::inbox_events.select(InboxEvent::as_select()).into_boxed();
    if !filter.statuses.is_empty() {
        query = query.filter(e::status.eq_any(filter.statuses.clone()));
    }
    match filter.page_id.as_deref() {
        Some("") => query = query.filter(e::page_id.is_null()),
        Some(page) => query = query.filter(e::page_id.eq(page.to_owned())),
        None => {}
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(e::kind.eq(kind.clone()));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(e::id.lt(before));
    }
    Ok(query.order(e::id.desc()).limit(limit).load(conn)?)
}

/// The kinds of event the inbox holds (for the filter's choices).
pub fn event_kinds(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    use inbox_events::dsl as e;
    let kinds: Vec<Option<String>> = e::inbox_events
        .select(e::kind)
        .distinct()
        .order(e::kind)
        .limit(100)
        .load(conn)?;
    Ok(kinds.into_iter().flatten().collect())
}

/// Where a page of users starts: after this (Page id, PSID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCursor {
    /// The last row's Page id.
    pub page_id: String,
    /// The last row's PSID.
    pub psid: String,
}

/// Which users the users page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only this Page's users.
    pub page_id: Option<String>,
    /// A PSID prefix, or a first or last name's prefix.
    pub search: Option<String>,
    /// Only users after this key.
    pub after: Option<UserCursor>,
}

/// `text` with LIKE's wildcards escaped (with `\`), then `%`: a prefix pattern.
fn prefix_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Users as `filter` says, by (Page id, PSID), at most `limit`: keyset pagination on the
/// primary key, `(page_id, psid) > (last)`, so that the index gives each page at once.
pub fn users_page(
    conn: &mut DbConn,
    filter: &UserFilter,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    use users::dsl as u;
    let mut query = u::users.select(User::as_select()).into_boxed();
    if let Some(page) = &filter.page_id {
        query = query.filter(u::page_id.eq(page.clone()));
    }
    if let Some(after) = &filter.after {
        // A row comparison (SQLite and Postgres both have them): the index's order itself.
        query = query.filter(
            sql::<Bool>("(page_id, psid) > (")
                .bind::<Text, _>(after.page_id.clone())
                .sql(", ")
                .bind::<Text, _>(after.psid.clone())
                .sql(")"),
        );
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = prefix_pattern(search);
        query = query.filter(
            u::psid
                .like(pattern.clone())
                .escape('\\')
                .or(u::first_name.like(pattern.clone()).escape('\\'))
                .or(u::last_name.like(pattern).escape('\\')),
        );
    }
    Ok(query.order((u::page_id, u::psid)).limit(limit).load(conn)?)
}

/// Events received, events finished and messages delivered per minute of the window
/// `[from, from + minutes)`, oldest minute first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// When the first minute starts (epoch ms).
    pub from: i64,
    /// Events received per minute.
    pub received: Vec<i64>,
    /// Events finished (done, failed or dead) per minute.
    pub finished: Vec<i64>,
    /// Messages delivered (sent or failed) per minute.
    pub replies: Vec<i64>,
}

const MINUTE_MS: i64 = 60_000;

/// The activity of the `minutes` minutes before `now`, per minute, for Page `page_id`
/// (`None`: every Page). Each count is grouped in the database by `column / 60000`.
pub fn activity(
    conn: &mut DbConn,
    page_id: Option<&str>,
    now: i64,
    minutes: usize,
) -> Result<Activity, StoreError> {
    let span = i64::try_from(minutes).unwrap_or(60);
    let from = (now / MINUTE_MS - span + 1) * MINUTE_MS;
    let bucket = |rows: Vec<(i64, i64)>| {
        let mut counts = vec![0; minutes];
        for (minute, n) in rows {
            let index = minute - from / MINUTE_MS;
            if let Ok(index) = usize::try_from(index)
                && index < minutes
            {
                counts[index] += n;
            }
        }
        counts
    };
    let received = {
        use inbox_events::dsl as e;
        let mut query = e::inbox_events
            .filter(e::received_at.ge(from))
            .group_by(sql::<BigInt>("received_at / 60000"))
            .select((sql::<BigInt>("received_at / 60000"), count_star()))
            .into_boxed();
        if let Some(page) = page_id {
            query = query.filter(e::page_id.eq(page.to_owned()));
        }
        bucket(query.load(conn)?)
    };
    let finished = {
        use inbox_events::dsl as e;
        let mut query = e::inbox_events
            .filter(e::finished_at.ge(from))
            .group_by(sql::<BigInt>("finished_at / 60000"))
            .select((sql::<BigInt>("finished_at / 60000"), count_star()))
            .into_boxed();
        if let Some(page) = page_id {
            query = query.filter(e::page_id.eq(page.to_owned()));
        }
        bucket(query.load(conn)?)
    };
    let replies = {
        use deliveries::dsl as d;
        let mut query = d::deliveries
            .filter(d::created_at.ge(from))
            .group_by(sql::<BigInt>("created_at / 60000"))
            .select((sql::<BigInt>("created_at / 60000"), count_star()))
            .into_boxed();
        if let Some(page) = page_id {
            query = query.filter(d::page_id.eq(page.to_owned()));
        }
        bucket(query.load(conn)?)
    };
    Ok(Activity {
        from,
        received,
        finished,
        replies,
    })
}

/// Failed deliveries per Graph error code (`None`: no answer, e.g. a timeout), most first.
pub fn graph_errors(
    conn: &mut DbConn,
    page_id: Option<&str>,
) -> Result<Vec<(Option<i64>, i64)>, StoreError> {
    use deliveries::dsl as d;
    let mut query = d::deliveries
        .filter(d::status.eq(super::deliveries::FAILED))
        .group_by(d::error_code)
        .select((d::error_code, count_star()))
        .into_boxed();
    if let Some(page) = page_id {
        query = query.filter(d::page_id.eq(page.to_owned()));
    }
    let mut rows: Vec<(Option<i64>, i64)> = query.load(conn)?;
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(rows)
}

/// Events per status of Page `page_id` (`""`: events naming none).
pub fn stats_of_page(conn: &mut DbConn, page_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    use inbox_events::dsl as e;
    let query = e::inbox_events
        .group_by(e::status)
        .select((e::status, count_star()))
        .into_boxed();
    let query = if page_id.is_empty() {
        query.filter(e::page_id.is_null())
    } else {
        query.filter(e::page_id.eq(page_id.to_owned()))
    };
    Ok(query.load(conn)?)
}

/// When the oldest pending event of Page `page_id` arrived (epoch ms), if one is pending.
pub fn oldest_pending_of_page(conn: &mut DbConn, page_id: &str) -> Result<Option<i64>, StoreError> {
    use diesel::dsl::min;
    use inbox_events::dsl as e;
    // Written out, as `inbox::oldest_pending` does: Postgres then uses the pending rows' index.
    Ok(e::inbox_events
        .filter(sql::<Bool>("status = 'pending'"))
        .filter(e::page_id.eq(page_id))
        .select(min(e::received_at))
        .first(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_pattern_escapes_the_wildcards() {
        assert_eq!(prefix_pattern("ab"), "ab%");
        assert_eq!(prefix_pattern("5_%\\"), "5\\_\\%\\\\%");
    }
}
