//! The durable inbox: acknowledged webhook items waiting for, or done with, processing.
//!
//! An event is `pending` until the pipeline finishes it. A worker *claims* a pending event by
//! setting a lease (`locked_until`) in a short transaction, instead of holding a row lock
//! across Graph calls; a worker that dies simply lets its lease run out. Only the oldest
//! pending event of each user (a Page and a PSID: PSIDs are page-scoped) can be claimed,
//! which keeps one user's events in order while different users run in parallel; and the
//! Pages with due events share each claim, so that one Page's burst does not starve another.

use diesel::prelude::*;

use super::schema::inbox_events;
use super::{DbConn, Prepared, StoreError, now_ms, write_transaction};

/// Where an inbox event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Waiting for (or under) processing.
    Pending,
    /// Processed.
    Done,
    /// Failed with a permanent error; kept for inspection, not retried.
    Failed,
    /// Failed on every allowed attempt.
    Dead,
    /// A signed body that is not a Messenger webhook; kept for inspection.
    Malformed,
}

impl Status {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Malformed => "malformed",
        }
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = inbox_events)]
pub struct InboxEvent {
    /// Row id.
    pub id: i64,
    /// What makes a re-delivery recognisable.
    pub dedupe_key: String,
    /// The Page the entry was for.
    pub page_id: Option<String>,
    /// The sender (PSID or user_ref), when the event has one.
    pub psid: Option<String>,
    /// The event's own time (epoch ms), or when it arrived if it has none.
    pub event_time: i64,
    /// 1 if it came through `standby` (another app owns the thread).
    pub standby: i32,
    /// The ReceivingType, once classified.
    pub kind: Option<String>,
    /// The item's JSON as received (or the whole body, for malformed ones); only a readable
    /// copy when `raw_bytes` is set. [`InboxEvent::raw_body`] gives the exact bytes.
    pub raw: String,
    /// See [`Status`].
    pub status: String,
    /// How many times processing started.
    pub attempts: i32,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// Not to be claimed before this time (epoch ms): retries back off.
    pub available_at: i64,
    /// Claimed by a worker until this time (epoch ms).
    pub locked_until: Option<i64>,
    /// When the webhook delivered it (epoch ms).
    pub received_at: i64,
    /// When it reached a final status (epoch ms).
    pub finished_at: Option<i64>,
    /// The exact bytes of a malformed body that a text column cannot hold (see
    /// [`storable_text`]); `None` for every other event, whose `raw` is exact.
    pub raw_bytes: Option<Vec<u8>>,
}

impl InboxEvent {
    /// The body (or item) exactly as stored: `raw_bytes` when set, else `raw`.
    pub fn raw_body(&self) -> &[u8] {
        self.raw_bytes.as_deref().unwrap_or(self.raw.as_bytes())
    }
}

/// Whether `text` fits a text column of every backend: Postgres text cannot hold U+0000 (NUL)
/// at all, neither as a byte nor escaped, and refuses the whole statement that tries.
pub fn storable_text(text: &str) -> bool {
    !text.contains('\0')
}

/// How a body is kept in `raw` and `raw_bytes`: as text when it is UTF-8 that
/// [`storable_text`] accepts (no `raw_bytes`), else the exact bytes in `raw_bytes` and, in
/// `raw`, a readable copy (each invalid sequence and each NUL as U+FFFD). Either way
/// [`InboxEvent::raw_body`] gives back `body` byte for byte.
pub fn raw_columns(body: &[u8]) -> (String, Option<Vec<u8>>) {
    match std::str::from_utf8(body) {
        Ok(text) if storable_text(text) => (text.to_owned(), None),
        _ => (
            String::from_utf8_lossy(body).replace('\0', "\u{FFFD}"),
            Some(body.to_vec()),
        ),
    }
}

/// An event to store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = inbox_events, treat_none_as_default_value = false)]
pub struct NewInboxEvent {
    /// What makes a re-delivery recognisable.
    pub dedupe_key: String,
    /// The Page.
    pub page_id: Option<String>,
    /// The sender.
    pub psid: Option<String>,
    /// The event's time.
    pub event_time: i64,
    /// 1 if from `standby`.
    pub standby: i32,
    /// Known kind, if any (malformed bodies have none).
    pub kind: Option<String>,
    /// JSON as received.
    pub raw: String,
    /// Initial status: pending, or malformed.
    pub status: String,
    /// 0.
    pub attempts: i32,
    /// Why it is malformed, if it is.
    pub last_error: Option<String>,
    /// When it may first be claimed.
    pub available_at: i64,
    /// None.
    pub locked_until: Option<i64>,
    /// Arrival time.
    pub received_at: i64,
    /// Set for events stored in a final status.
    pub finished_at: Option<i64>,
    /// The exact body, for a malformed one that `raw` cannot hold (see [`raw_columns`]).
    pub raw_bytes: Option<Vec<u8>>,
}

impl NewInboxEvent {
    /// The first text column whose value [`storable_text`] refuses, if any.
    pub fn unstorable_column(&self) -> Option<&'static str> {
        let columns: [(&'static str, Option<&str>); 6] = [
            ("dedupe_key", Some(&self.dedupe_key)),
            ("page_id", self.page_id.as_deref()),
            ("psid", self.psid.as_deref()),
            ("kind", self.kind.as_deref()),
            ("raw", Some(&self.raw)),
            ("last_error", self.last_error.as_deref()),
        ];
        columns
            .into_iter()
            .find(|(_, value)| value.is_some_and(|v| !storable_text(v)))
            .map(|(name, _)| name)
    }
}

/// A pending event with a `{}` body for `psid`, due now (for unit tests).
#[cfg(test)]
pub(crate) fn test_row(dedupe_key: &str, psid: &str) -> NewInboxEvent {
    let now = now_ms();
    NewInboxEvent {
        dedupe_key: dedupe_key.to_owned(),
        page_id: Some("1".into()),
        psid: Some(psid.to_owned()),
        event_time: now,
        standby: 0,
        kind: Some("SIMPLE_TEXT".into()),
        raw: "{}".into(),
        status: Status::Pending.as_str().to_owned(),
        attempts: 0,
        last_error: None,
        available_at: now,
        locked_until: None,
        received_at: now,
        finished_at: None,
        raw_bytes: None,
    }
}

/// Rows per INSERT statement on SQLite: 15 bind parameters each, so 15,000 per statement,
/// under its limit of 32,766.
const INSERT_CHUNK_ROWS: usize = 1000;

/// Stores a whole delivery's items in one transaction; a dedupe key seen before is skipped.
/// Returns the dedupe keys of the rows that were new.
pub fn insert_batch(
    conn: &mut DbConn,
    events: &[NewInboxEvent],
) -> Result<Vec<String>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<&NewInboxEvent> = events.iter().collect();
    write_transaction(conn, |conn| insert_rows(conn, &rows))
}

/// Inserts `rows` within the caller's transaction; a dedupe key seen before is skipped.
/// Returns the dedupe keys of the rows that were new.
///
/// On Postgres, one statement whose columns are bound as arrays: its text does not depend on
/// the number of rows, so it is planned once and prepared for good, where a multi-row VALUES
/// would be parsed and planned anew for every group size.
pub fn insert_rows(conn: &mut DbConn, rows: &[&NewInboxEvent]) -> Result<Vec<String>, StoreError> {
    if let DbConn::Postgres(pg) = conn {
        return insert_rows_postgres(pg, rows);
    }
    let mut inserted = Vec::with_capacity(rows.len());
    // One statement per chunk keeps the bind parameters under SQLite's limit.
    for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
        inserted.extend(
            per_backend!(conn, c => diesel::insert_into(inbox_events::table)
            .values(chunk.to_vec())
            .on_conflict(inbox_events::dedupe_key)
            .do_nothing()
            .returning(inbox_events::dedupe_key)
            .get_results::<String>(c))?,
        );
    }
    Ok(inserted)
}

