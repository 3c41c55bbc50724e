//! `GraphError`: every way a Graph API call can fail, and whether retrying can help.
//!
//! The classification follows MESSENGER.md section 5 and is pinned by the table test at the
//! bottom of this file. Nothing here logs: the caller logs each failure once, with
//! [`GraphError::fbtrace_id`].

use std::time::Duration;

use serde_json::Value;

/// A failed Graph API call.
///
/// Never carries the Page token or the `appsecret_proof`: transport errors are rendered without
/// their URL, and texts that came back from the server are scrubbed of the token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Graph answered with an error object: `{"error":{"code":..,"error_subcode":..,...}}`.
    ///
    /// This is also the fallback for codes pagebot does not know: they keep their raw `code`
    /// and are classified by HTTP status (see [`GraphError::is_retryable`]).
    #[error("graph error {code}{}: {message}{}", fmt_subcode(*.subcode), fmt_trace(.fbtrace_id.as_deref()))]
    Api {
        /// The HTTP status of the answer.
        status: u16,
        /// `error.code`, e.g. 100 (invalid parameter) or 190 (invalid token).
        code: i64,
        /// `error.error_subcode`, e.g. 2018001 (no matching user).
        subcode: Option<i64>,
        /// `error.type`, e.g. `OAuthException`.
        kind: Option<String>,
        /// `error.message`, as Graph wrote it.
        message: String,
        /// `error.fbtrace_id`: quote it when asking Meta about a failure.
        fbtrace_id: Option<String>,
    },
    /// A non-2xx answer whose body is not a Graph error object: from Graph's edge or a proxy
    /// in front of it (`429 Too Many Requests`, `502 Bad Gateway`, an HTML error page).
    #[error("graph answered http {status} without a graph error{}", fmt_retry_after(*.retry_after))]
    Http {
        /// The HTTP status of the answer.
        status: u16,
        /// The answer's `Retry-After` header (seconds, or an HTTP date counted from when the
        /// answer came), when it had one that could be read.
        retry_after: Option<Duration>,
    },
    /// The request did not complete: connection refused or reset, DNS, TLS, timeout.
    ///
    /// The text never contains the request URL (it may carry the `appsecret_proof`).
    #[error("graph transport error: {0}")]
    Transport(String),
    /// A 2xx answer whose body is not what the endpoint promises.
    #[error("graph response not understood: {0}")]
    Decode(String),
    /// The call needs a Page token, and the client has none (log mode, `serve --dev`).
    #[error("graph client has no page token (log mode) and this call needs one")]
    NotConfigured,
    /// The settings cannot work: a bad base URL or API version, a token that is not a valid
    /// header value, or an HTTP client that could not be built.
    #[error("invalid graph settings: {0}")]
    Config(String),
}

/// Codes worth retrying with backoff, whatever the HTTP status.
const RETRYABLE_CODES: &[i64] = &[1200, 2, 1, 99, 4, 17, 32, 613, 80006];
/// Codes that never succeed on retry (any subcode), whatever the HTTP status.
const PERMANENT_CODES: &[i64] = &[100, 190, 10, 200, 551, 10303];
/// Codes that mean "slow down".
const RATE_LIMIT_CODES: &[i64] = &[4, 17, 32, 613, 80006];
/// HTTP 429 Too Many Requests.
const TOO_MANY_REQUESTS: u16 = 429;

/// Whether an HTTP status alone (no Graph code that decides) is worth retrying: 5xx, 429.
fn status_is_retryable(status: u16) -> bool {
    status >= 500 || status == TOO_MANY_REQUESTS
}

