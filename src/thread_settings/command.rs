//! The `pagebot thread-settings` command line: `show`, `plan`, `apply`, `delete`.
//!
//! Exit codes, as everywhere ([`crate::exit`]): 0 done (or, for `plan`, in sync); 1 a finding
//! or a refusal (drift found by `plan`, so CI can alert; a policy or limit problem, a missing
//! token, a call Facebook refused, a refused confirmation); 2 could not run (the Graph API
//! could not be reached, answered 5xx or rate-limited the call).
//! Every limit is checked before the first call; a Graph error is printed with its code,
//! subcode, message and `fbtrace_id`, never with the token.
//!
//! With `[[pages]]` in pagebot.toml, `--page ID` or `--all-pages` ([`PageArgs`]) chooses the
//! Pages; each is acted on with its own token under a heading, and the exit code is the worst
//! of theirs.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::desired::desired_profile;
use super::diff::diff;
use super::{Call, Field, Profile, render};
use crate::config::{BotArgs, BotFiles, GraphArgs, Layered, Loaded, PageEntry, SecretFlags};
use crate::graph::{DEFAULT_TIMEOUT, GraphClient, GraphError, GraphSettings};
use crate::i18n::Locales;
use crate::policy::{Policy, PolicyDocument};
use crate::registry::Registry;
use crate::startup::{StartError, load_bot};
use serde::Serialize;

/// Exit code: done, or in sync.
pub const EXIT_OK: u8 = crate::exit::OK;
/// Exit code: a refusal (of the policy, of a limit, of a call by Facebook, of the user).
pub const EXIT_ERROR: u8 = crate::exit::FINDING;
/// Exit code of `plan`: the Page's profile differs from routing.yaml (a finding).
pub const EXIT_DRIFT: u8 = crate::exit::FINDING;
/// Exit code: the Graph API could not be reached, or answered that it cannot serve now.
pub const EXIT_COULD_NOT_RUN: u8 = crate::exit::COULD_NOT_RUN;

