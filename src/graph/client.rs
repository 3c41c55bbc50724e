//! `GraphClient`: one shared reqwest client making the Graph calls pagebot needs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hmac::{Hmac, Mac};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{GraphError, GraphSettings, SendResponse, UserProfile};

/// Throttling headers Graph attaches to answers; logged at debug level.
const USAGE_HEADERS: [&str; 2] = ["x-business-use-case-usage", "x-app-usage"];

/// A Graph API client. Cheap to clone: clones share one connection pool.
///
/// Without a Page token it is in log mode (see [`GraphClient::is_log_mode`]).
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `{base_url}/{version}`, validated: it can have path segments appended.
    api: Url,
    /// `None` in log mode.
    auth: Option<Auth>,
    /// Counts the synthetic message ids of log mode.
    dev_sends: AtomicU64,
    /// Whose token this is, in log lines ("the Page" unless named).
    name: String,
    /// Facebook's last word on the token when it rejected it (error 190) on any call (a send,
    /// a profile lookup, a thread-settings call); cleared by the next call that goes through.
    token_rejection: Mutex<Option<String>>,
}

struct Auth {
    /// `Bearer <token>`, marked sensitive.
    header: HeaderValue,
    /// Kept to scrub it out of any text that comes back from the server.
    token: SecretString,
    /// Hex HMAC-SHA256 of the token keyed with the app secret, when an app secret is set.
    proof: Option<SecretString>,
}

