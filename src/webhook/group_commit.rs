//! Group commit: concurrent webhook requests share one inbox transaction.
//!
//! A commit waits for the disk (fsync), so one transaction per request caps ingress at what
//! the disk can sync. Instead every request hands its rows to one writer task and waits. The
//! writer takes everything queued while the previous commits were in flight, inserts it in one
//! transaction, and answers each request only once that transaction has committed: a 200 still
//! means the request's events are on disk. Under light load a request is committed alone and at
//! once; under heavy load the groups grow and the commits stay few.
//!
//! If a group's transaction fails, each of its requests is tried again in a transaction of its
//! own, so that one request's bad rows cannot refuse the others.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::store::{NewInboxEvent, Store, StoreError, inbox};

/// The most rows one group transaction carries (a single request may carry more).
const MAX_GROUP_ROWS: usize = 1000;

/// Requests waiting for the writer before new ones wait for room in the queue.
const QUEUE: usize = 4096;

/// The handle requests use to store their rows. Cheap to clone.
#[derive(Clone, Debug)]
pub struct InboxWriter {
    queue: mpsc::Sender<Job>,
}

#[derive(Debug)]
struct Job {
    rows: Vec<NewInboxEvent>,
    done: oneshot::Sender<Result<Vec<String>, StoreError>>,
}

impl InboxWriter {
    /// Starts the writer task on the current tokio runtime, with at most `commits_in_flight`
    /// transactions at once (1 for SQLite, which has one writer anyway).
    pub fn start(store: Store, commits_in_flight: usize) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(store, jobs, commits_in_flight.max(1)));
        Self { queue }
    }

    /// Stores `rows` (skipping dedupe keys seen before) and returns the dedupe keys of the rows
    /// that were new, once they are committed.
    pub async fn insert(&self, rows: Vec<NewInboxEvent>) -> Result<Vec<String>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Task("the inbox writer has stopped".into());
        self.queue
            .send(Job { rows, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer: takes a commit slot, then every job queued by then, and commits them together.
async fn write_groups(store: Store, mut jobs: mpsc::Receiver<Job>, commits_in_flight: usize) {
    let slots = Arc::new(Semaphore::new(commits_in_flight));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = jobs.recv().await else {
            return;
        };
        let mut rows = first.rows.len();
        let mut group = vec![first];
        while rows < MAX_GROUP_ROWS {
            match jobs.try_recv() {
                Ok(job) => {
                    rows += job.rows.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let store = store.clone();
        tokio::spawn(async move {
            commit(&store, group).await;
            drop(slot);
        });
    }
}

/// Commits a group and answers each of its requests.
async fn commit(store: &Store, group: Vec<Job>) {
    if group.len() == 1 {
        for job in group {
            let Job { rows, done } = job;
            let result = store
                .run(move |conn| inbox::insert_batch(conn, &rows))
                .await;
            let _ = done.send(result);
        }
        return;
    }
    let mut sizes = Vec::with_capacity(group.len());
    let mut answers = Vec::with_capacity(group.len());
    let mut all = Vec::new();
    for job in group {
        sizes.push(job.rows.len());
        answers.push(job.done);
        all.extend(job.rows);
    }
    let result = store
        .run(move |conn| {
            let inserted = inbox::insert_batch(conn, &all);
            Ok((inserted, all))
        })
        .await;
    match result {
        Ok((Ok(inserted), all)) => {
            // A key inserted once belongs to the first request that carried it; a later
            // request with the same key sent a duplicate.
            let mut new: HashSet<String> = inserted.into_iter().collect();
            let mut rows = all.into_iter();
            for (size, done) in sizes.into_iter().zip(answers) {
                let mine = rows
                    .by_ref()
                    .take(size)
                    .filter_map(|row| new.take(&row.dedupe_key))
                    .collect();
                let _ = done.send(Ok(mine));
            }
        }
        Ok((Err(e), all)) => {
            log::warn!(
                "inbox: a group of {} requests could not be committed ({e}); committing each alone",
                sizes.len()
            );
            let mut rows = all.into_iter();
            for (size, done) in sizes.into_iter().zip(answers) {
                let mine: Vec<NewInboxEvent> = rows.by_ref().take(size).collect();
                let result = store
                    .run(move |conn| inbox::insert_batch(conn, &mine))
                    .await;
                let _ = done.send(result);
            }
        }
        Err(e) => {
            // The blocking task itself failed: nothing is known to be committed.
            let message = e.to_string();
            for done in answers {
                let _ = done.send(Err(StoreError::Task(message.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::store::{Status, now_ms};

    fn row(key: &str) -> NewInboxEvent {
        let now = now_ms();
        NewInboxEvent {
            dedupe_key: key.to_owned(),
            page_id: Some("1".into()),
            psid: Some("42".into()),
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
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_new_key_is_reported_to_exactly_one_of_the_concurrent_requests() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
        let store = Store::connect(&url, 4).unwrap();
        let writer = InboxWriter::start(store.clone(), 1);
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
