//! The Pages one deployment serves: `[[pages]]` in `pagebot.toml`, or, without that section,
//! one Page from the top-level settings (`PAGEBOT_PAGE_TOKEN`, `policy`, `locales`), which
//! answers for every Page id as a single-Page deployment always did.
//!
//! ```toml
//! [[pages]]
//! id = 104857600000001             # the Page's id (a number or a string)
//! name = "Shop"                    # optional: for logs, metrics and headings
//! token_env = "PAGEBOT_TOKEN_SHOP" # the variable holding its token, or:
//! # token_file = "secrets/shop.token"  # a file holding it (relative to this file's folder)
//! policy = "shop/routing.yaml"     # optional, like locales and default_locale: else the
//!                                  # top-level setting
//! thread_settings = "shop/profile.yaml"  # optional: a `thread_settings:` section used
//!                                        # instead of the policy's own
//! ```
//!
//! figment keeps no lines, so the section is read from the file a second time with `toml`'s
//! spans ([`parse`]) and every mistake is named by file and line. A token is never written in
//! the file: only where to find it, read by [`Loaded::page_token`](super::Loaded::page_token),
//! whose errors ([`TokenError`]) never hold its value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use toml::Spanned;

use super::table::PAGE_KEYS;

/// One Page, resolved: its token read, its files defaulted to the top-level ones.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// The Page's id (`entry[].id` of its webhooks). `None` only for the one Page of a
    /// deployment without `[[pages]]`: it answers for every Page id.
    pub id: Option<String>,
    /// A display name for logs, metrics and the admin (the id when none is given).
    pub name: String,
    /// The Page access token; `None` only in dev mode (replies are then logged, not sent).
    pub token: Option<SecretString>,
    /// Its routing policy file.
    pub policy: PathBuf,
    /// Its locales folder.
    pub locales: PathBuf,
    /// Its default locale.
    pub default_locale: String,
    /// A YAML file with a `thread_settings:` section used instead of the policy's own.
    pub thread_settings: Option<PathBuf>,
}

impl PageSettings {
    /// The Page's id as stored with its users' rows: `""` for the catch-all Page.
    pub fn key(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }
}

/// A line of the config file: `pagebot.toml:7`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The config file, as it was named.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Where a Page's token is: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `token_env`: the name of an environment variable holding the token.
    Env(String),
    /// `token_file`: a file holding it (surrounding whitespace trimmed), resolved against the
    /// config file's folder.
    File(PathBuf),
}

/// One `[[pages]]` entry as written, checked but not resolved: its token not read, its files
/// not defaulted (see [`Loaded::page`](super::Loaded::page)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageEntry {
    /// The Page's id (a TOML integer is read as its digits).
    pub id: String,
    /// `name`, if given.
    pub name: Option<String>,
    /// `token_env` or `token_file`.
    pub token: TokenSource,
    /// `policy`, if given.
    pub policy: Option<PathBuf>,
    /// `locales`, if given.
    pub locales: Option<PathBuf>,
    /// `default_locale`, if given.
    pub default_locale: Option<String>,
    /// `thread_settings`, if given.
    pub thread_settings: Option<PathBuf>,
    /// Where the entry starts (its `[[pages]]` line).
    pub at: Place,
    /// The line of each key the entry sets.
    lines: BTreeMap<&'static str, usize>,
}

impl PageEntry {
    /// `page 123 (Shop)`, or `page 123` without a name: how output is headed.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("page {} ({name})", self.id),
            None => format!("page {}", self.id),
        }
    }

    /// Where `key` is set in the entry, else where the entry starts.
    pub fn place_of(&self, key: &str) -> Place {
        Place {
            file: self.at.file.clone(),
            line: self.lines.get(key).copied().unwrap_or(self.at.line),
        }
    }

    /// Whether the entry sets `key` itself (else it takes the top-level setting).
    pub fn sets(&self, key: &str) -> bool {
        self.lines.contains_key(key)
    }
}

