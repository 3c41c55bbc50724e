//! Conversations: each user's current step and remembered values (routing.yaml `steps`,
//! `when`, `then`, `remember`), one row per (Page, PSID).
//!
//! PSIDs are page-scoped, so the key is the Page's id (the webhook entry's `id`; `""` for an
//! event that names none, which a single-Page bot never sees) with the PSID: one deployment
//! may serve several Pages. A user with no step and nothing remembered has no row.
//!
//! The pipeline reads the rows with the claim and writes them only in the journal's
//! transaction that finishes an event as done (see `pipeline/journal.rs`): an attempt that did
//! not finish changed nothing, and a retried one reads the state again.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::conversations;
use super::{DbConn, Store, StoreError, now_ms};

/// One remembered value, with the time it was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// The value, as remembered (validated and normalized when the policy says so).
    pub value: String,
    /// When it was set: the time of the event that set it (epoch ms).
    pub set_at: i64,
}

/// A user's conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationState {
    /// The current step, if any.
    pub step: Option<String>,
    /// When the step was set (epoch ms, the event's time).
    pub step_set_at: Option<i64>,
    /// The remembered values, by name.
    pub memory: BTreeMap<String, Remembered>,
    /// The time of the last event that moved the conversation, re-asked or remembered
    /// (epoch ms): the idle expiry counts from it.
    pub active_at: i64,
}

impl ConversationState {
    /// No step and nothing remembered: what a user who never started a flow has.
    pub fn is_empty(&self) -> bool {
        self.step.is_none() && self.memory.is_empty()
    }

    /// Whether the state was idle for longer than `idle_ms` at `at` (epoch ms).
    pub fn expired_at(&self, at: i64, idle_ms: i64) -> bool {
        at.saturating_sub(self.active_at) > idle_ms
    }
}

/// What an event leaves of a conversation: written with its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationWrite {
    /// The Page's id (`""` when the event named none).
    pub page_id: String,
    /// The user.
    pub psid: String,
    /// The new state; an empty one deletes the row.
    pub state: ConversationState,
    /// The inbox event whose outcome this is.
    pub event_id: i64,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = conversations, treat_none_as_null = true)]
struct Row {
    page_id: String,
    psid: String,
    step: Option<String>,
    step_set_at: Option<i64>,
    memory: String,
    active_at: i64,
    event_id: i64,
    updated_at: i64,
}

impl Row {
    fn into_state(self) -> ConversationState {
        let memory = match serde_json::from_str(&self.memory) {
            Ok(memory) => memory,
            Err(e) => {
                log::warn!(
                    "the remembered values of a conversation are not readable JSON ({e}): \
                     they are ignored"
                );
                BTreeMap::new()
            }
        };
        ConversationState {
            step: self.step,
            step_set_at: self.step_set_at,
            memory,
            active_at: self.active_at,
        }
    }
}

/// The stored conversation of `psid` on Page `page_id`, if any (expired or not: the caller
/// knows the idle time).
pub fn find(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
) -> Result<Option<ConversationState>, StoreError> {
    let row: Option<Row> = conversations::table
        .find((page_id, psid))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(Row::into_state))
}

/// The stored conversations among `keys` (Page id, PSID), by key: one query for a whole claim.
pub fn find_all(
    conn: &mut DbConn,
    keys: &[(&str, &str)],
) -> Result<HashMap<(String, String), ConversationState>, StoreError> {
    let mut found = HashMap::new();
    if keys.is_empty() {
        return Ok(found);
    }
    let mut pages: Vec<&str> = keys.iter().map(|(page, _)| *page).collect();
    pages.sort_unstable();
    pages.dedup();
    // Chunks keep the bind parameters under SQLite's limit; pages are few.
    for chunk in keys.chunks(5_000) {
        let psids: Vec<&str> = chunk.iter().map(|(_, psid)| *psid).collect();
        let rows: Vec<Row> = conversations::table
            .filter(conversations::page_id.eq_any(&pages))
            .filter(conversations::psid.eq_any(&psids))
            .select(Row::as_select())
            .load(conn)?;
        for row in rows {
            if keys.contains(&(row.page_id.as_str(), row.psid.as_str())) {
                found.insert((row.page_id.clone(), row.psid.clone()), row.into_state());
            }
        }
    }
    Ok(found)
}

