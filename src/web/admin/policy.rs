//! `/admin/policy`: per Page, its policy and locales files, the locales loaded, and the last
//! reload (SIGHUP) with its error if it was refused.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{AdminState, Chrome, render, session_or_login, when};
use crate::web::Layout;
use crate::webhook::WebhookState;

struct PageInfo {
    name: String,
    id: String,
    policy_file: String,
    locales_dir: String,
    default_locale: String,
    locales: Vec<String>,
    reload: Option<(String, Option<String>)>,
}

#[derive(Template)]
#[template(path = "admin/policy.html")]
struct PolicyPage {
    layout: Layout,
    chrome: Chrome,
    pages: Vec<PageInfo>,
}

/// `GET /admin/policy`.
pub async fn page(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    state: web::Data<WebhookState>,
) -> HttpResponse {
    let session = match session_or_login(&request, &admin) {
        Ok(session) => session,
        Err(answer) => return *answer,
    };
    let pages = state
        .pipeline
        .pages()
        .iter()
        .map(|page| {
            let settings = page.settings();
            let bot = page.bot();
            let locales = &bot.services.locales;
            PageInfo {
                name: page.name().to_owned(),
                id: settings.id.clone().unwrap_or_else(|| "any".to_owned()),
                policy_file: settings.policy.display().to_string(),
                locales_dir: settings.locales.display().to_string(),
                default_locale: locales.default_locale().to_string(),
                locales: locales.locales().map(|tag| tag.to_string()).collect(),
                reload: page.last_reload().map(|status| {
                    let ms = status
                        .at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                        .unwrap_or_default();
                    (when(ms), status.error)
                }),
            }
        })
        .collect();
    render(&PolicyPage {
        layout: Layout::new("Policy · pagebot admin", &[]),
        chrome: Chrome::new("policy", &session),
        pages,
    })
}
