//! Settings: defaults, then `PAGEBOT_*` environment variables, then command-line flags.
//!
//! One [`Settings`] value is built at start and passed down; nothing reads the environment
//! later. Secrets are `SecretString`s, so they never reach a log through `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// Database connections the pipeline's workers may use at once, however many workers run.
const MAX_WORKER_CONNECTIONS: usize = 28;

/// Flags of `pagebot serve` (each also read from its environment variable).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAGEBOT_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// Development mode: runs without secrets on a loopback address, does not check
    /// signatures, and without a page token prints replies instead of sending them.
    #[arg(long)]
    pub dev: bool,
    /// The policy and locales to serve.
    #[command(flatten)]
    pub bot: BotArgs,
    /// Database: `sqlite://FILE` (default) or `postgres://...`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://pagebot.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// The Facebook app secret, for X-Hub-Signature-256.
    #[arg(long, env = "PAGEBOT_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<SecretString>,
    /// The token Facebook echoes when it verifies the webhook.
    #[arg(long, env = "PAGEBOT_VERIFY_TOKEN", hide_env_values = true)]
    pub verify_token: Option<SecretString>,
    /// The Page access token for the Graph API.
    #[arg(long, env = "PAGEBOT_PAGE_TOKEN", hide_env_values = true)]
    pub page_token: Option<SecretString>,
    /// Also accept the legacy X-Hub-Signature (HMAC-SHA1) header.
    #[arg(long, env = "PAGEBOT_ACCEPT_SHA1")]
    pub accept_sha1: bool,
    /// Graph API base URL (tests and the simulator point it at a fake).
    #[arg(
        long,
        env = "PAGEBOT_GRAPH_URL",
        default_value = "https://graph.facebook.com"
    )]
    pub graph_url: String,
    /// Graph API version.
    #[arg(long, env = "PAGEBOT_GRAPH_VERSION", default_value = "v25.0")]
    pub graph_version: String,
    /// Events processed at the same time (different users; one user's events run in order).
    #[arg(long, env = "PAGEBOT_WORKERS", default_value_t = 256)]
    pub workers: usize,
    /// Attempts before an event goes to the dead letters.
    #[arg(long, env = "PAGEBOT_MAX_ATTEMPTS", default_value_t = 8)]
    pub max_attempts: i32,
    /// How long a worker holds a claimed event before another may take it, in seconds.
    #[arg(long, env = "PAGEBOT_LEASE_SECS", default_value_t = 120)]
    pub lease_secs: u64,
    /// Delay before the first retry of a failed event, in milliseconds (doubles per attempt).
    #[arg(long, env = "PAGEBOT_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,
    /// How long a Page's sends pause when Facebook signals a rate limit, in seconds.
    #[arg(long, env = "PAGEBOT_RATE_LIMIT_PAUSE_SECS", default_value_t = 60)]
    pub rate_limit_pause_secs: u64,
    /// HTTP worker threads that answer webhooks (default: one per core). On a small machine
    /// shared with Postgres, fewer can leave more CPU to the pipeline.
    #[arg(long, env = "PAGEBOT_HTTP_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    pub http_workers: Option<u16>,
    /// Largest webhook body accepted, in bytes.
    #[arg(long, env = "PAGEBOT_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Delete done events (and their deliveries) this many days after they finished, hourly
    /// (at least 1). Unset: the inbox keeps every event (see `pagebot inbox purge`).
    #[arg(
        long,
        env = "PAGEBOT_INBOX_RETENTION_DAYS",
        value_parser = clap::value_parser!(u32).range(i64::from(crate::retention::MIN_RETENTION_DAYS)..)
    )]
    pub inbox_retention_days: Option<u32>,
}