impl GraphError {
    /// Whether sending the same request again later may succeed.
    ///
    /// Retryable: codes 1200, 2, 1, 99, 4, 17, 32, 613, 80006; HTTP 5xx and 429 (Too Many
    /// Requests); transport errors. Never: codes 100, 190, 10, 200, 551, 10303 (any subcode),
    /// other 4xx, undecodable 2xx answers, configuration errors. An unknown code is classified
    /// by its HTTP status, like an answer without a Graph error: retryable with 5xx or 429.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => {
                if RETRYABLE_CODES.contains(code) {
                    true
                } else if PERMANENT_CODES.contains(code) {
                    false
                } else {
                    status_is_retryable(*status)
                }
            }
            Self::Http { status, .. } => status_is_retryable(*status),
            Self::Transport(_) => true,
            Self::Decode(_) | Self::NotConfigured | Self::Config(_) => false,
        }
    }

    /// Whether this is a rate limit: retry, but slow down. Codes 4, 17, 32, 613, 80006, and
    /// HTTP 429 without a code pagebot knows (a bare 429 from Graph's edge or a proxy, which
    /// may say how long to wait: [`GraphError::retry_after`]).
    pub fn is_rate_limit(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => {
                RATE_LIMIT_CODES.contains(code)
                    || (*status == TOO_MANY_REQUESTS
                        && !RETRYABLE_CODES.contains(code)
                        && !PERMANENT_CODES.contains(code))
            }
            Self::Http { status, .. } => *status == TOO_MANY_REQUESTS,
            _ => false,
        }
    }

    /// How long the answer asked to wait before trying again (its `Retry-After` header), for
    /// [`GraphError::Http`]. Not bounded: the caller decides what is sane.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The Graph error code, for [`GraphError::Api`].
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The Graph error subcode, for [`GraphError::Api`] when Graph sent one.
    pub fn subcode(&self) -> Option<i64> {
        match self {
            Self::Api { subcode, .. } => *subcode,
            _ => None,
        }
    }

    /// The `fbtrace_id` Graph attached to the error, if any: log it with every failure.
    pub fn fbtrace_id(&self) -> Option<&str> {
        match self {
            Self::Api { fbtrace_id, .. } => fbtrace_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Parses `{"error":{...}}` out of an answer body, or `None` if the body is not a Graph
    /// error object with a numeric code.
    pub(crate) fn from_body(status: u16, body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let error = value.get("error")?.as_object()?;
        let code = int_field(error.get("code"))?;
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Self::Api {
            status,
            code,
            subcode: int_field(error.get("error_subcode")),
            kind: text("type"),
            message: text("message").unwrap_or_default(),
            fbtrace_id: text("fbtrace_id"),
        })
    }
}

/// A JSON integer, also accepted when written as a string (`"100"`).
fn int_field(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn fmt_subcode(subcode: Option<i64>) -> String {
    subcode.map(|s| format!("/{s}")).unwrap_or_default()
}

fn fmt_retry_after(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|after| format!(" (retry after {after:?})"))
        .unwrap_or_default()
}