fn insert_rows_postgres(
    pg: &mut diesel::PgConnection,
    rows: &[&NewInboxEvent],
) -> Result<Vec<String>, StoreError> {
    use diesel::sql_types::{Array, BigInt, Binary, Integer, Nullable, Text};

    use super::column;

    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        dedupe_key: String,
    }

    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<Key> = Prepared::new(
        "INSERT INTO inbox_events (dedupe_key, page_id, psid, event_time, standby, kind, raw, \
         status, attempts, last_error, available_at, locked_until, received_at, finished_at, \
         raw_bytes) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], \
         $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], $11::bigint[], \
         $12::bigint[], $13::bigint[], $14::bigint[], $15::bytea[]) \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
    )
    .bind::<Array<Text>, _>(column(rows, |r| r.dedupe_key.as_str()))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.page_id.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.psid.as_deref()))
    .bind::<Array<BigInt>, _>(column(rows, |r| r.event_time))
    .bind::<Array<Integer>, _>(column(rows, |r| r.standby))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.kind.as_deref()))
    .bind::<Array<Text>, _>(column(rows, |r| r.raw.as_str()))
    .bind::<Array<Text>, _>(column(rows, |r| r.status.as_str()))
    .bind::<Array<Integer>, _>(column(rows, |r| r.attempts))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.last_error.as_deref()))
    .bind::<Array<BigInt>, _>(column(rows, |r| r.available_at))
    .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.locked_until))
    .bind::<Array<BigInt>, _>(column(rows, |r| r.received_at))
    .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.finished_at))
    .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.raw_bytes.as_deref()))
    .load(pg)?;
    Ok(keys.into_iter().map(|k| k.dedupe_key).collect())
}

/// How many events of each Page (by [`InboxEvent::page_key`]) this instance has in flight:
/// what [`claim_fairly`] orders the Pages by when a claim cannot give each of them a slot.
pub type PagesInFlight = std::collections::HashMap<String, usize>;

impl InboxEvent {
    /// The Page the event is for, as the claim and the conversations key it: its `page_id`,
    /// or `""` for an event that names none.
    pub fn page_key(&self) -> &str {
        self.page_id.as_deref().unwrap_or_default()
    }
}

/// [`claim_fairly`] with nothing in flight.
pub fn claim(conn: &mut DbConn, lease_ms: i64, limit: i64) -> Result<Vec<InboxEvent>, StoreError> {
    claim_fairly(conn, lease_ms, limit, &PagesInFlight::new())
}

/// Claims up to `limit` events that are due: for each user, a (Page, PSID) pair (a missing
/// Page id counts as `""`), only their oldest pending event, and only if no live lease holds
/// it. Each claimed event gets a lease until `lease_ms` from now and one more attempt; its
/// `attempts` then identify the claim (see [`renew`]). Returned in event order: by event
/// time, then id.
///
/// The Pages with due events share the claim, so that one Page's burst does not starve
/// another Page's few events:
/// 1. each such Page first gets its oldest due event, the Pages taken by how many events of
///    theirs `in_flight` says this instance is running (fewest first), then by the age of that
///    event: when `limit` is smaller than the number of Pages, the ones that wait longest and
///    run least go first, and the others in a later claim;
/// 2. then each of those `n` Pages, in the same order, up to `(limit - 1) / n` more (at least
///    one) of its due events, oldest first, round after round, a Page that runs out leaving its
///    share to the others in the next round;
/// 3. the first `limit` events of that sequence are claimed.
///
/// With one Page this is its `limit` oldest due events, as before Pages were told apart.
pub fn claim_fairly(
    conn: &mut DbConn,
    lease_ms: i64,
    limit: i64,
    in_flight: &PagesInFlight,
) -> Result<Vec<InboxEvent>, StoreError> {
    use inbox_events::dsl as e;
    let busy = serde_json::Value::Object(
        in_flight
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(page, n)| (page.clone(), serde_json::Value::from(*n)))
            .collect(),
    )
    .to_string();
    if let DbConn::Postgres(pg) = conn {
        return claim_postgres(pg, lease_ms, limit, &busy);
    }
    write_transaction(conn, |conn| {
        let DbConn::Sqlite(sqlite) = conn else {
            return Err(StoreError::Config("unreachable backend".into()));
        };
        // Read the clock once the transaction holds the write lock: on SQLite, BEGIN IMMEDIATE
        // may have waited for other writers, and a lease counted from before that wait could
        // already be over when it is committed.
        let now = now_ms();
        // SQLite has one writer, and this runs in an IMMEDIATE transaction.
        let mut candidates: Vec<InboxEvent> = SqliteClaim {
            limit,
            now,
            busy: &busy,
        }
        .load(sqlite)?;
        if candidates.is_empty() {
            return Ok(candidates);
        }
        candidates.sort_unstable_by_key(|event| (event.event_time, event.id));
        // One statement for all of them, by primary key alone: the rows cannot have changed
        // since they were read (SQLite's one write lock is held). A count that differs undoes
        // the whole claim.
        let ids: Vec<i64> = candidates.iter().map(|event| event.id).collect();
        let updated = diesel::update(e::inbox_events.filter(e::id.eq_any(&ids)))
            .set((
                e::locked_until.eq(Some(now + lease_ms)),
                e::attempts.eq(e::attempts + 1),
            ))
            .execute(conn)?;
        if updated != ids.len() {
            return Err(StoreError::Conflict(format!(
                "claimed {updated} of {} events read for the claim",
                ids.len()
            )));
        }
        Ok(candidates
            .into_iter()
            .map(|mut event| {
                event.locked_until = Some(now + lease_ms);
                event.attempts += 1;
                event
            })
            .collect())
    })
}

