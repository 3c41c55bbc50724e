//! The HTTP face: webhook verification (GET), signed event delivery (POST), health.
//!
//! Nothing slow happens before the 200: the POST handler checks the signature on the raw
//! bytes, splits the body into items and commits them to the inbox in one transaction (shared
//! with the requests that arrive meanwhile, see [`group_commit`]); the pipeline does the rest
//! afterwards.

pub mod group_commit;
pub mod signature;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::event::{MAX_ID_LEN, MalformedBody, ReceivingType, classify, parse_envelope};
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::store::{NewInboxEvent, Status, Store, StoreError, inbox, now_ms};
use group_commit::InboxWriter;

/// What the routes need.
#[derive(Clone)]
pub struct WebhookState {
    /// Checked against X-Hub-Signature-256; `None` (dev mode only) skips the check.
    pub app_secret: Option<SecretString>,
    /// Compared with `hub.verify_token`; `None` refuses every verification.
    pub verify_token: Option<SecretString>,
    /// Accept the legacy sha1 header.
    pub accept_sha1: bool,
    /// The inbox.
    pub store: Store,
    /// Commits the inbox rows of concurrent requests together.
    pub inbox: InboxWriter,
    /// How long a request waits for its rows to be committed before it is answered 503.
    pub db_timeout: Duration,
    /// Woken after each commit.
    pub pipeline: Pipeline,
    /// Counters for /metrics.
    pub metrics: Arc<Metrics>,
}

/// Registers the routes on an actix-web app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhook", web::get().to(verify))
        .route("/webhook", web::post().to(receive))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

