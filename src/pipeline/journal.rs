//! What an attempt writes when it is over: the delivery records not yet written, the event's
//! outcome and, for an event done, what it left of the user's conversation, committed together
//! with other workers' (see [`crate::store::group_commit`]).
//!
//! A conversation is written only if the claim still held when the outcome was recorded, in
//! the same transaction: a step moves exactly when its event is done, once.
//!
//! Each event used to pay one commit per delivery and one for its outcome; under load, a
//! group now pays one commit for the endings of dozens of events.

use crate::store::conversations::{self, ConversationWrite};
use crate::store::deliveries::NewDelivery;
use crate::store::group_commit::GroupWork;
use crate::store::inbox::{self, Status};
use crate::store::{DbConn, StoreError, now_ms};

/// How the claim of an event ends.
#[derive(Debug, Clone)]
pub(super) enum Ending {
    /// A final status: done, failed or dead.
    Finish {
        status: Status,
        error: Option<String>,
    },
    /// Released, to be claimed again `after_ms` from when this is written.
    Retry {
        error: String,
        after_ms: i64,
        /// The attempt does not count (the event was not at fault).
        refund: bool,
    },
}

/// The end of one claim, as the claim that set `attempts` recorded it.
#[derive(Debug, Clone)]
pub(super) struct ClaimEnd {
    pub id: i64,
    pub attempts: i32,
    pub kind: Option<&'static str>,
    pub ending: Ending,
}

/// One worker's writes.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Delivery attempts to record, in order.
    pub deliveries: Vec<NewDelivery>,
    /// How the claim ends, if it does with this entry.
    pub end: Option<ClaimEnd>,
    /// The user's conversation as the event left it: written only with a final status, and
    /// only if the claim still held.
    pub conversation: Option<ConversationWrite>,
}

impl GroupWork for Entry {
    /// Whether the claim still held when its end was recorded (true without an end): false
    /// means another worker claimed the event after this one's lease ran out, and nothing of
    /// the end was written.
    type Output = bool;

    fn rows(&self) -> usize {
        self.deliveries.len()
            + usize::from(self.end.is_some())
            + usize::from(self.conversation.is_some())
    }

    fn apply(conn: &mut DbConn, group: &[Self]) -> Result<Vec<bool>, StoreError> {
        let now = now_ms();
        // Every delivery of the group first (independent of the endings: their events exist),
        // then every final status in one statement, then the rare retries one by one.
        let records: Vec<&NewDelivery> = group.iter().flat_map(|e| &e.deliveries).collect();
        let mut finishes = Vec::new();
        for end in group.iter().filter_map(|e| e.end.as_ref()) {
            if let Ending::Finish { status, error } = &end.ending {
                finishes.push(inbox::Finish {
                    id: end.id,
                    attempts: end.attempts,
                    status: *status,
                    kind: end.kind,
                    error: error.as_deref(),
                });
            }
        }
        let mut finished =
            inbox::record_and_finish_all(conn, &records, &finishes, now)?.into_iter();
        let mut held = Vec::with_capacity(group.len());
        for entry in group {
            let Some(end) = &entry.end else {
                held.push(true);
                continue;
            };
            held.push(match &end.ending {
                Ending::Finish { .. } => {
                    let still = finished
                        .next()
                        .ok_or_else(|| StoreError::Task("an ending without its answer".into()))?;
                    // In the transaction that finished the event, and only if it did.
                    if still && let Some(conversation) = &entry.conversation {
                        conversations::save(conn, conversation)?;
                    }
                    still
                }
                Ending::Retry {
                    error,
                    after_ms,
                    refund,
                } => inbox::retry_later(
                    conn,
                    end.id,
                    end.attempts,
                    end.kind,
                    error,
                    now.saturating_add(*after_ms),
                    *refund,
                )?,
            });
        }
        Ok(held)
    }

