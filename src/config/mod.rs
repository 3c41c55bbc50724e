//! Settings: defaults < `pagebot.toml` < `PAGEBOT_*` environment variables < command-line
//! flags ([`layers`]), every one of them in one table ([`table::SETTINGS`]).
//!
//! One [`Settings`] value is built at start and passed down; nothing reads the environment
//! later. Secrets (the database URL too: it may hold a password) are `SecretString`s, so they
//! never reach a log through `Debug`, and errors name where a value came from, never the value.

pub mod layers;
pub mod pages;
pub mod table;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

pub use layers::{DEFAULT_CONFIG_FILE, Layered, Loaded, SecretFlags};
pub use pages::{PageEntry, PageSettings, Place, TokenError, TokenSource};

/// Database connections the pipeline's workers may use at once, however many workers run.
const MAX_WORKER_CONNECTIONS: usize = 28;

/// Flags of `pagebot serve`. Each is also a key of `pagebot.toml` and an environment variable
/// ([`table::SETTINGS`]); a flag wins over both.
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// Development mode: runs without secrets on a loopback address, does not check
    /// signatures, and without a page token prints replies instead of sending them.
    #[arg(long)]
    #[serde(skip)]
    pub dev: bool,
    /// The policy and locales to serve.
    #[command(flatten)]
    #[serde(flatten)]
    pub bot: BotArgs,
    /// Database: `sqlite://FILE` (default: sqlite://pagebot.db) or `postgres://...`.
    #[arg(long)]
    #[serde(skip)]
    pub database_url: Option<SecretString>,
    /// The token Facebook echoes when it verifies the webhook.
    #[arg(long)]
    #[serde(skip)]
    pub verify_token: Option<SecretString>,
    /// The operators' password of the admin at `/admin` (better set in the environment:
    /// a flag shows in the process list). Unset, there is no admin.
    #[arg(long)]
    #[serde(skip)]
    pub admin_password: Option<SecretString>,
    /// The Graph API and the credentials to present.
    #[command(flatten)]
    #[serde(flatten)]
    pub graph: GraphArgs,
    /// Also accept the legacy X-Hub-Signature (HMAC-SHA1) header.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accept_sha1: bool,
    /// Events processed at the same time (different users; one user's events run in order)
    /// [default: 256].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Attempts before an event goes to the dead letters [default: 8].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<i32>,
    /// How long a worker holds a claimed event before another may take it, in seconds
    /// [default: 120].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_secs: Option<u64>,
    /// Delay before the first retry of a failed event, in milliseconds (doubles per attempt)
    /// [default: 1000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_base_ms: Option<u64>,
    /// How long a Page's sends pause when Facebook signals a rate limit, in seconds
    /// [default: 60].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_pause_secs: Option<u64>,
    /// How long a user may stay silent in a routing.yaml flow before their step and
    /// remembered values are forgotten, in seconds [default: 3600].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_idle_secs: Option<u64>,
    /// HTTP worker threads that answer webhooks (default: one per core). On a small machine
    /// shared with Postgres, fewer can leave more CPU to the pipeline.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_workers: Option<u16>,
    /// Largest webhook body accepted, in bytes [default: 1048576].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// How long a webhook request waits for the database before it is answered 503, in
    /// milliseconds [default: 2000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_timeout_ms: Option<u64>,
    /// Delete done events (and their deliveries) this many days after they finished, hourly
    /// (at least 1), and conversations idle that long. Unset: the inbox keeps every event (see `pagebot inbox purge`).
    #[arg(
        long,
        value_parser = clap::value_parser!(u32).range(i64::from(crate::retention::MIN_RETENTION_DAYS)..)
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbox_retention_days: Option<u32>,
}

impl ServeArgs {
    fn secrets(&mut self) -> SecretFlags {
        SecretFlags {
            app_secret: self.graph.app_secret.take(),
            verify_token: self.verify_token.take(),
            page_token: self.graph.page_token.take(),
            database_url: self.database_url.take(),
            admin_password: self.admin_password.take(),
        }
    }
}

/// Where the Graph API is and which credentials to present (shared by `serve` and
/// `thread-settings`); each also a setting ([`table::SETTINGS`]).
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct GraphArgs {
    /// The Page access token.
    #[arg(long)]
    #[serde(skip)]
    pub page_token: Option<SecretString>,
    /// The Facebook app secret: X-Hub-Signature-256 is checked with it, and Graph calls are
    /// signed with appsecret_proof.
    #[arg(long)]
    #[serde(skip)]
    pub app_secret: Option<SecretString>,
    /// Graph API base URL (tests and the simulator point it at a fake) [default:
    /// `https://graph.facebook.com`].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<String>,
    /// Graph API version [default: v25.0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_version: Option<String>,
}

