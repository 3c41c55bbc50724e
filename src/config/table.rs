//! Every setting in one table: its `pagebot.toml` key, its environment variable, its default
//! and what it means. The defaults layer is read from this table, the error messages name
//! settings from it, and a test checks the README's table against it, so they cannot drift.

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The key in `pagebot.toml`; the flag is `--` and the key with `-` for `_`.
    pub key: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The default as a TOML value (`"127.0.0.1:8000"`, `256`), or `None`: unset.
    pub default: Option<&'static str>,
    /// A secret: never logged, never in Debug output, never in an error message.
    pub secret: bool,
    /// What it means, for the README.
    pub doc: &'static str,
}

const fn setting(
    key: &'static str,
    env: &'static str,
    default: Option<&'static str>,
    doc: &'static str,
) -> Setting {
    Setting {
        key,
        env,
        default,
        secret: false,
        doc,
    }
}

const fn secret(key: &'static str, env: &'static str, doc: &'static str) -> Setting {
    Setting {
        key,
        env,
        default: None,
        secret: true,
        doc,
    }
}

/// Every setting, in the README's order.
pub const SETTINGS: &[Setting] = &[
    secret(
        "app_secret",
        "PAGEBOT_APP_SECRET",
        "app secret; signatures are checked with it (required by `serve` unless `--dev`)",
    ),
    secret(
        "verify_token",
        "PAGEBOT_VERIFY_TOKEN",
        "the token you enter in the webhook settings (required by `serve` unless `--dev`)",
    ),
    secret(
        "page_token",
        "PAGEBOT_PAGE_TOKEN",
        "the Page access token without `[[pages]]` (required by `serve` unless `--dev`, and by `thread-settings`); refused with `[[pages]]`, whose Pages name their own",
    ),
    secret(
        "api_token",
        "PAGEBOT_API_TOKEN",
        "the bearer token of the send API (`POST /api/messages`, on the main bind); unset: the API is off",
    ),
    secret(
        "admin_password",
        "PAGEBOT_ADMIN_PASSWORD",
        "the operators' password of the admin at `/admin`; unset, there is no admin (404)",
    ),
    Setting {
        secret: true,
        ..setting(
            "database_url",
            "DATABASE_URL",
            Some("\"sqlite://pagebot.db\""),
            "`postgres://user:pass@host/db` or `sqlite://FILE`; a secret, since it may hold a password",
        )
    },
    setting(
        "bind",
        "PAGEBOT_BIND",
        Some("\"127.0.0.1:8000\""),
        "listen address",
    ),
    setting(
        "policy",
        "PAGEBOT_POLICY",
        Some("\"routing.yaml\""),
        "the routing policy file",
    ),
    setting(
        "locales",
        "PAGEBOT_LOCALES",
        Some("\"locales\""),
        "the folder of Fluent locales (`<dir>/<tag>/*.ftl`)",
    ),
    setting(
        "default_locale",
        "PAGEBOT_DEFAULT_LOCALE",
        Some("\"en-US\""),
        "the locale used when a user's is unknown or lacks a message",
    ),
    setting(
        "workers",
        "PAGEBOT_WORKERS",
        Some("256"),
        "events processed at once (different users; one user's in order); they mostly wait on Graph calls and commits, and share at most 32 database connections",
    ),
    setting(
        "http_workers",
        "PAGEBOT_HTTP_WORKERS",
        None,
        "threads that answer webhooks, one per core when unset; on a small machine shared with Postgres, fewer can leave more CPU to the pipeline (BENCHMARKS.md, session 7)",
    ),
    setting(
        "max_attempts",
        "PAGEBOT_MAX_ATTEMPTS",
        Some("8"),
        "attempts before an event is dead",
    ),
    setting(
        "lease_secs",
        "PAGEBOT_LEASE_SECS",
        Some("120"),
        "how long a claimed event is reserved for its worker, in seconds",
    ),
    setting(
        "retry_base_ms",
        "PAGEBOT_RETRY_BASE_MS",
        Some("1000"),
        "first retry delay in milliseconds, doubled per attempt up to 10 minutes, with ±20% jitter",
    ),
    setting(
        "rate_limit_pause_secs",
        "PAGEBOT_RATE_LIMIT_PAUSE_SECS",
        Some("60"),
        "how long a Page's sends pause on a rate-limit error, in seconds (an HTTP 429 with `Retry-After` pauses for what it asks, from 1 s to 10 minutes)",
    ),
    setting(
        "conversation_idle_secs",
        "PAGEBOT_CONVERSATION_IDLE_SECS",
        Some("3600"),
        "how long a user may stay silent in a routing.yaml flow before their step and remembered values are forgotten, in seconds (at least 1)",
    ),
    setting(
        "max_body_bytes",
        "PAGEBOT_MAX_BODY_BYTES",
        Some("1048576"),
        "the largest webhook body accepted, in bytes",
    ),
    setting(
        "db_timeout_ms",
        "PAGEBOT_DB_TIMEOUT_MS",
        Some("2000"),
        "how long a webhook request waits for the database, in milliseconds, before it is answered 503 (Facebook delivers it again later); `/readyz` answers at once from what the last database calls found",
    ),
    setting(
        "accept_sha1",
        "PAGEBOT_ACCEPT_SHA1",
        Some("false"),
        "also accept the legacy `X-Hub-Signature` (HMAC-SHA1)",
    ),
    setting(
        "inbox_retention_days",
        "PAGEBOT_INBOX_RETENTION_DAYS",
        None,
        "days a done event (and its deliveries) stays in the inbox, purged hourly (at least 1), and a conversation idle that long; unset keeps every event",
    ),
    setting(
        "graph_url",
        "PAGEBOT_GRAPH_URL",
        Some("\"https://graph.facebook.com\""),
        "the Graph API's base URL (tests point it at a fake)",
    ),
    setting(
        "graph_version",
        "PAGEBOT_GRAPH_VERSION",
        Some("\"v25.0\""),
        "the Graph API version",
    ),
];

