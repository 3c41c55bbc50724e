//! The `pagebot` command line, as a library function so that a bot's own binary offers the
//! same commands with its own handlers and senders:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     pagebot::cli::run(pagebot::Registry::builtin() /* .handler("weather", ...) */)
//! }
//! ```
//!
//! Commands: `serve`, `check`, `inbox`, `send`, `broadcast`, `simulate`, `thread-settings`. Each arm calls one
//! library function. Every command exits 0, 1 or 2 as [`crate::exit`] says. `serve` and
//! `simulate` run the registry's own migrations ([`Registry::migrations`]) after pagebot's;
//! `check` refuses their versions if they clash; `inbox` runs only pagebot's.

use std::process::ExitCode;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::Registry;
use crate::config::{self, BotArgs, ConfigError, SecretFlags, ServeArgs, Settings};
use crate::exit;
use crate::startup::Application;
use crate::store::StoreError;

/// A server for Facebook Messenger Page bots.
#[derive(Debug, Parser)]
#[command(name = "pagebot", version, about)]
struct Cli {
    /// Settings file (TOML; every key in the README's table). Default: ./pagebot.toml if it
    /// exists. The environment and flags override what it sets.
    #[arg(long, global = true, env = "PAGEBOT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Where settings come from, under each command's flags.
const SETTINGS_HELP: &str = "Every flag is also a key of pagebot.toml (--config FILE, else \
./pagebot.toml if it exists) and an environment variable (PAGEBOT_BIND, PAGEBOT_WORKERS, \
DATABASE_URL, ...): defaults < pagebot.toml < environment < flags. The README's settings table \
lists them all; pagebot.example.toml sets each to its default.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the webhook and process events.
    #[command(after_help = SETTINGS_HELP)]
    Serve(ServeArgs),
    /// Validate routing.yaml and the locales: exit 0 when clean, 1 on errors (or on warnings
    /// with --strict). Warnings: texts missing in a locale; notes: texts nothing uses. With
    /// [[pages]] in pagebot.toml, every Page's, under its heading (a token that cannot be read
    /// is a warning: check may run where the secrets are not).
    Check {
        #[command(flatten)]
        bot: BotArgs,
        /// Fail on warnings too (for CI).
        #[arg(long)]
        strict: bool,
    },
    /// Look into the event inbox: counts, dead letters, replays.
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// Queue a message the bot starts (a running server delivers it, within Messenger's rules).
    Send {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The Page.
        #[arg(long)]
        page: String,
        /// The user's PSID on that Page.
        #[arg(long)]
        psid: String,
        /// The text.
        #[arg(long)]
        text: String,
        /// A message tag (HUMAN_AGENT, CUSTOMER_FEEDBACK); else an update within 24 hours.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Broadcasts: one message to many users of a Page.
    #[command(subcommand)]
    Broadcast(BroadcastCommand),
    /// Talk to the bot in the terminal, without Facebook (full pipeline, fake Graph API), or
    /// replay YAML transcripts with --script: exit 1 with a diff at the first mismatch.
    Simulate(crate::simulate::SimulateArgs),
    /// Show, plan and apply the Page's Messenger Profile from routing.yaml's thread_settings
    /// (with [[pages]] in pagebot.toml: --page ID or --all-pages, each with its own token).
    #[command(subcommand)]
    ThreadSettings(crate::thread_settings::ThreadSettingsCommand),
}

#[derive(Debug, Subcommand)]
enum InboxCommand {
    /// Events per status, and the age of the oldest pending one.
    Stats(DatabaseArgs),
    /// The newest dead and failed events, with their errors.
    Dead {
        #[command(flatten)]
        db: DatabaseArgs,
        /// How many to list.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put dead and failed events back in the queue (a running server picks them up).
    Replay {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The event to replay.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Replay every dead and failed event.
        #[arg(long)]
        all: bool,
    },
    /// Delete done events (and their deliveries) that finished long ago; the inbox keeps
    /// every event until then. Dead, failed, malformed and pending events stay.
    Purge {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Keep done events younger than this many days (at least 1: a purged event's
        /// redelivery by Facebook would no longer be recognised as a duplicate).
        #[arg(
            long,
            default_value_t = 7,
            value_parser = clap::value_parser!(u32).range(i64::from(crate::retention::MIN_RETENTION_DAYS)..)
        )]
        older_than_days: u32,
    },
}

#[derive(Debug, Subcommand)]
enum BroadcastCommand {
    /// Queue a broadcast to the PSIDs given, else to every user of the Page matching the
    /// filter flags (a running server expands and delivers it).
    Create {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The Page.
        #[arg(long)]
        page: String,
        /// The text.
        #[arg(long)]
        text: String,
        /// A message tag (HUMAN_AGENT, CUSTOMER_FEEDBACK); else an update within 24 hours.
        #[arg(long)]
        tag: Option<String>,
        /// A recipient (repeat it); none: the users matching the filter.
        #[arg(long)]
        psid: Vec<String>,
        /// Users of this locale (fr matches fr_FR).
        #[arg(long, conflicts_with = "psid")]
        locale: Option<String>,
        /// Users who granted a notification token.
        #[arg(long, conflicts_with = "psid")]
        has_notification_token: bool,
        /// Users who wrote within this many days.
        #[arg(long, conflicts_with = "psid", value_parser = clap::value_parser!(u32).range(1..=3650))]
        last_seen_within_days: Option<u32>,
        /// Messages per second.
        #[arg(long, default_value_t = crate::outbox::broadcast::DEFAULT_RATE_PER_SEC,
              value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::outbox::broadcast::MAX_RATE_PER_SEC)))]
        rate_per_sec: u32,
    },
    /// Its state and sent/refused/failed counts, with a progress bar.
    Status {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The broadcast.
        id: i64,
        /// Redraw every second until it is done or cancelled.
        #[arg(long)]
        watch: bool,
    },
    /// Stop it: its messages not yet tried are refused; those sent stay sent.
    Cancel {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The broadcast.
        id: i64,
    },
}

