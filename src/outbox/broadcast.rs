//! Broadcasts: one message to a list of users, or to every user of a Page matching a
//! [`Filter`], checked and stored here; the pipeline's broadcast loop expands it into the
//! outbox and releases it at its rate (README "Sending first").

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::{Content, FieldError, Intent};
use crate::store::broadcasts::{BroadcastRow, Counts, Filter, NewBroadcast, QUEUED};
use crate::store::now_ms;

/// Messages released per second when the request says nothing.
pub const DEFAULT_RATE_PER_SEC: u32 = 20;
/// The fastest rate a broadcast may ask for (Facebook rate-limits a Page well before the
/// Send API's own ceiling; a 613 pauses the Page either way).
pub const MAX_RATE_PER_SEC: u32 = 1000;
/// The most PSIDs a list may hold (a larger audience is a filter).
pub const MAX_RECIPIENTS: usize = 100_000;
/// The longest `last_seen_within_days`.
pub const MAX_LAST_SEEN_DAYS: u32 = 3650;

/// Who a broadcast goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// These PSIDs (each once).
    List(Vec<String>),
    /// Every user of the Page matching the filter.
    Filter(Filter),
}

/// A broadcast to create.
#[derive(Debug, Clone)]
pub struct BroadcastDraft {
    /// The Page; `None`: the only configured Page.
    pub page: Option<String>,
    /// What it says (a Fluent message is localized for each user).
    pub content: Content,
    /// Why it is sent.
    pub intent: Intent,
    /// Who it goes to.
    pub audience: Audience,
    /// Messages released per second.
    pub rate_per_sec: u32,
}

impl BroadcastDraft {
    /// Reads the API's body: `{"page"?, "message", "intent", "recipients" | "filter",
    /// "rate_per_sec"?}`.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let fields = value
            .as_object()
            .ok_or_else(|| FieldError::new("body", "must be a JSON object"))?;
        const KNOWN: &[&str] = &[
            "page",
            "message",
            "intent",
            "recipients",
            "filter",
            "rate_per_sec",
        ];
        if let Some(other) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(FieldError::new(other, "is not a field of the request"));
        }
        let page = match fields.get("page") {
            None | Some(Value::Null) => None,
            Some(Value::String(page)) => Some(page.clone()),
            Some(Value::Number(page)) => Some(page.to_string()),
            Some(_) => return Err(FieldError::new("page", "must be a Page id")),
        };
        if let Some(page) = &page
            && (page.is_empty()
                || page.len() > crate::event::MAX_ID_LEN
                || !crate::store::inbox::storable_text(page))
        {
            return Err(FieldError::new("page", "is not a Page id"));
        }
        let (content, intent) = super::message_and_intent(fields)?;
        let audience = match (fields.get("recipients"), fields.get("filter")) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "recipients",
                    "give recipients or filter, not both",
                ));
            }
            (None, None) => {
                return Err(FieldError::new(
                    "recipients",
                    "is required (a list of PSIDs), or a filter",
                ));
            }
            (Some(list), None) => Audience::List(recipients(list)?),
            (None, Some(filter)) => Audience::Filter(filter_of(filter)?),
        };
        let rate_per_sec = match fields.get("rate_per_sec") {
            None | Some(Value::Null) => DEFAULT_RATE_PER_SEC,
            Some(rate) => rate
                .as_u64()
                .and_then(|r| u32::try_from(r).ok())
                .filter(|r| (1..=MAX_RATE_PER_SEC).contains(r))
                .ok_or_else(|| {
                    FieldError::new(
                        "rate_per_sec",
                        format!("must be a whole number from 1 to {MAX_RATE_PER_SEC}"),
                    )
                })?,
        };
        Ok(Self {
            page,
            content,
            intent,
            audience,
            rate_per_sec,
        })
    }

    /// The row to store for Page `page_id`.
    pub fn to_row(&self, page_id: String) -> NewBroadcast {
        let (tag, topic) = match &self.intent {
            Intent::Tag(tag) => (Some(tag.as_str().to_owned()), None),
            Intent::Notification { topic } => (None, topic.clone()),
            _ => (None, None),
        };
        let (recipients, filter) = match &self.audience {
            Audience::List(list) => (Some(json!(list).to_string()), None),
            Audience::Filter(filter) => (None, Some(json!(filter).to_string())),
        };
        let now = now_ms();
        NewBroadcast {
            page_id,
            intent: self.intent.as_str().to_owned(),
            tag,
            topic,
            message: content_json(&self.content).to_string(),
            recipients,
            filter,
            state: QUEUED.to_owned(),
            rate_per_sec: i32::try_from(self.rate_per_sec).unwrap_or(i32::MAX),
            released_at: now,
            created_at: now,
        }
    }
}

