//! The pages pagebot serves to a browser, server-rendered with askama (templates/), with a
//! small vendored stylesheet and script (static/) compiled into the binary: no Node build
//! step, nothing fetched from elsewhere.
//!
//! - [`chat`]: the chat page (`/dev/chat`), in `serve --dev` only.
//! - [`admin`]: the operators' admin (`/admin`), when a password is set.
//! - `/static/NAME`: the assets, every page's; [`asset_url`] names them with a hash of their
//!   content, so that a browser keeps them for good and a new build is fetched anew.
//!
//! The layout (templates/layout.html) and the stylesheet are shared by every page: a new page
//! extends the layout and passes a [`Layout`].

pub mod admin;
pub mod chat;

use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

/// An asset: its name under `/static/`, its content type and content.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "pagebot.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../static/pagebot.css"),
    },
    Asset {
        name: "chat.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../static/chat.js"),
    },
    Asset {
        name: "admin.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../static/admin.css"),
    },
];

/// What the shared layout needs from a page.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The window's title.
    pub title: String,
    /// The stylesheet's URL.
    pub css_url: String,
    /// The scripts' URLs, in order.
    pub scripts: Vec<String>,
}

impl Layout {
    /// A page titled `title` with the shared stylesheet and the `scripts` of [`ASSETS`].
    pub fn new(title: impl Into<String>, scripts: &[&str]) -> Self {
        Self {
            title: title.into(),
            css_url: asset_url("pagebot.css"),
            scripts: scripts.iter().map(|name| asset_url(name)).collect(),
        }
    }
}

/// Registers the routes of the pages: the assets always, the chat page only in dev mode.
pub fn configure(cfg: &mut web::ServiceConfig, dev: bool) {
    cfg.route("/static/{name}", web::get().to(asset));
    if dev {
        chat::configure(cfg);
    }
}

/// `/static/NAME?v=HASH`: the URL of an asset, with its content's hash.
pub fn asset_url(name: &str) -> String {
    match ASSETS.iter().position(|asset| asset.name == name) {
        Some(index) => format!("/static/{name}?v={}", hashes()[index]),
        None => format!("/static/{name}"),
    }
}

fn hashes() -> &'static [String] {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                asset.body.hash(&mut hasher);
                format!("{:016x}", hasher.finish())
            })
            .collect()
    })
}

#[derive(Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

/// `GET /static/{name}`: kept for a year when asked by its current hash (the URL changes with
/// the content), revalidated otherwise.
async fn asset(name: web::Path<String>, query: web::Query<AssetQuery>) -> HttpResponse {
    let Some(index) = ASSETS.iter().position(|asset| asset.name == *name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset");
    };
    let asset = &ASSETS[index];
    let hash = &hashes()[index];
    let cache = if query.v.as_deref() == Some(hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, format!("\"{hash}\"")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(asset.body)
}
