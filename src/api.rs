//! The send API on the main bind, on only when `PAGEBOT_API_TOKEN` is set:
//! `POST /api/messages` queues a message the bot starts, `GET /api/messages/{id}` shows what
//! became of it; `POST /api/broadcasts` queues one message to many users, `GET
//! /api/broadcasts/{id}` shows its counts and `POST /api/broadcasts/{id}/cancel` stops it
//! (README "Sending first").
//!
//! Every request needs `Authorization: Bearer <PAGEBOT_API_TOKEN>`, compared in constant time
//! (as the webhook's verify token is). A bad body is answered 400 with the field at fault;
//! 202 comes once the message is committed to the outbox.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::outbox::broadcast::BroadcastDraft;
use crate::outbox::{Draft, FieldError, Outbox, OutboxError};
use crate::store::outbox::OutboxRow;

/// What the API's routes need.
#[derive(Clone)]
pub struct ApiState {
    /// The bearer token every request must present.
    pub token: SecretString,
    /// Where messages are queued.
    pub outbox: Outbox,
}

/// Registers the API's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/messages", web::post().to(queue))
        .route("/api/messages/{id}", web::get().to(show))
        .route("/api/broadcasts", web::post().to(create_broadcast))
        .route("/api/broadcasts/{id}", web::get().to(show_broadcast))
        .route(
            "/api/broadcasts/{id}/cancel",
            web::post().to(cancel_broadcast),
        );
}

fn error(status: StatusCode, field: Option<&str>, message: &str) -> HttpResponse {
    let mut body = json!({ "error": message });
    if let Some(field) = field {
        body["field"] = Value::from(field);
    }
    HttpResponse::build(status).json(body)
}

/// Whether the request carries the API token.
fn authorized(state: &ApiState, request: &HttpRequest) -> bool {
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = state.token.expose_secret().as_bytes();
    !given.is_empty() && bool::from(expected.ct_eq(given.as_bytes()))
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header(("WWW-Authenticate", "Bearer"))
        .json(json!({ "error": "a valid bearer token (PAGEBOT_API_TOKEN) is required" }))
}

/// Reads the API's body into a draft.
fn draft(body: &[u8], idempotency_key: Option<String>) -> Result<Draft, FieldError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| FieldError::new("body", format!("is not JSON: {e}")))?;
    let fields = value
        .as_object()
        .ok_or_else(|| FieldError::new("body", "must be a JSON object"))?;
    if let Some(other) = fields
        .keys()
        .find(|k| !["recipient", "message", "intent"].contains(&k.as_str()))
    {
        return Err(FieldError::new(other, "is not a field of the request"));
    }
    let recipient = fields
        .get("recipient")
        .ok_or_else(|| FieldError::new("recipient", "is required"))?
        .as_object()
        .ok_or_else(|| FieldError::new("recipient", "must be an object"))?;
    let psid = match recipient.get("psid") {
        Some(Value::String(psid)) => psid.clone(),
        Some(_) => return Err(FieldError::new("recipient.psid", "must be a string")),
        None => return Err(FieldError::new("recipient.psid", "is required")),
    };
    let page = match recipient.get("page") {
        None | Some(Value::Null) => None,
        Some(Value::String(page)) => Some(page.clone()),
        Some(Value::Number(page)) => Some(page.to_string()),
        Some(_) => return Err(FieldError::new("recipient.page", "must be a Page id")),
    };
    let (content, intent) = crate::outbox::message_and_intent(fields)?;
    Ok(Draft {
        page,
        psid,
        content,
        intent,
        idempotency_key,
    })
}

