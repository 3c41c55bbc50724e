//! The inbox's group commit: concurrent webhook requests share one inbox transaction (see
//! [`crate::store::group_commit`]), and their rows share one multi-row INSERT.
//!
//! A key inserted once belongs to the first request of the group that carried it; a later
//! request with the same key sent a duplicate.

use std::collections::HashSet;

use crate::store::group_commit::{GroupCommit, GroupWork};
use crate::store::{DbConn, NewInboxEvent, Store, StoreError, inbox};

/// The most rows one group transaction carries (a single request may carry more).
const MAX_GROUP_ROWS: usize = 1000;

/// One request's rows.
#[derive(Debug)]
struct RequestRows(Vec<NewInboxEvent>);

impl GroupWork for RequestRows {
    /// The dedupe keys of the request's rows that were new.
    type Output = Vec<String>;

    fn rows(&self) -> usize {
        self.0.len()
    }

    fn apply(conn: &mut DbConn, group: &[Self]) -> Result<Vec<Vec<String>>, StoreError> {
        let all: Vec<&NewInboxEvent> = group.iter().flat_map(|request| &request.0).collect();
        let mut new: HashSet<String> = inbox::insert_rows(conn, &all)?.into_iter().collect();
        Ok(group
            .iter()
            .map(|request| {
                request
                    .0
                    .iter()
                    .filter_map(|row| new.take(&row.dedupe_key))
                    .collect()
            })
            .collect())
    }

    fn one_statement(conn: &DbConn, _group: &[Self]) -> bool {
        // One INSERT over arrays (see `inbox::insert_rows`).
        matches!(conn, DbConn::Postgres(_))
    }
}

/// The handle requests use to store their rows. Cheap to clone.
#[derive(Clone, Debug)]
pub struct InboxWriter {
    writer: GroupCommit<RequestRows>,
}

impl InboxWriter {
    /// Starts the writer task on the current tokio runtime, with at most `commits_in_flight`
    /// transactions at once (1 for SQLite, which has one writer anyway).
    pub fn start(store: Store, commits_in_flight: usize) -> Self {
        Self {
            writer: GroupCommit::start(store, commits_in_flight, MAX_GROUP_ROWS),
        }
    }

    /// Stores `rows` (skipping dedupe keys seen before) and returns the dedupe keys of the rows
    /// that were new, once they are committed.
    pub async fn insert(&self, rows: Vec<NewInboxEvent>) -> Result<Vec<String>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.submit(RequestRows(rows)).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn row(key: &str) -> NewInboxEvent {
        inbox::test_row(key, "42")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_new_key_is_reported_to_exactly_one_of_the_concurrent_requests() {
        // Postgres (one INSERT over arrays) when PAGEBOT_TEST_DATABASE_URL is set, else SQLite.
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 4).unwrap();
        let writer = InboxWriter::start(store.clone(), store.commits_in_flight());
        // 60 requests of 3 rows; request i shares its keys with request i + 20 and i + 40.
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..60 {
            let writer = writer.clone();
            let rows = (0..3)
                .map(|k| row(&format!("key-{}-{k}", i % 20)))
                .collect();
            requests.spawn(async move { writer.insert(rows).await });
        }
        let mut reported: HashMap<String, usize> = HashMap::new();
        while let Some(answer) = requests.join_next().await {
            for key in answer.unwrap().unwrap() {
                *reported.entry(key).or_default() += 1;
            }
        }
        assert_eq!(reported.len(), 60);
        assert!(reported.values().all(|n| *n == 1), "{reported:?}");
        let stored = store.run(inbox::all).await.unwrap();
        assert_eq!(stored.len(), 60);
        // Seen before: nothing new, and still an answer.
        assert_eq!(
            writer.insert(vec![row("key-3-1")]).await.unwrap(),
            Vec::<String>::new()
        );
    }
}