impl GraphClient {
    /// Builds a client from its settings.
    ///
    /// Fails with [`GraphError::Config`] when the base URL is not an http(s) URL, the version is
    /// empty or contains `/`, `?` or `#`, the token or app secret is set but empty, the token is
    /// not a valid header value, or the HTTP client cannot be built. Never contacts Graph.
    pub fn new(settings: GraphSettings) -> Result<Self, GraphError> {
        let api = api_url(&settings.base_url, &settings.version)?;
        let auth = match &settings.page_token {
            Some(token) => Some(Auth::new(token, settings.app_secret.as_ref())?),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("pagebot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Config(format!("http client: {}", error_text(e))))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api,
                auth,
                dev_sends: AtomicU64::new(0),
                name: "the Page".to_owned(),
                token_rejection: Mutex::new(None),
            }),
        })
    }

    /// A client for another Page, `name` in its log lines: the same Graph API and connection
    /// pool, with `token` (`None`: log mode) and the same app secret's proof. Fails like
    /// [`GraphClient::new`] on a bad token.
    pub fn for_token(
        &self,
        name: &str,
        token: Option<&SecretString>,
        app_secret: Option<&SecretString>,
    ) -> Result<Self, GraphError> {
        let auth = match token {
            Some(token) => Some(Auth::new(token, app_secret)?),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                api: self.inner.api.clone(),
                auth,
                dev_sends: AtomicU64::new(0),
                name: format!("page {name}"),
                token_rejection: Mutex::new(None),
            }),
        })
    }

    /// Why Facebook rejected the token (error 190, never the token itself), while it does: set
    /// by any call that it answered so, cleared by the next one that went through.
    pub fn token_rejection(&self) -> Option<String> {
        lock(&self.inner.token_rejection).clone()
    }

    /// Notes how Facebook took the token on a call.
    fn note_token(&self, outcome: Result<(), &GraphError>) {
        let mut rejection = lock(&self.inner.token_rejection);
        let name = &self.inner.name;
        match outcome {
            Err(e) if e.code() == Some(TOKEN_REJECTED) => {
                if rejection.is_none() {
                    log::error!(
                        "{name}: Facebook rejected its token ({e}): its calls fail until the \
                         token is replaced; other Pages keep going"
                    );
                }
                *rejection = Some(e.to_string());
            }
            Err(_) => {}
            Ok(()) => {
                if rejection.take().is_some() {
                    log::info!("{name}: its token works again");
                }
            }
        }
    }

    /// Whether the client has no Page token: sends are logged at info level and answered with
    /// synthetic ids (`dev-1`, `dev-2`, ...), profiles are empty, and the Messenger Profile
    /// calls fail with [`GraphError::NotConfigured`].
    pub fn is_log_mode(&self) -> bool {
        self.inner.auth.is_none()
    }

    /// Sends one Send API request body (`POST /{version}/me/messages`), e.g.
    /// `{"recipient":{"id":"PSID"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`.
    ///
    /// The body is sent as given: checking it against the Send API limits is the sender's job.
    pub async fn send(&self, body: &Value) -> Result<SendResponse, GraphError> {
        if self.is_log_mode() {
            let n = self.inner.dev_sends.fetch_add(1, Ordering::Relaxed) + 1;
            log::info!("dev: would send {body}");
            let recipient_id = body
                .pointer("/recipient/id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Ok(SendResponse {
                recipient_id,
                message_id: Some(format!("dev-{n}")),
            });
        }
        let url = self.endpoint(&["me", "messages"]);
        let bytes = self.call(Method::POST, url, &[], Some(body)).await?;
        self.decode(&bytes)
    }

    /// Fetches a user's profile (`GET /{version}/{psid}?fields=a,b`). An empty `fields` asks
    /// Graph for its default fields. In log mode, returns an empty profile.
    pub async fn user_profile(
        &self,
        psid: &str,
        fields: &[&str],
    ) -> Result<UserProfile, GraphError> {
        if self.is_log_mode() {
            return Ok(UserProfile::default());
        }
        let url = self.endpoint(&[psid]);
        let joined = fields.join(",");
        let query: &[(&str, &str)] = if fields.is_empty() {
            &[]
        } else {
            &[("fields", joined.as_str())]
        };
        let bytes = self.call(Method::GET, url, query, None).await?;
        self.decode(&bytes)
    }

    /// Reads Messenger Profile properties (`GET /{version}/me/messenger_profile?fields=a,b`):
    /// the first element of `data`, or `{}` when Graph has none of them set.
    pub async fn get_messenger_profile(&self, fields: &[&str]) -> Result<Value, GraphError> {
        let url = self.endpoint(&["me", "messenger_profile"]);
        let joined = fields.join(",");
        let bytes = self
            .call(Method::GET, url, &[("fields", joined.as_str())], None)
            .await?;
        let answer: Value = self.decode(&bytes)?;
        match answer.get("data").and_then(Value::as_array) {
            Some(data) => Ok(data.first().cloned().unwrap_or_else(|| json!({}))),
            None => Err(GraphError::Decode(
                "messenger profile answer has no \"data\" array".to_owned(),
            )),
        }
    }

    /// Sets Messenger Profile properties (`POST /{version}/me/messenger_profile`); Graph
    /// overwrites only the properties sent, e.g. `{"get_started":{"payload":"GET_STARTED"}}`.
    pub async fn set_messenger_profile(&self, props: &Value) -> Result<(), GraphError> {
        let url = self.endpoint(&["me", "messenger_profile"]);
        self.call(Method::POST, url, &[], Some(props)).await?;
        Ok(())
    }

    /// Deletes Messenger Profile properties (`DELETE /{version}/me/messenger_profile` with body
    /// `{"fields":[...]}`).
    pub async fn delete_messenger_profile(&self, fields: &[&str]) -> Result<(), GraphError> {
        let url = self.endpoint(&["me", "messenger_profile"]);
        let body = json!({ "fields": fields });
        self.call(Method::DELETE, url, &[], Some(&body)).await?;
        Ok(())
    }

    /// `{base}/{version}/{segments...}`, each segment percent-encoded (a PSID cannot reach
    /// another endpoint).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.api.clone();
        // `api_url` checked that the URL can have segments appended.
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    /// Makes one call and returns the body of a 2xx answer; everything else is an error.
    async fn call(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>, GraphError> {
        let auth = self.inner.auth.as_ref().ok_or(GraphError::NotConfigured)?;
        let path = url.path().to_owned();
        let mut request = self
            .inner
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, auth.header.clone());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(proof) = &auth.proof {
            request = request.query(&[("appsecret_proof", proof.expose_secret())]);
        }
        if let Some(body) = body {
            request = request.json(body);
        }

        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| GraphError::Transport(auth.scrub(error_text(e))))?;
        let status = response.status().as_u16();
        log_usage(response.headers());
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| GraphError::Transport(auth.scrub(error_text(e))))?;
        log::debug!(
            "graph {method} {path} -> {status} in {} ms",
            started.elapsed().as_millis()
        );

        let error = GraphError::from_body(status, &bytes);
        let outcome = if (200..300).contains(&status) {
            match error {
                Some(error) => Err(auth.scrub_error(error)),
                None => Ok(bytes.to_vec()),
            }
        } else {
            Err(error.map_or(
                GraphError::Http {
                    status,
                    retry_after,
                },
                |e| auth.scrub_error(e),
            ))
        };
        self.note_token(outcome.as_ref().map(|_| ()));
        outcome
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, GraphError> {
        serde_json::from_slice(bytes).map_err(|e| {
            let text = e.to_string();
            GraphError::Decode(match &self.inner.auth {
                Some(auth) => auth.scrub(text),
                None => text,
            })
        })
    }
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("api", &self.inner.api.as_str())
            .field("log_mode", &self.is_log_mode())
            .field(
                "appsecret_proof",
                &self.inner.auth.as_ref().is_some_and(|a| a.proof.is_some()),
            )
            .finish_non_exhaustive()
    }
}