/// Writes what an event left of a conversation: the row replaced, or deleted when the state
/// is empty. Run it in the transaction that records the event's outcome.
pub fn save(conn: &mut DbConn, write: &ConversationWrite) -> Result<(), StoreError> {
    use conversations::dsl as c;
    if write.state.is_empty() {
        diesel::delete(c::conversations.find((&write.page_id, &write.psid))).execute(conn)?;
        return Ok(());
    }
    let memory = serde_json::to_string(&write.state.memory)
        .map_err(|e| StoreError::Task(format!("remembered values: {e}")))?;
    let row = Row {
        page_id: write.page_id.clone(),
        psid: write.psid.clone(),
        step: write.state.step.clone(),
        step_set_at: write.state.step_set_at,
        memory,
        active_at: write.state.active_at,
        event_id: write.event_id,
        updated_at: now_ms(),
    };
    per_backend!(conn, conn => diesel::insert_into(c::conversations)
        .values(&row)
        .on_conflict((c::page_id, c::psid))
        .do_update()
        .set(&row)
        .execute(conn))?;
    Ok(())
}

/// Deletes at most `batch` conversations last active before `before` (epoch ms); returns how
/// many. An expired conversation reads as empty anyway: this only keeps the table small.
pub fn purge_idle(conn: &mut DbConn, before: i64, batch: i64) -> Result<usize, StoreError> {
    use conversations::dsl as c;
    let keys: Vec<(String, String)> = c::conversations
        .filter(c::active_at.lt(before))
        .select((c::page_id, c::psid))
        .limit(batch)
        .load(conn)?;
    let mut deleted = 0;
    for (page_id, psid) in &keys {
        deleted += diesel::delete(
            c::conversations
                .find((page_id, psid))
                .filter(c::active_at.lt(before)),
        )
        .execute(conn)?;
    }
    Ok(deleted)
}

impl Store {
    /// The stored conversation of `psid` on Page `page_id` (`""` for events without a Page
    /// id), whether or not it has expired since.
    pub async fn conversation(
        &self,
        page_id: &str,
        psid: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        let (page_id, psid) = (page_id.to_owned(), psid.to_owned());
        self.run(move |conn| find(conn, &page_id, &psid)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(step: Option<&str>, memory: &[(&str, &str)], at: i64) -> ConversationState {
        ConversationState {
            step: step.map(str::to_owned),
            step_set_at: step.map(|_| at),
            memory: memory
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        Remembered {
                            value: (*v).to_owned(),
                            set_at: at,
                        },
                    )
                })
                .collect(),
            active_at: at,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_conversation_is_saved_replaced_found_by_page_and_psid_and_deleted_when_empty() {
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let write =
            |page: &str, psid: &str, state: ConversationState, event_id: i64| ConversationWrite {
                page_id: page.to_owned(),
                psid: psid.to_owned(),
                state,
                event_id,
            };
        let first = write("p1", "u1", state(Some("ask_email"), &[], 10), 1);
        let other_page = write("p2", "u1", state(None, &[("size", "L")], 20), 2);
        store
            .run(move |conn| {
                save(conn, &first)?;
                save(conn, &other_page)
            })
            .await
            .unwrap();
        assert_eq!(
            store.conversation("p1", "u1").await.unwrap(),
            Some(state(Some("ask_email"), &[], 10))
        );
        assert_eq!(
            store.conversation("p2", "u1").await.unwrap(),
            Some(state(None, &[("size", "L")], 20))
        );
        assert_eq!(store.conversation("p1", "u2").await.unwrap(), None);

        let replaced = write(
            "p1",
            "u1",
            state(Some("confirm"), &[("email", "a@b.c")], 30),
            3,
        );
        store.run(move |conn| save(conn, &replaced)).await.unwrap();
        let all = store
            .run(|conn| find_all(conn, &[("p1", "u1"), ("p2", "u1"), ("p2", "u9")]))
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[&("p1".to_owned(), "u1".to_owned())],
            state(Some("confirm"), &[("email", "a@b.c")], 30)
        );

        let ended = write("p1", "u1", ConversationState::default(), 4);
        store.run(move |conn| save(conn, &ended)).await.unwrap();
        assert_eq!(store.conversation("p1", "u1").await.unwrap(), None);

        // Idle ones go; active ones stay.
        let purged = store.run(|conn| purge_idle(conn, 25, 100)).await.unwrap();
        assert_eq!(purged, 1);
        assert_eq!(store.conversation("p2", "u1").await.unwrap(), None);
    }

    #[test]
    fn expiry_counts_from_the_last_activity() {
        let s = state(Some("ask"), &[], 1_000);
        assert!(!s.expired_at(1_000 + 3_600_000, 3_600_000));
        assert!(s.expired_at(1_001 + 3_600_000, 3_600_000));
        // An event older than the state (delivered late) finds it active.
        assert!(!s.expired_at(0, 3_600_000));
    }
}
