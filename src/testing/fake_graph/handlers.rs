//! The fake's actix routes. Each handler locks the shared state once, never across an await.

use std::collections::HashMap;
use std::time::SystemTime;

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::{FakeError, ProfileRequest, Shared, State, default_profile, validate};

type Data = web::Data<Shared>;
type Query = HashMap<String, String>;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{version}/me/messenger_profile")
            .route(web::get().to(get_messenger_profile))
            .route(web::post().to(post_messenger_profile))
            .route(web::delete().to(delete_messenger_profile)),
    )
    .service(web::resource("/{version}/{node}/messages").route(web::post().to(send)))
    .service(web::resource("/{version}/{psid}").route(web::get().to(user_profile)))
    .default_service(web::to(unknown_path));
}

async fn send(req: HttpRequest, body: web::Bytes, data: Data) -> HttpResponse {
    let query = query_of(&req);
    let mut state = data.state();
    state.send_attempts += 1;
    if !state.discard_sent {
        state.send_arrivals.push(SystemTime::now());
    }
    if let Some(Some(error)) = state.send_failures.pop_front() {
        return fake_error(&mut state, &error);
    }
    let value = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let token = match authorize(&mut state, &req, &query) {
        Ok(token) => token,
        Err(response) => {
            state
                .rejected
                .push((value, "invalid oauth access token".to_owned()));
            return *response;
        }
    };
    if let Some(error) = state.token_failures.get(&token).cloned() {
        return fake_error(&mut state, &error);
    }
    if value.is_string() {
        let reason = "the request body is not json".to_owned();
        state.rejected.push((value, reason.clone()));
        return graph_error(&mut state, 400, 100, None, &format!("(#100) {reason}"));
    }
    if let Err(reason) = validate::check_send(&value) {
        log::debug!("fake graph: rejected a send: {reason}");
        let message = format!("(#100) {reason}");
        state.rejected.push((value, reason));
        return graph_error(&mut state, 400, 100, None, &message);
    }
    let recipient_id = value
        .get("recipient")
        .and_then(Value::as_object)
        .and_then(|r| r.values().next())
        .cloned()
        .unwrap_or(Value::Null);
    let answer = if value.get("sender_action").is_some() {
        json!({ "recipient_id": recipient_id })
    } else {
        json!({ "recipient_id": recipient_id, "message_id": state.next_message_id() })
    };
    let hook = state.send_hook.clone();
    if state.discard_sent {
        drop(state);
    } else {
        state.sent.push(value.clone());
        state.sent_tokens.push(token);
        drop(state);
    }
    if let Some(hook) = hook {
        hook(&value);
    }
    data.sent_changed.notify_waiters();
    HttpResponse::Ok().json(answer)
}

async fn user_profile(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    data: Data,
) -> HttpResponse {
    let (_version, psid) = path.into_inner();
    let query = query_of(&req);
    let mut state = data.state();
    state.profile_calls += 1;
    if let Err(response) = authorize(&mut state, &req, &query) {
        return *response;
    }
    if let Some(error) = state.profile_errors.get(&psid).cloned() {
        return fake_error(&mut state, &error);
    }
    let profile = state
        .profiles
        .get(&psid)
        .cloned()
        .unwrap_or_else(default_profile);
    let profile = profile.as_object().cloned().unwrap_or_default();
    let mut answer = match query.get("fields") {
        Some(fields) => pick(&profile, fields),
        None => profile,
    };
    answer.insert("id".to_owned(), Value::String(psid));
    HttpResponse::Ok().json(answer)
}

async fn get_messenger_profile(req: HttpRequest, data: Data) -> HttpResponse {
    let query = query_of(&req);
    let mut state = data.state();
    let token = match messenger_profile_preamble(&mut state, &req, &query, &[]) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let Some(fields) = query.get("fields").filter(|f| !f.trim().is_empty()) else {
        return graph_error(
            &mut state,
            400,
            100,
            None,
            "(#100) The parameter fields is required",
        );
    };
    let props = pick(state.profile_of(&token).expect("accepted"), fields);
    let data = if props.is_empty() {
        json!([])
    } else {
        json!([props])
    };
    HttpResponse::Ok().json(json!({ "data": data }))
}

async fn post_messenger_profile(req: HttpRequest, body: web::Bytes, data: Data) -> HttpResponse {
    let query = query_of(&req);
    let mut state = data.state();
    let token = match messenger_profile_preamble(&mut state, &req, &query, &body) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let props = match serde_json::from_slice::<Value>(&body) {
        Ok(props) => props,
        Err(_) => {
            return graph_error(
                &mut state,
                400,
                100,
                None,
                "(#100) the request body is not json",
            );
        }
    };
    let current = state.profile_of(&token).expect("accepted");
    if let Err(reason) = validate::check_messenger_profile(&props, current) {
        return graph_error(&mut state, 400, 100, None, &format!("(#100) {reason}"));
    }
    if let Value::Object(props) = props {
        current.extend(props);
    }
    HttpResponse::Ok().json(json!({ "result": "success" }))
}