impl Auth {
    fn new(token: &SecretString, app_secret: Option<&SecretString>) -> Result<Self, GraphError> {
        let raw = token.expose_secret();
        if raw.trim().is_empty() {
            return Err(GraphError::Config("page token is empty".to_owned()));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {raw}")).map_err(|_| {
            GraphError::Config("page token is not a valid http header value".to_owned())
        })?;
        header.set_sensitive(true);
        let proof = match app_secret {
            Some(secret) => Some(SecretString::from(appsecret_proof(raw, secret)?)),
            None => None,
        };
        Ok(Self {
            header,
            token: token.clone(),
            proof,
        })
    }

    /// Replaces the token and the proof in a text that is about to leave the client.
    fn scrub(&self, mut text: String) -> String {
        let secrets = [Some(&self.token), self.proof.as_ref()];
        for secret in secrets.into_iter().flatten() {
            let secret = secret.expose_secret();
            if !secret.is_empty() && text.contains(secret) {
                text = text.replace(secret, "[redacted]");
            }
        }
        text
    }

    fn scrub_error(&self, error: GraphError) -> GraphError {
        match error {
            GraphError::Api {
                status,
                code,
                subcode,
                kind,
                message,
                fbtrace_id,
            } => GraphError::Api {
                status,
                code,
                subcode,
                kind,
                message: self.scrub(message),
                fbtrace_id,
            },
            other => other,
        }
    }
}

/// `appsecret_proof`: lowercase hex HMAC-SHA256 of the token, keyed with the app secret.
fn appsecret_proof(token: &str, app_secret: &SecretString) -> Result<String, GraphError> {
    let key = app_secret.expose_secret();
    if key.is_empty() {
        return Err(GraphError::Config("app secret is empty".to_owned()));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map_err(|_| GraphError::Config("app secret is not a usable hmac key".to_owned()))?;
    mac.update(token.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Validates the base URL and version and joins them: `{base}/{version}`.
fn api_url(base_url: &str, version: &str) -> Result<Url, GraphError> {
    let config = |msg: String| GraphError::Config(msg);
    let mut url =
        Url::parse(base_url.trim()).map_err(|e| config(format!("base url {base_url:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(config(format!("base url {base_url:?}: not http or https")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config(format!(
            "base url {base_url:?}: must have no query or fragment"
        )));
    }
    if version.is_empty()
        || version
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace())
    {
        return Err(config(format!(
            "api version {version:?}: expected a single path segment like \"v25.0\""
        )));
    }
    url.path_segments_mut()
        .map_err(|()| config(format!("base url {base_url:?}: cannot take a path")))?
        .pop_if_empty()
        .push(version);
    Ok(url)
}

/// The error and its sources, one line, without the request URL (it may carry the proof).
fn error_text(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if error.is_timeout() && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    text
}

/// The delay a `Retry-After` header asks for, counted from `now`: delay-seconds (`120`) or an
/// HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`, zero once it is past). `None` without the
/// header or when it cannot be read.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let date = SystemTime::from(date);
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

fn log_usage(headers: &HeaderMap) {
    for name in USAGE_HEADERS {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            log::debug!("graph {name}: {value}");
        }
    }
}

/// Graph's code for an access token it does not accept (invalid, expired, revoked).
const TOKEN_REJECTED: i64 = 190;