/// `POST /api/messages`.
async fn queue(state: web::Data<ApiState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !authorized(&state, &request) {
        return unauthorized();
    }
    let key = match request.headers().get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            Ok(key) => Some(key.to_owned()),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    Some("Idempotency-Key"),
                    "Idempotency-Key: must be visible ASCII",
                );
            }
        },
    };
    let draft = match draft(&body, key) {
        Ok(draft) => draft,
        Err(e) => return error(StatusCode::BAD_REQUEST, Some(&e.field), &e.to_string()),
    };
    match state.outbox.send(draft).await {
        Ok(queued) => {
            HttpResponse::Accepted().json(json!({ "id": queued.id, "state": queued.state }))
        }
        Err(OutboxError::Invalid(e)) => {
            error(StatusCode::BAD_REQUEST, Some(&e.field), &e.to_string())
        }
        Err(OutboxError::Store(e)) => {
            log::error!("api: message not queued: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the database did not take the message: nothing was queued; try again",
            )
        }
    }
}

/// The API's view of a stored message (never a token).
pub fn view(row: &OutboxRow) -> Value {
    let mut view = json!({
        "id": row.id,
        "page": row.page_id,
        "psid": row.psid,
        "intent": row.intent,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": row.created_at,
    });
    if let Some(tag) = &row.tag {
        view["tag"] = Value::from(tag.as_str());
    }
    if let Some(id) = &row.message_id {
        view["message_id"] = Value::from(id.as_str());
    }
    if let Some(reason) = &row.error {
        view["error"] = json!({
            "message": reason,
            "code": row.error_code,
        });
    }
    view
}

/// `GET /api/messages/{id}`.
async fn show(
    state: web::Data<ApiState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if !authorized(&state, &request) {
        return unauthorized();
    }
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, Some("id"), "no such message");
    };
    match state.outbox.status(id).await {
        Ok(Some(row)) => HttpResponse::Ok().json(view(&row)),
        Ok(None) => error(StatusCode::NOT_FOUND, Some("id"), "no such message"),
        Err(e) => {
            log::error!("api: message {id} not read: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the database did not answer",
            )
        }
    }
}

/// `POST /api/broadcasts`.
async fn create_broadcast(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !authorized(&state, &request) {
        return unauthorized();
    }
    let draft = serde_json::from_slice::<Value>(&body)
        .map_err(|e| FieldError::new("body", format!("is not JSON: {e}")))
        .and_then(|value| BroadcastDraft::from_json(&value));
    let draft = match draft {
        Ok(draft) => draft,
        Err(e) => return error(StatusCode::BAD_REQUEST, Some(&e.field), &e.to_string()),
    };
    match state.outbox.broadcast(draft).await {
        Ok(id) => HttpResponse::Accepted().json(json!({ "id": id, "state": "queued" })),
        Err(OutboxError::Invalid(e)) => {
            error(StatusCode::BAD_REQUEST, Some(&e.field), &e.to_string())
        }
        Err(OutboxError::Store(e)) => {
            log::error!("api: broadcast not queued: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the database did not take the broadcast: nothing was queued; try again",
            )
        }
    }
}

/// `GET /api/broadcasts/{id}`.
async fn show_broadcast(
    state: web::Data<ApiState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    broadcast_answer(&state, &request, &id, false).await
}

/// `POST /api/broadcasts/{id}/cancel`.
async fn cancel_broadcast(
    state: web::Data<ApiState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    broadcast_answer(&state, &request, &id, true).await
}

async fn broadcast_answer(
    state: &ApiState,
    request: &HttpRequest,
    id: &str,
    cancel: bool,
) -> HttpResponse {
    if !authorized(state, request) {
        return unauthorized();
    }
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, Some("id"), "no such broadcast");
    };
    let found = if cancel {
        state.outbox.cancel_broadcast(id).await
    } else {
        state.outbox.broadcast_status(id).await
    };
    match found {
        Ok(Some(status)) => HttpResponse::Ok().json(status.to_json()),
        Ok(None) => error(StatusCode::NOT_FOUND, Some("id"), "no such broadcast"),
        Err(e) => {
            log::error!("api: broadcast {id} not read: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the database did not answer",
            )
        }
    }
}