/// Where the bot's policy and texts live (shared by `serve` and `check`).
#[derive(Debug, Clone, clap::Args)]
pub struct BotArgs {
    /// The routing policy.
    #[arg(long, env = "PAGEBOT_POLICY", default_value = "routing.yaml")]
    pub policy: PathBuf,
    /// The folder of Fluent locales (`<dir>/<tag>/*.ftl`).
    #[arg(long, env = "PAGEBOT_LOCALES", default_value = "locales")]
    pub locales: PathBuf,
    /// The locale used when a user's is unknown or lacks a message.
    #[arg(long, env = "PAGEBOT_DEFAULT_LOCALE", default_value = "en-US")]
    pub default_locale: String,
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
    pub database_url: String,
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
    /// Largest accepted webhook body.
    pub max_body_bytes: usize,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// How long a fetched user profile is trusted.
    pub profile_ttl: Duration,
    /// How often the worker looks for due events when nothing wakes it.
    pub poll_interval: Duration,
    /// Days a done event stays in the inbox; `None` keeps every event.
    pub inbox_retention_days: Option<u32>,
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
    /// A number is out of range.
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Validates `serve`'s arguments: outside dev mode every secret must be set.
    pub fn from_serve_args(args: ServeArgs) -> Result<Self, ConfigError> {
        if args.dev {
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
        if args.workers == 0 {
            return Err(ConfigError::Invalid(
                "PAGEBOT_WORKERS must be at least 1".into(),
            ));
        }
        if args.max_attempts < 1 {
            return Err(ConfigError::Invalid(
                "PAGEBOT_MAX_ATTEMPTS must be at least 1".into(),
            ));
        }
        let workers = args.workers;
        Ok(Self {
            bind: args.bind,
            dev: args.dev,
            policy: args.bot.policy,
            locales: args.bot.locales,
            default_locale: args.bot.default_locale,
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
            lease: Duration::from_secs(args.lease_secs.max(1)),
            retry_base: Duration::from_millis(args.retry_base_ms),
            rate_limit_pause: Duration::from_secs(args.rate_limit_pause_secs),
            max_body_bytes: args.max_body_bytes,
            http_workers: args.http_workers.map_or_else(
                || std::thread::available_parallelism().map_or(2, usize::from),
                usize::from,
            ),
            profile_ttl: Duration::from_secs(7 * 24 * 3600),
            poll_interval: Duration::from_millis(500),
            inbox_retention_days: args.inbox_retention_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

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

    #[test]
    fn production_names_every_missing_secret() {
        let err = Settings::from_serve_args(parse(&["--app-secret", "s"])).unwrap_err();
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
        let settings = Settings::from_serve_args(parse(&["--dev"])).unwrap();
        assert!(settings.dev && settings.page_token.is_none());
        let err =
            Settings::from_serve_args(parse(&["--dev", "--bind", "0.0.0.0:8000"])).unwrap_err();
        assert!(matches!(err, ConfigError::DevNotLoopback(_)));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let settings = Settings::from_serve_args(parse(&[
            "--app-secret",
            "very-secret-1",
            "--verify-token",
            "very-secret-2",
            "--page-token",
            "very-secret-3",
        ]))
        .unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
    }

    #[test]
    fn http_workers_default_to_the_cores_and_are_at_least_one() {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let settings = Settings::from_serve_args(parse(&["--dev"])).unwrap();
        assert_eq!(settings.http_workers, cores);
        let settings = Settings::from_serve_args(parse(&["--dev", "--http-workers", "3"])).unwrap();
        assert_eq!(settings.http_workers, 3);
        let refused = Cli::try_parse_from(["pagebot", "--dev", "--http-workers", "0"]);
        let message = refused.err().expect("0 workers is refused").to_string();
        assert!(message.contains("--http-workers"), "{message}");
    }

    #[test]
    fn inbox_retention_is_off_unless_set_and_at_least_a_day() {
        let settings = Settings::from_serve_args(parse(&["--dev"])).unwrap();
        assert_eq!(settings.inbox_retention_days, None);
        let settings =
            Settings::from_serve_args(parse(&["--dev", "--inbox-retention-days", "30"])).unwrap();
        assert_eq!(settings.inbox_retention_days, Some(30));
        let refused = Cli::try_parse_from(["pagebot", "--dev", "--inbox-retention-days", "0"]);
        let message = refused.err().expect("0 days is refused").to_string();
        assert!(message.contains("--inbox-retention-days"), "{message}");
    }
}