/// The claim on Postgres, in one statement (no transaction of its own): the due events
/// [`claim_fairly`] describes, rows that another instance is claiming right now skipped
/// (SKIP LOCKED), leased and returned. Each placeholder of a [`Prepared`] statement stands
/// once: `$1` and `$9` are the limit, `$2`, `$3`, `$5`, `$6` and `$7` the time now, `$4` the
/// events in flight per Page (a JSON object), `$8` the lease.
///
/// - `pages`: the Pages with pending events, a loose scan of `inbox_events_page_due` (one
///   descent per Page, from each Page to the next; a Page with nothing pending costs nothing).
/// - `heads`, first round: each Page's oldest due event, a walk of its part of that index that
///   stops at the first event that is due, unleased, unlocked (SKIP LOCKED) and the oldest
///   pending one of its user; sorted (one row per Page) by the events in flight, then age;
///   `count(*) OVER ()` gives each Page's share of the rest.
/// - `heads`, later rounds: from the last event a Page got, the next `share` of them in one
///   walk (`LIMIT heads.share`); only a Page that filled its share (`more`) goes on. With one
///   Page, the second round is one walk of the rest of the claim, as the claim before Pages.
/// - the UPDATE leases the first `$9` of them, by primary key (their rows are locked already).
///
/// Each Page's walk is bounded by a row comparison that starts at the Page's part of the
/// index (or after its last event) and an upper bound on the Page (`<=`), with the index's
/// whole order in ORDER BY: so that the scan starts where it should (with `=` on the Page
/// and a row comparison on the rest, Postgres 15 starts at the Page's first entry), and so
/// that no other index can give that order (without a sort, which is off). The "no earlier
/// pending event of the same user" test is a subquery run per candidate (`OFFSET 0` keeps it
/// one, not an anti join) whose Page, PSID and `(event_time, id)` bound are all conditions of
/// `inbox_events_user`; its row comparison starts at the PSID, so that
/// `inbox_events_page_due` cannot serve it. `+ 0` keeps `available_at` from tempting the
/// planner onto another index.
///
/// It runs on the pipeline's claim connection ([`super::Planning::Claim`]), which plans it
/// once (`force_generic_plan`), so its one plan must be right at any size of the inbox. The
/// generic plan wanted (`EXPLAIN EXECUTE` after `PREPARE`, PG 15; BENCHMARKS.md, "The claim's
/// planner settings"): index scans of `inbox_events_page_due` for the Pages and their walks
/// (each candidate's user an Index Scan of `inbox_events_user`), one Sort (of one row per
/// Page), and the primary key for the UPDATE (or a bitmap of it). The settings:
/// - `enable_seqscan = off`: in an analyzed inbox of 5-100 rows (one Page or two), the user
///   check and the UPDATE's rows became Seq Scans, kept once the inbox is large.
/// - `enable_sort = off`: 100 rows analyzed (one Page or two): each Page's walk became a
///   Bitmap Heap Scan of all its pending rows and a Sort, on every step.
/// - `jit = off`: the one Sort left (of the first round's rows, which no index orders) costs
///   what a disabled sort costs, 10^10, which would have the statement compiled by JIT on
///   every call (2 s instead of 2 ms).
/// - `enable_hashjoin = off`: no state needed it for this statement (it has no join left: the
///   UPDATE takes its rows by `id = ANY`); the earlier claim's `UPDATE ... FROM` did, and the
///   reads by key that share the connection were checked with it.
/// - not `enable_mergejoin`: a merge join needs sorted input, which only a Sort can give, and
///   sorting is off already.
///
/// Checked in: empty; 3 and 1,000 rows never analyzed; 5, 50 and 100 rows analyzed with no
/// Page id, one or two Pages; 3,000-200,000 rows with 0-50 Pages, analyzed or not; 200,000
/// done and then 1,000 pending (`the_claim_planned_once_...` plans it in those that need a
/// setting). The Pages' walks and the user check use the new indexes whatever order the
/// indexes were built in: each walk's bound and order only `inbox_events_page_due` has, the
/// user check's conditions only `inbox_events_user` has all of (`inbox_events_psid`, while it
/// stays, has the PSID and the bound, and wins a tie in a young inbox only if it was rebuilt
/// after `inbox_events_user`: then the Page is a filter on one PSID's events).
pub(crate) const CLAIM_SQL: &str = "\
WITH RECURSIVE pages(page) AS ( \
    (SELECT COALESCE(p.page_id, '') FROM inbox_events AS p \
      WHERE p.status = 'pending' \
      ORDER BY COALESCE(p.page_id, ''), p.event_time, p.id \
      LIMIT 1) \
  UNION ALL \
    SELECT next.page FROM pages, LATERAL ( \
      SELECT COALESCE(p.page_id, '') AS page FROM inbox_events AS p \
       WHERE p.status = 'pending' AND COALESCE(p.page_id, '') > pages.page \
       ORDER BY COALESCE(p.page_id, ''), p.event_time, p.id \
       LIMIT 1) AS next \
), \
heads(page, event_time, id, share, more) AS ( \
    (SELECT pages.page, h.event_time, h.id, GREATEST(1, ($1 - 1) / count(*) OVER ()), true \
       FROM pages, LATERAL ( \
         SELECT c.event_time, c.id FROM inbox_events AS c \
          WHERE COALESCE(c.page_id, '') <= pages.page \
            AND (COALESCE(c.page_id, ''), c.event_time, c.id) \
                > (pages.page, -9223372036854775808, 0) \
            AND c.status = 'pending' \
            AND c.available_at + 0 <= $2 \
            AND (c.locked_until IS NULL OR c.locked_until < $3) \
            AND NOT EXISTS ( \
              SELECT 1 FROM inbox_events AS earlier \
               WHERE COALESCE(earlier.page_id, '') = COALESCE(c.page_id, '') \
                 AND earlier.psid = c.psid \
                 AND (earlier.psid, earlier.event_time, earlier.id) \
                     < (c.psid, c.event_time, c.id) \
                 AND earlier.status = 'pending' \
              OFFSET 0) \
          ORDER BY COALESCE(c.page_id, ''), c.event_time, c.id \
          LIMIT 1 \
          FOR UPDATE SKIP LOCKED) AS h \
      ORDER BY COALESCE((CAST($4 AS jsonb) ->> pages.page)::bigint, 0), h.event_time, h.id) \
  UNION ALL \
    SELECT heads.page, h.event_time, h.id, heads.share, h.n = heads.share \
      FROM heads, LATERAL ( \
        SELECT s.event_time, s.id, row_number() OVER () AS n FROM ( \
          SELECT c.event_time, c.id FROM inbox_events AS c \
           WHERE COALESCE(c.page_id, '') <= heads.page \
             AND (COALESCE(c.page_id, ''), c.event_time, c.id) \
                 > (heads.page, heads.event_time, heads.id) \
             AND c.status = 'pending' \
             AND c.available_at + 0 <= $5 \
             AND (c.locked_until IS NULL OR c.locked_until < $6) \
             AND NOT EXISTS ( \
               SELECT 1 FROM inbox_events AS earlier \
                WHERE COALESCE(earlier.page_id, '') = COALESCE(c.page_id, '') \
                  AND earlier.psid = c.psid \
                  AND (earlier.psid, earlier.event_time, earlier.id) \
                      < (c.psid, c.event_time, c.id) \
                  AND earlier.status = 'pending' \
               OFFSET 0) \
           ORDER BY COALESCE(c.page_id, ''), c.event_time, c.id \
           LIMIT heads.share \
           FOR UPDATE SKIP LOCKED) AS s) AS h \
     WHERE heads.more \
) \
UPDATE inbox_events AS e \
   SET locked_until = $7 + $8, attempts = e.attempts + 1 \
 WHERE e.id = ANY (ARRAY(SELECT heads.id FROM heads LIMIT $9)) \
RETURNING e.*";

/// [`CLAIM_SQL`], prepared on the connection.
fn claim_postgres(
    pg: &mut diesel::PgConnection,
    lease_ms: i64,
    limit: i64,
    busy: &str,
) -> Result<Vec<InboxEvent>, StoreError> {
    use diesel::sql_types::{BigInt, Text};
    let now = now_ms();
    let mut claimed: Vec<InboxEvent> = Prepared::new(CLAIM_SQL)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now)
        .bind::<Text, _>(busy)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(lease_ms)
        .bind::<BigInt, _>(limit)
        .load(pg)?;
    // RETURNING keeps no order: the claim order is the events' own.
    claimed.sort_unstable_by_key(|event| (event.event_time, event.id));
    Ok(claimed)
}

