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
pub use pages::PageSettings;

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

impl Loaded {
    /// The bot's files.
    pub fn bot(&self) -> BotFiles {
        BotFiles {
            policy: self.values.policy.clone(),
            locales: self.values.locales.clone(),
            default_locale: self.values.default_locale.clone(),
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
    /// The Page token; `None` only in dev mode (replies are then logged, not sent).
    pub page_token: Option<SecretString>,
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
            let missing: Vec<&'static str> = [
                ("PAGEBOT_APP_SECRET", args.app_secret.is_none()),
                ("PAGEBOT_VERIFY_TOKEN", args.verify_token.is_none()),
                ("PAGEBOT_PAGE_TOKEN", args.page_token.is_none()),
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
        let Loaded { values: args, .. } = loaded;
        let workers = args.workers;
        let pages = vec![PageSettings {
            id: None,
            name: "the Page".to_owned(),
            token: args.page_token.clone(),
            policy: args.policy.clone(),
            locales: args.locales.clone(),
            default_locale: args.default_locale.clone(),
            thread_settings: None,
        }];
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
        let mut rows: Vec<&str> = table::SETTINGS.iter().map(|s| s.key).collect();
        fields.sort_unstable();
        rows.sort_unstable();
        assert_eq!(fields, rows);
        assert_eq!(loaded.values.http_workers, Some(2));
    }
}
