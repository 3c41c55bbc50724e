//! `pagebot simulate`: talk to the bot in the terminal, or replay transcripts for CI.
//!
//! Both run the full pipeline in-process (webhook, inbox, policy, handlers, database, Fluent,
//! senders) against the fake Graph API of [`crate::testing`], so nothing reaches Facebook. The
//! database is a temporary SQLite file removed at the end, unless `--database-url` names one.
//!
//! In the chat, a line is what the user types; commands start with `/` (see [`HELP`]). The
//! bot's messages are rendered by [`BotMessage::render`]: quick replies as `[1] Red`, buttons
//! as `(1) Help`, templates as cards. Reading stdin line by line keeps it scriptable:
//! `printf 'hi\n/quick 1\n' | pagebot simulate`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use crate::config::{BotArgs, Loaded, PageSettings, SecretFlags, Tokens};
use crate::exit;
use crate::registry::Registry;
use crate::testing::conversation::resolve_tap;
use crate::testing::{
    Action, BotMessage, Conversation, LIKE_STICKER_ID, TestApp, TestBot, TestDatabase, Transcript,
    TurnOutcome,
};

/// The chat's commands.
pub const HELP: &str = "\
commands:
  TEXT                  say TEXT
  /quick N|TITLE        tap a quick reply of the bot's last message
  /tap N|TITLE          tap a postback button of the bot's last buttons or cards
  /postback PAYLOAD     send a postback (Get Started, a menu item, a button)
  /sticker like|ID      send the thumbs-up sticker, or another sticker
  /location LAT LONG    share a location
  /image URL            send an image
  /locale TAG           choose your language (e.g. zh-TW)
  /wait TIME            let time pass (90s, 30m, 2h): a flow idle for an hour starts afresh
  /user NAME            talk as someone else
  /help                 this list
  /quit                 leave (so does end of input)";

/// Flags of `pagebot simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The policy and locales to run.
    #[command(flatten)]
    pub bot: BotArgs,
    /// Replay this transcript instead of chatting (repeatable): exit 0 when every turn
    /// matches, 1 with a diff at the first mismatch, 2 when a transcript cannot be read.
    #[arg(long, value_name = "FILE")]
    pub script: Vec<PathBuf>,
    /// Keep the conversation in this database (`sqlite://FILE` or `postgres://...`) instead
    /// of a temporary SQLite file that is removed at the end.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Who you are in the chat (the fake profile's name).
    #[arg(long, default_value = "Alex")]
    pub user: String,
    /// Talk to this Page of the config file's `[[pages]]` (its id): its policy, locales and
    /// thread settings. Default: the first Page.
    #[arg(long, value_name = "ID")]
    pub page: Option<String>,
}

/// Runs `simulate` with `registry`, the policy and locales found as `serve` finds them
/// (`config` is the settings file `--config` names, if any); returns the exit code.
pub fn run(config: Option<&std::path::Path>, args: SimulateArgs, registry: Registry) -> u8 {
    let page = match crate::config::load(config, &args.bot, SecretFlags::default())
        .map_err(|e| e.to_string())
        .and_then(|loaded| page_to_simulate(&loaded, args.page.as_deref()))
    {
        Ok(page) => page,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FINDING;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::COULD_NOT_RUN;
        }
    };
    let bot = Simulated {
        bot: TestBot {
            policy: page.policy,
            locales: page.locales,
            registry,
            default_locale: page.default_locale,
        },
        thread_settings: page.thread_settings,
    };
    if args.script.is_empty() {
        let stdin = std::io::stdin();
        let interactive = stdin.is_terminal();
        chat(&runtime, &args, bot, stdin.lock(), interactive)
    } else {
        replay(&runtime, &args, &bot)
    }
}

/// The bot a simulation runs: a Page's files.
#[derive(Clone)]
struct Simulated {
    bot: TestBot,
    /// The Page's own thread settings file (Get Started and menu payloads), if it has one.
    thread_settings: Option<PathBuf>,
}

