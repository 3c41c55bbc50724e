//! The admin's sessions: the password checked in constant time, a random session id in an
//! HttpOnly, SameSite=Strict cookie (Secure unless the browser is on this machine), kept in
//! memory with an expiry, and a CSRF token per session that every POST form carries.
//!
//! The login form has no session yet: its token is a random value in a cookie of its own,
//! which the form repeats (a double-submit), so that another site cannot log a browser in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pagebot_admin";
/// The login form's token cookie.
pub const LOGIN_COOKIE: &str = "pagebot_admin_login";
/// How long a session lasts from the login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// How long a wrong password waits for its answer: guessing gets slow.
pub const WRONG_PASSWORD_DELAY: Duration = Duration::from_secs(1);
/// The most sessions kept at once; the oldest go first.
const MAX_SESSIONS: usize = 1_000;

/// A logged-in operator's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every POST form of this session carries.
    pub csrf: String,
    expires_at: Instant,
}

/// The password and the live sessions.
pub struct Sessions {
    password_hash: [u8; 32],
    live: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

/// 32 random bytes from the OS's generator, as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether two tokens are equal, in time independent of where they differ.
pub fn same_token(given: &str, expected: &str) -> bool {
    // Hashed first: equal lengths, so the comparison's time says nothing of the length.
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    given.ct_eq(&expected).into()
}

impl Sessions {
    /// Sessions of an admin whose password is `password`.
    pub fn new(password: &SecretString) -> Self {
        Self {
            password_hash: Sha256::digest(password.expose_secret().as_bytes()).into(),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `given` is the password (in constant time).
    pub fn password_matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        given.ct_eq(&self.password_hash).into()
    }

    /// Opens a session; returns its id (the cookie's value).
    pub fn open(&self) -> String {
        let id = random_token();
        let session = Session {
            csrf: random_token(),
            expires_at: Instant::now() + SESSION_LIFETIME,
        };
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        live.retain(|_, s| s.expires_at > now);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(id, _)| id.clone())
        {
            live.remove(&oldest);
        }
        live.insert(id.clone(), session);
        id
    }

    /// The live session of `request`'s cookie, if any.
    pub fn of(&self, request: &HttpRequest) -> Option<Session> {
        let id = cookie(request, SESSION_COOKIE)?;
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(&id)
            .filter(|s| s.expires_at > Instant::now())
            .cloned()
    }

    /// Ends `request`'s session.
    pub fn close(&self, request: &HttpRequest) {
        if let Some(id) = cookie(request, SESSION_COOKIE) {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            live.remove(&id);
        }
    }
}

/// The value of cookie `name` of `request`, if it sent one.
pub fn cookie(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether the browser is on this machine: its connection comes from loopback and it asked
/// for a loopback host. Only then may a cookie go without `Secure` (a proxy on this machine
/// forwards a Host that is not loopback).
pub fn is_loopback(request: &HttpRequest) -> bool {
    let peer = request.peer_addr().is_some_and(|a| a.ip().is_loopback());
    let host = request.connection_info().host().to_owned();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            name.to_owned()
        }
        _ => host,
    };
    let host_loopback = name == "localhost"
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    peer && host_loopback
}

/// A `Set-Cookie` value for the admin: HttpOnly, SameSite=Strict, Path=/admin, Secure unless
/// on loopback; `max_age` `None` clears it.
pub fn set_cookie(
    request: &HttpRequest,
    name: &str,
    value: &str,
    max_age: Option<Duration>,
) -> String {
    let age = max_age.map_or(0, |d| d.as_secs());
    let secure = if is_loopback(request) { "" } else { "; Secure" };
    format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_and_the_tokens_are_compared_whole() {
        let sessions = Sessions::new(&SecretString::from("hunter2"));
        assert!(sessions.password_matches("hunter2"));
        assert!(!sessions.password_matches("hunter"));
        assert!(!sessions.password_matches(""));
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("", "abc"));
        let token = random_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, random_token());
    }

    #[test]
    fn the_cookie_is_secure_unless_the_browser_is_on_this_machine() {
        use actix_web::test::TestRequest;
        let on = |peer: &str, host: &str| {
            let request = TestRequest::default()
                .peer_addr(peer.parse().unwrap())
                .insert_header((header::HOST, host))
                .to_http_request();
            set_cookie(&request, SESSION_COOKIE, "v", Some(SESSION_LIFETIME))
        };
        let local = on("127.0.0.1:5000", "127.0.0.1:8000");
        assert_eq!(
            local,
            "pagebot_admin=v; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=43200"
        );
        assert!(!on("[::1]:5000", "localhost:8000").contains("Secure"));
        // From elsewhere, or through a proxy on this machine that forwards the public name.
        assert!(on("203.0.113.9:5000", "127.0.0.1:8000").ends_with("; Secure"));
        assert!(on("127.0.0.1:5000", "bot.example.com").ends_with("; Secure"));
    }
}