/// `pagebot thread-settings`: the Page's Messenger Profile (Get Started, greeting, persistent
/// menu, ice breakers, whitelisted domains), managed from routing.yaml's `thread_settings:`.
#[derive(Debug, clap::Subcommand)]
#[non_exhaustive]
pub enum ThreadSettingsCommand {
    /// Print the Page's live profile.
    Show {
        /// Graph API access.
        #[command(flatten)]
        graph: GraphArgs,
        /// Which of pagebot.toml's Pages.
        #[command(flatten)]
        pages: PageArgs,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show how the live profile differs from routing.yaml: exit 0 in sync, 1 drift or a
    /// refusal, 2 when the Graph API could not be reached.
    Plan {
        /// The policy and locales.
        #[command(flatten)]
        bot: BotArgs,
        /// Graph API access.
        #[command(flatten)]
        graph: GraphArgs,
        /// Which of pagebot.toml's Pages.
        #[command(flatten)]
        pages: PageArgs,
    },
    /// Push what differs (deleting what routing.yaml no longer has), then read it back.
    Apply {
        /// The policy and locales.
        #[command(flatten)]
        bot: BotArgs,
        /// Graph API access.
        #[command(flatten)]
        graph: GraphArgs,
        /// Which of pagebot.toml's Pages.
        #[command(flatten)]
        pages: PageArgs,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Delete properties from the live profile (every managed one when none is named).
    Delete {
        /// Graph API access.
        #[command(flatten)]
        graph: GraphArgs,
        /// Which of pagebot.toml's Pages.
        #[command(flatten)]
        pages: PageArgs,
        /// whitelisted_domains, get_started, greeting, persistent_menu or ice_breakers.
        #[arg(value_name = "FIELD")]
        fields: Vec<Field>,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

/// Which Pages of pagebot.toml's `[[pages]]` a command acts on. Without `[[pages]]` there is
/// one Page, the one of `PAGEBOT_PAGE_TOKEN`; with a single entry, that one; with several,
/// one of these flags must say.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PageArgs {
    /// The Page of pagebot.toml's [[pages]] with this id (or name); repeat it for several.
    #[arg(long = "page", value_name = "ID", conflicts_with = "all_pages")]
    pub page: Vec<String>,
    /// Every Page of pagebot.toml's [[pages]], one after the other (the exit code is the
    /// worst of theirs).
    #[arg(long)]
    pub all_pages: bool,
}

/// The flags of one command, as a layer over the file and the environment.
#[derive(Serialize)]
struct Flags<'a> {
    #[serde(flatten)]
    bot: &'a BotArgs,
    #[serde(flatten)]
    graph: &'a GraphArgs,
}

/// Runs one `thread-settings` command, printing to stdout (results) and stderr (errors, the
/// prompt), and returns the exit code. `registry` is the one the policy is compiled with;
/// `config` the settings file named by `--config`, if any.
///
/// With `[[pages]]`, the command runs for each Page chosen ([`PageArgs`]) with that Page's
/// token, policy and locales (or its `thread_settings` file), under a heading naming it; one
/// Page's failure does not stop the next, and the exit code is the worst of theirs.
pub async fn run(
    config: Option<&std::path::Path>,
    command: ThreadSettingsCommand,
    registry: &Registry,
) -> u8 {
    let no_bot = BotArgs::default();
    let (bot, graph, pages) = match &command {
        ThreadSettingsCommand::Show { graph, pages, .. }
        | ThreadSettingsCommand::Delete { graph, pages, .. } => (&no_bot, graph, pages),
        ThreadSettingsCommand::Plan { bot, graph, pages }
        | ThreadSettingsCommand::Apply {
            bot, graph, pages, ..
        } => (bot, graph, pages),
    };
    let secrets = SecretFlags {
        page_token: graph.page_token.clone(),
        app_secret: graph.app_secret.clone(),
        ..SecretFlags::default()
    };
    let loaded = match crate::config::load(config, &Flags { bot, graph }, secrets) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    let targets = match targets(&loaded, pages) {
        Ok(targets) => targets,
        Err(Failure { message, code }) => {
            eprintln!("{message}");
            return code;
        }
    };
    let mut worst = EXIT_OK;
    for (i, target) in targets.iter().enumerate() {
        if let Some(heading) = &target.heading {
            if i > 0 {
                println!();
            }
            println!("== {heading} ==");
        }
        let result = match &command {
            ThreadSettingsCommand::Show { json, .. } => show(&loaded, target, *json).await,
            ThreadSettingsCommand::Plan { .. } => sync(registry, &loaded, target, None).await,
            ThreadSettingsCommand::Apply { yes, .. } => {
                sync(registry, &loaded, target, Some(*yes)).await
            }
            ThreadSettingsCommand::Delete { fields, yes, .. } => {
                delete(&loaded, target, fields.clone(), *yes).await
            }
        };
        let code = match result {
            Ok(code) => code,
            Err(Failure { message, code }) => {
                if let Some(heading) = &target.heading {
                    eprintln!("{heading}:");
                }
                eprintln!("{message}");
                code
            }
        };
        // 2 (could not run) is worse than 1 (a finding), which is worse than 0.
        worst = worst.max(code);
    }
    worst
}

/// One Page a command acts on.
struct Target {
    /// `page 123 (Shop)`, with `[[pages]]`; `None` for the one Page without them (whose output
    /// is as it always was).
    heading: Option<String>,
    /// Its token, or why it cannot be had.
    token: Result<SecretString, String>,
    /// Its policy and locales.
    files: BotFiles,
    /// Its `thread_settings` file, used instead of the policy's section.
    thread_settings: Option<PathBuf>,
}

/// The Pages `pages` chooses.
fn targets(loaded: &Loaded, pages: &PageArgs) -> Result<Vec<Target>, Failure> {
    let entries = loaded.page_entries();
    if entries.is_empty() {
        if !pages.page.is_empty() {
            return Err(Failure::new(
                "error: --page chooses among the [[pages]] of pagebot.toml, and it has none: \
                 without them the Page is the one of PAGEBOT_PAGE_TOKEN (leave --page out)",
            ));
        }
        return Ok(vec![Target {
            heading: None,
            token: loaded.values.page_token.clone().ok_or_else(|| {
                "error: missing setting: set PAGEBOT_PAGE_TOKEN (or --page-token) to the Page \
                 access token"
                    .to_owned()
            }),
            files: loaded.bot(),
            thread_settings: None,
        }]);
    }
    let listing = || {
        entries
            .iter()
            .map(|e| format!("\n  {} (at {})", e.label(), e.at))
            .collect::<String>()
    };
    let chosen: Vec<&PageEntry> = if pages.all_pages || entries.len() == 1 {
        entries.iter().collect()
    } else if pages.page.is_empty() {
        return Err(Failure::new(format!(
            "error: the settings list {} Pages: choose one with --page ID (repeat it for \
             several), or take every one with --all-pages:{}",
            entries.len(),
            listing()
        )));
    } else {
        let mut chosen: Vec<&PageEntry> = Vec::new();
        for wanted in &pages.page {
            let by_id = entries.iter().find(|e| e.id == *wanted);
            let by_name: Vec<&PageEntry> = entries
                .iter()
                .filter(|e| e.name.as_deref() == Some(wanted.as_str()))
                .collect();
            let entry: &PageEntry = match (by_id, by_name.as_slice()) {
                (Some(entry), _) => entry,
                (None, [entry]) => entry,
                (None, []) => {
                    return Err(Failure::new(format!(
                        "error: --page {wanted}: no such Page in the settings; they list:{}",
                        listing()
                    )));
                }
                (None, _) => {
                    return Err(Failure::new(format!(
                        "error: --page {wanted}: several Pages have this name; choose by id:{}",
                        listing()
                    )));
                }
            };
            if !chosen.iter().any(|c| c.id == entry.id) {
                chosen.push(entry);
            }
        }
        chosen
    };
    Ok(chosen
        .into_iter()
        .map(|entry| {
            let page = loaded.page(entry, None);
            Target {
                heading: Some(entry.label()),
                token: loaded.page_token(entry).map_err(|e| format!("error: {e}")),
                files: BotFiles {
                    policy: page.policy,
                    locales: page.locales,
                    default_locale: page.default_locale,
                },
                thread_settings: page.thread_settings,
            }
        })
        .collect())
}

/// Why a command stopped: the text to print on stderr, and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// A refusal: exit 1.
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_ERROR,
        }
    }

    /// A failed Graph call: exit 2 when it may succeed later (unreachable, 5xx, rate limit),
    /// 1 when Facebook refused it.
    fn graph(what: &str, error: &GraphError) -> Self {
        Self {
            message: graph_failure(what, error),
            code: if error.is_retryable() {
                EXIT_COULD_NOT_RUN
            } else {
                EXIT_ERROR
            },
        }
    }
}

