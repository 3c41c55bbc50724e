//! The chat page, `/dev/chat` (`serve --dev` only): a fake user talks to the bot the way
//! Facebook would bring them, and sees its answers drawn the way Messenger draws them.
//!
//! What the user does becomes a Messenger webhook body (the test kit's
//! [`Webhook`] builder), signed with the app secret when one is set, and handed to the code
//! behind `POST /webhook` ([`webhook::receive_signed`]): it goes through the inbox and the
//! pipeline like any event. The page polls the thread (`/dev/chat/thread`, answered 304 while
//! it is unchanged), which is read back from the inbox and the deliveries
//! ([`threads::thread`]) and drawn by [`view`].
//!
//! Routes: `GET /dev/chat?page=&psid=&locale=` (the page), `GET /dev/chat/thread` (the
//! thread's HTML), `GET /dev/chat/thread.json` (the same as JSON), `POST /dev/chat/send` (what
//! the user does, JSON), `POST /dev/chat/locale` (the user's language).

pub mod view;

use std::hash::{Hash, Hasher};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Layout;
use crate::event::MAX_ID_LEN;
use crate::pages::Page;
use crate::store::{now_ms, threads, users};
use crate::testing::webhook::{LIKE_STICKER_ID, TEST_PAGE_ID, Webhook};
use crate::thread_settings::{self, Field};
use crate::webhook::{self, WebhookState};
use view::ThreadView;

/// How many of the newest events the thread shows.
const THREAD_EVENTS: i64 = 200;
/// The longest text the page sends (Messenger's limit on a message's text).
const MAX_TEXT_CHARS: usize = 2000;
/// The longest payload (Messenger's limit on a postback's).
const MAX_PAYLOAD_CHARS: usize = 1000;
/// The fake user when the page names none.
const DEFAULT_PSID: &str = "5550000000000001";

/// What the chat page needs besides the webhook's state.
#[derive(Clone)]
pub struct ChatSettings {
    /// The app secret the bodies are signed with, when one is set (as Facebook signs them).
    pub app_secret: Option<SecretString>,
}

/// Registers the chat page's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dev/chat", web::get().to(page))
        .route("/dev/chat/thread", web::get().to(thread_html))
        .route("/dev/chat/thread.json", web::get().to(thread_json))
        .route("/dev/chat/send", web::post().to(send))
        .route("/dev/chat/locale", web::post().to(locale));
}