/// The candidates of a claim on SQLite (`?1` the limit, `?2` the time now, `?3` the events in
/// flight per Page as a JSON object): the same sequence as [`CLAIM_SQL`]'s, in one recursive
/// query whose queue is ordered (SQLite takes the rows of a recursive CTE out of its queue in
/// the order of the recursive part's ORDER BY): each Page's `rank`-th due event is found from
/// its `rank - 1`-th, and comes out in round `grp` (0 for each Page's first event, then one
/// round per share), within a round by the Page's place `ord` in the first one.
///
/// SQLite has no LATERAL, so each step finds the next event's id with a scalar subquery. Its
/// status is written out, so that SQLite may use the indexes of pending events alone, and
/// each is named (INDEXED BY): without statistics SQLite preferred the status that leads its
/// older indexes and sorted every pending event to find the Pages.
const CLAIM_SQLITE: &str = "\
WITH RECURSIVE pages(page) AS ( \
    SELECT (SELECT COALESCE(p.page_id, '') \
              FROM inbox_events AS p INDEXED BY inbox_events_page_due \
             WHERE p.status = 'pending' \
             ORDER BY COALESCE(p.page_id, ''), p.event_time, p.id LIMIT 1) \
  UNION ALL \
    SELECT (SELECT COALESCE(p.page_id, '') \
              FROM inbox_events AS p INDEXED BY inbox_events_page_due \
             WHERE p.status = 'pending' AND COALESCE(p.page_id, '') > pages.page \
             ORDER BY COALESCE(p.page_id, ''), p.event_time, p.id LIMIT 1) \
      FROM pages WHERE pages.page IS NOT NULL \
), \
firsts(page, id) AS ( \
    SELECT pages.page, ( \
        SELECT c.id FROM inbox_events AS c INDEXED BY inbox_events_page_due \
         WHERE COALESCE(c.page_id, '') = pages.page \
           AND c.status = 'pending' \
           AND c.available_at + 0 <= ?2 \
           AND (c.locked_until IS NULL OR c.locked_until < ?2) \
           AND NOT EXISTS ( \
             SELECT 1 FROM inbox_events AS earlier INDEXED BY inbox_events_user \
              WHERE COALESCE(earlier.page_id, '') = COALESCE(c.page_id, '') \
                AND earlier.psid = c.psid \
                AND earlier.status = 'pending' \
                AND (earlier.event_time, earlier.id) < (c.event_time, c.id)) \
         ORDER BY c.event_time, c.id LIMIT 1) \
      FROM pages WHERE pages.page IS NOT NULL \
), \
heads(page, event_time, id, rank, grp, ord, share) AS ( \
    SELECT f.page, c.event_time, c.id, 1, 0, \
           row_number() OVER (ORDER BY COALESCE( \
             (SELECT b.value FROM json_each(?3) AS b WHERE b.key = f.page), 0), \
             c.event_time, c.id), \
           max(1, (?1 - 1) / count(*) OVER ()) \
      FROM firsts AS f JOIN inbox_events AS c ON c.id = f.id \
  UNION ALL \
    SELECT h.page, c.event_time, c.id, h.rank + 1, 1 + (h.rank - 1) / h.share, h.ord, h.share \
      FROM heads AS h JOIN inbox_events AS c ON c.id = ( \
        SELECT n.id FROM inbox_events AS n INDEXED BY inbox_events_page_due \
         WHERE COALESCE(n.page_id, '') = h.page \
           AND (n.event_time, n.id) > (h.event_time, h.id) \
           AND n.status = 'pending' \
           AND n.available_at + 0 <= ?2 \
           AND (n.locked_until IS NULL OR n.locked_until < ?2) \
           AND NOT EXISTS ( \
             SELECT 1 FROM inbox_events AS earlier INDEXED BY inbox_events_user \
              WHERE COALESCE(earlier.page_id, '') = COALESCE(n.page_id, '') \
                AND earlier.psid = n.psid \
                AND earlier.status = 'pending' \
                AND (earlier.event_time, earlier.id) < (n.event_time, n.id)) \
         ORDER BY n.event_time, n.id LIMIT 1) \
     ORDER BY 5, 6, 4 \
     LIMIT ?1 \
) \
SELECT e.* FROM heads JOIN inbox_events AS e ON e.id = heads.id";

/// [`CLAIM_SQLITE`] with its values, kept prepared by the connection's statement cache
/// (diesel's `sql_query` never is, and SQLite took longer to prepare this statement than
/// to run it for a claim of 40).
struct SqliteClaim<'a> {
    limit: i64,
    now: i64,
    busy: &'a str,
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for SqliteClaim<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        // Diesel writes each placeholder itself as it binds (a `?`): write the text between
        // them, and bind at each `?N` the value it names.
        let mut rest = CLAIM_SQLITE;
        while let Some(at) = rest.find('?') {
            out.push_sql(&rest[..at]);
            match rest.as_bytes().get(at + 1) {
                Some(b'1') => out.push_bind_param::<BigInt, _>(&self.limit)?,
                Some(b'2') => out.push_bind_param::<BigInt, _>(&self.now)?,
                Some(b'3') => out.push_bind_param::<Text, _>(self.busy)?,
                _ => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "CLAIM_SQLITE names a parameter it has not".into(),
                    ));
                }
            }
            rest = &rest[at + 2..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// The statement cache's key for [`SqliteClaim`]: its text never changes.
struct SqliteClaimId;

impl diesel::query_builder::QueryId for SqliteClaim<'_> {
    type QueryId = SqliteClaimId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for SqliteClaim<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::SqliteConnection> for SqliteClaim<'_> {}

/// Extends the lease of a claimed event to `lease_ms` from now, if the claim that set
/// `attempts` still holds it. Returns false when the claim is over: the event was finished or
/// released, or another worker claimed it after the lease ran out.
///
/// A claim is recognised by its `attempts`, which every claim raises and nothing else raises
/// while the event is leased: no schema change is needed for a fencing token.
pub fn renew(conn: &mut DbConn, id: i64, attempts: i32, lease_ms: i64) -> Result<bool, StoreError> {
    use inbox_events::dsl as e;
    write_transaction(conn, |conn| {
        let until = now_ms().saturating_add(lease_ms);
        let updated = diesel::update(held(id, attempts))
            .set(e::locked_until.eq(Some(until)))
            .execute(conn)?;
        Ok(updated == 1)
    })
}

/// The query of [`held`].
type Held = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<
            diesel::dsl::Find<inbox_events::table, i64>,
            diesel::dsl::Eq<inbox_events::status, &'static str>,
        >,
        diesel::dsl::Eq<inbox_events::attempts, i32>,
    >,
    diesel::dsl::IsNotNull<inbox_events::locked_until>,
>;

/// The event `id` while the claim that set `attempts` holds it.
fn held(id: i64, attempts: i32) -> Held {
    use inbox_events::dsl as e;
    e::inbox_events
        .find(id)
        .filter(e::status.eq(Status::Pending.as_str()))
        .filter(e::attempts.eq(attempts))
        .filter(e::locked_until.is_not_null())
}

/// Marks an event finished with `status` (done, failed or dead), if the claim that set
/// `attempts` still holds it; returns false (and changes nothing) if it does not.
pub fn finish(
    conn: &mut DbConn,
    id: i64,
    attempts: i32,
    status: Status,
    kind: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    use inbox_events::dsl as e;
    let target = held(id, attempts);
    let finished = (
        e::status.eq(status.as_str()),
        e::kind.eq(kind),
        e::locked_until.eq(None::<i64>),
        e::finished_at.eq(Some(now)),
    );
    // Without a new error the last one stays: a done event shows why it needed a retry.
    let updated = match error {
        Some(error) => diesel::update(target)
            .set((finished, e::last_error.eq(Some(error))))
            .execute(conn)?,
        None => diesel::update(target).set(finished).execute(conn)?,
    };
    Ok(updated == 1)
}

/// One event to finish with [`finish_all`].
#[derive(Debug, Clone, Copy)]
pub struct Finish<'a> {
    /// The event.
    pub id: i64,
    /// The attempts its claim set.
    pub attempts: i32,
    /// Done, failed or dead.
    pub status: Status,
    /// Its kind.
    pub kind: Option<&'a str>,
    /// The error to keep; `None` keeps the last one.
    pub error: Option<&'a str>,
}