/// The lock's value, even if a thread panicked while holding it (it holds a plain value).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings(token: Option<&str>) -> GraphSettings {
        GraphSettings {
            base_url: "http://127.0.0.1:9".into(),
            version: "v25.0".into(),
            page_token: token.map(SecretString::from),
            app_secret: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn api_url_joins_base_and_version() {
        for (base, want) in [
            (
                "https://graph.facebook.com",
                "https://graph.facebook.com/v25.0",
            ),
            (
                "https://graph.facebook.com/",
                "https://graph.facebook.com/v25.0",
            ),
            (
                "http://127.0.0.1:8080/fake/",
                "http://127.0.0.1:8080/fake/v25.0",
            ),
            (" http://h/p ", "http://h/p/v25.0"),
        ] {
            assert_eq!(api_url(base, "v25.0").expect(base).as_str(), want);
        }
        for (base, version) in [
            ("graph.facebook.com", "v25.0"),
            ("ftp://graph.facebook.com", "v25.0"),
            ("https://graph.facebook.com?x=1", "v25.0"),
            ("https://graph.facebook.com", ""),
            ("https://graph.facebook.com", "v25.0/me"),
            ("https://graph.facebook.com", "v 25"),
        ] {
            assert!(
                matches!(api_url(base, version), Err(GraphError::Config(_))),
                "{base} {version}"
            );
        }
    }

    #[test]
    fn endpoint_encodes_segments() {
        let client = GraphClient::new(settings(Some("t"))).expect("client");
        assert_eq!(
            client.endpoint(&["me", "messages"]).as_str(),
            "http://127.0.0.1:9/v25.0/me/messages"
        );
        assert_eq!(
            client.endpoint(&["12/../me?x"]).as_str(),
            "http://127.0.0.1:9/v25.0/12%2F..%2Fme%3Fx"
        );
    }

    #[test]
    fn appsecret_proof_is_hex_hmac_sha256() {
        // HMAC-SHA256(key = "key", "The quick brown fox jumps over the lazy dog")
        let proof = appsecret_proof(
            "The quick brown fox jumps over the lazy dog",
            &SecretString::from("key"),
        )
        .expect("proof");
        assert_eq!(
            proof,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn bad_credentials_are_config_errors_that_do_not_echo_them() {
        for token in ["", "  ", "bad\ntoken-secret"] {
            let err = GraphClient::new(settings(Some(token))).expect_err("must fail");
            assert!(matches!(err, GraphError::Config(_)), "{err:?}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        let mut s = settings(Some("t"));
        s.app_secret = Some(SecretString::from(""));
        assert!(matches!(GraphClient::new(s), Err(GraphError::Config(_))));
    }

    #[test]
    fn debug_shows_no_secrets() {
        let mut s = settings(Some("tok-SECRET"));
        s.app_secret = Some(SecretString::from("app-SECRET"));
        assert!(!format!("{s:?}").contains("SECRET"));
        let client = GraphClient::new(s).expect("client");
        let shown = format!("{client:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("log_mode: false"), "{shown}");
    }

    #[test]
    fn scrub_removes_token_and_proof() {
        let auth = Auth::new(
            &SecretString::from("tok123"),
            Some(&SecretString::from("sec")),
        )
        .expect("auth");
        let proof = auth
            .proof
            .as_ref()
            .expect("proof")
            .expose_secret()
            .to_owned();
        let text = auth.scrub(format!("bad tok123 and appsecret_proof={proof}"));
        assert_eq!(text, "bad [redacted] and appsecret_proof=[redacted]");
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        // 2026-10-21T07:28:00Z
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_792_567_680);
        let read = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("header"));
            retry_after(&headers, now)
        };
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        assert_eq!(read("120"), Some(Duration::from_secs(120)));
        assert_eq!(read(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            read("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            read("Wed, 21 Oct 2026 07:30:30 GMT"),
            Some(Duration::from_secs(150))
        );
        // A date already past: try again now.
        assert_eq!(read("Wed, 21 Oct 2026 07:00:00 GMT"), Some(Duration::ZERO));
        for bad in ["", "-5", "1.5", "soon", "2026-10-21T07:30:30Z"] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn log_mode_answers_without_http() {
        let client = GraphClient::new(settings(None)).expect("client");
        assert!(client.is_log_mode());
        let body = json!({"recipient":{"id":"42"},"message":{"text":"hi"}});
        let first = client.send(&body).await.expect("send");
        assert_eq!(first.recipient_id.as_deref(), Some("42"));
        assert_eq!(first.message_id.as_deref(), Some("dev-1"));
        let second = client.send(&body).await.expect("send");
        assert_eq!(second.message_id.as_deref(), Some("dev-2"));
        let profile = client.user_profile("42", &["first_name"]).await;
        assert_eq!(profile, Ok(UserProfile::default()));
        assert_eq!(
            client.get_messenger_profile(&["greeting"]).await,
            Err(GraphError::NotConfigured)
        );
    }
}