/// Which Page and which fake user: `page` is a Page's label (its id, `default` for the
/// catch-all Page), `psid` the user.
#[derive(Debug, Default, Deserialize)]
struct Who {
    page: Option<String>,
    psid: Option<String>,
    locale: Option<String>,
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage {
    layout: Layout,
    pages: Vec<PageChoice>,
    page_label: String,
    page_name: String,
    psid: String,
    locales: Vec<LocaleChoice>,
    menu: Vec<MenuItem>,
    composer_disabled: bool,
    profile_problem: Option<String>,
    thread: String,
}

struct PageChoice {
    label: String,
    name: String,
    selected: bool,
}

struct LocaleChoice {
    tag: String,
    selected: bool,
}

/// An item of the persistent menu, or an ice breaker.
#[derive(Debug, Clone)]
struct MenuItem {
    title: String,
    payload: Option<String>,
    url: Option<String>,
}

/// The thread as HTML: what the page shows and polls.
#[derive(Template)]
#[template(path = "chat_thread.html")]
struct ThreadFragment {
    view: ThreadView,
    empty: Option<EmptyThread>,
}

/// What an empty thread offers: the greeting, the Get Started button, the ice breakers.
struct EmptyThread {
    page_name: String,
    greeting: Option<String>,
    get_started: Option<String>,
    ice_breakers: Vec<MenuItem>,
}

/// The Messenger Profile of a Page, as the chat page uses it, in one locale.
struct ProfileView {
    greeting: Option<String>,
    get_started: Option<String>,
    menu: Vec<MenuItem>,
    composer_disabled: bool,
    ice_breakers: Vec<MenuItem>,
    problem: Option<String>,
}

fn profile_view(page: &Page, locale: Option<&str>) -> ProfileView {
    let mut view = ProfileView {
        greeting: None,
        get_started: None,
        menu: Vec::new(),
        composer_disabled: false,
        ice_breakers: Vec::new(),
        problem: None,
    };
    let profile = match thread_settings::page_profile(page) {
        Ok(profile) => profile,
        Err(problem) => {
            view.problem = Some(problem);
            return view;
        }
    };
    let facebook = locale
        .and_then(|tag| tag.parse().ok())
        .and_then(|tag| thread_settings::desired::facebook_locale(&tag));
    let facebook = facebook.as_deref();
    view.get_started = profile
        .get(Field::GetStarted)
        .and_then(|v| v.get("payload"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    view.greeting = profile
        .get(Field::Greeting)
        .and_then(|v| thread_settings::localized_entry(v, facebook))
        .and_then(|entry| entry.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(menu) = profile
        .get(Field::PersistentMenu)
        .and_then(|v| thread_settings::localized_entry(v, facebook))
    {
        view.composer_disabled = menu
            .get("composer_input_disabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        view.menu = menu
            .get("call_to_actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|item| MenuItem {
                title: text(item, "title"),
                payload: item
                    .get("payload")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                url: item
                    .get("url")
                    .and_then(Value::as_str)
                    .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
                    .map(str::to_owned),
            })
            .collect();
    }
    if let Some(breakers) = profile
        .get(Field::IceBreakers)
        .and_then(|v| thread_settings::localized_entry(v, facebook))
    {
        view.ice_breakers = breakers
            .get("call_to_actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|item| MenuItem {
                title: text(item, "question"),
                payload: item
                    .get("payload")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                url: None,
            })
            .collect();
    }
    view
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The Page `label` names (its id, `default` for the catch-all Page), else the first.
fn find_page<'a>(pages: &'a crate::pages::Pages, label: Option<&str>) -> Option<&'a Page> {
    match label {
        Some(label) => pages.iter().find(|page| page.label() == label),
        None => Some(pages.first()),
    }
}

/// The id the Page's events carry: its own, or the test kit's for the catch-all Page.
fn page_id(page: &Page) -> String {
    page.settings()
        .id
        .clone()
        .unwrap_or_else(|| TEST_PAGE_ID.to_owned())
}

fn valid_psid(psid: &str) -> Result<(), String> {
    if psid.is_empty() {
        return Err("psid is empty: name the fake user".to_owned());
    }
    if psid.len() > MAX_ID_LEN.min(64) {
        return Err("psid is longer than 64 characters".to_owned());
    }
    if !psid
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err("psid may hold only letters, digits, '_' and '-'".to_owned());
    }
    Ok(())
}

fn bad_request(message: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message.into() }))
}

/// A POST that is not `application/json` is refused: a page of another site can send a
/// form or text to a loopback address without asking, but not JSON.
fn not_json(request: &HttpRequest) -> Option<HttpResponse> {
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
        });
    (!json).then(|| {
        HttpResponse::UnsupportedMediaType()
            .json(json!({ "error": "send JSON, with Content-Type: application/json" }))
    })
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn render_failed(e: &askama::Error) -> HttpResponse {
    log::error!("chat page: template failed: {e}");
    HttpResponse::InternalServerError()
        .content_type("text/plain; charset=utf-8")
        .body("the page could not be drawn (see the server's log)")
}

/// Reads the user's thread and their row, if the bot stored one; `Err` is the answer to give.
async fn load_thread(
    state: &WebhookState,
    page: &Page,
    psid: &str,
) -> Result<(ThreadView, Option<users::User>), HttpResponse> {
    let page_id = page_id(page);
    let owned_psid = psid.to_owned();
    let read = state
        .store
        .run(move |conn| {
            let turns = threads::thread(conn, &page_id, &owned_psid, THREAD_EVENTS)?;
            let user = users::find(conn, &page_id, &owned_psid)?;
            Ok((turns, user))
        })
        .await;
    match read {
        Ok((turns, user)) => Ok((view::thread(&turns, now_ms()), user)),
        Err(e) => {
            log::warn!("chat page: cannot read the thread: {e}");
            Err(HttpResponse::ServiceUnavailable()
                .json(json!({ "error": format!("cannot read the thread: {e}") })))
        }
    }
}

