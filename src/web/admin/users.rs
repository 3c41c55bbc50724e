//! `/admin/users`: the users, searched by PSID or name prefix and paged by key (`(page_id,
//! psid) > (last)`, the primary key's order: a million users page as fast as ten); and
//! `/admin/user?page=&psid=`: one user's profile, locations, thumbs-up, conversation and
//! history, drawn as the chat page draws it (`store::threads`, `web::chat::view`).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{AdminState, Chrome, ago, render, session_or_login, unavailable, when};
use crate::store::browse::{self, UserCursor, UserFilter};
use crate::store::conversations::{self, ConversationState};
use crate::store::locations::{self, Location};
use crate::store::{User, now_ms, threads, users};
use crate::web::Layout;
use crate::web::chat::view::{self, ThreadView};
use crate::webhook::WebhookState;

/// Users per page.
pub const PAGE_SIZE: i64 = 50;
/// The newest events a user's history shows.
const HISTORY_EVENTS: i64 = 200;
/// The longest search kept.
const MAX_SEARCH: usize = 100;

/// The list's query string.
#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    page: Option<String>,
    after_page: Option<String>,
    after_psid: Option<String>,
}

struct UserRow {
    page_id: String,
    psid: String,
    name: String,
    locale: String,
    thumbups: i64,
    seen: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    chrome: Chrome,
    q: String,
    page: String,
    rows: Vec<UserRow>,
    next: Option<String>,
}

fn name_of(user: &User) -> String {
    let name = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        "—".to_owned()
    } else {
        name
    }
}

fn enc(text: &str) -> String {
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

/// `GET /admin/users?q=&page=&after_page=&after_psid=`.
pub async fn list(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    state: web::Data<WebhookState>,
    query: web::Query<UsersQuery>,
) -> HttpResponse {
    let session = match session_or_login(&request, &admin) {
        Ok(session) => session,
        Err(answer) => return *answer,
    };
    let q: String = query
        .q
        .as_deref()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_SEARCH)
        .collect();
    let page = query.page.clone().unwrap_or_default();
    let filter = UserFilter {
        page_id: (!page.is_empty()).then(|| page.clone()),
        search: (!q.is_empty()).then(|| q.clone()),
        after: match (&query.after_page, &query.after_psid) {
            (Some(page_id), Some(psid)) => Some(UserCursor {
                page_id: page_id.clone(),
                psid: psid.clone(),
            }),
            _ => None,
        },
    };
    let found = state
        .store
        .run(move |conn| browse::users_page(conn, &filter, PAGE_SIZE))
        .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => return unavailable("the users", &e),
    };
    let now = now_ms();
    let next = (found.len() == usize::try_from(PAGE_SIZE).unwrap_or(50))
        .then(|| found.last())
        .flatten()
        .map(|last| {
            let mut link = format!(
                "/admin/users?after_page={}&after_psid={}",
                enc(&last.page_id),
                enc(&last.psid)
            );
            if !q.is_empty() {
                link.push_str(&format!("&q={}", enc(&q)));
            }
            if !page.is_empty() {
                link.push_str(&format!("&page={}", enc(&page)));
            }
            link
        });
    let rows = found
        .iter()
        .map(|user| UserRow {
            page_id: user.page_id.clone(),
            psid: user.psid.clone(),
            name: name_of(user),
            locale: user.effective_locale().unwrap_or("—").to_owned(),
            thumbups: user.thumbups,
            seen: format!("{} ago", ago(user.updated_at, now)),
        })
        .collect();
    render(&UsersPage {
        layout: Layout::new("Users · pagebot admin", &[]),
        chrome: Chrome::new("users", &session),
        q,
        page,
        rows,
        next,
    })
}

/// Which user.
#[derive(Debug, Deserialize)]
pub struct UserQuery {
    page: String,
    psid: String,
}

struct Place {
    lat: f64,
    long: f64,
    title: String,
    when: String,
    map_url: String,
}

/// What `chat_thread.html` needs besides the thread: an empty thread offers nothing here.
struct NoEmptyThread {
    page_name: String,
    greeting: Option<String>,
    get_started: Option<String>,
    ice_breakers: Vec<NoButton>,
}

struct NoButton {
    title: String,
    payload: Option<String>,
}

struct Memory {
    name: String,
    value: String,
    set: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    chrome: Chrome,
    user: User,
    name: String,
    timezone: String,
    created: String,
    updated: String,
    places: Vec<Place>,
    thumbs_up: i64,
    step: Option<String>,
    memory: Vec<Memory>,
    view: ThreadView,
    empty: Option<NoEmptyThread>,
}

fn place(location: &Location) -> Place {
    Place {
        lat: location.lat,
        long: location.long,
        title: location
            .title
            .clone()
            .unwrap_or_else(|| "Location".to_owned()),
        when: when(location.time),
        map_url: format!(
            "https://www.openstreetmap.org/?mlat={lat}&mlon={long}#map=16/{lat}/{long}",
            lat = location.lat,
            long = location.long
        ),
    }
}

/// `GET /admin/user?page=&psid=`.
pub async fn one(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    state: web::Data<WebhookState>,
    query: web::Query<UserQuery>,
) -> HttpResponse {
    let session = match session_or_login(&request, &admin) {
        Ok(session) => session,
        Err(answer) => return *answer,
    };
    let UserQuery { page, psid } = query.into_inner();
    let read = state
        .store
        .run(move |conn| {
            let Some(user) = users::find(conn, &page, &psid)? else {
                return Ok(None);
            };
            let places = locations::for_user(conn, &page, &psid)?;
            let thumbs = crate::store::thumbs_up::count(conn, &page, &psid)?;
            let conversation = conversations::find(conn, &page, &psid)?;
            let turns = threads::thread(conn, &page, &psid, HISTORY_EVENTS)?;
            Ok(Some((user, places, thumbs, conversation, turns)))
        })
        .await;
    let (user, places, thumbs, conversation, turns) = match read {
        Ok(Some(read)) => read,
        Ok(None) => {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("no such user on that Page");
        }
        Err(e) => return unavailable("the user", &e),
    };
    let ConversationState { step, memory, .. } = conversation.unwrap_or_default();
    let now = now_ms();
    render(&UserPage {
        layout: Layout::new(format!("{} · pagebot admin", user.psid), &[]),
        chrome: Chrome::new("users", &session),
        name: name_of(&user),
        timezone: user
            .timezone
            .map_or_else(|| "—".to_owned(), |tz| format!("UTC{tz:+}")),
        created: when(user.created_at),
        updated: when(user.updated_at),
        places: places.iter().map(place).collect(),
        thumbs_up: thumbs.max(user.thumbups),
        step,
        memory: memory
            .into_iter()
            .map(|(name, remembered)| Memory {
                name,
                value: remembered.value,
                set: when(remembered.set_at),
            })
            .collect(),
        view: view::thread(&turns, now),
        empty: None,
        user,
    })
}
