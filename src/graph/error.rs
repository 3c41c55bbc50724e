//! `GraphError`: every way a Graph API call can fail, and whether retrying can help.
//!
//! The classification follows MESSENGER.md section 5 and is pinned by the table test at the
//! bottom of this file. Nothing here logs: the caller logs each failure once, with
//! [`GraphError::fbtrace_id`].

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
    /// A non-2xx answer whose body is not a Graph error object.
    #[error("graph answered http {status} without a graph error")]
    Http {
        /// The HTTP status of the answer.
        status: u16,
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

impl GraphError {
    /// Whether sending the same request again later may succeed.
    ///
    /// Retryable: codes 1200, 2, 1, 99, 4, 17, 32, 613, 80006; HTTP 5xx; transport errors.
    /// Never: codes 100, 190, 10, 200, 551, 10303 (any subcode), other 4xx, undecodable 2xx
    /// answers, configuration errors. An unknown code is retryable only with HTTP status ≥ 500.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => {
                if RETRYABLE_CODES.contains(code) {
                    true
                } else if PERMANENT_CODES.contains(code) {
                    false
                } else {
                    *status >= 500
                }
            }
            Self::Http { status } => *status >= 500,
            Self::Transport(_) => true,
            Self::Decode(_) | Self::NotConfigured | Self::Config(_) => false,
        }
    }

    /// Whether this is a rate limit (codes 4, 17, 32, 613, 80006): retry, but slow down.
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, Self::Api { code, .. } if RATE_LIMIT_CODES.contains(code))
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
            Self::Api { status, .. } | Self::Http { status } => Some(*status),
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
            (GraphError::Http { status: 500 }, true, false),
            (GraphError::Http { status: 502 }, true, false),
            (GraphError::Http { status: 503 }, true, false),
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
            (GraphError::Http { status: 400 }, false, false),
            (GraphError::Http { status: 404 }, false, false),
            (GraphError::Http { status: 429 }, false, false),
            (GraphError::Decode("x".into()), false, false),
            (GraphError::NotConfigured, false, false),
            (GraphError::Config("x".into()), false, false),
            // unknown codes: by HTTP status
            (api(400, 12345, None), false, false),
            (api(403, 368, None), false, false),
            (api(500, 12345, None), true, false),
            (api(503, 12345, Some(7)), true, false),
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
            GraphError::Http { status: 502 }.to_string(),
            "graph answered http 502 without a graph error"
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

        let t = GraphError::Transport("x".into());
        assert_eq!((t.code(), t.subcode(), t.fbtrace_id()), (None, None, None));
        assert_eq!(t.http_status(), None);
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