/// [`finish`] for many events at once; says for each whether its claim still held.
///
/// On Postgres, one statement whose values are bound as arrays, so that it is prepared once
/// whatever the count; on SQLite, one statement each.
pub fn finish_all(
    conn: &mut DbConn,
    finishes: &[Finish<'_>],
    now: i64,
) -> Result<Vec<bool>, StoreError> {
    if finishes.is_empty() {
        return Ok(Vec::new());
    }
    let DbConn::Postgres(pg) = conn else {
        return finishes
            .iter()
            .map(|f| finish(conn, f.id, f.attempts, f.status, f.kind, f.error, now))
            .collect();
    };
    let sql = finish_all_sql(1);
    let held: Vec<HeldClaim> = bind_finish_all(Prepared::new(&sql), finishes, now).load(pg)?;
    Ok(still_held(finishes, held))
}

/// [`super::deliveries::record_all`] and [`finish_all`] in one go. On Postgres that is one
/// statement (the delivery rows in a data-modifying WITH), atomic by itself, so a group
/// commit needs no transaction around it: one round trip instead of four.
pub fn record_and_finish_all(
    conn: &mut DbConn,
    records: &[&super::NewDelivery],
    finishes: &[Finish<'_>],
    now: i64,
) -> Result<Vec<bool>, StoreError> {
    use super::deliveries;
    let DbConn::Postgres(pg) = conn else {
        deliveries::record_all(conn, records)?;
        return finish_all(conn, finishes, now);
    };
    if records.is_empty() {
        return finish_all(conn, finishes, now);
    }
    let sql = format!(
        "WITH recorded AS ({}) {}",
        deliveries::RECORD_ALL_SQL,
        finish_all_sql(deliveries::RECORD_ALL_PARAMS + 1)
    );
    let query = deliveries::bind_record_all(Prepared::new(&sql), records);
    let held: Vec<HeldClaim> = bind_finish_all(query, finishes, now).load(pg)?;
    Ok(still_held(finishes, held))
}

/// A claim that still held when its event was finished.
#[derive(QueryableByName)]
struct HeldClaim {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
}

/// [`finish_all`]'s statement on Postgres, its seven parameters numbered from `$first`, in the
/// order they appear (as [`Prepared`] binds them): the time, the five arrays, then the pending
/// status (bound, not written out: see [`super::Planning::OnceByKey`]).
fn finish_all_sql(first: usize) -> String {
    let p = |n: usize| format!("${}", first + n);
    format!(
        "UPDATE inbox_events AS e SET status = v.status, kind = v.kind, locked_until = NULL, \
         finished_at = {}, last_error = COALESCE(v.error, e.last_error) \
         FROM unnest({}::bigint[], {}::int[], {}::text[], {}::text[], {}::text[]) \
         AS v(id, attempts, status, kind, error) \
         WHERE e.id = v.id AND e.attempts = v.attempts AND e.status = {} \
         AND e.locked_until IS NOT NULL \
         RETURNING e.id, e.attempts",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
    )
}

/// Binds `now`, then `finishes` as [`finish_all_sql`]'s five arrays, then the pending status.
fn bind_finish_all<'a>(query: Prepared<'a>, finishes: &[Finish<'a>], now: i64) -> Prepared<'a> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
    query
        .bind::<BigInt, _>(now)
        .bind::<Array<BigInt>, _>(finishes.iter().map(|f| f.id).collect::<Vec<_>>())
        .bind::<Array<Integer>, _>(finishes.iter().map(|f| f.attempts).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            finishes
                .iter()
                .map(|f| f.status.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(finishes.iter().map(|f| f.kind).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(finishes.iter().map(|f| f.error).collect::<Vec<_>>())
        .bind::<Text, _>(Status::Pending.as_str())
}

/// For each of `finishes`, whether its claim is among those that still `held`.
fn still_held(finishes: &[Finish<'_>], held: Vec<HeldClaim>) -> Vec<bool> {
    let held: std::collections::HashSet<(i64, i32)> =
        held.into_iter().map(|h| (h.id, h.attempts)).collect();
    finishes
        .iter()
        .map(|f| held.contains(&(f.id, f.attempts)))
        .collect()
}

/// Releases an event to be tried again at `available_at`, keeping the error, if the claim
/// that set `attempts` still holds it; returns false (and changes nothing) if it does not.
/// With `refund`, the attempt does not count (the event was not at fault).
pub fn retry_later(
    conn: &mut DbConn,
    id: i64,
    attempts: i32,
    kind: Option<&str>,
    error: &str,
    available_at: i64,
    refund: bool,
) -> Result<bool, StoreError> {
    use inbox_events::dsl as e;
    let refunded = i32::from(refund);
    let updated = diesel::update(held(id, attempts))
        .set((
            e::kind.eq(kind),
            e::last_error.eq(Some(error)),
            e::locked_until.eq(None::<i64>),
            e::available_at.eq(available_at),
            e::attempts.eq(e::attempts - refunded),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Puts dead and failed events back in the queue (all of them, or the one with `id`), with
/// their attempts reset. Messages already delivered for them are not sent again.
/// Returns how many were requeued.
pub fn replay(conn: &mut DbConn, id: Option<i64>, now: i64) -> Result<usize, StoreError> {
    use inbox_events::dsl as e;
    let replayable = [Status::Dead.as_str(), Status::Failed.as_str()];
    let reset = (
        e::status.eq(Status::Pending.as_str()),
        e::attempts.eq(0),
        e::available_at.eq(now),
        e::locked_until.eq(None::<i64>),
        e::finished_at.eq(None::<i64>),
    );
    let updated = match id {
        Some(id) => diesel::update(
            e::inbox_events
                .find(id)
                .filter(e::status.eq_any(replayable)),
        )
        .set(reset)
        .execute(conn)?,
        None => diesel::update(e::inbox_events.filter(e::status.eq_any(replayable)))
            .set(reset)
            .execute(conn)?,
    };
    Ok(updated)
}

/// Deletes up to `limit` of the oldest done events that finished before `before` (epoch ms),
/// with their deliveries (the foreign key cascades). Returns how many were deleted.
/// `crate::retention` calls it batch after batch.
///
/// Only done events: pending ones are still to run, and dead, failed and malformed ones wait
/// for an operator. What handlers stored for an event is not in the inbox and stays.
pub fn purge_done(conn: &mut DbConn, before: i64, limit: i64) -> Result<usize, StoreError> {
    use inbox_events::dsl as e;
    // The oldest first, by the primary key: each batch stops at `limit` rows instead of
    // reading every done event.
    let oldest: Vec<i64> = e::inbox_events
        .select(e::id)
        .filter(e::status.eq(Status::Done.as_str()))
        .filter(e::finished_at.lt(before))
        .order(e::id)
        .limit(limit)
        .load(conn)?;
    if oldest.is_empty() {
        return Ok(0);
    }
    // Still done: a row chosen above cannot have been replayed (only dead and failed are).
    Ok(diesel::delete(e::inbox_events.filter(e::id.eq_any(oldest))).execute(conn)?)
}

/// Dead and failed events, newest first, at most `limit`.
pub fn dead_letters(conn: &mut DbConn, limit: i64) -> Result<Vec<InboxEvent>, StoreError> {
    use inbox_events::dsl as e;
    Ok(e::inbox_events
        .filter(dead_letter_literal())
        .order(e::id.desc())
        .limit(limit)
        .select(InboxEvent::as_select())
        .load(conn)?)
}

/// One event by id.
pub fn find(conn: &mut DbConn, id: i64) -> Result<Option<InboxEvent>, StoreError> {
    Ok(inbox_events::table
        .find(id)
        .select(InboxEvent::as_select())
        .first(conn)
        .optional()?)
}

/// Every event, oldest first (for inspection and tests).
pub fn all(conn: &mut DbConn) -> Result<Vec<InboxEvent>, StoreError> {
    Ok(inbox_events::table
        .order(inbox_events::id)
        .select(InboxEvent::as_select())
        .load(conn)?)
}

/// `status = 'pending'` with the value written out, not bound: Postgres can then use the
/// indexes over pending rows alone (a bound value could be anything when it plans).
fn pending_literal() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("status = 'pending'")
}

/// `status IN ('failed', 'dead')` written out, for the index of dead letters on Postgres.
fn dead_letter_literal() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("status IN ('failed', 'dead')")
}

/// What `/metrics` shows of the inbox: each count read from an index of its rows alone, so
/// that a scrape costs the same with ten rows done or ten million.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxGauges {
    /// Waiting or under processing.
    pub pending: i64,
    /// Permanently failed.
    pub failed: i64,
    /// Out of attempts.
    pub dead: i64,
    /// When the oldest pending event arrived (epoch ms), if any is pending.
    pub oldest_pending: Option<i64>,
}

/// Reads the [`InboxGauges`].
pub fn gauges(conn: &mut DbConn) -> Result<InboxGauges, StoreError> {
    use diesel::dsl::count_star;
    use inbox_events::dsl as e;
    let pending: i64 = e::inbox_events
        .filter(pending_literal())
        .select(count_star())
        .first(conn)?;
    let dead_letters: Vec<(String, i64)> = e::inbox_events
        .filter(dead_letter_literal())
        .group_by(e::status)
        .select((e::status, count_star()))
        .load(conn)?;
    let count = |status: Status| {
        dead_letters
            .iter()
            .find(|(s, _)| s == status.as_str())
            .map_or(0, |(_, n)| *n)
    };
    Ok(InboxGauges {
        pending,
        failed: count(Status::Failed),
        dead: count(Status::Dead),
        oldest_pending: oldest_pending(conn)?,
    })
}

/// The earliest time (epoch ms) a pending event becomes claimable, if any is pending.
pub fn next_due(conn: &mut DbConn) -> Result<Option<i64>, StoreError> {
    use diesel::dsl::min;
    use inbox_events::dsl as e;
    Ok(e::inbox_events
        .filter(pending_literal())
        .select(min(e::available_at))
        .first(conn)?)
}

/// When the oldest pending event arrived (epoch ms), if any is pending.
pub fn oldest_pending(conn: &mut DbConn) -> Result<Option<i64>, StoreError> {
    use diesel::dsl::min;
    use inbox_events::dsl as e;
    Ok(e::inbox_events
        .filter(pending_literal())
        .select(min(e::received_at))
        .first(conn)?)
}

/// How many events stand in each status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxStats {
    /// Waiting or under processing.
    pub pending: i64,
    /// Processed.
    pub done: i64,
    /// Permanently failed.
    pub failed: i64,
    /// Out of attempts.
    pub dead: i64,
    /// Unparseable bodies kept for inspection.
    pub malformed: i64,
}

/// Counts events per status.
pub fn stats(conn: &mut DbConn) -> Result<InboxStats, StoreError> {
    use diesel::dsl::count_star;
    use inbox_events::dsl as e;
    let rows: Vec<(String, i64)> = e::inbox_events
        .group_by(e::status)
        .select((e::status, count_star()))
        .load(conn)?;
    let mut stats = InboxStats::default();
    for (status, n) in rows {
        match status.as_str() {
            "pending" => stats.pending = n,
            "done" => stats.done = n,
            "failed" => stats.failed = n,
            "dead" => stats.dead = n,
            "malformed" => stats.malformed = n,
            _ => {}
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// What `explain` (an EXPLAIN statement) prints, one line after another.
    fn plan_of(pg: &mut diesel::PgConnection, explain: &str) -> String {
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
            line: String,
        }
        let lines: Vec<Line> = diesel::sql_query(explain).load(pg).unwrap();
        lines
            .into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Rows `from..to` straight in by SQL (`k{n}`, for `psids` senders in turn, on `pages`
    /// Pages in turn, or on none with 0), one in `done_every` done (never, with 0), the others
    /// pending.
    fn insert_sql(
        pg: &mut diesel::PgConnection,
        rows: std::ops::Range<i64>,
        psids: i64,
        done_every: i64,
        pages: i64,
    ) {
        let (from, to) = (rows.start, rows.end - 1);
        diesel::sql_query(format!(
            "INSERT INTO inbox_events (dedupe_key, page_id, psid, event_time, raw, status, \
             available_at, received_at) SELECT 'k' || g, \
             CASE WHEN {pages} > 0 THEN 'p' || (g % GREATEST({pages}, 1)) END, \
             'u' || (g % {psids}), 1000 + g, '{{}}', \
             CASE WHEN {done_every} > 0 AND g % {done_every} = {done_every} - 1 THEN 'done' \
             ELSE 'pending' END, 0, 0 \
             FROM generate_series({from}, {to}) AS g"
        ))
        .execute(pg)
        .unwrap();
    }

    /// The scans of the inbox in `plan`, each with the alias it reads: `(what, alias)`.
    fn scans(plan: &str) -> Vec<(String, String)> {
        plan.lines()
            .filter_map(|line| {
                let line = line.trim().trim_start_matches("->").trim();
                let (what, rest) = line.split_once(" on inbox_events ")?;
                let alias = rest.split_whitespace().next().unwrap_or_default();
                what.contains("Scan")
                    .then(|| (what.to_owned(), alias.to_owned()))
            })
            .collect()
    }

    #[test]
    #[cfg_attr(
        not(pagebot_postgres_tests),
        ignore = "needs PAGEBOT_TEST_DATABASE_URL"
    )]
    fn the_claim_planned_once_walks_each_pages_due_events_and_looks_each_user_up_at_any_size() {
        let url = std::env::var("PAGEBOT_TEST_DATABASE_URL")
            .expect("PAGEBOT_TEST_DATABASE_URL was set at build time; set it again");
        let database = crate::testing::TestDatabase::postgres(&url);
        let store = Store::connect(database.url(), 1).unwrap();
        let claims = store
            .with_own_connections(1, crate::store::Planning::Claim)
            .unwrap();
        let mut conn = claims.get().unwrap();
        let DbConn::Postgres(pg) = &mut *conn else {
            panic!("not Postgres");
        };
        // The claim's statement planned once, as on the claim's connection, in an inbox that
        // made one of `Planning::Claim`'s settings needed (see `CLAIM_SQL`), or that has
        // several Pages.
        let mut planned = 0;
        let mut check = |pg: &mut diesel::PgConnection, inbox: &str| {
            planned += 1;
            diesel::sql_query(format!(
                "PREPARE claim_plan_{planned}(bigint, bigint, bigint, text, bigint, bigint, \
                 bigint, bigint, bigint) AS {CLAIM_SQL}"
            ))
            .execute(pg)
            .unwrap();
            let plan = plan_of(
                pg,
                &format!(
                    "EXPLAIN EXECUTE claim_plan_{planned}(256, 1, 1, '{{}}', 1, 1, 1, 1000, 256)"
                ),
            );
            assert!(
                plan.contains("<= $2"),
                "{inbox}: not the generic plan\n{plan}"
            );
            // The Pages, their first events and the rounds after them: walks of
            // inbox_events_page_due, each from where it should start (not from the Page's
            // first entry); each candidate's user looked up in inbox_events_user by Page,
            // PSID and (event_time, id), not the Page's events walked; the UPDATE's rows by
            // primary key.
            let scans = scans(&plan);
            for (what, alias) in &scans {
                let wanted: &[&str] =
                    match alias.trim_end_matches(|c: char| c == '_' || c.is_ascii_digit()) {
                        "p" | "c" => &["Index Scan using inbox_events_page_due"],
                        "earlier" => &["Index Scan using inbox_events_user"],
                        "e" => &["Index Scan using inbox_events_pkey", "Bitmap Heap Scan"],
                        other => panic!("{inbox}: a scan of {other}\n{plan}"),
                    };
                assert!(
                    wanted.contains(&what.as_str()),
                    "{inbox}: {what} of {alias}\n{plan}"
                );
            }
            assert_eq!(scans.len(), 7, "{inbox}\n{plan}");
            let walks = plan
                .matches(
                    "Index Cond: ((COALESCE(page_id, ''::text) <= pages_1.page) AND \
                     (ROW(COALESCE(page_id, ''::text), event_time, id) > ROW(pages_1.page, \
                     '-9223372036854775808'::bigint, 0)))",
                )
                .count()
                + plan
                    .matches(
                        "Index Cond: ((COALESCE(page_id, ''::text) <= heads.page) AND \
                         (ROW(COALESCE(page_id, ''::text), event_time, id) > ROW(heads.page, \
                         heads.event_time, heads.id)))",
                    )
                    .count();
            assert_eq!(walks, 2, "{inbox}\n{plan}");
            for alias in ["c", "c_1"] {
                let probe = format!(
                    "Index Cond: ((COALESCE(page_id, ''::text) = COALESCE({alias}.page_id, \
                     ''::text)) AND (ROW(psid, event_time, id) < ROW({alias}.psid, \
                     {alias}.event_time, {alias}.id)) AND (psid = {alias}.psid))"
                );
                assert!(plan.contains(&probe), "{inbox}: {probe}\n{plan}");
            }
            // One sort: the first round's rows, one per Page, which no index orders; and
            // with it no JIT (the sort's disabled cost would have the statement compiled).
            assert_eq!(plan.matches("Sort Key").count(), 1, "{inbox}\n{plan}");
            assert!(
                plan.contains(
                    "Sort Key: (COALESCE(((($4)::jsonb ->> pages_1.page))::bigint, \
                               '0'::bigint)), h.event_time, h.id"
                ),
                "{inbox}\n{plan}"
            );
            for bad in [
                "Seq Scan",
                "Hash",
                "Merge",
                "Join Filter",
                "JIT",
                "Materialize",
            ] {
                assert!(!plan.contains(bad), "{inbox}: {bad}\n{plan}");
            }
        };
        let sql = |pg: &mut diesel::PgConnection, statement: &str| {
            diesel::sql_query(statement).execute(pg).unwrap();
        };
        check(pg, "empty");
        insert_sql(pg, 0..3, 1, 0, 0);
        check(pg, "3 rows, never analyzed");
        insert_sql(pg, 3..1000, 250, 2, 0);
        check(pg, "1,000 rows, never analyzed");
        for pages in [0, 2] {
            sql(pg, "TRUNCATE inbox_events CASCADE");
            insert_sql(pg, 0..100, 26, 2, pages);
            sql(pg, "ANALYZE inbox_events");
            check(
                pg,
                &format!("100 rows, {pages} Pages, analyzed (wants enable_sort off)"),
            );
        }
        sql(pg, "TRUNCATE inbox_events CASCADE");
        insert_sql(pg, 0..50, 5, 0, 2);
        sql(pg, "ANALYZE inbox_events");
        check(
            pg,
            "50 pending, two Pages, analyzed (wants enable_seqscan off)",
        );
        sql(pg, "TRUNCATE inbox_events CASCADE");
        insert_sql(pg, 0..20_000, 2_000, 3, 2);
        sql(pg, "ANALYZE inbox_events");
        check(pg, "20,000 rows, two Pages, analyzed");
        sql(pg, "TRUNCATE inbox_events CASCADE");
        insert_sql(pg, 0..5, 2, 2, 0);
        sql(pg, "ANALYZE inbox_events");
        check(pg, "5 rows, analyzed (wants enable_seqscan off)");

        // And the statement claims as it should on that connection: each user's oldest
        // pending event only (u0 has k0, k2 and k4 pending; u1's k1 and k3 are done).
        let claimed = claim(&mut conn, 60_000, 10).unwrap();
        let keys: Vec<&str> = claimed.iter().map(|e| e.dedupe_key.as_str()).collect();
        assert_eq!(keys, ["k0"]);
    }

    #[test]
    fn the_claim_on_sqlite_walks_each_pages_due_events_and_looks_each_user_up() {
        // SQLite plans each statement as it prepares it; INDEXED BY names the indexes, and a
        // statement that cannot use them fails to prepare.
        let database = crate::testing::TestDatabase::sqlite();
        let store = Store::connect(database.url(), 1).unwrap();
        let mut conn = store.get().unwrap();
        let DbConn::Sqlite(sqlite) = &mut *conn else {
            panic!("not SQLite");
        };
        #[derive(QueryableByName)]
        struct Step {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let plan: Vec<String> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {CLAIM_SQLITE}"))
            .bind::<diesel::sql_types::BigInt, _>(256)
            .bind::<diesel::sql_types::BigInt, _>(1)
            .bind::<diesel::sql_types::Text, _>("{}")
            .load::<Step>(sqlite)
            .unwrap()
            .into_iter()
            .map(|step| step.detail)
            .collect();
        let all = plan.join("\n");
        let reads: Vec<&String> = plan
            .iter()
            .filter(|d| d.starts_with("SEARCH") || d.starts_with("SCAN"))
            .filter(|d| !d.starts_with("SCAN pages") && !d.starts_with("SCAN h"))
            .collect();
        for read in &reads {
            let fine = read.contains("USING INDEX inbox_events_page_due")
                || read.contains("USING INDEX inbox_events_user (<expr>=? AND psid=?")
                || read.contains("USING INTEGER PRIMARY KEY")
                || read.starts_with("SCAN CONSTANT ROW")
                || read.starts_with("SCAN (subquery")
                || read.starts_with("SCAN heads")
                // json_each over the events in flight.
                || read.starts_with("SCAN b VIRTUAL TABLE");
            assert!(fine, "{read}\n{all}");
        }
        let count = |what: &str| reads.iter().filter(|d| d.contains(what)).count();
        // The Pages (two), each Page's first event and the next ones: inbox_events_page_due.
        assert_eq!(count("inbox_events_page_due (<expr>>?)"), 1, "{all}");
        assert_eq!(count("inbox_events_page_due (<expr>=?"), 2, "{all}");
        assert_eq!(count("inbox_events_user"), 2, "{all}");
        // The only sort is of the first round's rows (one per Page).
        assert_eq!(all.matches("USE TEMP B-TREE").count(), 1, "{all}");
    }

    #[test]
    #[cfg_attr(
        not(pagebot_postgres_tests),
        ignore = "Postgres only: set PAGEBOT_TEST_DATABASE_URL"
    )]
    fn the_journal_planned_once_reaches_its_rows_by_primary_key_even_in_a_young_inbox() {
        // Postgres only: SQLite keeps no plans.
        let url = std::env::var("PAGEBOT_TEST_DATABASE_URL")
            .expect("PAGEBOT_TEST_DATABASE_URL was set at build time; set it again");
        let database = crate::testing::TestDatabase::postgres(&url);
        let store = Store::connect(database.url(), 1).unwrap();
        let keyed = store
            .with_own_connections(1, crate::store::Planning::OnceByKey)
            .unwrap();
        // A young inbox: a handful of rows, never analyzed, where walking a whole index of
        // pending rows looks as cheap as looking each event up.
        let rows: Vec<NewInboxEvent> = (0..6)
            .map(|n| test_row(&format!("k{n}"), &format!("u{n}")))
            .collect();
        insert_batch(&mut store.get().unwrap(), &rows).unwrap();
        let claimed = claim(&mut store.get().unwrap(), 60_000, 10).unwrap();
        assert_eq!(claimed.len(), 6);

        let mut conn = keyed.get().unwrap();
        let DbConn::Postgres(pg) = &mut *conn else {
            panic!("not Postgres");
        };
        let journal = format!(
            "WITH recorded AS ({}) {}",
            super::super::deliveries::RECORD_ALL_SQL,
            finish_all_sql(super::super::deliveries::RECORD_ALL_PARAMS + 1)
        );
        diesel::sql_query(format!("PREPARE journal_plan AS {journal}"))
            .execute(pg)
            .unwrap();
        let plan = plan_of(
            pg,
            "EXPLAIN EXECUTE journal_plan('{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', \
             '{}', '{}', '{}', '{}', 1, '{1}', '{1}', '{done}', '{x}', '{NULL}', 'pending')",
        );
        assert!(
            plan.contains("Index Scan using inbox_events_pkey on inbox_events e"),
            "{plan}"
        );
        for bad in [
            "Seq Scan",
            "inbox_events_psid",
            "inbox_events_user",
            "inbox_events_page_due",
        ] {
            assert!(!plan.contains(bad), "{bad}\n{plan}");
        }

        // And the statement does its work on such a connection: the claims that hold are
        // finished, a stale one is refused.
        let finishes: Vec<Finish<'_>> = claimed
            .iter()
            .map(|e| Finish {
                id: e.id,
                attempts: if e.dedupe_key == "k0" { 0 } else { e.attempts },
                status: Status::Done,
                kind: Some("SIMPLE_TEXT"),
                error: None,
            })
            .collect();
        let delivery = crate::store::NewDelivery {
            event_id: claimed[1].id,
            seq: 0,
            page_id: String::new(),
            psid: None,
            request: "{}".into(),
            status: crate::store::deliveries::SENT.to_owned(),
            message_id: Some("m-1".into()),
            error_code: None,
            error_subcode: None,
            error_message: None,
            fbtrace_id: None,
            created_at: 5,
        };
        let held = record_and_finish_all(&mut conn, &[&delivery], &finishes, 5).unwrap();
        let stale: Vec<bool> = claimed.iter().map(|e| e.dedupe_key != "k0").collect();
        assert_eq!(held, stale);
        let after = stats(&mut store.get().unwrap()).unwrap();
        assert_eq!((after.done, after.pending), (5, 1));
        let recorded = crate::store::deliveries::sent_seqs_of(&mut conn, &[claimed[1].id]);
        assert_eq!(recorded.unwrap()[&claimed[1].id].len(), 1);
    }

    #[test]
    fn bodies_a_text_column_cannot_hold_are_stored_byte_for_byte() {
        // Postgres (whose text refuses a NUL) when PAGEBOT_TEST_DATABASE_URL is set, else SQLite.
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 1).unwrap();
        let mut conn = store.get().unwrap();
        let bodies: [&[u8]; 5] = [
            b"plain {\"json\": \"\\u0000\"}",
            b"not json \x00 here",
            b"\xff\xfe",
            b"\xc3\x00\xc3\xa4",
            b"",
        ];
        let rows: Vec<NewInboxEvent> = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| {
                let (raw, raw_bytes) = raw_columns(body);
                NewInboxEvent {
                    raw,
                    raw_bytes,
                    status: Status::Malformed.as_str().to_owned(),
                    ..test_row(&format!("b{n}"), "u")
                }
            })
            .collect();
        assert!(rows.iter().all(|r| r.unstorable_column().is_none()));
        assert_eq!(insert_batch(&mut conn, &rows).unwrap().len(), 5);
        let stored = all(&mut conn).unwrap();
        for (event, body) in stored.iter().zip(bodies) {
            assert_eq!(event.raw_body(), body, "{event:?}");
            assert!(storable_text(&event.raw));
        }
        // Only what text cannot hold has its bytes kept apart.
        let apart: Vec<bool> = stored.iter().map(|e| e.raw_bytes.is_some()).collect();
        assert_eq!(apart, [false, true, true, true, false]);
        assert_eq!(stored[1].raw, "not json \u{FFFD} here");
        assert_eq!(stored[3].raw, "\u{FFFD}\u{FFFD}ä");
        // The claim and its RETURNING e.* read the new column too.
        insert_batch(&mut conn, &[test_row("p", "u")]).unwrap();
        let claimed = claim(&mut conn, 60_000, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].raw_bytes, None);

        let nul = NewInboxEvent {
            psid: Some("u\u{0}".into()),
            ..test_row("k", "u")
        };
        assert_eq!(nul.unstorable_column(), Some("psid"));
    }

    #[test]
    fn the_gauges_count_pending_failed_and_dead_and_date_the_oldest_pending() {
        // Postgres (its partial indexes) when PAGEBOT_TEST_DATABASE_URL is set, else SQLite.
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let mut conn = store.get().unwrap();
        assert_eq!(gauges(&mut conn).unwrap(), InboxGauges::default());
        let row = |key: &str, status: Status, received_at: i64| NewInboxEvent {
            status: status.as_str().to_owned(),
            received_at,
            ..test_row(key, key)
        };
        let rows = [
            row("p1", Status::Pending, 30),
            row("p2", Status::Pending, 20),
            row("d1", Status::Done, 10),
            row("d2", Status::Done, 5),
            row("f1", Status::Failed, 5),
            row("x1", Status::Dead, 5),
            row("x2", Status::Dead, 5),
            row("m1", Status::Malformed, 1),
        ];
        insert_batch(&mut conn, &rows).unwrap();
        assert_eq!(
            gauges(&mut conn).unwrap(),
            InboxGauges {
                pending: 2,
                failed: 1,
                dead: 2,
                oldest_pending: Some(20),
            }
        );
        let listed: Vec<String> = dead_letters(&mut conn, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.dedupe_key)
            .collect();
        assert_eq!(listed, ["x2", "x1", "f1"]);
    }

    #[test]
    fn purging_deletes_only_done_events_finished_before_the_cutoff_with_their_deliveries() {
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let mut conn = store.get().unwrap();
        let row = |key: &str, status: Status, finished_at: Option<i64>| NewInboxEvent {
            status: status.as_str().to_owned(),
            finished_at,
            ..test_row(key, key)
        };
        let rows = [
            row("old1", Status::Done, Some(100)),
            row("old2", Status::Done, Some(200)),
            row("old3", Status::Done, Some(300)),
            row("recent", Status::Done, Some(5_000)),
            row("dead", Status::Dead, Some(100)),
            row("failed", Status::Failed, Some(100)),
            row("malformed", Status::Malformed, Some(100)),
            row("pending", Status::Pending, None),
        ];
        insert_batch(&mut conn, &rows).unwrap();
        let stored = all(&mut conn).unwrap();
        let id = |key: &str| stored.iter().find(|e| e.dedupe_key == key).unwrap().id;
        for key in ["old1", "recent"] {
            let delivery = crate::store::NewDelivery {
                event_id: id(key),
                seq: 0,
                page_id: String::new(),
                psid: Some(key.to_owned()),
                request: "{}".into(),
                status: "sent".into(),
                message_id: None,
                error_code: None,
                error_subcode: None,
                error_message: None,
                fbtrace_id: None,
                created_at: 1,
            };
            crate::store::deliveries::record(&mut conn, &delivery).unwrap();
        }

        // Batches of two: the oldest first, then the rest, then nothing.
        assert_eq!(purge_done(&mut conn, 1_000, 2).unwrap(), 2);
        assert_eq!(purge_done(&mut conn, 1_000, 2).unwrap(), 1);
        assert_eq!(purge_done(&mut conn, 1_000, 2).unwrap(), 0);

        let left: Vec<String> = all(&mut conn)
            .unwrap()
            .into_iter()
            .map(|e| e.dedupe_key)
            .collect();
        assert_eq!(left, ["recent", "dead", "failed", "malformed", "pending"]);
        let deliveries = crate::store::deliveries::all(&mut conn).unwrap();
        assert_eq!(
            deliveries.iter().map(|d| d.event_id).collect::<Vec<_>>(),
            [id("recent")]
        );
    }
}