/// The row of `key`.
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// The README's table of settings, as [`SETTINGS`] has it.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| `pagebot.toml` | environment | meaning | default |\n|---|---|---|---|\n");
    for s in SETTINGS {
        let default = match s.default {
            Some(value) => format!("`{}`", value.trim_matches('"')),
            None => "unset".to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {default} |\n",
            s.key, s.env, s.doc
        ));
    }
    out
}

/// One key of a `[[pages]]` entry (see [`super::pages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageKey {
    /// The key.
    pub key: &'static str,
    /// What it means, for the README.
    pub doc: &'static str,
}

const fn page_key(key: &'static str, doc: &'static str) -> PageKey {
    PageKey { key, doc }
}

/// Every key of a `[[pages]]` entry, in the README's order.
pub const PAGE_KEYS: &[PageKey] = &[
    page_key(
        "id",
        "the Page's id, as its webhooks' `entry[].id` gives it (a number or a string); required, once per Page",
    ),
    page_key(
        "name",
        "a name for logs, metrics and the headings of `check` and `thread-settings` (default: the id)",
    ),
    page_key(
        "token_env",
        "the environment variable holding the Page access token; this or `token_file`, never the token itself",
    ),
    page_key(
        "token_file",
        "a file holding the Page access token (trimmed), relative to the config file's folder; this or `token_env`",
    ),
    page_key(
        "policy",
        "the Page's routing policy file (default: the top-level `policy`)",
    ),
    page_key(
        "locales",
        "the Page's folder of Fluent locales (default: the top-level `locales`)",
    ),
    page_key(
        "default_locale",
        "the Page's default locale (default: the top-level `default_locale`)",
    ),
    page_key(
        "thread_settings",
        "a YAML file with a `thread_settings:` section, routing.yaml's format, pushed by `thread-settings` instead of the policy's own (default: the policy's)",
    ),
];

/// The README's table of the `[[pages]]` keys, as [`PAGE_KEYS`] has it.
pub fn markdown_pages_table() -> String {
    let mut out = String::from("| `[[pages]]` key | meaning |\n|---|---|\n");
    for k in PAGE_KEYS {
        out.push_str(&format!("| `{}` | {} |\n", k.key, k.doc));
    }
    out
}