fn fmt_trace(fbtrace_id: Option<&str>) -> String {
    fbtrace_id
        .map(|t| format!(" (fbtrace_id {t})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: i64, subcode: Option<i64>) -> GraphError {
        GraphError::Api {
            status,
            code,
            subcode,
            kind: Some("OAuthException".into()),
            message: "m".into(),
            fbtrace_id: None,
        }
    }

    fn http(status: u16, retry_after_secs: Option<u64>) -> GraphError {
        GraphError::Http {
            status,
            retry_after: retry_after_secs.map(Duration::from_secs),
        }
    }

    /// MESSENGER.md section 5, "Errors": (error, retryable, rate limit).
    #[test]
    fn retryability_table() {
        let table: Vec<(GraphError, bool, bool)> = vec![
            // retry with backoff
            (api(500, 1200, None), true, false),
            (api(400, 1200, None), true, false),
            (api(503, 2, None), true, false),
            (api(500, 1, None), true, false),
            (api(400, 1, None), true, false),
            (api(500, 99, None), true, false),
            (api(400, 4, None), true, true),
            (api(400, 17, None), true, true),
            (api(400, 32, None), true, true),
            (api(400, 613, None), true, true),
            (api(400, 80006, None), true, true),
            // HTTP 5xx without a Graph error (an edge or a proxy): retried with backoff.
            (http(500, None), true, false),
            (http(502, None), true, false),
            (http(503, None), true, false),
            (http(503, Some(5)), true, false),
            (http(504, None), true, false),
            // A bare 429 is a rate limit, with or without Retry-After.
            (http(429, None), true, true),
            (http(429, Some(30)), true, true),
            (http(429, Some(0)), true, true),
            (
                GraphError::Transport("connection refused".into()),
                true,
                false,
            ),
            (
                GraphError::Transport("operation timed out".into()),
                true,
                false,
            ),
            // never retry
            (api(400, 100, None), false, false),
            (api(400, 100, Some(2018001)), false, false),
            (api(400, 100, Some(2018109)), false, false),
            (api(500, 100, None), false, false),
            (api(400, 190, None), false, false),
            (api(401, 190, Some(460)), false, false),
            (api(400, 10, Some(2018065)), false, false),
            (api(400, 10, Some(2018278)), false, false),
            (api(400, 10, Some(2018108)), false, false),
            (api(400, 10, Some(2018300)), false, false),
            (api(500, 10, None), false, false),
            (api(400, 200, Some(1545041)), false, false),
            (api(400, 551, None), false, false),
            (api(400, 10303, None), false, false),
            (http(400, None), false, false),
            (http(400, Some(30)), false, false),
            (http(404, None), false, false),
            (GraphError::Decode("x".into()), false, false),
            (GraphError::NotConfigured, false, false),
            (GraphError::Config("x".into()), false, false),
            // unknown codes: by HTTP status
            (api(400, 12345, None), false, false),
            (api(403, 368, None), false, false),
            (api(500, 12345, None), true, false),
            (api(503, 12345, Some(7)), true, false),
            (api(429, 12345, None), true, true),
            // a known code decides whatever the status
            (api(429, 100, None), false, false),
            (api(429, 1200, None), true, false),
            (api(429, 613, None), true, true),
        ];
        for (err, retryable, rate_limit) in table {
            assert_eq!(err.is_retryable(), retryable, "is_retryable of {err:?}");
            assert_eq!(err.is_rate_limit(), rate_limit, "is_rate_limit of {err:?}");
        }
    }

    #[test]
    fn display_is_lowercase_and_carries_codes_and_trace() {
        let err = GraphError::Api {
            status: 400,
            code: 100,
            subcode: Some(2018001),
            kind: Some("OAuthException".into()),
            message: "(#100) No matching user found".into(),
            fbtrace_id: Some("ABC".into()),
        };
        assert_eq!(
            err.to_string(),
            "graph error 100/2018001: (#100) No matching user found (fbtrace_id ABC)"
        );
        assert_eq!(api(400, 190, None).to_string(), "graph error 190: m");
        assert_eq!(
            http(502, None).to_string(),
            "graph answered http 502 without a graph error"
        );
        assert_eq!(
            http(429, Some(30)).to_string(),
            "graph answered http 429 without a graph error (retry after 30s)"
        );
    }

    #[test]
    fn accessors() {
        let err = GraphError::from_body(
            400,
            br#"{"error":{"message":"(#100) No matching user found","type":"OAuthException","code":100,"error_subcode":2018001,"fbtrace_id":"AbC"}}"#,
        )
        .expect("a graph error");
        assert_eq!(err.code(), Some(100));
        assert_eq!(err.subcode(), Some(2018001));
        assert_eq!(err.fbtrace_id(), Some("AbC"));
        assert_eq!(err.http_status(), Some(400));
        let GraphError::Api { kind, .. } = &err else {
            panic!("not api: {err:?}");
        };
        assert_eq!(kind.as_deref(), Some("OAuthException"));

        assert_eq!(err.retry_after(), None);

        let t = GraphError::Transport("x".into());
        assert_eq!((t.code(), t.subcode(), t.fbtrace_id()), (None, None, None));
        assert_eq!(t.http_status(), None);

        let limited = http(429, Some(7));
        assert_eq!(limited.http_status(), Some(429));
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(limited.code(), None);
    }

    #[test]
    fn from_body_rejects_what_is_not_a_graph_error() {
        for body in [
            &b""[..],
            b"<html>502 Bad Gateway</html>",
            b"{}",
            b"{\"error\":\"boom\"}",
            b"{\"error\":{\"message\":\"no code\"}}",
            b"[1,2]",
        ] {
            assert_eq!(GraphError::from_body(500, body), None, "{body:?}");
        }
        let err = GraphError::from_body(400, br#"{"error":{"code":"613"}}"#).expect("string code");
        assert_eq!(err.code(), Some(613));
        assert!(err.is_rate_limit());
    }
}