fn fragment(
    page: &Page,
    view: ThreadView,
    locale: Option<&str>,
    user: Option<&users::User>,
) -> Result<String, askama::Error> {
    let empty = view.items.is_empty().then(|| {
        let profile = profile_view(page, locale);
        EmptyThread {
            page_name: page.name().to_owned(),
            greeting: profile.greeting.map(|text| personalize(&text, user)),
            get_started: profile.get_started,
            ice_breakers: profile.ice_breakers,
        }
    });
    ThreadFragment { view, empty }.render()
}

/// The greeting as Messenger shows it: its `{{user_first_name}}`, `{{user_last_name}}` and
/// `{{user_full_name}}` replaced by the user's names, when the bot stored their profile.
fn personalize(text: &str, user: Option<&users::User>) -> String {
    let Some(user) = user else {
        return text.to_owned();
    };
    let first = user.first_name.clone().unwrap_or_default();
    let last = user.last_name.clone().unwrap_or_default();
    let mut out = text.to_owned();
    if !first.is_empty() {
        out = out.replace("{{user_first_name}}", &first);
    }
    if !last.is_empty() {
        out = out.replace("{{user_last_name}}", &last);
    }
    let full = format!("{first} {last}");
    if !full.trim().is_empty() {
        out = out.replace("{{user_full_name}}", full.trim());
    }
    out
}

/// `GET /dev/chat`: the page.
async fn page(state: web::Data<WebhookState>, who: web::Query<Who>) -> HttpResponse {
    let pages = state.pipeline.pages();
    let Some(page) = find_page(pages, who.page.as_deref()) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such Page: pick one of the served Pages' ids");
    };
    let psid = who.psid.clone().unwrap_or_else(|| DEFAULT_PSID.to_owned());
    if let Err(e) = valid_psid(&psid) {
        return HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(e);
    }
    let (view, user) = match load_thread(&state, page, &psid).await {
        Ok(read) => read,
        Err(answer) => return answer,
    };
    let bot = page.bot();
    let locales = &bot.services.locales;
    let locale = user
        .as_ref()
        .and_then(|u| u.effective_locale().map(str::to_owned))
        .or_else(|| who.locale.clone())
        .and_then(|tag| locales.supported(&tag.replace('_', "-")))
        .unwrap_or_else(|| locales.default_locale().clone())
        .to_string();
    let profile = profile_view(page, Some(&locale));
    let thread = match fragment(page, view, Some(&locale), user.as_ref()) {
        Ok(thread) => thread,
        Err(e) => return render_failed(&e),
    };
    let template = ChatPage {
        layout: Layout::new(format!("{} · pagebot chat", page.name()), &["chat.js"]),
        pages: pages
            .iter()
            .map(|p| PageChoice {
                label: p.label().to_owned(),
                name: p.name().to_owned(),
                selected: p.label() == page.label(),
            })
            .collect(),
        page_label: page.label().to_owned(),
        page_name: page.name().to_owned(),
        psid,
        locales: locales
            .locales()
            .map(|tag| LocaleChoice {
                tag: tag.to_string(),
                selected: tag.to_string() == locale,
            })
            .collect(),
        menu: profile.menu,
        composer_disabled: profile.composer_disabled,
        profile_problem: profile.problem,
        thread,
    };
    match template.render() {
        Ok(body) => html(body),
        Err(e) => render_failed(&e),
    }
}

/// Resolves `who` to a Page and a valid PSID, or the 400/404 to answer.
fn resolve<'a>(
    pages: &'a crate::pages::Pages,
    page: Option<&str>,
    psid: Option<&str>,
) -> Result<(&'a Page, String), Box<HttpResponse>> {
    let page = find_page(pages, page).ok_or_else(|| {
        Box::new(HttpResponse::NotFound().json(json!({ "error": "no such Page" })))
    })?;
    let psid = psid.unwrap_or(DEFAULT_PSID).to_owned();
    valid_psid(&psid).map_err(|e| Box::new(bad_request(e)))?;
    Ok((page, psid))
}