#[derive(Deserialize)]
struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /webhook`: echoes `hub.challenge` when the mode is subscribe and the token matches.
async fn verify(
    state: web::Data<WebhookState>,
    query: Option<web::Query<VerifyQuery>>,
) -> HttpResponse {
    let forbidden = || HttpResponse::Forbidden().finish();
    let Some(web::Query(query)) = query else {
        return forbidden();
    };
    let (Some(expected), Some(given), Some(challenge)) =
        (&state.verify_token, &query.verify_token, query.challenge)
    else {
        return forbidden();
    };
    let token_matches: bool = expected
        .expose_secret()
        .as_bytes()
        .ct_eq(given.as_bytes())
        .into();
    if query.mode.as_deref() != Some("subscribe") || !token_matches {
        log::warn!("webhook verification refused");
        return forbidden();
    }
    log::info!("webhook verified by Facebook");
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(challenge)
}

/// `POST /webhook`: signed events in, committed to the inbox, then 200.
async fn receive(
    state: web::Data<WebhookState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let headers = request.headers();
    let sha256 = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    let sha1 = headers.get("x-hub-signature").map(|v| v.as_bytes());
    receive_signed(&state, sha256, sha1, &body).await
}

/// What `POST /webhook` does with a body and its signature headers: the signature checked
/// (when an app secret is set), then [`ingest`]. The chat page (`/dev/chat`) hands its signed
/// bodies here in-process, so that they take Facebook's path.
pub(crate) async fn receive_signed(
    state: &WebhookState,
    sha256: Option<&[u8]>,
    sha1: Option<&[u8]>,
    body: &[u8],
) -> HttpResponse {
    if let Some(secret) = &state.app_secret
        && let Err(e) = signature::verify(
            secret.expose_secret().as_bytes(),
            body,
            sha256,
            sha1,
            state.accept_sha1,
        )
    {
        log::warn!("webhook refused: {e}");
        let status = match e {
            signature::SignatureError::Missing => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        };
        return HttpResponse::build(status).body(e.to_string());
    }
    ingest(state, body).await
}

/// A body whose signature was checked: split into items, committed to the inbox, the
/// pipeline woken; 200 once committed, 503 when it could not be (Facebook delivers again).
async fn ingest(state: &WebhookState, body: &[u8]) -> HttpResponse {
    let received_at = now_ms();
    let rows = match parse_envelope(body) {
        Ok(envelope) if envelope.object != "page" => {
            log::info!(
                "webhook for object \"{}\" acknowledged and ignored",
                envelope.object
            );
            return HttpResponse::Ok().body("IGNORED");
        }
        Ok(envelope) => {
            let pages = state.pipeline.pages();
            envelope
                .items
                .into_iter()
                .map(|item| {
                    let unfit = item
                        .id_with_nul()
                        .map(holds_nul)
                        .or_else(|| item.overlong_id().map(|(id, len)| too_long(id, len)));
                    // Classified here for the inbox and the metrics, with its Page's policy
                    // (an unknown Page's, with the first Page's); the worker classifies again
                    // with the policy in force when it runs.
                    let page = pages.find(item.page_id.as_deref());
                    let policy = page.unwrap_or_else(|| pages.first()).bot().policy.clone();
                    let kind = item.messaging.as_ref().map_or(ReceivingType::Unknown, |m| {
                        classify(m, policy.classify_config())
                    });
                    let row = NewInboxEvent {
                        dedupe_key: item.dedupe_key,
                        page_id: item.page_id,
                        psid: item.sender,
                        event_time: item.timestamp.unwrap_or(received_at),
                        standby: i32::from(item.standby),
                        kind: Some(kind.as_str().to_owned()),
                        raw: item.raw.to_string(),
                        status: Status::Pending.as_str().to_owned(),
                        attempts: 0,
                        last_error: None,
                        available_at: received_at,
                        locked_until: None,
                        received_at,
                        finished_at: None,
                        raw_bytes: None,
                    };
                    match unfit.or_else(|| row.unstorable_column().map(holds_nul)) {
                        Some(reason) => malformed_item(row, &reason),
                        None => row,
                    }
                })
                .collect()
        }
        Err(e) => vec![malformed_row(body, &e, received_at)],
    };
    let count = rows.len();
    let pages = state.pipeline.pages();
    let kinds: Vec<(String, &str, Option<String>)> = rows
        .iter()
        .map(|r| {
            let page = pages.label_of(r.page_id.as_deref());
            (r.dedupe_key.clone(), page, r.kind.clone())
        })
        .collect();
    // Bounded: Facebook's sender gives up long before a pool would (and delivers again). A
    // commit that finishes after the 503 is harmless: the redelivery is a duplicate.
    let stored = match tokio::time::timeout(state.db_timeout, state.inbox.insert(rows)).await {
        Ok(stored) => stored,
        Err(_) => Err(StoreError::Unavailable(format!(
            "not committed within {:?}",
            state.db_timeout
        ))),
    };
    match stored {
        Ok(inserted) => {
            count_ingress(&state.metrics, &kinds, &inserted);
            if inserted.len() < count {
                log::info!(
                    "webhook: {} of {count} items were duplicates",
                    count - inserted.len()
                );
            }
            if !inserted.is_empty() {
                state.pipeline.wake();
            }
            HttpResponse::Ok().body("EVENT_RECEIVED")
        }
        Err(e) => {
            // Not acknowledged: Facebook delivers it again.
            log::error!("webhook: could not store {count} items: {e}");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

/// Counts stored and duplicate items by Page and kind.
fn count_ingress(metrics: &Metrics, items: &[(String, &str, Option<String>)], inserted: &[String]) {
    let inserted: HashSet<&str> = inserted.iter().map(String::as_str).collect();
    let mut counts: HashMap<(&str, &str), (u64, u64)> = HashMap::new();
    for (key, page, kind) in items {
        let entry = counts
            .entry((page, kind.as_deref().unwrap_or("MALFORMED")))
            .or_default();
        if inserted.contains(key.as_str()) {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    for ((page, kind), (stored, duplicates)) in counts {
        metrics.ingress(page, kind, stored, duplicates);
    }
}

/// A signed body that is not a Messenger webhook is kept for inspection, once (keyed by the
/// hash of its exact bytes, so that a redelivery is a duplicate).
///
/// Every such body is stored, whatever its bytes: one that is not UTF-8, or that holds a NUL
/// byte, which no text column of Postgres can hold, keeps its exact bytes in `raw_bytes` and
/// a readable copy in `raw` ([`inbox::raw_columns`]). Refusing it with a 5xx instead would
/// have Facebook redeliver it forever.
fn malformed_row(body: &[u8], error: &MalformedBody, received_at: i64) -> NewInboxEvent {
    use sha2::{Digest, Sha256};
    log::warn!("webhook: body kept as malformed: {error}");
    let (raw, raw_bytes) = inbox::raw_columns(body);
    NewInboxEvent {
        dedupe_key: format!("body:sha256:{}", hex::encode(Sha256::digest(body))),
        page_id: None,
        psid: None,
        event_time: received_at,
        standby: 0,
        kind: None,
        raw,
        raw_bytes,
        status: Status::Malformed.as_str().to_owned(),
        attempts: 0,
        last_error: Some(error.to_string()),
        available_at: received_at,
        locked_until: None,
        received_at,
        finished_at: Some(received_at),
    }
}

/// An item whose ids hold U+0000 (NUL), or whose Page id or sender is longer than
/// [`MAX_ID_LEN`], is kept as malformed, like a malformed body, instead of failing the insert:
/// no Messenger id is like that, Postgres text cannot store a NUL (see
/// [`inbox::storable_text`]) and its index refuses an entry of a few kB. `reason` becomes its
/// error.
///
/// Its JSON is kept whole in `raw`, where serde_json writes a NUL as the escape `\u0000` (text
/// that any database holds, and that parses back to the same item). Only the values that
/// cannot be stored are left out of `page_id` and `psid`. Its dedupe key is already free of NUL
/// (`parse_envelope` hashes such keys), so a redelivery of the same item is a duplicate.
fn malformed_item(row: NewInboxEvent, reason: &str) -> NewInboxEvent {
    use sha2::{Digest, Sha256};
    log::warn!("webhook: item kept as malformed: {reason}");
    let storable =
        |text: Option<String>| text.filter(|t| inbox::storable_text(t) && t.len() <= MAX_ID_LEN);
    // Both only as a safety net: neither holds a NUL as parse_envelope and serde_json make them.
    let dedupe_key = if inbox::storable_text(&row.dedupe_key) {
        row.dedupe_key
    } else {
        format!(
            "nul:sha256:{}",
            hex::encode(Sha256::digest(row.dedupe_key.as_bytes()))
        )
    };
    let (raw, raw_bytes) = inbox::raw_columns(row.raw.as_bytes());
    NewInboxEvent {
        dedupe_key,
        page_id: storable(row.page_id),
        psid: storable(row.psid),
        kind: None,
        raw,
        raw_bytes,
        status: Status::Malformed.as_str().to_owned(),
        last_error: Some(reason.to_owned()),
        finished_at: Some(row.received_at),
        ..row
    }
}

/// Why an item whose `field` (an id, or a column) holds a NUL is malformed.
fn holds_nul(field: &str) -> String {
    format!("{field} holds U+0000 (NUL), which no Messenger id does and a text column cannot store")
}

/// Why an item whose `field` is `len` bytes long is malformed.
fn too_long(field: &str, len: usize) -> String {
    format!("{field} is {len} bytes long, longer than any Messenger id (at most {MAX_ID_LEN})")
}

/// `GET /healthz`: the process answers.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// `GET /readyz`: the database answers (the policy is loaded, or the server would not run).
/// A Page whose token Facebook rejects is named on a line of its own (`page NAME (ID): token
/// rejected: ...`) while the answer stays 200: the other Pages are served, and a restart
/// would not mend a token.
///
/// Answered at once from the database's health as the last calls found it (every call keeps
/// it, and a probe pings the database every second when none did), never by waiting for a
/// connection: while the database is unreachable a pool would keep the probe waiting.
async fn readyz(state: web::Data<WebhookState>) -> HttpResponse {
    match state.store.health().down_since() {
        None => {
            let mut body = String::from("ready");
            for page in state.pipeline.pages().iter() {
                if let Some(problem) = page.token_problem() {
                    body.push_str(&format!(
                        "\npage {} ({}): token rejected: {problem}",
                        page.name(),
                        page.label()
                    ));
                }
            }
            HttpResponse::Ok().body(body)
        }
        Some(since) => HttpResponse::ServiceUnavailable().body(format!(
            "database unreachable for {:.1} s",
            (now_ms() - since).max(0) as f64 / 1000.0
        )),
    }
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(state: web::Data<WebhookState>) -> HttpResponse {
    // The inbox's gauges need the database: within the webhook's bound, like a webhook.
    let inbox = match state.store.health().is_up() {
        true => tokio::time::timeout(state.db_timeout, state.store.run(inbox::gauges))
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("no answer in time".into()))),
        false => Err(StoreError::Unavailable(
            "the database is unreachable".into(),
        )),
    };
    match inbox {
        Ok(gauges) => {
            let age = gauges.oldest_pending.map(|at| {
                std::time::Duration::from_millis(u64::try_from(now_ms() - at).unwrap_or(0))
            });
            HttpResponse::Ok()
                .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
                .body(state.metrics.render(&gauges, age))
        }
        Err(e) => {
            log::warn!("metrics: inbox not readable: {e}");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