#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// Database: `sqlite://FILE` (default: sqlite://pagebot.db) or `postgres://...`; also
    /// DATABASE_URL or `database_url` in pagebot.toml.
    #[arg(long)]
    database_url: Option<SecretString>,
}

/// Parses the process's arguments and runs the command with `registry`: the whole `pagebot`
/// command line, for `pagebot` itself and for a bot's own binary.
pub fn run(registry: Registry) -> ExitCode {
    run_from(std::env::args_os(), registry)
}

fn thread_settings(
    config: Option<&Path>,
    command: crate::thread_settings::ThreadSettingsCommand,
    registry: &Registry,
) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::COULD_NOT_RUN);
        }
    };
    ExitCode::from(runtime.block_on(crate::thread_settings::run(config, command, registry)))
}

/// [`run`] with the given arguments (the first is the program name).
pub fn run_from<I, T>(args: I, registry: Registry) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; a usage mistake is a refused input.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::FINDING
            } else {
                exit::OK
            });
        }
    };
    // The chat is for people: only warnings and errors interrupt it unless RUST_LOG says more.
    let default_filter = match cli.command {
        Command::Simulate(_) => "warn",
        _ => "info",
    };
    let _ =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter))
            .try_init();
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => serve(config, args, registry),
        Command::Check { bot, strict } => check(config, &bot, strict, &registry),
        Command::Inbox(command) => inbox(config, command),
        Command::Send {
            db,
            page,
            psid,
            text,
            tag,
        } => with_database(config, &db, |url| {
            crate::broadcast_admin::send(url, &page, &psid, &text, tag.as_deref())
        }),
        Command::Broadcast(command) => broadcast(config, command),
        Command::Simulate(args) => ExitCode::from(crate::simulate::run(config, args, registry)),
        Command::ThreadSettings(command) => thread_settings(config, command, &registry),
    }
}

/// Prints a settings error; the exit code of a refused input.
fn refused(error: &ConfigError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(exit::FINDING)
}

fn inbox(config: Option<&Path>, command: InboxCommand) -> ExitCode {
    let db = match &command {
        InboxCommand::Stats(db)
        | InboxCommand::Dead { db, .. }
        | InboxCommand::Replay { db, .. }
        | InboxCommand::Purge { db, .. } => db,
    };
    let secrets = SecretFlags {
        database_url: db.database_url.clone(),
        ..SecretFlags::default()
    };
    let loaded = match config::load(config, &BotArgs::default(), secrets) {
        Ok(loaded) => loaded,
        Err(e) => return refused(&e),
    };
    let url = loaded.values.database_url.expose_secret();
    let result = match command {
        InboxCommand::Stats(_) => crate::admin::stats(url),
        InboxCommand::Dead { limit, .. } => crate::admin::dead(url, limit),
        InboxCommand::Replay { id, .. } => {
            crate::admin::replay(url, id).map(|n| format!("{n} event(s) requeued\n"))
        }
        InboxCommand::Purge {
            older_than_days, ..
        } => crate::admin::purge(url, older_than_days)
            .map(|n| format!("{n} done event(s) older than {older_than_days} day(s) deleted\n")),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                StoreError::Config(_) => exit::FINDING,
                _ => exit::COULD_NOT_RUN,
            })
        }
    }
}

