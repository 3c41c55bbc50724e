//! `/admin/policy`: per Page, the routing policy as loaded (the default chain, then a chain
//! per ReceivingType with its handlers, each with its line in the file), the locales and the
//! message ids each lacks, and the last reload (SIGHUP) with its error if it was refused.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{AdminState, Chrome, render, session_or_login, when};
use crate::event::ReceivingType;
use crate::policy::{Chain, Policy};
use crate::web::Layout;
use crate::webhook::WebhookState;

struct LinkView {
    handler: String,
    line: u32,
    senders: usize,
    notes: Vec<String>,
}

struct ChainView {
    name: String,
    links: Vec<LinkView>,
}

/// A locale and the policy's message ids it lacks (with the line using each).
struct Coverage {
    tag: String,
    missing: Vec<(String, u32)>,
    total: usize,
}

fn chain_view(name: &str, chain: &Chain) -> ChainView {
    ChainView {
        name: name.to_owned(),
        links: chain
            .links
            .iter()
            .map(|link| {
                let mut notes = Vec::new();
                if link.stop {
                    notes.push("stop".to_owned());
                }
                if link.fallback {
                    notes.push("fallback".to_owned());
                }
                if link.global {
                    notes.push("any step".to_owned());
                }
                if let Some(steps) = &link.when {
                    notes.push(format!("when {}", steps.join(", ")));
                }
                LinkView {
                    handler: link.handler_name.clone(),
                    line: link.line,
                    senders: link.senders.len(),
                    notes,
                }
            })
            .collect(),
    }
}

fn chains(policy: &Policy) -> Vec<ChainView> {
    let mut views = vec![chain_view("every event (default)", policy.default_chain())];
    for kind in ReceivingType::ALL {
        if let Some(chain) = policy.route(kind) {
            views.push(chain_view(kind.as_str(), chain));
        }
    }
    views
}

struct PageInfo {
    /// The policy file's name, for the lines.
    policy_name: String,
    chains: Vec<ChainView>,
    coverage: Vec<Coverage>,
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
            let coverage = locales
                .locales()
                .map(|tag| {
                    let messages = bot.policy.messages();
                    Coverage {
                        tag: tag.to_string(),
                        missing: messages
                            .iter()
                            .filter(|(id, _)| !locales.has_message_in(tag, id))
                            .map(|(id, line)| (id.clone(), *line))
                            .collect(),
                        total: messages.len(),
                    }
                })
                .collect();
            PageInfo {
                chains: chains(&bot.policy),
                coverage,
                name: page.name().to_owned(),
                id: settings.id.clone().unwrap_or_else(|| "any".to_owned()),
                policy_file: bot.policy.file().display().to_string(),
                policy_name: bot
                    .policy
                    .file()
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
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
