//! `feedback`: stores "feedback: the app is great" in testapp's own table, `testapp_feedback`
//! (created by testapp's migrations, see `migrations/` and [`crate::migrations`]), and leaves
//! how many notes the user sent in `feedback.count` for the senders.
//!
//! ```yaml
//! - handler: feedback
//!   stop: true
//!   senders:
//!     - text: { message: feedback-noted, args: { count: "{feedback.count}" } }
//! ```
//!
//! The row is keyed by the inbox event, and inserted with `ON CONFLICT DO NOTHING`: an event
//! processed twice (retried after a failed send, replayed with `inbox replay`) stores one row.

use std::sync::LazyLock;

use async_trait::async_trait;
use diesel::prelude::*;
use pagebot::store::{DbConn, StoreError, now_ms};
use pagebot::{Context, Handler, HandlerError};
use regex::Regex;
use serde::Deserialize;

use crate::schema::testapp_feedback;

/// "feedback" (any case), an optional `:` or `-`, then the note.
static FEEDBACK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*feedback\b\s*[:\-]?\s*(?P<note>[^\s:\-].*?)\s*$")
        .expect("the pattern is a constant")
});

/// The longest note stored, in characters (Messenger texts go up to 2000).
pub const MAX_NOTE_CHARS: usize = 2000;

/// Stores feedback notes.
#[derive(Debug, Clone, Default)]
pub struct Feedback;

/// `feedback` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackArgs {}

impl Feedback {
    /// Builds it from its (empty) arguments.
    pub fn from_args(_args: FeedbackArgs) -> Result<Self, String> {
        Ok(Self)
    }

    /// The note in `text`, if it is a feedback message.
    pub fn note(text: &str) -> Option<&str> {
        FEEDBACK
            .captures(text)
            .and_then(|c| c.name("note"))
            .map(|m| m.as_str())
    }
}

/// One feedback note, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = testapp_feedback)]
pub struct Note {
    /// The inbox event of the message (the idempotency key).
    pub event_id: i64,
    /// Who sent it.
    pub psid: String,
    /// The note.
    pub note: String,
    /// When it was stored (epoch ms).
    pub created_at: i64,
    /// The Page it was sent to: a PSID is page-scoped, so the user is the Page and the PSID.
    pub page_id: String,
}

/// Stores `note` unless its event was stored before; returns how many notes its user (its
/// Page and PSID) sent.
pub fn record(conn: &mut DbConn, note: &Note) -> Result<i64, StoreError> {
    // ON CONFLICT is outside what diesel's multi-backend connection offers: one arm per
    // backend, the same source in both.
    let insert = diesel::insert_into(testapp_feedback::table)
        .values(note)
        .on_conflict_do_nothing();
    match conn {
        DbConn::Postgres(c) => insert.execute(c)?,
        DbConn::Sqlite(c) => insert.execute(c)?,
    };
    count(conn, &note.page_id, &note.psid)
}

/// How many notes `psid` sent to Page `page_id`.
pub fn count(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<i64, StoreError> {
    Ok(testapp_feedback::table
        .filter(testapp_feedback::page_id.eq(page_id))
        .filter(testapp_feedback::psid.eq(psid))
        .count()
        .get_result(conn)?)
}

/// Every note, oldest event first.
pub fn all(conn: &mut DbConn) -> Result<Vec<Note>, StoreError> {
    Ok(testapp_feedback::table
        .order(testapp_feedback::event_id)
        .select(Note::as_select())
        .load(conn)?)
}

#[async_trait]
impl Handler for Feedback {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some() && cx.text().and_then(Feedback::note).is_some()
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(note)) = (cx.psid(), cx.text().and_then(Feedback::note)) else {
            return Ok(());
        };
        let note = Note {
            event_id: cx.event.inbox_id,
            psid: psid.to_owned(),
            note: note.chars().take(MAX_NOTE_CHARS).collect(),
            created_at: now_ms(),
            page_id: cx.page_id().to_owned(),
        };
        let count = cx.store().run(move |conn| record(conn, &note)).await?;
        cx.vars.insert("feedback.count".into(), count.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_messages_are_recognised() {
        assert_eq!(Feedback::note("feedback: love it"), Some("love it"));
        assert_eq!(Feedback::note("feedback:terse"), Some("terse"));
        assert_eq!(Feedback::note("Feedback - too cold "), Some("too cold"));
        assert_eq!(Feedback::note("FEEDBACK more\nlines"), Some("more\nlines"));
        assert_eq!(Feedback::note("feedback"), None);
        assert_eq!(Feedback::note("feedback:"), None);
        assert_eq!(Feedback::note("feedback - "), None);
        assert_eq!(Feedback::note("feedbacks are nice"), None);
        assert_eq!(Feedback::note("my feedback: none"), None);
    }
}