/// `GET /dev/chat/thread`: the thread's HTML; 304 while it is what the page has (`ETag`).
async fn thread_html(
    state: web::Data<WebhookState>,
    who: web::Query<Who>,
    request: HttpRequest,
) -> HttpResponse {
    let pages = state.pipeline.pages();
    let (page, psid) = match resolve(pages, who.page.as_deref(), who.psid.as_deref()) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let (view, user) = match load_thread(&state, page, &psid).await {
        Ok(read) => read,
        Err(answer) => return answer,
    };
    let locale = user
        .as_ref()
        .and_then(|u| u.effective_locale().map(str::to_owned))
        .or_else(|| who.locale.clone());
    let body = match fragment(page, view, locale.as_deref(), user.as_ref()) {
        Ok(body) => body,
        Err(e) => return render_failed(&e),
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let unchanged = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|given| given.as_bytes() == etag.as_bytes());
    if unchanged {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .body(body)
}

/// `GET /dev/chat/thread.json`: the thread as the page draws it.
async fn thread_json(state: web::Data<WebhookState>, who: web::Query<Who>) -> HttpResponse {
    let pages = state.pipeline.pages();
    let (page, psid) = match resolve(pages, who.page.as_deref(), who.psid.as_deref()) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    match load_thread(&state, page, &psid).await {
        Ok((view, _)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(view),
        Err(answer) => answer,
    }
}

/// What the user does: `{"page": .., "psid": .., "kind": "text", "text": "hi"}`, ...
#[derive(Debug, Deserialize)]
struct SendRequest {
    page: Option<String>,
    psid: Option<String>,
    #[serde(flatten)]
    action: UserAction,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum UserAction {
    /// Types a message.
    Text { text: String },
    /// Taps a quick reply.
    QuickReply { title: String, payload: String },
    /// Taps a postback button, a menu item, Get Started or an ice breaker.
    Postback { title: String, payload: String },
    /// Shares a location.
    Location { lat: f64, long: f64 },
    /// Sends a sticker (the thumbs-up when no id is given).
    Sticker { sticker_id: Option<u64> },
    /// Sends an image by URL.
    Image { url: String },
}

impl UserAction {
    /// The webhook event of this action by `psid`, or why it cannot be sent.
    fn webhook(&self, psid: &str) -> Result<Webhook, String> {
        let limit = |what: &str, value: &str, max: usize| {
            if value.chars().count() > max {
                Err(format!("{what} is longer than {max} characters"))
            } else if value.contains('\0') {
                Err(format!("{what} holds U+0000 (NUL)"))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Text { text } => {
                if text.trim().is_empty() {
                    return Err("text is empty: type something".to_owned());
                }
                limit("text", text, MAX_TEXT_CHARS)?;
                Ok(Webhook::text(psid, text))
            }
            Self::QuickReply { title, payload } => {
                limit("title", title, MAX_TEXT_CHARS)?;
                limit("payload", payload, MAX_PAYLOAD_CHARS)?;
                Ok(Webhook::quick_reply(psid, title, payload))
            }
            Self::Postback { title, payload } => {
                limit("title", title, MAX_TEXT_CHARS)?;
                limit("payload", payload, MAX_PAYLOAD_CHARS)?;
                if payload.is_empty() {
                    return Err("payload is empty".to_owned());
                }
                Ok(Webhook::postback(psid, title, payload))
            }
            Self::Location { lat, long } => {
                if !(-90.0..=90.0).contains(lat) || !(-180.0..=180.0).contains(long) {
                    return Err(
                        "a location needs a latitude from -90 to 90 and a longitude from -180 \
                         to 180"
                            .to_owned(),
                    );
                }
                Ok(Webhook::location(psid, *lat, *long))
            }
            Self::Sticker { sticker_id } => Ok(Webhook::sticker(
                psid,
                sticker_id.unwrap_or(LIKE_STICKER_ID),
            )),
            Self::Image { url } => {
                limit("url", url, MAX_TEXT_CHARS)?;
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err("an image URL starts with https:// or http://".to_owned());
                }
                Ok(Webhook::image(psid, url))
            }
        }
    }
}

/// `POST /dev/chat/send`: the user's action, through the webhook; 202 once it is in the
/// inbox (the bot's answer comes with the next poll).
async fn send(
    state: web::Data<WebhookState>,
    settings: web::Data<ChatSettings>,
    http: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(refused) = not_json(&http) {
        return refused;
    }
    let request: SendRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return bad_request(format!(
                "not an action the chat page sends ({e}); e.g. {{\"psid\": \"1\", \"kind\": \
                 \"text\", \"text\": \"hi\"}}"
            ));
        }
    };
    let pages = state.pipeline.pages();
    let (page, psid) = match resolve(pages, request.page.as_deref(), request.psid.as_deref()) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let webhook = match request.action.webhook(&psid) {
        Ok(webhook) => webhook.page(&page_id(page)),
        Err(e) => return bad_request(e),
    };
    // Signed as Facebook signs, and checked by the same code as POST /webhook (which checks
    // nothing in dev mode, where it has no secret to check with).
    let (body, signature) = match &settings.app_secret {
        Some(secret) => {
            let signed = webhook.signed(secret.expose_secret());
            (signed.body, Some(signed.signature))
        }
        None => (webhook.body(), None),
    };
    let answer =
        webhook::receive_signed(&state, signature.as_deref().map(str::as_bytes), None, &body).await;
    if answer.status().is_success() {
        HttpResponse::Accepted().json(json!({ "ok": true }))
    } else {
        HttpResponse::build(answer.status()).json(json!({
            "error": format!("the webhook refused the event ({})", answer.status())
        }))
    }
}

#[derive(Debug, Deserialize)]
struct LocaleRequest {
    page: Option<String>,
    psid: Option<String>,
    locale: String,
}

/// `POST /dev/chat/locale`: the language the user picked, as if the bot had stored it
/// (`set_locale`): it wins over the profile's from now on.
async fn locale(
    state: web::Data<WebhookState>,
    http: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(refused) = not_json(&http) {
        return refused;
    }
    let request: LocaleRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return bad_request(format!(
                "expected {{\"psid\": .., \"locale\": \"en-US\"}}: {e}"
            ));
        }
    };
    let pages = state.pipeline.pages();
    let (page, psid) = match resolve(pages, request.page.as_deref(), request.psid.as_deref()) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let Some(tag) = page.bot().services.locales.supported(&request.locale) else {
        return bad_request(format!(
            "the Page has no locale {:?}",
            request.locale.chars().take(40).collect::<String>()
        ));
    };
    let page_id = page_id(page);
    let tag = tag.to_string();
    let stored = state
        .store
        .run(move |conn| {
            users::ensure(conn, &page_id, &psid)?;
            users::choose_locale(conn, &page_id, &psid, &tag)
        })
        .await;
    match stored {
        Ok(()) => HttpResponse::Ok().json(json!({ "ok": true })),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(json!({ "error": format!("cannot store the locale: {e}") })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(first: Option<&str>, last: Option<&str>) -> users::User {
        users::User {
            page_id: "1".into(),
            psid: "u".into(),
            first_name: first.map(str::to_owned),
            last_name: last.map(str::to_owned),
            profile_pic: None,
            locale: None,
            timezone: None,
            gender: None,
            profile_fetched_at: None,
            thumbups: 0,
            created_at: 0,
            updated_at: 0,
            chosen_locale: None,
        }
    }

    #[test]
    fn the_greeting_names_the_user_when_their_profile_is_known() {
        let greeting = "Hi {{user_first_name}} ({{user_full_name}})!";
        assert_eq!(
            personalize(greeting, Some(&user(Some("Ann"), Some("Lee")))),
            "Hi Ann (Ann Lee)!"
        );
        assert_eq!(personalize(greeting, Some(&user(None, None))), greeting);
        assert_eq!(personalize(greeting, None), greeting);
    }

    #[test]
    fn psids_are_checked() {
        assert!(valid_psid("5550000000000001").is_ok());
        assert!(valid_psid("").is_err());
        assert!(valid_psid("a b").is_err());
        assert!(valid_psid(&"1".repeat(65)).is_err());
    }
}