/// The Page `--page` names among the config's Pages (the first without it; a deployment
/// without `[[pages]]` has one, from the top-level settings).
fn page_to_simulate(loaded: &Loaded, id: Option<&str>) -> Result<PageSettings, String> {
    let mut pages = loaded
        .pages(Tokens::IfAvailable)
        .map_err(|e| e.to_string())?;
    let Some(id) = id else {
        return Ok(pages.remove(0));
    };
    match pages.iter().position(|p| p.id.as_deref() == Some(id)) {
        Some(n) => Ok(pages.swap_remove(n)),
        None if pages.iter().all(|p| p.id.is_none()) => Err(format!(
            "--page {id}: the config file has no [[pages]]; the one Page needs no --page"
        )),
        None => Err(format!(
            "--page {id}: no [[pages]] entry has that id (the Pages: {})",
            pages
                .iter()
                .filter_map(|p| p.id.as_deref().map(|pid| format!("{pid} {}", p.name)))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Starts the bot on a fresh database (or the given one), as the one Page that answers
/// whatever Page id an event names.
fn start(
    runtime: &tokio::runtime::Runtime,
    database_url: Option<&str>,
    bot: Simulated,
) -> Result<Conversation, (String, u8)> {
    let database = match database_url {
        Some(url) => TestDatabase::existing(url),
        None => TestDatabase::try_sqlite().map_err(|e| {
            (
                format!("cannot create a temporary database folder: {e}"),
                exit::COULD_NOT_RUN,
            )
        })?,
    };
    let Simulated {
        bot,
        thread_settings,
    } = bot;
    let configure = |settings: &mut crate::config::Settings| {
        for page in &mut settings.pages {
            page.thread_settings.clone_from(&thread_settings);
        }
    };
    runtime
        .block_on(TestApp::spawn_with(database, bot, configure))
        .map(Conversation::new)
        .map_err(|e| (e.to_string(), exit::for_start_error(&e)))
}

/// Stops the bot inside the runtime, so that its tasks wind down before the runtime does.
fn stop(runtime: &tokio::runtime::Runtime, conversation: Conversation) {
    runtime.block_on(conversation.stop());
}

fn replay(runtime: &tokio::runtime::Runtime, args: &SimulateArgs, bot: &Simulated) -> u8 {
    let mut transcripts = Vec::new();
    let mut unreadable = false;
    for file in &args.script {
        match Transcript::load(file) {
            Ok(t) => transcripts.push(t),
            Err(e) => {
                eprintln!("{e}");
                unreadable = true;
            }
        }
    }
    if unreadable {
        return exit::FINDING;
    }
    let mut code = exit::OK;
    for transcript in &transcripts {
        let conversation = match start(runtime, args.database_url.as_deref(), bot.clone()) {
            Ok(c) => c,
            Err((e, code)) => {
                eprintln!("error: {e}");
                return code;
            }
        };
        match runtime.block_on(transcript.run(&conversation)) {
            Ok(()) => println!(
                "{}: ok ({} turns)",
                transcript.file.display(),
                transcript.turns.len()
            ),
            Err(failure) => {
                eprintln!("{failure}");
                code = exit::FINDING;
            }
        }
        stop(runtime, conversation);
    }
    code
}

fn chat(
    runtime: &tokio::runtime::Runtime,
    args: &SimulateArgs,
    bot: Simulated,
    input: impl BufRead,
    interactive: bool,
) -> u8 {
    let policy = bot.bot.policy.display().to_string();
    let conversation = match start(runtime, args.database_url.as_deref(), bot) {
        Ok(c) => c,
        Err((e, code)) => {
            eprintln!("error: {e}");
            return code;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut name = args.user.clone();
    let _ = writeln!(
        out,
        "pagebot simulate: {policy}, fake Graph API, {}. You are {name}; /help lists the commands.",
        if args.database_url.is_some() {
            "the given database"
        } else {
            "a temporary database"
        }
    );
    let mut lines = input.lines();
    loop {
        // The prompt shows the step of a flow the user is in: `Alex [order_size]> `.
        let step = runtime
            .block_on(conversation.step(&conversation.user(&name)))
            .ok()
            .flatten();
        match step {
            Some(step) => {
                let _ = write!(out, "{name} [{step}]> ");
            }
            None => {
                let _ = write!(out, "{name}> ");
            }
        }
        let _ = out.flush();
        let Some(Ok(line)) = lines.next() else {
            let _ = writeln!(out);
            break;
        };
        if !interactive {
            // Piped input is not echoed by a terminal: show it, so the output reads as a chat.
            let _ = writeln!(out, "{line}");
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let user = conversation.user(&name);
        let action = match parse_line(line) {
            Ok(Line::Quit) => break,
            Ok(Line::Help) => {
                let _ = writeln!(out, "{HELP}");
                continue;
            }
            Ok(Line::User(new)) => {
                name = new;
                continue;
            }
            Ok(Line::Wait(time)) => {
                conversation.wait(time);
                let _ = writeln!(out, "  (time passes: {time:?})");
                continue;
            }
            Ok(Line::Locale(tag)) => {
                match runtime.block_on(conversation.set_locale(&user, &tag)) {
                    Ok(()) => {
                        let _ = writeln!(out, "  (your language is now {tag})");
                    }
                    Err(e) => {
                        let _ = writeln!(out, "  ! cannot store the language: {e}");
                    }
                }
                continue;
            }
            Ok(Line::Tap { quick, choice }) => {
                let offered: Vec<BotMessage> = conversation
                    .last_messages(&user)
                    .into_iter()
                    .map(|mut m| {
                        // /quick taps only quick replies, /tap only buttons.
                        if quick {
                            m.buttons.clear();
                            m.cards.iter_mut().for_each(|c| c.buttons.clear());
                        } else {
                            m.quick_replies.clear();
                        }
                        m
                    })
                    .collect();
                match resolve_tap(user.psid(), &offered, &choice) {
                    Ok(webhook) => Action::Webhook(webhook),
                    Err(e) => {
                        let _ = writeln!(out, "  ! {e}");
                        continue;
                    }
                }
            }
            Ok(Line::Act(action)) => action,
            Err(e) => {
                let _ = writeln!(out, "  ! {e}");
                continue;
            }
        };
        match runtime.block_on(conversation.act(&user, &action)) {
            Ok(outcome) => {
                let _ = write!(out, "{}", render_outcome(&outcome));
            }
            Err(e) => {
                let _ = writeln!(out, "  ! {e}");
            }
        }
    }
    drop(out);
    stop(runtime, conversation);
    exit::OK
}

/// One line of the chat, understood.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Act(Action),
    Tap { quick: bool, choice: String },
    Locale(String),
    User(String),
    Wait(std::time::Duration),
    Help,
    Quit,
}

fn parse_line(line: &str) -> Result<Line, String> {
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Line::Act(Action::Says(line.to_owned())));
    };
    let (name, rest) = command
        .split_once(char::is_whitespace)
        .map_or((command, ""), |(n, r)| (n, r.trim()));
    let need = |what: &str| -> Result<String, String> {
        if rest.is_empty() {
            Err(format!("/{name} needs {what}"))
        } else {
            Ok(rest.to_owned())
        }
    };
    match name {
        "help" | "?" => Ok(Line::Help),
        "quit" | "exit" | "q" => Ok(Line::Quit),
        "postback" => Ok(Line::Act(Action::Postback(need("a payload")?))),
        "quick" => Ok(Line::Tap {
            quick: true,
            choice: need("a number or a title")?,
        }),
        "tap" => Ok(Line::Tap {
            quick: false,
            choice: need("a number or a title")?,
        }),
        "sticker" => match rest {
            "" | "like" => Ok(Line::Act(Action::Sticker(LIKE_STICKER_ID))),
            id => id
                .parse()
                .map(|id| Line::Act(Action::Sticker(id)))
                .map_err(|_| format!("/sticker takes `like` or a sticker id, not {id:?}")),
        },
        "location" => {
            let numbers: Vec<f64> = rest
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| format!("/location takes two numbers, LAT LONG, not {rest:?}"))?;
            match numbers[..] {
                [lat, long]
                    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long) =>
                {
                    Ok(Line::Act(Action::Location { lat, long }))
                }
                _ => Err(format!(
                    "/location takes a latitude (-90 to 90) and a longitude (-180 to 180), not {rest:?}"
                )),
            }
        }
        "image" => Ok(Line::Act(Action::Attachment {
            kind: "image".into(),
            url: need("a URL")?,
        })),
        "locale" => Ok(Line::Locale(need("a language tag, e.g. zh-TW")?)),
        "user" => Ok(Line::User(need("a name")?)),
        "wait" => {
            crate::testing::transcript::parse_duration(&need("a time, e.g. 2h")?).map(Line::Wait)
        }
        other => Err(format!("unknown command /{other}; /help lists them")),
    }
}

/// The bot's messages of one turn, each line prefixed, plus any problem worth knowing.
pub fn render_outcome(outcome: &TurnOutcome) -> String {
    let mut text = String::new();
    let replies = outcome.replies();
    if replies.is_empty() && outcome.failures.is_empty() && outcome.rejected.is_empty() {
        text.push_str("  (no reply)\n");
    }
    for message in replies {
        let rendered = message.render();
        for (i, line) in rendered.lines().enumerate() {
            let prefix = if i == 0 { "  bot: " } else { "       " };
            text.push_str(prefix);
            text.push_str(line.strip_prefix("  ").unwrap_or(line));
            text.push('\n');
        }
    }
    for (_, reason) in &outcome.rejected {
        text.push_str(&format!("  ! the fake Graph refused a message: {reason}\n"));
    }
    for failure in &outcome.failures {
        text.push_str(&format!("  ! {failure}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_become_actions_and_commands() {
        assert_eq!(
            parse_line("hi there"),
            Ok(Line::Act(Action::Says("hi there".into())))
        );
        assert_eq!(
            parse_line("/postback GET_STARTED"),
            Ok(Line::Act(Action::Postback("GET_STARTED".into())))
        );
        assert_eq!(
            parse_line("/quick 2"),
            Ok(Line::Tap {
                quick: true,
                choice: "2".into()
            })
        );
        assert_eq!(
            parse_line("/sticker like"),
            Ok(Line::Act(Action::Sticker(LIKE_STICKER_ID)))
        );
        assert_eq!(
            parse_line("/location 25.03, 121.56"),
            Ok(Line::Act(Action::Location {
                lat: 25.03,
                long: 121.56
            }))
        );
        assert_eq!(
            parse_line("/locale zh-TW"),
            Ok(Line::Locale("zh-TW".into()))
        );
        assert_eq!(
            parse_line("/user Bob Lee"),
            Ok(Line::User("Bob Lee".into()))
        );
        assert_eq!(parse_line("/quit"), Ok(Line::Quit));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        assert_eq!(
            parse_line("/postback"),
            Err("/postback needs a payload".into())
        );
        assert!(
            parse_line("/location 100 0")
                .unwrap_err()
                .contains("latitude")
        );
        assert!(
            parse_line("/location north")
                .unwrap_err()
                .contains("two numbers")
        );
        assert!(
            parse_line("/sticker heart")
                .unwrap_err()
                .contains("sticker id")
        );
        assert_eq!(
            parse_line("/dance"),
            Err("unknown command /dance; /help lists them".into())
        );
    }

    #[test]
    fn an_outcome_renders_each_message_under_a_bot_prefix() {
        let body = |message| json!({"recipient": {"id": "1"}, "message": message});
        let outcome = TurnOutcome {
            messages: vec![
                BotMessage::from_body(
                    &json!({"recipient": {"id": "1"}, "sender_action": "typing_on"}),
                ),
                BotMessage::from_body(&body(json!({"text": "Pick", "quick_replies": [
                    {"content_type": "text", "title": "Red", "payload": "R"}]}))),
            ],
            failures: vec!["event 3 (SIMPLE_TEXT) is failed: boom".into()],
            rejected: vec![],
        };
        assert_eq!(
            render_outcome(&outcome),
            "  bot: Pick\n       quick replies: [1] Red\n  ! event 3 (SIMPLE_TEXT) is failed: boom\n"
        );
        let silent = TurnOutcome {
            messages: vec![],
            failures: vec![],
            rejected: vec![],
        };
        assert_eq!(render_outcome(&silent), "  (no reply)\n");
    }
}
