//! `/admin/inbox`: the events by status, Page and kind, newest first, with their errors and
//! raw bodies; replay of one or of a selection (`store::inbox::replay`, the code of
//! `pagebot inbox replay`), and the purge of done events older than some days
//! (`retention::purge_before`, the code of `pagebot inbox purge`).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{
    AdminState, Chrome, Fields, field, render, see_other, session_of_post, session_or_login,
    unavailable, when,
};
use crate::retention;
use crate::store::browse::{self, EventFilter};
use crate::store::{InboxEvent, inbox, now_ms};
use crate::web::Layout;
use crate::webhook::WebhookState;

/// Events per page.
const PAGE_SIZE: i64 = 50;
/// The most of a raw body the page shows.
const RAW_SHOWN: usize = 64 * 1024;
/// The statuses the filter offers; `problems` is failed, dead and malformed.
const STATUSES: &[&str] = &[
    "problems",
    "pending",
    "failed",
    "dead",
    "malformed",
    "done",
    "all",
];

/// The filter, from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    status: Option<String>,
    page: Option<String>,
    kind: Option<String>,
    before: Option<i64>,
    replayed: Option<usize>,
    purged: Option<usize>,
}

struct Row {
    id: i64,
    status: String,
    page_id: String,
    psid: Option<String>,
    kind: String,
    attempts: i32,
    received: String,
    finished: Option<String>,
    error: Option<String>,
    raw: String,
    replayable: bool,
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/inbox.html")]
struct InboxPage {
    layout: Layout,
    chrome: Chrome,
    statuses: Vec<Choice>,
    pages: Vec<Choice>,
    kinds: Vec<Choice>,
    status: String,
    page: String,
    kind: String,
    rows: Vec<Row>,
    next: Option<String>,
    notice: Option<String>,
    min_days: u32,
}

fn statuses_of(status: &str) -> Vec<String> {
    match status {
        "problems" => vec!["failed".into(), "dead".into(), "malformed".into()],
        "all" => Vec::new(),
        other => vec![other.to_owned()],
    }
}

/// The raw body as the page shows it: pretty JSON when it is JSON, cut at [`RAW_SHOWN`].
fn shown_raw(event: &InboxEvent) -> String {
    let body = event.raw_body();
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    if text.len() <= RAW_SHOWN {
        return text;
    }
    let mut end = RAW_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… ({} bytes in all)", &text[..end], body.len())
}

fn row(event: &InboxEvent) -> Row {
    Row {
        id: event.id,
        status: event.status.clone(),
        page_id: event.page_id.clone().unwrap_or_default(),
        psid: event.psid.clone(),
        kind: event.kind.clone().unwrap_or_else(|| "?".to_owned()),
        attempts: event.attempts,
        received: when(event.received_at),
        finished: event.finished_at.map(when),
        error: event.last_error.clone(),
        raw: shown_raw(event),
        replayable: event.status == "dead" || event.status == "failed",
    }
}

/// `status=..&page=..&kind=..` of a filter, URL-encoded, for links.
fn filter_query(status: &str, page: &str, kind: &str) -> String {
    let mut query = format!("status={}", urlencode(status));
    if !page.is_empty() {
        query.push_str(&format!("&page={}", urlencode(page)));
    }
    if !kind.is_empty() {
        query.push_str(&format!("&kind={}", urlencode(kind)));
    }
    query
}

fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /admin/inbox`.
pub async fn page(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    state: web::Data<WebhookState>,
    query: web::Query<InboxQuery>,
) -> HttpResponse {
    let session = match session_or_login(&request, &admin) {
        Ok(session) => session,
        Err(answer) => return *answer,
    };
    let status = query
        .status
        .clone()
        .filter(|s| STATUSES.contains(&s.as_str()))
        .unwrap_or_else(|| "problems".to_owned());
    let page = query.page.clone().unwrap_or_default();
    let kind = query.kind.clone().unwrap_or_default();
    let filter = EventFilter {
        statuses: statuses_of(&status),
        page_id: (!page.is_empty()).then(|| page.clone()),
        kind: (!kind.is_empty()).then(|| kind.clone()),
        before_id: query.before,
    };
    let read = state
        .store
        .run(move |conn| {
            let events = browse::events(conn, &filter, PAGE_SIZE)?;
            let kinds = browse::event_kinds(conn)?;
            Ok((events, kinds))
        })
        .await;
    let (events, kinds) = match read {
        Ok(read) => read,
        Err(e) => return unavailable("the inbox", &e),
    };
    let next = (events.len() == usize::try_from(PAGE_SIZE).unwrap_or(50))
        .then(|| events.last().map(|e| e.id))
        .flatten()
        .map(|last| {
            format!(
                "/admin/inbox?{}&before={last}",
                filter_query(&status, &page, &kind)
            )
        });
    let pages: Vec<Choice> = state
        .pipeline
        .pages()
        .iter()
        .filter_map(|p| p.settings().id.clone().map(|id| (id, p.name().to_owned())))
        .map(|(id, name)| Choice {
            selected: id == page,
            label: name,
            value: id,
        })
        .collect();
    let notice = match (query.replayed, query.purged) {
        (Some(n), _) => Some(format!("{n} event(s) put back in the queue.")),
        (_, Some(n)) => Some(format!("{n} done event(s) purged.")),
        _ => None,
    };
    let template = InboxPage {
        layout: Layout::new("Inbox · pagebot admin", &[]),
        chrome: Chrome::new("inbox", &session),
        statuses: STATUSES
            .iter()
            .map(|s| Choice {
                value: (*s).to_owned(),
                label: (*s).to_owned(),
                selected: *s == status,
            })
            .collect(),
        pages,
        kinds: kinds
            .into_iter()
            .map(|k| Choice {
                selected: k == kind,
                label: k.clone(),
                value: k,
            })
            .collect(),
        rows: events.iter().map(row).collect(),
        next,
        notice,
        status,
        page,
        kind,
        min_days: retention::MIN_RETENTION_DAYS,
    };
    render(&template)
}

/// Where a POST goes back to: the inbox with the form's filter.
fn back(fields: &[(String, String)], outcome: &str) -> String {
    let status = field(fields, "status")
        .filter(|s| STATUSES.contains(s))
        .unwrap_or("problems");
    let page = field(fields, "page").unwrap_or_default();
    let kind = field(fields, "kind").unwrap_or_default();
    format!(
        "/admin/inbox?{}&{outcome}",
        filter_query(status, page, kind)
    )
}

fn bad_request(message: String) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/plain; charset=utf-8")
        .body(message)
}

/// `POST /admin/inbox/replay`: `one=ID` (a row's button), else every checked `id`.
pub async fn replay(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    state: web::Data<WebhookState>,
    fields: Fields,
) -> HttpResponse {
    if let Err(refused) = session_of_post(&request, &admin, &fields) {
        return *refused;
    }
    let chosen: Vec<&str> = match field(&fields, "one") {
        Some(one) => vec![one],
        None => fields
            .iter()
            .filter(|(key, _)| key == "id")
            .map(|(_, value)| value.as_str())
            .collect(),
    };
    let mut ids = Vec::with_capacity(chosen.len());
    for id in chosen {
        match id.parse::<i64>() {
            Ok(id) => ids.push(id),
            Err(_) => {
                return bad_request(format!(
                    "not an event id: {:?}",
                    id.chars().take(40).collect::<String>()
                ));
            }
        }
    }
    if ids.is_empty() {
        return bad_request("no event chosen: tick the events to replay".to_owned());
    }
    let count = ids.len();
    let replayed = state
        .store
        .run(move |conn| {
            let now = now_ms();
            let mut replayed = 0;
            for id in ids {
                replayed += inbox::replay(conn, Some(id), now)?;
            }
            Ok(replayed)
        })
        .await;
    match replayed {
        Ok(n) => {
            log::info!("admin: {n} of {count} chosen event(s) replayed");
            state.pipeline.wake();
            see_other(&back(&fields, &format!("replayed={n}")))
        }
        Err(e) => unavailable("the inbox", &e),
    }
}

/// `POST /admin/inbox/purge`: `days=N`, at least [`retention::MIN_RETENTION_DAYS`].
pub async fn purge(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    state: web::Data<WebhookState>,
    fields: Fields,
) -> HttpResponse {
    if let Err(refused) = session_of_post(&request, &admin, &fields) {
        return *refused;
    }
    let days = match field(&fields, "days").map(str::parse::<u32>) {
        Some(Ok(days)) if days >= retention::MIN_RETENTION_DAYS => days,
        _ => {
            return bad_request(format!(
                "days must be a whole number of at least {}: a purged event's redelivery \
                 would no longer be recognised",
                retention::MIN_RETENTION_DAYS
            ));
        }
    };
    let before = retention::cutoff(now_ms(), days);
    match retention::purge_before(&state.store, before, retention::PURGE_BATCH).await {
        Ok(n) => {
            log::info!("admin: {n} done event(s) older than {days} day(s) purged");
            see_other(&back(&fields, &format!("purged={n}")))
        }
        Err(e) => unavailable("the inbox", &e),
    }
}
