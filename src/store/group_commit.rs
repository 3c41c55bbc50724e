//! Group commit: work handed in by many concurrent callers shares one transaction.
//!
//! A commit waits for the disk (fsync), so one transaction per caller caps throughput at what
//! the disk can sync. Instead every caller hands its work to one writer task and waits. The
//! writer takes everything queued while the previous commits were in flight, applies it in one
//! transaction, and answers each caller only once that transaction has committed: an answer
//! still means the caller's writes are on disk. Under light load a caller's work is committed
//! alone and at once; under heavy load the groups grow and the commits stay few.
//!
//! If a group's transaction fails, each of its items is tried again in a transaction of its
//! own, so that one caller's bad rows cannot refuse the others.
//!
//! The webhook stores its inbox rows this way, the pipeline its deliveries and outcomes.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{DbConn, Store, StoreError, write_transaction};

/// Work that can be committed in a group with other callers' work of the same kind.
pub trait GroupWork: Send + Sized + 'static {
    /// What the caller gets back once its work is committed.
    type Output: Send + 'static;

    /// The rows this work writes, so that a group stays of a reasonable size.
    fn rows(&self) -> usize {
        1
    }

    /// Applies a group, in order, inside the transaction the writer opened (never commits or
    /// opens one itself); returns one output per item, in the same order.
    fn apply(conn: &mut DbConn, group: &[Self]) -> Result<Vec<Self::Output>, StoreError>;

    /// Whether [`GroupWork::apply`] runs a single statement for `group` on `conn`: atomic by
    /// itself, so the writer opens no transaction around it (on Postgres that saves the
    /// BEGIN and COMMIT round trips; the commit is as durable).
    fn one_statement(conn: &DbConn, group: &[Self]) -> bool {
        let _ = (conn, group);
        false
    }
}

/// Applies `group` atomically: in a transaction, unless it is a single statement.
fn apply_atomically<W: GroupWork>(
    conn: &mut DbConn,
    group: &[W],
) -> Result<Vec<W::Output>, StoreError> {
    if W::one_statement(conn, group) {
        W::apply(conn, group)
    } else {
        write_transaction(conn, |conn| W::apply(conn, group))
    }
}

/// Requests waiting for the writer before new ones wait for room in the queue.
const QUEUE: usize = 4096;

/// The handle callers use to hand in work. Cheap to clone.
pub struct GroupCommit<W: GroupWork> {
    queue: mpsc::Sender<Job<W>>,
}

impl<W: GroupWork> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<W: GroupWork> std::fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

struct Job<W: GroupWork> {
    work: W,
    done: oneshot::Sender<Result<W::Output, StoreError>>,
}

impl<W: GroupWork> GroupCommit<W> {
    /// Starts the writer task on the current tokio runtime, with at most `commits_in_flight`
    /// transactions at once (1 for SQLite, which has one writer anyway) and groups of about
    /// `max_group_rows` rows (a single item may carry more).
    pub fn start(store: Store, commits_in_flight: usize, max_group_rows: usize) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(
            store,
            jobs,
            commits_in_flight.max(1),
            max_group_rows.max(1),
        ));
        Self { queue }
    }

    /// Commits `work` (with whatever other work is waiting) and returns its output.
    pub async fn submit(&self, work: W) -> Result<W::Output, StoreError> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Task("the group commit writer has stopped".into());
        self.queue
            .send(Job { work, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer: takes a commit slot, then every job queued by then, and commits them together.
async fn write_groups<W: GroupWork>(
    store: Store,
    mut jobs: mpsc::Receiver<Job<W>>,
    commits_in_flight: usize,
    max_group_rows: usize,
) {
    let slots = Arc::new(Semaphore::new(commits_in_flight));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = jobs.recv().await else {
            return;
        };
        let mut rows = first.work.rows();
        let mut group = vec![first];
        while rows < max_group_rows {
            match jobs.try_recv() {
                Ok(job) => {
                    rows += job.work.rows();
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

/// Commits a group and answers each of its callers.
async fn commit<W: GroupWork>(store: &Store, group: Vec<Job<W>>) {
    let (works, answers): (Vec<W>, Vec<_>) = group.into_iter().map(|j| (j.work, j.done)).unzip();
    let size = works.len();
    let result = store
        .run(move |conn| match apply_atomically(conn, &works) {
            // The connection broke: the items alone would each wait for one in turn, so the
            // error is the group's (and the store notes the database unreachable).
            Err(e) if e.is_unavailable() => Err(e),
            outputs => Ok((outputs, works)),
        })
        .await;
    match result {
        Ok((Ok(outputs), _)) if outputs.len() == size => {
            for (output, done) in outputs.into_iter().zip(answers) {
                let _ = done.send(Ok(output));
            }
        }
        Ok((Ok(outputs), _)) => {
            let message = format!("{} outputs for {size} items", outputs.len());
            for done in answers {
                let _ = done.send(Err(StoreError::Task(message.clone())));
            }
        }
        Ok((Err(e), works)) if size > 1 => {
            log::warn!(
                "a group of {size} writes could not be committed ({e}); committing each alone"
            );
            let mut unavailable: Option<String> = None;
            for (work, done) in works.into_iter().zip(answers) {
                if let Some(message) = &unavailable {
                    let _ = done.send(Err(StoreError::Unavailable(message.clone())));
                    continue;
                }
                let result = store
                    .run(move |conn| apply_atomically(conn, std::slice::from_ref(&work)))
                    .await
                    .and_then(|mut outputs| {
                        outputs
                            .pop()
                            .ok_or_else(|| StoreError::Task("no output for the item".into()))
                    });
                // The database went away meanwhile: the others are not tried one by one.
                if let Err(e) = &result
                    && e.is_unavailable()
                {
                    unavailable = Some(e.to_string());
                }
                let _ = done.send(result);
            }
        }
        Ok((Err(e), _)) => {
            if let Some(done) = answers.into_iter().next() {
                let _ = done.send(Err(e));
            }
        }
        Err(e) => {
            // No connection could be had, or the blocking task itself failed: nothing is
            // known to be committed.
            let message = e.to_string();
            let unavailable = e.is_unavailable();
            for done in answers {
                let _ = done.send(Err(match unavailable {
                    true => StoreError::Unavailable(message.clone()),
                    false => StoreError::Task(message.clone()),
                }));
            }
        }
    }
}