/// Where the bot's policy and texts live (shared by `serve`, `check`, `simulate` and
/// `thread-settings`); each also a setting ([`table::SETTINGS`]).
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct BotArgs {
    /// The routing policy [default: routing.yaml].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PathBuf>,
    /// The folder of Fluent locales (`<dir>/<tag>/*.ftl`) [default: locales].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locales: Option<PathBuf>,
    /// The locale used when a user's is unknown or lacks a message [default: en-US].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_locale: Option<String>,
}

/// The policy, the locales and the default locale, after the layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotFiles {
    /// The routing policy file.
    pub policy: PathBuf,
    /// The locales folder.
    pub locales: PathBuf,
    /// The default locale.
    pub default_locale: String,
}

/// Whether [`Loaded::pages`] needs every Page's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    /// Each must be there (`serve`, outside dev mode): the error lists every one missing.
    Required,
    /// A token that is not there is `None` (dev mode, `check`, `simulate`).
    IfAvailable,
}

impl Loaded {
    /// The bot's files: the top-level ones (each Page's default).
    pub fn bot(&self) -> BotFiles {
        BotFiles {
            policy: self.values.policy.clone(),
            locales: self.values.locales.clone(),
            default_locale: self.values.default_locale.clone(),
        }
    }

    /// The `[[pages]]` entries of the config file, in its order; empty without the section
    /// (the deployment then has one catch-all Page: see [`Loaded::pages`]).
    pub fn page_entries(&self) -> &[PageEntry] {
        &self.values.pages
    }

    /// The token of `entry`, from its variable or its file. The error names the config
    /// file's line of `token_env` or `token_file`, never the token.
    pub fn page_token(&self, entry: &PageEntry) -> Result<SecretString, TokenError> {
        pages::read_token(entry, &self.token_vars)
    }

    /// `entry` resolved with `token`: its files defaulted to the top-level settings.
    pub fn page(&self, entry: &PageEntry, token: Option<SecretString>) -> PageSettings {
        let top = &self.values;
        PageSettings {
            id: Some(entry.id.clone()),
            name: entry.name.clone().unwrap_or_else(|| entry.id.clone()),
            token,
            policy: entry.policy.clone().unwrap_or_else(|| top.policy.clone()),
            locales: entry.locales.clone().unwrap_or_else(|| top.locales.clone()),
            default_locale: entry
                .default_locale
                .clone()
                .unwrap_or_else(|| top.default_locale.clone()),
            thread_settings: entry.thread_settings.clone(),
        }
    }

    /// The Pages served, in the config file's order: its `[[pages]]` entries, or without
    /// them the one catch-all Page of the top-level settings (`page_token`, `policy`, ...).
    /// With [`Tokens::Required`] every token must be readable, and the error names each one
    /// that is not, one per line.
    pub fn pages(&self, tokens: Tokens) -> Result<Vec<PageSettings>, ConfigError> {
        let top = &self.values;
        if top.pages.is_empty() {
            if tokens == Tokens::Required && top.page_token.is_none() {
                return Err(ConfigError::MissingSecrets(vec!["PAGEBOT_PAGE_TOKEN"]));
            }
            return Ok(vec![PageSettings {
                id: None,
                name: "the Page".to_owned(),
                token: top.page_token.clone(),
                policy: top.policy.clone(),
                locales: top.locales.clone(),
                default_locale: top.default_locale.clone(),
                thread_settings: None,
            }]);
        }
        let mut missing = Vec::new();
        let mut pages = Vec::new();
        for entry in &top.pages {
            let token = match pages::read_token(entry, &self.token_vars) {
                Ok(token) => Some(token),
                Err(e) if tokens == Tokens::Required => {
                    missing.push(e.to_string());
                    None
                }
                Err(_) => None,
            };
            pages.push(self.page(entry, token));
        }
        if missing.is_empty() {
            Ok(pages)
        } else {
            Err(ConfigError::Invalid(missing.join("\n")))
        }
    }
}

/// Loads the settings for a command other than `serve`: the layers with `flags` on top.
pub fn load(
    config: Option<&Path>,
    flags: &impl Serialize,
    secrets: SecretFlags,
) -> Result<Loaded, ConfigError> {
    layers::load(config, flags, secrets)
}

