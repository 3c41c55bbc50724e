//! The operators' admin at `/admin`, served only when `PAGEBOT_ADMIN_PASSWORD` is set
//! (without it every `/admin` path is a 404). Server-rendered pages, no script:
//!
//! - [`overview`]: events per status, the last hour's events and replies per minute (an
//!   inline SVG), the oldest pending event, Graph errors by code, per Page.
//! - [`inbox`]: the events by status, Page and kind with their errors and raw bodies; replay
//!   of one or of a selection (the code of `pagebot inbox replay`), purge of old done events.
//! - [`users`]: the users (search, keyset pagination) and one user's profile, locations,
//!   thumbs-up, conversation and history as chat bubbles.
//! - [`policy`]: each Page's routing policy as loaded, its locales' coverage, its last reload.
//!
//! [`session`] logs operators in and out and guards every page: a GET without a session goes
//! to the login form, a POST without its session's CSRF token is refused (403). Nothing here
//! shows the app secret, the verify token or a Page token: the pages read the database and
//! the policy, never the settings' secrets.

pub mod inbox;
pub mod login;
pub mod overview;
pub mod policy;
pub mod session;
pub mod users;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

use super::asset_url;
use session::{Session, Sessions};

/// The admin's state: its sessions (and so its password).
#[derive(Debug)]
pub struct AdminState {
    /// The password and the live sessions.
    pub sessions: Sessions,
}

impl AdminState {
    /// The admin of `password`.
    pub fn new(password: &SecretString) -> Self {
        Self {
            sessions: Sessions::new(password),
        }
    }
}

/// Registers the admin's routes when it has a password (`admin`); none otherwise.
pub fn configure(cfg: &mut web::ServiceConfig, admin: Option<web::Data<AdminState>>) {
    let Some(admin) = admin else {
        return;
    };
    cfg.app_data(admin)
        .route("/admin", web::get().to(overview::page))
        .route("/admin/", web::get().to(overview::page))
        .route("/admin/login", web::get().to(login::form))
        .route("/admin/login", web::post().to(login::submit))
        .route("/admin/logout", web::post().to(login::logout))
        .route("/admin/inbox", web::get().to(inbox::page))
        .route("/admin/inbox/replay", web::post().to(inbox::replay))
        .route("/admin/inbox/purge", web::post().to(inbox::purge))
        .route("/admin/users", web::get().to(users::list))
        .route("/admin/user", web::get().to(users::one))
        .route("/admin/policy", web::get().to(policy::page));
}

/// What every admin page's frame needs: the navigation and the logout form.
pub struct Chrome {
    /// The admin stylesheet's URL.
    pub admin_css: String,
    /// The navigation's current item.
    pub active: &'static str,
    /// The session's CSRF token, for the forms.
    pub csrf: String,
}

impl Chrome {
    fn new(active: &'static str, session: &Session) -> Self {
        Self {
            admin_css: asset_url("admin.css"),
            active,
            csrf: session.csrf.clone(),
        }
    }
}

/// The form fields of a POST, repeated names kept (a selection of checkboxes).
pub type Fields = web::Form<Vec<(String, String)>>;

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The session of a GET, or the redirection to the login form.
fn session_or_login(
    request: &HttpRequest,
    admin: &AdminState,
) -> Result<Session, Box<HttpResponse>> {
    admin
        .sessions
        .of(request)
        .ok_or_else(|| Box::new(see_other("/admin/login")))
}

/// The session of a POST whose form carries its CSRF token, or 403.
fn session_of_post(
    request: &HttpRequest,
    admin: &AdminState,
    fields: &[(String, String)],
) -> Result<Session, Box<HttpResponse>> {
    let session = admin
        .sessions
        .of(request)
        .ok_or_else(|| Box::new(forbidden("not logged in: log in at /admin/login")))?;
    match field(fields, "csrf") {
        Some(given) if session::same_token(given, &session.csrf) => Ok(session),
        _ => {
            log::warn!(
                "admin: a POST to {} without its session's CSRF token was refused",
                request.path()
            );
            Err(Box::new(forbidden(
                "the form's CSRF token is missing or stale: reload the page and try again",
            )))
        }
    }
}

fn forbidden(message: &str) -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(message.to_owned())
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A rendered page: never cached, never framed, no script but the page's own.
fn render(template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                // The hashes: the chat bubbles' `onerror` of an image that does not load.
                "default-src 'self'; img-src 'self' https: data:; style-src 'self'; \
                 script-src 'self' 'unsafe-hashes' \
                 'sha256-9f8ZK5epjuMsYtXFjPqrgJI0L4QOAUYmJdHtT+RSH/c=' \
                 'sha256-VlKOkKnBPzYR7auc1ttJ+2uTvEHQv0ObKHQ93MLi9Ns='; \
                 frame-ancestors 'none'; form-action 'self'",
            ))
            .body(body),
        Err(e) => {
            log::error!("admin: template failed: {e}");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("the page could not be drawn (see the server's log)")
        }
    }
}

fn unavailable(what: &str, e: &crate::store::StoreError) -> HttpResponse {
    log::warn!("admin: cannot read {what}: {e}");
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "cannot read {what}: the database did not answer ({e})"
        ))
}

/// `2026-12-04 20:16:11` (UTC) of an epoch-ms time.
pub fn when(epoch_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(epoch_ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| epoch_ms.to_string())
}

/// How long ago `epoch_ms` was, shortly: `42 s`, `5 min`, `3 h`, `2 d`.
pub fn ago(epoch_ms: i64, now: i64) -> String {
    let secs = (now - epoch_ms).max(0) / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}