/// `content` as the API's `message` (what [`Content::from_json`] reads back).
pub fn content_json(content: &Content) -> Value {
    match content {
        Content::Message(message) => message.as_json().clone(),
        Content::Fluent { id, args } => json!({ "fluent": id, "args": args }),
    }
}

fn recipients(list: &Value) -> Result<Vec<String>, FieldError> {
    let items = list
        .as_array()
        .ok_or_else(|| FieldError::new("recipients", "must be a list of PSIDs"))?;
    if items.is_empty() {
        return Err(FieldError::new("recipients", "must name at least one PSID"));
    }
    if items.len() > MAX_RECIPIENTS {
        return Err(FieldError::new(
            "recipients",
            format!("holds more than {MAX_RECIPIENTS} PSIDs: use a filter"),
        ));
    }
    let mut seen = HashSet::with_capacity(items.len());
    let mut psids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let psid = item
            .as_str()
            .map(str::trim)
            .filter(|p| {
                !p.is_empty()
                    && p.len() <= crate::event::MAX_ID_LEN
                    && crate::store::inbox::storable_text(p)
            })
            .ok_or_else(|| FieldError::new(format!("recipients[{i}]"), "is not a PSID"))?;
        if seen.insert(psid.to_owned()) {
            psids.push(psid.to_owned());
        }
    }
    Ok(psids)
}

fn filter_of(filter: &Value) -> Result<Filter, FieldError> {
    let fields: &Map<String, Value> = filter
        .as_object()
        .ok_or_else(|| FieldError::new("filter", "must be an object"))?;
    let mut out = Filter::default();
    for (key, value) in fields {
        match key.as_str() {
            "locale" => {
                let locale = value
                    .as_str()
                    .filter(|l| {
                        !l.is_empty()
                            && l.len() <= 20
                            && l.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    })
                    .ok_or_else(|| {
                        FieldError::new("filter.locale", "must be a locale such as fr or fr_FR")
                    })?;
                out.locale = Some(locale.to_owned());
            }
            "has_notification_token" => {
                out.has_notification_token = Some(value.as_bool().ok_or_else(|| {
                    FieldError::new("filter.has_notification_token", "must be true or false")
                })?);
            }
            "last_seen_within_days" => {
                out.last_seen_within_days = Some(
                    value
                        .as_u64()
                        .and_then(|d| u32::try_from(d).ok())
                        .filter(|d| (1..=MAX_LAST_SEEN_DAYS).contains(d))
                        .ok_or_else(|| {
                            FieldError::new(
                                "filter.last_seen_within_days",
                                format!("must be a whole number from 1 to {MAX_LAST_SEEN_DAYS}"),
                            )
                        })?,
                );
            }
            other => {
                return Err(FieldError::new(
                    format!("filter.{other}"),
                    "is not a filter (locale, has_notification_token, last_seen_within_days)",
                ));
            }
        }
    }
    Ok(out)
}

/// A broadcast and its messages' counts, as the API and the CLI show them.
#[derive(Debug, Clone)]
pub struct BroadcastStatus {
    /// The broadcast.
    pub row: BroadcastRow,
    /// Its messages per state.
    pub counts: Counts,
}

impl BroadcastStatus {
    /// The API's view (never a PSID list, never a token).
    pub fn to_json(&self) -> Value {
        let (row, c) = (&self.row, &self.counts);
        let mut view = json!({
            "id": row.id,
            "page": row.page_id,
            "intent": row.intent,
            "state": row.state,
            "rate_per_sec": row.rate_per_sec,
            "expanded": row.expanded == 1,
            "total": c.total,
            "counts": {
                "queued": c.queued,
                "sent": c.sent,
                "refused": c.refused,
                "failed": c.failed,
            },
            "created_at": row.created_at,
        });
        if let Some(tag) = &row.tag {
            view["tag"] = Value::from(tag.as_str());
        }
        if let Some(filter) = row
            .filter
            .as_deref()
            .and_then(|f| serde_json::from_str::<Value>(f).ok())
        {
            view["filter"] = filter;
        }
        view
    }
}