fn broadcast(config: Option<&Path>, command: BroadcastCommand) -> ExitCode {
    use crate::broadcast_admin as admin;
    match command {
        BroadcastCommand::Create {
            db,
            page,
            text,
            tag,
            psid,
            locale,
            has_notification_token,
            last_seen_within_days,
            rate_per_sec,
        } => with_database(config, &db, |url| {
            let filter = crate::store::broadcasts::Filter {
                locale,
                has_notification_token: has_notification_token.then_some(true),
                last_seen_within_days,
            };
            admin::create(
                url,
                admin::CreateArgs {
                    page,
                    text,
                    tag,
                    psids: psid,
                    filter,
                    rate_per_sec,
                },
            )
        }),
        BroadcastCommand::Status { db, id, watch } => with_database(config, &db, |url| {
            if watch {
                admin::watch(url, id, |line| {
                    use std::io::Write;
                    print!("{line}");
                    let _ = std::io::stdout().flush();
                })
            } else {
                admin::status(url, id)
            }
        }),
        BroadcastCommand::Cancel { db, id } => {
            with_database(config, &db, |url| admin::cancel(url, id))
        }
    }
}

/// Runs `command` on the database the settings name, printing what it returns.
fn with_database(
    config: Option<&Path>,
    db: &DatabaseArgs,
    command: impl FnOnce(&str) -> Result<String, StoreError>,
) -> ExitCode {
    let secrets = SecretFlags {
        database_url: db.database_url.clone(),
        ..SecretFlags::default()
    };
    let loaded = match config::load(config, &BotArgs::default(), secrets) {
        Ok(loaded) => loaded,
        Err(e) => return refused(&e),
    };
    match command(loaded.values.database_url.expose_secret()) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                StoreError::Config(_) => exit::FINDING,
                _ => exit::COULD_NOT_RUN,
            })
        }
    }
}

fn serve(config: Option<&Path>, args: ServeArgs, registry: Registry) -> ExitCode {
    let settings = match Settings::load(config, args) {
        Ok(s) => s,
        Err(e) => return refused(&e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::COULD_NOT_RUN);
        }
    };
    runtime.block_on(async {
        let app = match Application::build(settings, registry).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::for_start_error(&e));
            }
        };
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: server stopped: {e}");
                ExitCode::from(exit::COULD_NOT_RUN)
            }
        }
    })
}

fn check(config: Option<&Path>, bot: &BotArgs, strict: bool, registry: &Registry) -> ExitCode {
    let loaded = match config::load(config, bot, SecretFlags::default()) {
        Ok(loaded) => loaded,
        Err(e) => return refused(&e),
    };
    if !loaded.page_entries().is_empty() {
        return check_pages(&loaded, strict, registry);
    }
    let args = loaded.bot();
    let report = crate::check::check(registry, &args.policy, &args.locales, &args.default_locale);
    for finding in &report.findings {
        eprintln!("{finding}");
    }
    let code = report.exit_code(strict);
    if code == 0 {
        println!("{}: ok ({})", args.policy.display(), report.summary());
    } else {
        eprintln!("{}: {}", args.policy.display(), report.summary());
    }
    ExitCode::from(code)
}

/// `check` with `[[pages]]`: each Page's findings under its heading, its summary line, then
/// the sum; the exit code is the worst Page's.
fn check_pages(loaded: &config::Loaded, strict: bool, registry: &Registry) -> ExitCode {
    let mut all = crate::check::Report::default();
    let mut code = exit::OK;
    for entry in loaded.page_entries() {
        let report = crate::check::check_page(registry, loaded, entry);
        let label = entry.label();
        if !report.findings.is_empty() {
            eprintln!("{label}:");
        }
        for finding in &report.findings {
            eprintln!("{finding}");
        }
        let policy = loaded.page(entry, None).policy;
        let page_code = report.exit_code(strict);
        if page_code == 0 {
            println!("{label}: {}: ok ({})", policy.display(), report.summary());
        } else {
            eprintln!("{label}: {}: {}", policy.display(), report.summary());
        }
        code = code.max(page_code);
        all.findings.extend(report.findings);
    }
    let pages = loaded.page_entries().len();
    let total = format!(
        "{pages} Page{}: {}",
        if pages == 1 { "" } else { "s" },
        all.summary()
    );
    if code == 0 {
        println!("{total}");
    } else {
        eprintln!("{total}");
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