/// An entry as the TOML reader gives it: every key and value with its span.
type RawEntry = Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>;

/// The file, `pages` only (figment reads the rest).
#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    pages: Vec<RawEntry>,
}

/// The `[[pages]]` entries of `text`, the contents of the config file `file`, in file order;
/// or every problem, one line each, each starting with `file:line:`.
pub fn parse(file: &Path, text: &str) -> Result<Vec<PageEntry>, Vec<String>> {
    let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let place = |offset: usize| Place {
        file: file.to_owned(),
        line: line(offset),
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(1, |span| line(span.start));
        vec![format!(
            "{}:{at}: pages: {} (write each Page as a [[pages]] table)",
            file.display(),
            e.message()
        )]
    })?;
    let folder = file.parent().unwrap_or(Path::new(""));
    let mut errors = Problems::new();
    let mut entries: Vec<PageEntry> = Vec::new();
    for raw in raw.pages {
        let at = place(raw.span().start);
        let Some(entry) = entry(raw.into_inner(), at, folder, &place, &mut errors) else {
            continue;
        };
        if let Some(first) = entries.iter().find(|e| e.id == entry.id) {
            let here = entry.place_of("id");
            errors.push((
                here.line,
                format!(
                    "{here}: page {} is listed twice: first at {}",
                    entry.id,
                    first.place_of("id")
                ),
            ));
            continue;
        }
        entries.push(entry);
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        // Within an entry the keys come sorted by name: put the problems in file order.
        errors.sort_by_key(|(line, _)| *line);
        Err(errors.into_iter().map(|(_, message)| message).collect())
    }
}

/// The problems found so far, each with its line (to sort them) and its text.
type Problems = Vec<(usize, String)>;

fn say(problems: &mut Problems, at: &Place, message: impl fmt::Display) {
    problems.push((at.line, format!("{at}: {message}")));
}

/// Reads one entry; `None` (with its problems said) when it cannot be used.
fn entry(
    raw: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    at: Place,
    folder: &Path,
    place: &dyn Fn(usize) -> Place,
    problems: &mut Problems,
) -> Option<PageEntry> {
    let before = problems.len();
    let mut lines = BTreeMap::new();
    // The id first: the other messages name the Page by it.
    let id = raw
        .iter()
        .find(|(k, _)| k.get_ref() == "id")
        .and_then(|(key, value)| {
            let here = place(key.span().start);
            lines.insert("id", here.line);
            let id = match value.get_ref() {
                toml::Value::String(s) if !s.is_empty() && !s.contains(char::is_whitespace) => {
                    Some(s.clone())
                }
                toml::Value::Integer(n) if *n > 0 => Some(n.to_string()),
                _ => None,
            };
            if id.is_none() {
                say(
                    problems,
                    &here,
                    "id must be the Page's id, a number or a string of one word (as its \
                     webhooks' entry[].id gives it)",
                );
            }
            id
        });
    let who = id
        .as_ref()
        .map_or_else(|| "a [[pages]] entry".to_owned(), |id| format!("page {id}"));
    let mut strings: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut wrote_token = false;
    for (key, value) in &raw {
        let here = place(key.span().start);
        let key = key.get_ref().as_str();
        if key == "id" {
            continue;
        }
        if matches!(key, "token" | "page_token" | "access_token") {
            wrote_token = true;
            say(
                problems,
                &here,
                format!(
                    "{who}: a token is never written in pagebot.toml: name the environment \
                     variable holding it with token_env, or a file holding it with token_file"
                ),
            );
            continue;
        }
        let Some(known) = PAGE_KEYS.iter().find(|k| k.key == key) else {
            let known: Vec<&str> = PAGE_KEYS.iter().map(|k| k.key).collect();
            say(
                problems,
                &here,
                format!(
                    "unknown key \"{key}\" in {who}'s [[pages]] entry (known: {})",
                    known.join(", ")
                ),
            );
            continue;
        };
        lines.insert(known.key, here.line);
        match value.get_ref() {
            toml::Value::String(s) if !s.trim().is_empty() => {
                strings.insert(known.key, s.clone());
            }
            toml::Value::String(_) => say(problems, &here, format!("{who}'s {key} is empty")),
            other => say(
                problems,
                &here,
                format!("{who}'s {key} must be a string, not {}", other.type_str()),
            ),
        }
    }
    let Some(id) = id else {
        if !lines.contains_key("id") {
            say(
                problems,
                &at,
                "a [[pages]] entry needs an id: the Page's id, as its webhooks' entry[].id \
                 gives it",
            );
        }
        return None;
    };
    let mut take = |key: &str| strings.remove(key);
    let token = match (take("token_env"), take("token_file")) {
        (Some(var), None) => Some(TokenSource::Env(var)),
        (None, Some(path)) => Some(TokenSource::File(folder.join(path))),
        (Some(_), Some(_)) => {
            say(
                problems,
                &at,
                format!("page {id} has both token_env and token_file: keep one"),
            );
            None
        }
        // The one given is not a usable string, or the token itself is written: said above.
        (None, None)
            if wrote_token
                || lines.contains_key("token_env")
                || lines.contains_key("token_file") =>
        {
            None
        }
        (None, None) => {
            say(
                problems,
                &at,
                format!(
                    "page {id} has no token: name the environment variable holding it with \
                     token_env, or a file holding it with token_file"
                ),
            );
            None
        }
    };
    if problems.len() > before {
        return None;
    }
    Some(PageEntry {
        id,
        name: take("name"),
        token: token?,
        policy: take("policy").map(PathBuf::from),
        locales: take("locales").map(PathBuf::from),
        default_locale: take("default_locale"),
        thread_settings: take("thread_settings").map(PathBuf::from),
        at,
        lines,
    })
}