/// Everything `serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Development mode (see [`ServeArgs::dev`]).
    pub dev: bool,
    /// The routing policy file.
    pub policy: PathBuf,
    /// The locales folder.
    pub locales: PathBuf,
    /// The default locale (BCP 47).
    pub default_locale: String,
    /// `sqlite://...` or `postgres://...`; may hold a password, so never logged.
    pub database_url: SecretString,
    /// Pooled database connections.
    pub db_pool_size: u32,
    /// The app secret; `None` only in dev mode.
    pub app_secret: Option<SecretString>,
    /// The verify token; `None` only in dev mode (verification then always fails).
    pub verify_token: Option<SecretString>,
    /// The top-level Page token (`page_token`); `None` in dev mode, and always with
    /// `[[pages]]` (each Page's token is in [`Settings::pages`]).
    pub page_token: Option<SecretString>,
    /// The admin's password (`/admin`); `None`: no admin.
    pub admin_password: Option<SecretString>,
    /// Accept X-Hub-Signature (sha1) when X-Hub-Signature-256 is absent.
    pub accept_sha1: bool,
    /// Graph API base URL.
    pub graph_url: String,
    /// Graph API version.
    pub graph_version: String,
    /// Timeout of one Graph call.
    pub graph_timeout: Duration,
    /// Concurrent events.
    pub workers: usize,
    /// Attempts before dead letters.
    pub max_attempts: i32,
    /// How long a claimed event is reserved for its worker.
    pub lease: Duration,
    /// The first retry's delay.
    pub retry_base: Duration,
    /// The pause of a rate-limited Page.
    pub rate_limit_pause: Duration,
    /// How long a conversation stays at its step without activity.
    pub conversation_idle: Duration,
    /// Largest accepted webhook body.
    pub max_body_bytes: usize,
    /// How long a webhook request waits for the database before it is answered 503.
    pub db_timeout: Duration,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// How long a fetched user profile is trusted.
    pub profile_ttl: Duration,
    /// How often the worker looks for due events when nothing wakes it.
    pub poll_interval: Duration,
    /// Days a done event stays in the inbox; `None` keeps every event.
    pub inbox_retention_days: Option<u32>,
    /// The send API's bearer token (`PAGEBOT_API_TOKEN`); `None`: the API is off.
    pub api_token: Option<SecretString>,
    /// The time the outbox's window rules are judged by (the system's; tests pin it).
    pub clock: crate::clock::Clock,
    /// The Pages served: at least one (see [`pages`]).
    pub pages: Vec<PageSettings>,
}

