//! Operator commands on messages the bot starts: `pagebot send` and `pagebot broadcast
//! create | status | cancel`, straight on the database through the outbox's store code (a
//! running server delivers what they queue). Each returns the text to print; nothing here
//! prints a PSID list or a token.

use std::fmt::Write;
use std::time::Duration;

use crate::admin::open_existing;
use crate::outbox::broadcast::{Audience, BroadcastDraft, BroadcastStatus};
use crate::outbox::{Content, FieldError, Intent, broadcast_status};
use crate::senders::Tag;
use crate::store::broadcasts::{self, CANCELLED, DONE, Filter};
use crate::store::outbox::{self as rows, NewOutboxMessage};
use crate::store::{StoreError, now_ms};

fn invalid(e: FieldError) -> StoreError {
    StoreError::Config(e.to_string())
}

fn intent_of(tag: Option<&str>) -> Result<Intent, StoreError> {
    match tag {
        None => Ok(Intent::Update),
        Some(tag) => Tag::parse(tag)
            .map(Intent::Tag)
            .map_err(|e| invalid(FieldError::new("--tag", e))),
    }
}

/// `pagebot send`: queues `text` to `psid` on Page `page` (an update, or a tag); returns
/// the message's id as a line.
pub fn send(
    database_url: &str,
    page: &str,
    psid: &str,
    text: &str,
    tag: Option<&str>,
) -> Result<String, StoreError> {
    let content = Content::text(text).map_err(invalid)?;
    let intent = intent_of(tag)?;
    let Content::Message(message) = content else {
        return Err(StoreError::Config("--text: not a text".into()));
    };
    let store = open_existing(database_url)?;
    let now = now_ms();
    let row = NewOutboxMessage {
        page_id: page.to_owned(),
        psid: psid.to_owned(),
        intent: intent.as_str().to_owned(),
        tag: tag.map(str::to_owned),
        topic: None,
        message: message.as_json().to_string(),
        state: rows::QUEUED.to_owned(),
        idempotency_key: None,
        attempts: 0,
        due_at: now,
        created_at: now,
    };
    let queued = rows::queue(&mut *store.get()?, &row)?;
    Ok(format!("message {} queued\n", queued.id))
}

/// What `pagebot broadcast create` was given.
#[derive(Debug, Clone)]
pub struct CreateArgs {
    /// The Page.
    pub page: String,
    /// The text.
    pub text: String,
    /// A tag (`HUMAN_AGENT`...); else an update.
    pub tag: Option<String>,
    /// These PSIDs; empty: the filter.
    pub psids: Vec<String>,
    /// The filter.
    pub filter: Filter,
    /// Messages per second.
    pub rate_per_sec: u32,
}

/// `pagebot broadcast create`: stores the broadcast; returns its id as a line.
pub fn create(database_url: &str, args: CreateArgs) -> Result<String, StoreError> {
    let audience = if args.psids.is_empty() {
        Audience::Filter(args.filter)
    } else {
        Audience::List(args.psids)
    };
    let draft = BroadcastDraft {
        page: Some(args.page.clone()),
        content: Content::text(args.text).map_err(invalid)?,
        intent: intent_of(args.tag.as_deref())?,
        audience,
        rate_per_sec: args.rate_per_sec,
    };
    let store = open_existing(database_url)?;
    let id = broadcasts::create(&mut *store.get()?, &draft.to_row(args.page))?;
    Ok(format!("broadcast {id} queued\n"))
}

fn status_of(database_url: &str, id: i64) -> Result<BroadcastStatus, StoreError> {
    let store = open_existing(database_url)?;
    broadcast_status(&mut *store.get()?, id)?
        .ok_or_else(|| StoreError::Config(format!("no broadcast {id}")))
}

/// One status line: state, a textual progress bar and the counts.
pub fn render(status: &BroadcastStatus) -> String {
    const WIDTH: i64 = 30;
    let c = &status.counts;
    let finished = c.sent + c.refused + c.failed;
    let filled = if c.total > 0 {
        (finished * WIDTH / c.total).clamp(0, WIDTH)
    } else {
        0
    };
    let bar: String = (0..WIDTH)
        .map(|i| if i < filled { '#' } else { '-' })
        .collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "broadcast {} {:<9} [{bar}] {finished}/{}{}  sent {}  refused {}  failed {}  queued {}",
        status.row.id,
        status.row.state,
        c.total,
        if status.row.expanded == 1 { "" } else { "+" },
        c.sent,
        c.refused,
        c.failed,
        c.queued,
    );
    out
}

/// `pagebot broadcast status ID`.
pub fn status(database_url: &str, id: i64) -> Result<String, StoreError> {
    Ok(format!("{}\n", render(&status_of(database_url, id)?)))
}

/// `pagebot broadcast status ID --watch`: redraws the line every second until the broadcast
/// is done or cancelled, through `print`.
pub fn watch(database_url: &str, id: i64, print: impl Fn(&str)) -> Result<String, StoreError> {
    loop {
        let status = status_of(database_url, id)?;
        let line = render(&status);
        if status.row.state == DONE || status.row.state == CANCELLED {
            return Ok(format!("\r{line}\n"));
        }
        print(&format!("\r{line}"));
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `pagebot broadcast cancel ID`.
pub fn cancel(database_url: &str, id: i64) -> Result<String, StoreError> {
    let store = open_existing(database_url)?;
    let mut conn = store.get()?;
    let Some((before, refused)) = broadcasts::cancel(&mut conn, id)? else {
        return Err(StoreError::Config(format!("no broadcast {id}")));
    };
    if before == DONE || before == CANCELLED {
        return Ok(format!("broadcast {id} was {before} already\n"));
    }
    Ok(format!(
        "broadcast {id} cancelled: {refused} message(s) not sent\n"
    ))
}
