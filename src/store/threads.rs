//! A user's thread with the Page as stored: their inbound events, each followed by the
//! messages the bot sent in answer, in order. What the chat page (`/dev/chat`) draws, and what
//! an admin's user history can draw too.

use diesel::prelude::*;

use super::schema::{deliveries, inbox_events};
use super::{DbConn, Delivery, InboxEvent, StoreError};

/// One inbound event and the deliveries it caused, by position.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadTurn {
    /// The event as the inbox holds it.
    pub event: InboxEvent,
    /// The bot's messages in answer (every attempt's last record), by `seq`.
    pub replies: Vec<Delivery>,
}

/// The newest `limit` events of the user `psid` of Page `page_id`, oldest first, each with
/// its replies. Two queries: the events (by the inbox's index on the sender), then their
/// deliveries (by the deliveries' key, event and position).
pub fn thread(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
    limit: i64,
) -> Result<Vec<ThreadTurn>, StoreError> {
    use inbox_events::dsl as e;
    let mut events: Vec<InboxEvent> = e::inbox_events
        .filter(e::psid.eq(psid))
        .filter(e::page_id.eq(page_id))
        .order(e::id.desc())
        .limit(limit)
        .select(InboxEvent::as_select())
        .load(conn)?;
    events.reverse();
    let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
    let mut replies: Vec<Delivery> = Vec::new();
    // Chunks keep the bind parameters under SQLite's limit.
    for chunk in ids.chunks(10_000) {
        replies.extend(
            deliveries::table
                .filter(deliveries::event_id.eq_any(chunk))
                .order((deliveries::event_id, deliveries::seq))
                .select(Delivery::as_select())
                .load(conn)?,
        );
    }
    let mut replies = replies.into_iter().peekable();
    Ok(events
        .into_iter()
        .map(|event| {
            let mut own = Vec::new();
            while let Some(reply) = replies.next_if(|r| r.event_id == event.id) {
                own.push(reply);
            }
            ThreadTurn {
                event,
                replies: own,
            }
        })
        .collect())
}