/// Settings that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Required secrets are not set.
    #[error(
        "missing {}: set {} (or run `pagebot serve --dev` to try the bot locally without them)",
        if .0.len() == 1 { "setting" } else { "settings" },
        .0.join(", ")
    )]
    MissingSecrets(Vec<&'static str>),
    /// Dev mode was asked to listen beyond loopback.
    #[error(
        "--dev does not check signatures, so it only listens on a loopback address (127.0.0.1 or ::1), not {0}"
    )]
    DevNotLoopback(SocketAddr),
    /// A value cannot be used (unknown, of the wrong type, out of range), with where it
    /// came from.
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// `serve`'s settings: the layers (`config`, else `pagebot.toml` if it exists; the
    /// environment; `args`), checked. Outside dev mode every secret must be set.
    pub fn load(config: Option<&Path>, mut args: ServeArgs) -> Result<Self, ConfigError> {
        let secrets = args.secrets();
        let loaded = layers::load(config, &args, secrets)?;
        Self::from_layers(loaded, args.dev)
    }

    /// `serve`'s settings from these layers, the process's environment left out (for tests
    /// and bots that build their settings themselves).
    pub fn load_with_env(
        config: Option<&Path>,
        mut args: ServeArgs,
        env: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Self, ConfigError> {
        let secrets = args.secrets();
        let loaded = layers::load_with_env(config, &args, secrets, env)?;
        Self::from_layers(loaded, args.dev)
    }

    /// Checks merged layers; `dev` is `serve --dev`.
    pub fn from_layers(loaded: Loaded, dev: bool) -> Result<Self, ConfigError> {
        let source = |key: &str| loaded.source_of(key);
        let args = &loaded.values;
        if dev {
            if !args.bind.ip().is_loopback() {
                return Err(ConfigError::DevNotLoopback(args.bind));
            }
        } else {
            // With [[pages]], each Page's token is checked with the Pages below.
            let one_page = args.pages.is_empty();
            let missing: Vec<&'static str> = [
                ("PAGEBOT_APP_SECRET", args.app_secret.is_none()),
                ("PAGEBOT_VERIFY_TOKEN", args.verify_token.is_none()),
                ("PAGEBOT_PAGE_TOKEN", one_page && args.page_token.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            if !missing.is_empty() {
                return Err(ConfigError::MissingSecrets(missing));
            }
        }
        let at_least = |key: &str, value: i64, min: i64| {
            if value < min {
                Err(ConfigError::Invalid(format!(
                    "{}: {key} must be at least {min}, not {value}",
                    source(key)
                )))
            } else {
                Ok(())
            }
        };
        let big = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        at_least("workers", big(args.workers), 1)?;
        at_least("max_attempts", i64::from(args.max_attempts), 1)?;
        at_least(
            "lease_secs",
            i64::try_from(args.lease_secs).unwrap_or(i64::MAX),
            1,
        )?;
        at_least(
            "db_timeout_ms",
            i64::try_from(args.db_timeout_ms).unwrap_or(i64::MAX),
            1,
        )?;
        at_least(
            "conversation_idle_secs",
            i64::try_from(args.conversation_idle_secs).unwrap_or(i64::MAX),
            1,
        )?;
        if let Some(n) = args.http_workers {
            at_least("http_workers", i64::from(n), 1)?;
        }
        if let Some(days) = args.inbox_retention_days {
            at_least(
                "inbox_retention_days",
                i64::from(days),
                i64::from(crate::retention::MIN_RETENTION_DAYS),
            )?;
        }
        let pages = loaded.pages(if dev {
            Tokens::IfAvailable
        } else {
            Tokens::Required
        })?;
        let Loaded { values: args, .. } = loaded;
        let workers = args.workers;
        Ok(Self {
            bind: args.bind,
            dev,
            policy: args.policy,
            locales: args.locales,
            default_locale: args.default_locale,
            database_url: args.database_url,
            // Workers spend most of their time on Graph calls and group commits, not holding
            // a connection: past a few dozen, more connections only cost Postgres memory.
            db_pool_size: u32::try_from(workers.min(MAX_WORKER_CONNECTIONS) + 4)
                .unwrap_or(u32::MAX),
            app_secret: args.app_secret,
            verify_token: args.verify_token,
            page_token: args.page_token,
            admin_password: args.admin_password,
            accept_sha1: args.accept_sha1,
            graph_url: args.graph_url,
            graph_version: args.graph_version,
            graph_timeout: Duration::from_secs(10),
            workers,
            max_attempts: args.max_attempts,
            lease: Duration::from_secs(args.lease_secs),
            retry_base: Duration::from_millis(args.retry_base_ms),
            rate_limit_pause: Duration::from_secs(args.rate_limit_pause_secs),
            conversation_idle: Duration::from_secs(args.conversation_idle_secs),
            max_body_bytes: args.max_body_bytes,
            db_timeout: Duration::from_millis(args.db_timeout_ms),
            http_workers: args.http_workers.map_or_else(
                || std::thread::available_parallelism().map_or(2, usize::from),
                usize::from,
            ),
            profile_ttl: Duration::from_secs(7 * 24 * 3600),
            poll_interval: Duration::from_millis(500),
            inbox_retention_days: args.inbox_retention_days,
            api_token: args.api_token,
            clock: crate::clock::Clock::system(),
            pages,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::Parser;
    use secrecy::ExposeSecret;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> ServeArgs {
        Cli::try_parse_from(std::iter::once("pagebot").chain(args.iter().copied()))
            .unwrap()
            .serve
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    /// The settings from `args` and `pairs` alone (no file, not the process's environment).
    fn settings(args: &[&str], pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_with_env(None, parse(args), env(pairs))
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pagebot.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn production_names_every_missing_secret() {
        let err = settings(&["--app-secret", "s"], &[]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::MissingSecrets(vec!["PAGEBOT_VERIFY_TOKEN", "PAGEBOT_PAGE_TOKEN"])
        );
        assert!(
            err.to_string()
                .contains("PAGEBOT_VERIFY_TOKEN, PAGEBOT_PAGE_TOKEN")
        );
    }

    #[test]
    fn dev_mode_needs_no_secret_but_stays_on_loopback() {
        let settings_ = settings(&["--dev"], &[]).unwrap();
        assert!(settings_.dev && settings_.page_token.is_none());
        let err = settings(&["--dev", "--bind", "0.0.0.0:8000"], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::DevNotLoopback(_)));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let settings = settings(
            &[
                "--app-secret",
                "very-secret-1",
                "--verify-token",
                "very-secret-2",
                "--page-token",
                "very-secret-3",
            ],
            &[("DATABASE_URL", "postgres://u:very-secret-4@db/pagebot")],
        )
        .unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert_eq!(
            settings.database_url.expose_secret(),
            "postgres://u:very-secret-4@db/pagebot"
        );
    }

    #[test]
    fn the_defaults_are_the_tables() {
        let settings = settings(&["--dev"], &[]).unwrap();
        assert_eq!(settings.bind, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(settings.database_url.expose_secret(), "sqlite://pagebot.db");
        assert_eq!((settings.workers, settings.max_attempts), (256, 8));
        assert_eq!(settings.lease, Duration::from_secs(120));
        assert_eq!(settings.retry_base, Duration::from_millis(1000));
        assert_eq!(settings.rate_limit_pause, Duration::from_secs(60));
        assert_eq!(settings.max_body_bytes, 1024 * 1024);
        assert_eq!(settings.db_timeout, Duration::from_secs(2));
        assert!(!settings.accept_sha1);
        assert_eq!(settings.policy, Path::new("routing.yaml"));
        assert_eq!(settings.locales, Path::new("locales"));
        assert_eq!(settings.default_locale, "en-US");
        assert_eq!(settings.graph_url, "https://graph.facebook.com");
        assert_eq!(settings.graph_version, crate::graph::DEFAULT_VERSION);
        assert_eq!(crate::graph::DEFAULT_BASE_URL, "https://graph.facebook.com");
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
        let (_dir, path) = file("workers = 10\nmax_attempts = 3\nlease_secs = 30\n");
        let layered = |args: &[&str], pairs: &[(&str, &str)]| {
            Settings::load_with_env(Some(&path), parse(args), env(pairs)).unwrap()
        };
        let s = layered(&["--dev"], &[]);
        assert_eq!((s.workers, s.max_attempts, s.lease.as_secs()), (10, 3, 30));
        let s = layered(
            &["--dev"],
            &[("PAGEBOT_WORKERS", "20"), ("PAGEBOT_MAX_ATTEMPTS", "4")],
        );
        assert_eq!((s.workers, s.max_attempts, s.lease.as_secs()), (20, 4, 30));
        let s = layered(&["--dev", "--workers", "30"], &[("PAGEBOT_WORKERS", "20")]);
        assert_eq!((s.workers, s.max_attempts), (30, 3));
        // Variables that are not settings are left alone.
        let s = layered(
            &["--dev"],
            &[("PAGEBOT_TEST_DATABASE_URL", "x"), ("PAGEBOT_NOPE", "1")],
        );
        assert_eq!(s.workers, 10);
    }

    #[test]
    fn an_unknown_key_is_refused_with_the_file_and_line() {
        let (_dir, path) = file("workers = 10\n\nwokers = 3\n");
        let err = Settings::load_with_env(Some(&path), parse(&["--dev"]), env(&[])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "{}:3: unknown setting \"wokers\" (known: app_secret, ",
                path.display()
            )),
            "{text}"
        );
    }

    #[test]
    fn a_bad_value_names_its_source_and_never_a_secret() {
        let (_dir, path) = file("bind = \"127.0.0.1:8000\"\nworkers = \"many\"\n");
        let err = Settings::load_with_env(Some(&path), parse(&["--dev"]), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}:2: workers: invalid type", path.display())),
            "{err}"
        );
        let err = settings(&["--dev"], &[("PAGEBOT_WORKERS", "0")])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "PAGEBOT_WORKERS: workers must be at least 1, not 0");
        let err = settings(&["--dev", "--max-attempts", "0"], &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--max-attempts: max_attempts must be at least 1, not 0"
        );
        let (_dir, path) = file("\n\ninbox_retention_days = 0\n");
        let err = Settings::load_with_env(Some(&path), parse(&["--dev"]), env(&[]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:3: inbox_retention_days must be at least 1, not 0",
                path.display()
            )
        );
        let (_dir, path) = file("page_token = 12\nverify_token = [\"very-secret\"]\n");
        let err = Settings::load_with_env(Some(&path), parse(&["--dev"]), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("verify_token"), "{err}");
        assert!(!err.contains("very-secret"), "{err}");
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let err = Settings::load_with_env(
            Some(Path::new("/nonexistent/pagebot.toml")),
            parse(&["--dev"]),
            env(&[]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no config file at /nonexistent/pagebot.toml (named by --config or PAGEBOT_CONFIG)"
        );
    }

    #[test]
    fn booleans_and_numeric_strings_read_as_environment_variables_are_written() {
        for (value, want) in [
            ("1", true),
            ("true", true),
            ("yes", true),
            ("0", false),
            ("off", false),
        ] {
            let s = settings(&["--dev"], &[("PAGEBOT_ACCEPT_SHA1", value)]).unwrap();
            assert_eq!(s.accept_sha1, want, "{value}");
        }
        let err = settings(&["--dev"], &[("PAGEBOT_ACCEPT_SHA1", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("PAGEBOT_ACCEPT_SHA1: "), "{err}");
        // A token of digits is still a string.
        let s = settings(&["--dev"], &[("PAGEBOT_PAGE_TOKEN", "12345")]).unwrap();
        assert_eq!(s.page_token.unwrap().expose_secret(), "12345");
    }

    #[test]
    fn http_workers_default_to_the_cores_and_are_at_least_one() {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        assert_eq!(settings(&["--dev"], &[]).unwrap().http_workers, cores);
        let three = settings(&["--dev", "--http-workers", "3"], &[]).unwrap();
        assert_eq!(three.http_workers, 3);
        let refused = Cli::try_parse_from(["pagebot", "--dev", "--http-workers", "0"]);
        let message = refused.err().expect("0 workers is refused").to_string();
        assert!(message.contains("--http-workers"), "{message}");
        let err = settings(&["--dev"], &[("PAGEBOT_HTTP_WORKERS", "0")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "PAGEBOT_HTTP_WORKERS: http_workers must be at least 1, not 0"
        );
    }

    #[test]
    fn inbox_retention_is_off_unless_set_and_at_least_a_day() {
        assert_eq!(
            settings(&["--dev"], &[]).unwrap().inbox_retention_days,
            None
        );
        let thirty = settings(&["--dev", "--inbox-retention-days", "30"], &[]).unwrap();
        assert_eq!(thirty.inbox_retention_days, Some(30));
        let refused = Cli::try_parse_from(["pagebot", "--dev", "--inbox-retention-days", "0"]);
        let message = refused.err().expect("0 days is refused").to_string();
        assert!(message.contains("--inbox-retention-days"), "{message}");
    }

    #[test]
    fn every_field_of_the_layers_is_a_row_of_the_table_and_back() {
        // A TOML file setting every row is understood (no row is unknown to the layers)...
        let every: String = table::SETTINGS
            .iter()
            .map(|s| {
                let value = match s.key {
                    "http_workers" | "inbox_retention_days" => "2",
                    _ => s.default.unwrap_or("\"x\""),
                };
                format!("{} = {value}\n", s.key)
            })
            .collect();
        let (_dir, path) = file(&every);
        let loaded = layers::load_with_env(
            Some(&path),
            &BotArgs::default(),
            SecretFlags::default(),
            env(&[]),
        )
        .unwrap();
        // ...and every field of the layers has a row (the error lists the fields).
        let (_dir, path) = file("no_such_setting = 1\n");
        let err = layers::load_with_env(
            Some(&path),
            &BotArgs::default(),
            SecretFlags::default(),
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        let known = err.split("(known: ").nth(1).unwrap().trim_end_matches(')');
        let mut fields: Vec<&str> = known.split(", ").collect();
        // ...but `pages`, the one section, whose keys have a table of their own.
        let pages = fields
            .iter()
            .position(|f| *f == "pages")
            .expect("pages is known");
        fields.remove(pages);
        let mut rows: Vec<&str> = table::SETTINGS.iter().map(|s| s.key).collect();
        fields.sort_unstable();
        rows.sort_unstable();
        assert_eq!(fields, rows);
        assert_eq!(loaded.values.http_workers, Some(2));
    }

    // `[[pages]]`.

    /// `serve`'s secrets but the Page token, as flags.
    const SERVE: &[&str] = &["--app-secret", "s", "--verify-token", "v"];

    fn with_pages(
        text: &str,
        args: &[&str],
        pairs: &[(&str, &str)],
    ) -> (tempfile::TempDir, PathBuf, Result<Settings, ConfigError>) {
        let (dir, path) = file(text);
        let result = Settings::load_with_env(Some(&path), parse(args), env(pairs));
        (dir, path, result)
    }

    /// The error's text, with the temporary file's path written `pagebot.toml`.
    fn refusal(text: &str, args: &[&str], pairs: &[(&str, &str)]) -> (tempfile::TempDir, String) {
        let (dir, path, result) = with_pages(text, args, pairs);
        let err = result.expect_err("refused").to_string();
        let folder = format!("{}/", dir.path().display());
        let err = err
            .replace(&path.display().to_string(), "pagebot.toml")
            .replace(&folder, "");
        (dir, err)
    }

    const TWO_PAGES: &str = "\
policy = \"shared.yaml\"

[[pages]]
id = 123
name = \"Shop\"
token_env = \"PAGEBOT_TOKEN_SHOP\"

[[pages]]
id = \"456\"
token_file = \"secrets/help.token\"
policy = \"help.yaml\"
locales = \"help-locales\"
default_locale = \"zh-TW\"
thread_settings = \"help-profile.yaml\"
";

    #[test]
    fn pages_are_read_in_file_order_each_with_its_token_and_the_top_level_defaults() {
        let (dir, path) = file(TWO_PAGES);
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/help.token"), "  token-b\n").unwrap();
        let settings = Settings::load_with_env(
            Some(&path),
            parse(SERVE),
            env(&[("PAGEBOT_TOKEN_SHOP", "token-a")]),
        )
        .expect("no PAGEBOT_PAGE_TOKEN is needed with [[pages]]");
        let [shop, help] = &settings.pages[..] else {
            panic!("two pages: {:?}", settings.pages);
        };
        assert_eq!(
            (shop.id.as_deref(), shop.name.as_str()),
            (Some("123"), "Shop")
        );
        assert_eq!(shop.token.as_ref().unwrap().expose_secret(), "token-a");
        assert_eq!(shop.policy, Path::new("shared.yaml"));
        assert_eq!(shop.locales, Path::new("locales"));
        assert_eq!(shop.default_locale, "en-US");
        assert_eq!(shop.thread_settings, None);
        assert_eq!(
            (help.id.as_deref(), help.name.as_str()),
            (Some("456"), "456")
        );
        // Read from the file, relative to the config file's folder, and trimmed.
        assert_eq!(help.token.as_ref().unwrap().expose_secret(), "token-b");
        assert_eq!(help.policy, Path::new("help.yaml"));
        assert_eq!(help.locales, Path::new("help-locales"));
        assert_eq!(help.default_locale, "zh-TW");
        assert_eq!(
            help.thread_settings.as_deref(),
            Some(Path::new("help-profile.yaml"))
        );
        assert_eq!(settings.page_token.map(|_| ()), None);
        let debug = format!("{:?}", settings.pages);
        assert!(
            !debug.contains("token-a") && !debug.contains("token-b"),
            "{debug}"
        );
    }

    #[test]
    fn without_pages_the_one_page_is_the_catch_all_of_the_top_level_settings() {
        let s = settings(&["--dev", "--page-token", "t", "--policy", "p.yaml"], &[]).unwrap();
        let [page] = &s.pages[..] else {
            panic!("one page: {:?}", s.pages);
        };
        assert_eq!((page.id.as_deref(), page.key()), (None, ""));
        assert_eq!(page.token.as_ref().unwrap().expose_secret(), "t");
        assert_eq!(page.policy, Path::new("p.yaml"));
        let err = settings(SERVE, &[]).unwrap_err();
        assert_eq!(err, ConfigError::MissingSecrets(vec!["PAGEBOT_PAGE_TOKEN"]));
    }

    #[test]
    fn a_page_listed_twice_is_refused_with_both_lines() {
        let text = "[[pages]]\nid = 123\ntoken_env = \"A\"\n\n[[pages]]\nid = \"123\"\ntoken_env = \"B\"\n";
        let (_dir, err) = refusal(text, &["--dev"], &[]);
        assert_eq!(
            err,
            "pagebot.toml:6: page 123 is listed twice: first at pagebot.toml:2"
        );
    }

    #[test]
    fn a_token_variable_that_is_not_set_or_empty_is_named_with_its_line() {
        let text = "[[pages]]\nid = 123\n\n\n\n\ntoken_env = \"PAGEBOT_TOKEN_SHOP\"\n";
        let (_dir, err) = refusal(text, SERVE, &[]);
        assert_eq!(
            err,
            "pagebot.toml:7: page 123's token_env PAGEBOT_TOKEN_SHOP is not set"
        );
        let (_dir, err) = refusal(text, SERVE, &[("PAGEBOT_TOKEN_SHOP", " ")]);
        assert_eq!(
            err,
            "pagebot.toml:7: page 123's token_env PAGEBOT_TOKEN_SHOP is empty"
        );
        // Every Page whose token is missing, at once.
        let two = format!("{text}\n[[pages]]\nid = 456\ntoken_env = \"PAGEBOT_TOKEN_HELP\"\n");
        let (_dir, err) = refusal(&two, SERVE, &[]);
        assert_eq!(
            err,
            "pagebot.toml:7: page 123's token_env PAGEBOT_TOKEN_SHOP is not set\n\
             pagebot.toml:11: page 456's token_env PAGEBOT_TOKEN_HELP is not set"
        );
        // In dev mode a Page may run without its token (its replies are printed).
        let (_dir, _path, dev) = with_pages(text, &["--dev"], &[]);
        assert!(dev.unwrap().pages[0].token.is_none());
    }

    #[test]
    fn a_token_file_that_cannot_be_read_or_is_empty_is_named_with_its_line() {
        let text = "[[pages]]\nid = 123\ntoken_file = \"shop.token\"\n";
        let (_dir, err) = refusal(text, SERVE, &[]);
        assert!(
            err.starts_with("pagebot.toml:3: page 123's token_file shop.token cannot be read: "),
            "{err}"
        );
        let (dir, path) = file(text);
        std::fs::write(dir.path().join("shop.token"), "\n \n").unwrap();
        let err = Settings::load_with_env(Some(&path), parse(SERVE), env(&[]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:3: page 123's token_file {} is empty",
                path.display(),
                dir.path().join("shop.token").display()
            )
        );
        std::fs::write(dir.path().join("shop.token"), b"very-secret\xff").unwrap();
        let err = Settings::load_with_env(Some(&path), parse(SERVE), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("shop.token is not UTF-8 text"), "{err}");
        assert!(!err.contains("very-secret"), "{err}");
    }

    #[test]
    fn a_page_needs_exactly_one_token_source() {
        let both = "workers = 2\n[[pages]]\nid = 123\ntoken_env = \"A\"\ntoken_file = \"a\"\n";
        let (_dir, err) = refusal(both, &["--dev"], &[]);
        assert_eq!(
            err,
            "pagebot.toml:2: page 123 has both token_env and token_file: keep one"
        );
        let neither = "[[pages]]\nid = 123\nname = \"Shop\"\n";
        let (_dir, err) = refusal(neither, &["--dev"], &[]);
        assert_eq!(
            err,
            "pagebot.toml:1: page 123 has no token: name the environment variable holding it \
             with token_env, or a file holding it with token_file"
        );
    }

    #[test]
    fn a_token_written_in_the_file_is_refused_without_its_value() {
        let text = "[[pages]]\nid = 123\ntoken = \"very-secret\"\n";
        let (_dir, err) = refusal(text, &["--dev"], &[]);
        assert_eq!(
            err,
            "pagebot.toml:3: page 123: a token is never written in pagebot.toml: name the \
             environment variable holding it with token_env, or a file holding it with \
             token_file"
        );
        let text = "[[pages]]\nid = 123\ntoken_env = \"A\"\npage_token = 12345\n";
        let (_dir, err) = refusal(text, &["--dev"], &[]);
        assert!(
            err.starts_with("pagebot.toml:4: page 123: a token is never"),
            "{err}"
        );
        assert!(!err.contains("12345"), "{err}");
    }

    #[test]
    fn an_unknown_key_or_a_bad_value_in_a_page_entry_is_named_with_its_line() {
        let text = "[[pages]]\nid = 123\ntoken_env = \"A\"\npolcy = \"x.yaml\"\n";
        let (_dir, err) = refusal(text, &["--dev"], &[]);
        assert_eq!(
            err,
            "pagebot.toml:4: unknown key \"polcy\" in page 123's [[pages]] entry (known: id, \
             name, token_env, token_file, policy, locales, default_locale, thread_settings)"
        );
        // Every problem at once, in file order.
        let text = "[[pages]]\nid = 1.5\n[[pages]]\nname = \"Help\"\ntoken_env = \"B\"\n\
                    [[pages]]\nid = 7\ntoken_env = \"C\"\npolicy = 5\nlocales = \"\"\n";
        let (_dir, err) = refusal(text, &["--dev"], &[]);
        assert_eq!(
            err.lines().collect::<Vec<_>>(),
            [
                "pagebot.toml:2: id must be the Page's id, a number or a string of one word (as \
                 its webhooks' entry[].id gives it)",
                "pagebot.toml:3: a [[pages]] entry needs an id: the Page's id, as its \
                 webhooks' entry[].id gives it",
                "pagebot.toml:9: page 7's policy must be a string, not integer",
                "pagebot.toml:10: page 7's locales is empty",
            ]
        );
        let (_dir, err) = refusal("\npages = 5\n", &["--dev"], &[]);
        assert_eq!(
            err,
            "pagebot.toml:2: pages: invalid type: integer `5`, expected a sequence (write each \
             Page as a [[pages]] table)"
        );
    }

    #[test]
    fn page_token_is_refused_with_pages_from_every_layer() {
        let text = "[[pages]]\nid = 123\ntoken_env = \"A\"\n";
        let tail = ": page_token cannot be used with [[pages]] (at pagebot.toml:1): each Page \
                    names its own token with token_env or token_file; remove page_token";
        let (_dir, err) = refusal(&format!("page_token = \"x\"\n{text}"), &["--dev"], &[]);
        assert_eq!(
            err,
            format!("pagebot.toml:1{}", tail.replace("toml:1)", "toml:2)"))
        );
        let (_dir, err) = refusal(text, &["--dev"], &[("PAGEBOT_PAGE_TOKEN", "very-secret")]);
        assert_eq!(err, format!("PAGEBOT_PAGE_TOKEN{tail}"));
        let (_dir, err) = refusal(text, &["--dev", "--page-token", "very-secret"], &[]);
        assert_eq!(err, format!("--page-token{tail}"));
    }

    #[test]
    fn other_commands_get_the_pages_with_the_tokens_that_are_there() {
        let (_dir, path) = file(TWO_PAGES);
        let loaded = layers::load_with_env(
            Some(&path),
            &BotArgs::default(),
            SecretFlags::default(),
            env(&[("PAGEBOT_TOKEN_SHOP", "token-a")]),
        )
        .unwrap();
        let entries = loaded.page_entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].label(), "page 123 (Shop)");
        assert_eq!(entries[1].label(), "page 456");
        assert_eq!(entries[1].place_of("policy").line, 11);
        assert_eq!(
            entries[0].place_of("policy").line,
            3,
            "the entry's own line"
        );
        assert!(entries[1].sets("policy") && !entries[0].sets("policy"));
        let pages = loaded.pages(Tokens::IfAvailable).unwrap();
        assert_eq!(pages[0].token.as_ref().unwrap().expose_secret(), "token-a");
        assert!(pages[1].token.is_none(), "its file is not there");
        let err = loaded.pages(Tokens::Required).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}:10: page 456's token_file {}",
                path.display(),
                path.parent().unwrap().join("secrets/help.token").display()
            )),
            "{err}"
        );
        assert!(loaded.page_token(&entries[1]).is_err());
    }
}