/// The environment variables that the entries' `token_env` name, as the settings were loaded
/// with them (`Err(())`: set, but not valid UTF-8).
pub(crate) type TokenVars = BTreeMap<String, Result<SecretString, ()>>;

/// Why a Page's token cannot be read: where it is named and what is wrong, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct TokenError {
    /// The line of `token_env` or `token_file`.
    pub at: Place,
    /// `page 123's token_env PAGEBOT_TOKEN_SHOP is not set`.
    pub message: String,
}

impl From<TokenError> for super::ConfigError {
    fn from(e: TokenError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// Reads `entry`'s token from its variable (as set) or its file (trimmed).
pub(crate) fn read_token(entry: &PageEntry, vars: &TokenVars) -> Result<SecretString, TokenError> {
    use secrecy::ExposeSecret;
    let id = &entry.id;
    let (at, problem) = match &entry.token {
        TokenSource::Env(var) => {
            let problem = match vars.get(var) {
                None => "is not set",
                Some(Err(())) => "is not valid UTF-8",
                Some(Ok(token)) if token.expose_secret().trim().is_empty() => "is empty",
                Some(Ok(token)) => return Ok(token.clone()),
            };
            (
                entry.place_of("token_env"),
                format!("page {id}'s token_env {var} {problem}"),
            )
        }
        TokenSource::File(path) => {
            let problem = match std::fs::read(path) {
                Err(e) => format!("cannot be read: {e}"),
                Ok(bytes) => match String::from_utf8(bytes) {
                    Err(_) => "is not UTF-8 text".to_owned(),
                    Ok(text) if text.trim().is_empty() => "is empty".to_owned(),
                    Ok(text) => return Ok(SecretString::from(text.trim().to_owned())),
                },
            };
            (
                entry.place_of("token_file"),
                format!("page {id}'s token_file {} {problem}", path.display()),
            )
        }
    };
    Err(TokenError {
        at,
        message: problem,
    })
}
