//! `/admin/login` and `/admin/logout`: the password form, the session cookie.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::{self, LOGIN_COOKIE, SESSION_COOKIE, SESSION_LIFETIME};
use super::{AdminState, Fields, field, forbidden, render, see_other, session_of_post};
use crate::web::{Layout, asset_url};

/// How long the login form's token lives.
const LOGIN_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: Layout,
    admin_css: String,
    token: String,
    error: Option<&'static str>,
}

fn login_page(request: &HttpRequest, token: String, error: Option<&'static str>) -> HttpResponse {
    let page = LoginPage {
        layout: Layout::new("Log in · pagebot admin", &[]),
        admin_css: asset_url("admin.css"),
        token: token.clone(),
        error,
    };
    let mut answer = render(&page);
    if error.is_some() {
        *answer.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
    }
    if let Ok(value) =
        session::set_cookie(request, LOGIN_COOKIE, &token, Some(LOGIN_TOKEN_LIFETIME)).parse()
    {
        answer.headers_mut().append(header::SET_COOKIE, value);
    }
    answer
}

/// `GET /admin/login`: the form (the overview when already logged in).
pub async fn form(request: HttpRequest, admin: web::Data<AdminState>) -> HttpResponse {
    if admin.sessions.of(&request).is_some() {
        return see_other("/admin");
    }
    login_page(&request, session::random_token(), None)
}

/// `POST /admin/login`: a session for the right password; a wrong one is answered after
/// [`session::WRONG_PASSWORD_DELAY`] (other requests go on meanwhile) and logged, without
/// what was typed.
pub async fn submit(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    fields: Fields,
) -> HttpResponse {
    let expected = session::cookie(&request, LOGIN_COOKIE);
    let given = field(&fields, "token");
    let token_ok = matches!((given, &expected), (Some(given), Some(expected)) if session::same_token(given, expected));
    if !token_ok {
        log::warn!("admin: a login without the form's token was refused");
        return forbidden("the login form's token is missing or stale: reload /admin/login");
    }
    let password = field(&fields, "password").unwrap_or_default();
    if !admin.sessions.password_matches(password) {
        let from = request
            .peer_addr()
            .map_or_else(|| "?".to_owned(), |a| a.ip().to_string());
        log::warn!("admin: wrong password from {from}");
        tokio::time::sleep(session::WRONG_PASSWORD_DELAY).await;
        return login_page(
            &request,
            expected.unwrap_or_else(session::random_token),
            Some("Wrong password."),
        );
    }
    let id = admin.sessions.open();
    log::info!("admin: an operator logged in");
    let mut answer = see_other("/admin");
    for cookie in [
        session::set_cookie(&request, SESSION_COOKIE, &id, Some(SESSION_LIFETIME)),
        session::set_cookie(&request, LOGIN_COOKIE, "", None),
    ] {
        if let Ok(value) = cookie.parse() {
            answer.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    answer
}

/// `POST /admin/logout`: ends the session.
pub async fn logout(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    fields: Fields,
) -> HttpResponse {
    if let Err(refused) = session_of_post(&request, &admin, &fields) {
        return *refused;
    }
    admin.sessions.close(&request);
    let mut answer = see_other("/admin/login");
    if let Ok(value) = session::set_cookie(&request, SESSION_COOKIE, "", None).parse() {
        answer.headers_mut().append(header::SET_COOKIE, value);
    }
    answer
}