async fn delete_messenger_profile(req: HttpRequest, body: web::Bytes, data: Data) -> HttpResponse {
    let query = query_of(&req);
    let mut state = data.state();
    let token = match messenger_profile_preamble(&mut state, &req, &query, &body) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let fields: Option<Vec<String>> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("fields").cloned())
        .and_then(|f| serde_json::from_value(f).ok())
        .filter(|f: &Vec<String>| !f.is_empty());
    let Some(fields) = fields else {
        return graph_error(
            &mut state,
            400,
            100,
            None,
            "(#100) param fields must be a non-empty array of property names",
        );
    };
    let profile = state.profile_of(&token).expect("accepted");
    for field in fields {
        profile.remove(&field);
    }
    HttpResponse::Ok().json(json!({ "result": "success" }))
}

async fn unknown_path(req: HttpRequest, data: Data) -> HttpResponse {
    let mut state = data.state();
    let message = format!(
        "(#100) the fake graph api does not answer {} {}",
        req.method(),
        req.path()
    );
    graph_error(&mut state, 400, 100, None, &message)
}

/// Counts and records the call, then answers a scripted failure or a bad token; `Ok` (with
/// the accepted token, whose Page's profile the call acts on) lets the call on.
fn messenger_profile_preamble(
    state: &mut State,
    req: &HttpRequest,
    query: &Query,
    body: &[u8],
) -> Result<String, Box<HttpResponse>> {
    state.messenger_profile_calls += 1;
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    state.messenger_profile_requests.push(ProfileRequest {
        method: req.method().to_string(),
        fields: query
            .get("fields")
            .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default(),
        body,
        token: token_of(req, query),
    });
    if let Some(Some(error)) = state.messenger_profile_failures.pop_front() {
        return Err(Box::new(fake_error(state, &error)));
    }
    authorize(state, req, query)
}

/// The access token of a request: `Authorization: Bearer`, else `access_token`.
fn token_of(req: &HttpRequest, query: &Query) -> Option<String> {
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| query.get("access_token").cloned())
}

/// Checks the Page token (`Authorization: Bearer` or `access_token`: `FAKE_PAGE_TOKEN` or one
/// added) and, when an app secret is expected, the `appsecret_proof`; answers the refusal, or
/// gives the token. Records the proof either way.
fn authorize(
    state: &mut State,
    req: &HttpRequest,
    query: &Query,
) -> Result<String, Box<HttpResponse>> {
    let proof = query.get("appsecret_proof").cloned();
    state.last_appsecret_proof.clone_from(&proof);
    let Some(token) = token_of(req, query).filter(|t| state.accepts(t)) else {
        return Err(Box::new(graph_error(
            state,
            400,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        )));
    };
    if let Some(secret) = &state.app_secret {
        let expected = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map(|mut mac| {
                mac.update(token.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            })
            .ok();
        if proof.is_none() || proof != expected {
            return Err(Box::new(graph_error(
                state,
                400,
                100,
                None,
                "Invalid appsecret_proof provided in the API argument",
            )));
        }
    }
    Ok(token)
}

/// The properties of `source` named in `fields` (comma-separated) that it has.
fn pick(source: &Map<String, Value>, fields: &str) -> Map<String, Value> {
    fields
        .split(',')
        .map(str::trim)
        .filter_map(|name| Some((name.to_owned(), source.get(name)?.clone())))
        .collect()
}

fn query_of(req: &HttpRequest) -> Query {
    web::Query::<Query>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

fn fake_error(state: &mut State, error: &FakeError) -> HttpResponse {
    let mut response = match &error.raw_body {
        Some(body) => HttpResponse::build(status(error.status))
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(body.clone()),
        None => graph_error(
            state,
            error.status,
            error.code,
            error.subcode,
            &error.message,
        ),
    };
    if let Some(value) = &error.retry_after {
        match HeaderValue::from_str(value) {
            Ok(value) => {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            Err(_) => log::warn!("fake graph: Retry-After {value:?} is not a header value"),
        }
    }
    response
}

fn graph_error(
    state: &mut State,
    status_code: u16,
    code: i64,
    subcode: Option<i64>,
    message: &str,
) -> HttpResponse {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": state.next_trace(),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    HttpResponse::build(status(status_code)).json(json!({ "error": error }))
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