async fn show(loaded: &Loaded, target: &Target, json: bool) -> Result<u8, Failure> {
    let client = client(&loaded.values, target)?;
    let live = fetch(&client).await?;
    if json {
        let text = serde_json::to_string_pretty(&live.to_json())
            .map_err(|e| Failure::new(format!("error: cannot print the profile: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render::profile(&live));
    }
    Ok(EXIT_OK)
}

/// `plan` (`apply` is `None`) or `apply` (`Some(yes)`).
async fn sync(
    registry: &Registry,
    loaded: &Loaded,
    target: &Target,
    apply: Option<bool>,
) -> Result<u8, Failure> {
    let (file, desired) = match &target.thread_settings {
        Some(file) => (file.display().to_string(), from_file(file, &target.files)?),
        None => {
            let (policy, desired) = desired(registry, &target.files)?;
            (policy.file().display().to_string(), desired)
        }
    };
    let client = client(&loaded.values, target)?;
    let live = fetch(&client).await?;
    let changes = diff(&desired, &live);
    if changes.is_empty() {
        println!("in sync: the Page's profile matches {file}");
        return Ok(EXIT_OK);
    }
    let calls = changes.calls();
    print!("{}", render::diff(&changes));
    println!(
        "{} of {} fields differ from {file}; apply makes {} call{}:",
        changes.changes.len(),
        Field::ALL.len(),
        calls.len(),
        if calls.len() == 1 { "" } else { "s" }
    );
    print!("{}", render::calls(&calls));
    let Some(yes) = apply else {
        return Ok(EXIT_DRIFT);
    };
    confirm(
        yes,
        &format!(
            "change the Page's profile with these {} calls?",
            calls.len()
        ),
    )?;
    execute(&client, &calls).await?;
    let after = fetch(&client).await?;
    let left = diff(&desired, &after);
    if left.is_empty() {
        println!("the Page's profile now matches {file}");
        Ok(EXIT_OK)
    } else {
        print!("{}", render::diff(&left));
        Err(Failure::new(format!(
            "error: the Page's profile still differs from {file} after apply (above); Graph \
             accepted the calls but kept other values"
        )))
    }
}

async fn delete(
    loaded: &Loaded,
    target: &Target,
    fields: Vec<Field>,
    yes: bool,
) -> Result<u8, Failure> {
    let mut fields = if fields.is_empty() {
        Field::ALL.to_vec()
    } else {
        fields
    };
    fields.sort();
    fields.dedup();
    let client = client(&loaded.values, target)?;
    let calls = [Call::Delete(fields)];
    print!("{}", render::calls(&calls));
    confirm(yes, "delete these properties from the Page's profile?")?;
    execute(&client, &calls).await?;
    Ok(EXIT_OK)
}

/// Loads the policy and locales the way `serve` does, then builds the desired profile.
fn desired(
    registry: &Registry,
    bot: &BotFiles,
) -> Result<(std::sync::Arc<Policy>, Profile), Failure> {
    let (locales, policy) = load_bot(registry, &bot.policy, &bot.locales, &bot.default_locale)
        .map_err(|e| match e {
            e @ (StartError::Policy(_) | StartError::Locales(_)) => Failure::new(e.to_string()),
            e => Failure::new(format!("error: {e}")),
        })?;
    let profile = build(&policy, &locales)?;
    Ok((policy, profile))
}

fn build(policy: &Policy, locales: &Locales) -> Result<Profile, Failure> {
    build_from(policy.document(), locales)
}

fn build_from(document: &PolicyDocument, locales: &Locales) -> Result<Profile, Failure> {
    desired_profile(document, locales).map_err(|errors| {
        Failure::new(format!(
            "{errors}\n{}: the thread settings break Messenger's limits; nothing was sent",
            document.file.display()
        ))
    })
}

/// The profile a Page's `thread_settings` file asks for, its texts from the Page's locales.
fn from_file(file: &Path, bot: &BotFiles) -> Result<Profile, Failure> {
    let locales = Locales::load(&bot.locales, &bot.default_locale)
        .map_err(|e| Failure::new(StartError::from(e).to_string()))?;
    let document = PolicyDocument::load_thread_settings(file)
        .map_err(|errors| Failure::new(errors.to_string()))?;
    build_from(&document, &locales)
}

fn client(graph: &Layered, target: &Target) -> Result<GraphClient, Failure> {
    let token = target.token.as_ref().map_err(Failure::new)?;
    GraphClient::new(GraphSettings {
        base_url: graph.graph_url.clone(),
        version: graph.graph_version.clone(),
        page_token: Some(token.clone()),
        app_secret: graph.app_secret.clone(),
        timeout: DEFAULT_TIMEOUT,
    })
    .map_err(|e| Failure::new(format!("error: {e}")))
}

async fn fetch(client: &GraphClient) -> Result<Profile, Failure> {
    let live = client
        .get_messenger_profile(&Field::names())
        .await
        .map_err(|e| Failure::graph("reading the Page's profile", &e))?;
    Ok(Profile::from_graph(&live))
}

/// Makes the calls in order; stops at the first failure, saying how far it got.
async fn execute(client: &GraphClient, calls: &[Call]) -> Result<(), Failure> {
    for (i, call) in calls.iter().enumerate() {
        let names: Vec<&str> = call.fields().into_iter().map(Field::as_str).collect();
        let (what, result) = match call {
            Call::Delete(_) => (
                format!("DELETE {}", names.join(", ")),
                client.delete_messenger_profile(&names).await,
            ),
            Call::Set(_) => (
                format!("POST {}", names.join(", ")),
                client.set_messenger_profile(&call.body()).await,
            ),
        };
        match result {
            Ok(()) => println!("done: {what}"),
            Err(e) => {
                let mut failure = Failure::graph(&what, &e);
                if i > 0 {
                    failure.message.push_str(&format!(
                        "\n{i} of {} calls were made before this one; run `pagebot \
                         thread-settings plan` to see what is left",
                        calls.len()
                    ));
                }
                return Err(failure);
            }
        }
    }
    Ok(())
}

/// Asks before changing the Page, unless `yes`; refuses when nobody can answer.
fn confirm(yes: bool, question: &str) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::new(
            "error: refusing to change the Page's profile without confirmation: stdin is not a \
             terminal (pass --yes)",
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(format!("error: cannot read the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Failure::new("cancelled: nothing was changed"))
    }
}

/// A failed Graph call, with everything Meta's support asks for. The client already removed
/// the token from every text that came back.
fn graph_failure(what: &str, error: &GraphError) -> String {
    let mut text = match error {
        GraphError::Api {
            status,
            code,
            subcode,
            message,
            fbtrace_id,
            ..
        } => format!(
            "error: {what} failed: graph error (http {status})\n  code: {code}\n  subcode: {}\n  \
             message: {message}\n  fbtrace_id: {}",
            subcode.map_or_else(|| "none".to_owned(), |s| s.to_string()),
            fbtrace_id.as_deref().unwrap_or("none"),
        ),
        other => format!("error: {what} failed: {other}"),
    };
    if error.is_rate_limit() {
        text.push_str(
            "\nthe Messenger Profile API allows 10 calls per 10 minutes per Page: wait, then run \
             the command again",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_failures_show_code_subcode_message_and_trace() {
        let e = GraphError::Api {
            status: 400,
            code: 100,
            subcode: Some(2018001),
            kind: None,
            message: "(#100) Invalid parameter".into(),
            fbtrace_id: Some("AbC123".into()),
        };
        assert_eq!(
            graph_failure("POST greeting", &e),
            "error: POST greeting failed: graph error (http 400)\n  code: 100\n  subcode: \
             2018001\n  message: (#100) Invalid parameter\n  fbtrace_id: AbC123"
        );
        let limited = GraphError::Api {
            status: 400,
            code: 613,
            subcode: None,
            kind: None,
            message: "(#613) Calls to this api have exceeded the rate limit.".into(),
            fbtrace_id: None,
        };
        let text = graph_failure("POST greeting", &limited);
        assert!(
            text.contains("subcode: none") && text.contains("fbtrace_id: none"),
            "{text}"
        );
        assert!(text.contains("10 calls per 10 minutes"), "{text}");
    }
}
