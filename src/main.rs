//! The `pagebot` command line: parses arguments and calls the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pagebot::Registry;
use pagebot::config::{BotArgs, ServeArgs, Settings};
use pagebot::startup::Application;

/// A server for Facebook Messenger Page bots.
#[derive(Debug, Parser)]
#[command(name = "pagebot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the webhook and process events.
    Serve(ServeArgs),
    /// Validate routing.yaml and the locales: exit 0 when clean, 1 on errors (or on warnings
    /// with --strict). Warnings: texts missing in a locale; notes: texts nothing uses.
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
    /// Show, plan and apply the Page's Messenger Profile from routing.yaml's thread_settings.
    #[command(subcommand)]
    ThreadSettings(pagebot::thread_settings::ThreadSettingsCommand),
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
}

#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// Database: `sqlite://FILE` or `postgres://...`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://pagebot.db",
        hide_env_values = true
    )]
    database_url: String,
}

/// Exit code of a command line that cannot be parsed (sysexits' EX_USAGE).
const USAGE_ERROR: u8 = 64;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // A usage mistake exits 64 (EX_USAGE), apart from `thread-settings plan`'s 2 for drift.
            return ExitCode::from(if e.use_stderr() { USAGE_ERROR } else { 0 });
        }
    };
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Check { bot, strict } => check(&bot, strict),
        Command::Inbox(command) => inbox(command),
        Command::ThreadSettings(command) => thread_settings(command),
    }
}

fn thread_settings(command: pagebot::thread_settings::ThreadSettingsCommand) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    ExitCode::from(runtime.block_on(pagebot::thread_settings::run(command, &Registry::builtin())))
}

fn inbox(command: InboxCommand) -> ExitCode {
    let result = match command {
        InboxCommand::Stats(db) => pagebot::admin::stats(&db.database_url),
        InboxCommand::Dead { db, limit } => pagebot::admin::dead(&db.database_url, limit),
        InboxCommand::Replay { db, id, .. } => {
            pagebot::admin::replay(&db.database_url, id).map(|n| format!("{n} event(s) requeued\n"))
        }
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let settings = match Settings::from_serve_args(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let app = match Application::build(settings, Registry::builtin()).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: server stopped: {e}");
                ExitCode::from(2)
            }
        }
    })
}

fn check(args: &BotArgs, strict: bool) -> ExitCode {
    let report = pagebot::check::check(
        &Registry::builtin(),
        &args.policy,
        &args.locales,
        &args.default_locale,
    );
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
