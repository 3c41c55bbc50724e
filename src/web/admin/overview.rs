//! `/admin`: events per status, the last hour's events and replies per minute as an inline
//! SVG chart (counted in the database per minute of `received_at`, `finished_at` and the
//! deliveries' `created_at`), the oldest pending event, Graph errors by code; per Page when
//! several are served.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{AdminState, Chrome, ago, render, session_or_login, unavailable, when};
use crate::store::browse::{self, Activity};
use crate::store::{InboxStats, inbox, now_ms};
use crate::web::Layout;
use crate::webhook::WebhookState;

/// The chart's span, in minutes.
const MINUTES: usize = 60;
/// The chart's size in SVG units.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

struct Section {
    title: String,
    chart: Chart,
    errors: Vec<(String, i64)>,
    counts: Vec<(&'static str, i64)>,
    oldest: Option<(String, String)>,
}

/// The chart, drawn: bars of events received, a line of replies, per minute.
struct Chart {
    bars: Vec<(f64, f64, f64)>,
    replies: String,
    peak: i64,
    received_per_s: String,
    replies_per_s: String,
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    layout: Layout,
    chrome: Chrome,
    stats: InboxStats,
    oldest: Option<(String, String)>,
    sections: Vec<Section>,
    width: f64,
    height: f64,
}

fn chart(activity: &Activity) -> Chart {
    let peak = activity
        .received
        .iter()
        .chain(&activity.replies)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let step = WIDTH / MINUTES as f64;
    let scale = |n: i64| (n as f64 / peak as f64) * (HEIGHT - 8.0);
    let bars = activity
        .received
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let h = scale(n);
            (i as f64 * step + 1.0, HEIGHT - h, h)
        })
        .collect();
    let replies = activity
        .replies
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step + step / 2.0,
                HEIGHT - scale(n)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let rate = |counts: &[i64]| {
        let total = counts.iter().sum::<i64>();
        format!("{total} ({:.3}/s)", total as f64 / 3600.0)
    };
    Chart {
        bars,
        replies,
        peak,
        received_per_s: rate(&activity.received),
        replies_per_s: rate(&activity.replies),
    }
}

fn code_name(code: Option<i64>) -> String {
    match code {
        Some(code) => format!("code {code}"),
        None => "no answer".to_owned(),
    }
}

/// `GET /admin`.
pub async fn page(
    request: HttpRequest,
    admin: web::Data<AdminState>,
    state: web::Data<WebhookState>,
) -> HttpResponse {
    let session = match session_or_login(&request, &admin) {
        Ok(session) => session,
        Err(answer) => return *answer,
    };
    // One section for everything, then one per Page when several have ids.
    let mut scopes: Vec<(String, Option<String>)> = vec![("Every Page".to_owned(), None)];
    let named: Vec<(String, Option<String>)> = state
        .pipeline
        .pages()
        .iter()
        .filter_map(|p| {
            p.settings()
                .id
                .clone()
                .map(|id| (p.name().to_owned(), Some(id)))
        })
        .collect();
    if named.len() > 1 {
        scopes.extend(named);
    }
    let now = now_ms();
    let read = state
        .store
        .run(move |conn| {
            let stats = inbox::stats(conn)?;
            let oldest = inbox::oldest_pending(conn)?;
            let mut sections = Vec::new();
            for (title, page) in scopes {
                let activity = browse::activity(conn, page.as_deref(), now, MINUTES)?;
                let errors = browse::graph_errors(conn, page.as_deref())?;
                let (counts, oldest) = match &page {
                    Some(page) => (
                        browse::stats_of_page(conn, page)?,
                        browse::oldest_pending_of_page(conn, page)?,
                    ),
                    None => (Vec::new(), None),
                };
                sections.push((title, activity, errors, counts, oldest));
            }
            Ok((stats, oldest, sections))
        })
        .await;
    let (stats, oldest, sections) = match read {
        Ok(read) => read,
        Err(e) => return unavailable("the inbox", &e),
    };
    let statuses = ["pending", "done", "failed", "dead", "malformed"];
    render(&OverviewPage {
        layout: Layout::new("Overview · pagebot admin", &[]),
        chrome: Chrome::new("overview", &session),
        stats,
        oldest: oldest.map(|at| (when(at), ago(at, now))),
        sections: sections
            .into_iter()
            .map(|(title, activity, errors, counts, oldest)| Section {
                title,
                oldest: oldest.map(|at| (when(at), ago(at, now))),
                chart: chart(&activity),
                errors: errors
                    .into_iter()
                    .map(|(code, n)| (code_name(code), n))
                    .collect(),
                counts: statuses
                    .iter()
                    .filter_map(|s| {
                        counts
                            .iter()
                            .find(|(status, _)| status == s)
                            .map(|(_, n)| (*s, *n))
                    })
                    .collect(),
            })
            .collect(),
        width: WIDTH,
        height: HEIGHT,
    })
}