    fn one_statement(conn: &DbConn, group: &[Self]) -> bool {
        // Deliveries and final statuses are one statement on Postgres; a retry is one more.
        matches!(conn, DbConn::Postgres(_))
            && group.iter().all(|entry| {
                entry.conversation.is_none()
                    && entry
                        .end
                        .as_ref()
                        .is_none_or(|end| matches!(end.ending, Ending::Finish { .. }))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::group_commit::GroupCommit;
    use crate::store::{NewInboxEvent, Store, deliveries};

    fn pending(key: &str) -> NewInboxEvent {
        inbox::test_row(key, &format!("user-{key}"))
    }

    fn sent(event_id: i64, seq: i32) -> NewDelivery {
        NewDelivery {
            event_id,
            seq,
            page_id: String::new(),
            psid: None,
            request: "{}".into(),
            status: deliveries::SENT.to_owned(),
            message_id: Some(format!("m-{event_id}-{seq}")),
            error_code: None,
            error_subcode: None,
            error_message: None,
            fbtrace_id: None,
            created_at: now_ms(),
        }
    }

    fn done(id: i64, attempts: i32) -> Option<ClaimEnd> {
        Some(ClaimEnd {
            id,
            attempts,
            kind: Some("SIMPLE_TEXT"),
            ending: Ending::Finish {
                status: Status::Done,
                error: None,
            },
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_endings_are_committed_and_a_bad_one_refuses_only_itself() {
        // Postgres (one statement for the whole group) when PAGEBOT_TEST_DATABASE_URL is set,
        // else SQLite (one statement per row).
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 4).unwrap();
        let rows: Vec<NewInboxEvent> = (0..40).map(|i| pending(&format!("k{i}"))).collect();
        store
            .run(move |conn| inbox::insert_batch(conn, &rows))
            .await
            .unwrap();
        let claimed = store
            .run(|conn| inbox::claim(conn, 60_000, 100))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 40);
        // An earlier attempt's error stays when the event is then done without one.
        let earlier = claimed[2].id;
        store
            .run(move |conn| {
                use crate::store::schema::inbox_events::dsl as e;
                use diesel::prelude::*;
                diesel::update(e::inbox_events.find(earlier))
                    .set(e::last_error.eq(Some("timeout")))
                    .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        let journal = GroupCommit::start(store.clone(), 1, 500);

        let mut writes = tokio::task::JoinSet::new();
        for (i, event) in claimed.iter().enumerate() {
            let journal = journal.clone();
            let (id, attempts) = (event.id, event.attempts);
            writes.spawn(async move {
                let entry = match i {
                    // A delivery for an event that does not exist breaks its foreign key.
                    0 => Entry {
                        deliveries: vec![sent(999_999, 0)],
                        end: done(id, attempts),
                        conversation: None,
                    },
                    // A claim that is no longer held: nothing of its end is written.
                    1 => Entry {
                        deliveries: vec![],
                        end: done(id, attempts + 1),
                        conversation: None,
                    },
                    _ => Entry {
                        deliveries: vec![sent(id, 0), sent(id, 1)],
                        end: done(id, attempts),
                        conversation: None,
                    },
                };
                (i, id, journal.submit(entry).await)
            });
        }
        let mut answers = Vec::new();
        while let Some(answer) = writes.join_next().await {
            answers.push(answer.unwrap());
        }
        answers.sort_by_key(|(i, ..)| *i);
        assert!(answers[0].2.is_err(), "{:?}", answers[0].2);
        assert_eq!(answers[1].2.as_ref().unwrap(), &false);
        assert!(
            answers[2..]
                .iter()
                .all(|(.., held)| held.as_ref().unwrap() == &true)
        );

        let stored = store.run(inbox::all).await.unwrap();
        let status = |id: i64| stored.iter().find(|e| e.id == id).unwrap().status.clone();
        assert_eq!(status(answers[0].1), "pending");
        assert_eq!(status(answers[1].1), "pending");
        assert!(answers[2..].iter().all(|(_, id, _)| status(*id) == "done"));
        let kept = stored.iter().find(|e| e.id == earlier).unwrap();
        assert_eq!(kept.last_error.as_deref(), Some("timeout"));
        assert!(kept.locked_until.is_none() && kept.finished_at.is_some());
        let recorded = store.run(deliveries::all).await.unwrap();
        assert_eq!(recorded.len(), 38 * 2);
        assert!(recorded.iter().all(
            |d| d.message_id.as_deref() == Some(format!("m-{}-{}", d.event_id, d.seq).as_str())
        ));
    }
}
