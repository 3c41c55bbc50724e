//! routing.yaml as data: parsed, located and structurally valid, but not yet compiled.
//!
//! [`PolicyDocument::parse`] turns the YAML text into chains of [`LinkSpec`]s and the
//! [`ThreadSettingsSpec`], remembering the line of everything a later check may need to point
//! at. It checks everything that can be checked without knowing which handlers and senders
//! exist: the shape of the file, route names, empty chains, and the Messenger Profile limits of
//! the thread settings (MESSENGER.md section 7). Whether a handler or sender name is known, and
//! whether its `args` suit it, is the compiler's business (see [`PolicyDocument::check_names`]).
//!
//! The format:
//!
//! ```yaml
//! default:                     # optional: a chain run first for every event
//!   - handler: user_profile
//! routes:                      # optional: ReceivingType name -> chain
//!   SIMPLE_TEXT:
//!     - handler: simple_text
//!       args: { regex: "^(hi|hello)\\b" }   # any mapping, handed to the handler
//!       stop: true                          # later links do not run once this one handled
//!       senders:                            # each: one key, the sender kind, and its args
//!         - text: { message: hello }
//!     - handler: simple_text
//!       fallback: true                      # runs only if no earlier link handled
//!       senders:
//!         - text: { message: did-not-understand }
//! steps:                       # optional: the steps of multi-step flows (conversations)
//!   ask_email:
//!     ask:                     # sent when a link moves the user to the step
//!       - text: { message: what-is-your-email }
//!     reask:                   # sent when what they answer does not validate (default: ask)
//!       - text: { message: that-is-not-an-email }
//! thread_settings:             # optional; texts are Fluent message ids
//!   get_started: { payload: GET_STARTED }
//!   greeting: greeting-text
//!   persistent_menu:           # at most 20; items 1..5 are PERSISTENT_MENU_ONE..FIVE
//!     - { type: postback, title: menu-help, payload: HELP }
//!     - { type: web_url, title: menu-site, url: "https://example.com" }
//!   ice_breakers:              # at most 4
//!     - { question: ask-hours, payload: HOURS }
//!   whitelisted_domains: ["https://example.com"]   # at most 50, https only
//! ```
//!
//! A link may also take part in a flow: `when: { step: ask_email }` (or a list of steps) runs
//! it only while the user is at that step, `global: true` at any step; `remember: email` (or
//! `{ name, from, validate, regex }`) keeps what the user said or picked, `forget: [names]`
//! drops values, and `then: { step: confirm }` or `then: end` moves the conversation. Every step
//! a link names must be declared under `steps:`.
//!
//! Unknown keys, duplicate keys and more than one YAML document are errors. `stop` and
//! `fallback` take only `true` or `false`; in `args`, YAML 1.1 words and numbers with leading
//! zeros or underscores stay strings (`{ answer: no, code: 007 }` gives `"no"` and `"007"`).
//! A budget refuses alias bombs and absurdly large or deep input.
//!
//! Lines come from serde-saphyr's [`Spanned`] wrapper (the line where a value, list item or
//! mapping starts) and, for errors the YAML reader raises, from its error location.
//!
//! This module depends only on [`crate::event::ReceivingType`] and the policy errors.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, IgnoredAny};
use serde_saphyr::{MessageFormatter, Spanned};

use super::error::{PolicyError, PolicyErrors};
use crate::event::ReceivingType;

/// The most persistent menu items Messenger accepts.
pub const MAX_MENU_ITEMS: usize = 20;
/// The most ice breakers Messenger accepts.
pub const MAX_ICE_BREAKERS: usize = 4;
/// The most whitelisted domains Messenger accepts.
pub const MAX_WHITELISTED_DOMAINS: usize = 50;
/// The longest payload (Get Started, postback, ice breaker), in characters.
pub const MAX_PAYLOAD_CHARS: usize = 1000;

/// A routing policy as written: chains of handler links and the Page's thread settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    /// The file it was read from, as given (used in every error message).
    pub file: PathBuf,
    /// The chain run first for every event (empty when the file has no `default:`).
    pub default: Vec<LinkSpec>,
    /// The chain of each routed type, in file order; never empty chains, never `DEFAULT`.
    pub routes: Vec<(ReceivingType, Vec<LinkSpec>)>,
    /// What `pagebot thread-settings` pushes (empty when the file has no `thread_settings:`).
    pub thread_settings: ThreadSettingsSpec,
    /// The steps of the flows, in file order (empty when the file has no `steps:`).
    pub steps: Vec<StepSpec>,
}

/// One step of a flow, declared under `steps:`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    /// Its name (letters, digits, `_` and `-`).
    pub name: String,
    /// The line of its name.
    pub line: u32,
    /// Sent when a link (or a handler) moves the user to this step.
    pub ask: Vec<SenderSpec>,
    /// Sent when what the user answers at this step does not validate, or when nothing of the
    /// event's chain handled it; `None`: [`ask`](Self::ask) again.
    pub reask: Option<Vec<SenderSpec>>,
}

impl StepSpec {
    /// What is sent to ask again: `reask`, else `ask`.
    pub fn reask_senders(&self) -> &[SenderSpec] {
        self.reask.as_deref().unwrap_or(&self.ask)
    }
}

/// `when:` of a link: the steps it runs at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenSpec {
    /// The steps (at least one).
    pub steps: Vec<String>,
    /// The line of `when:`'s value.
    pub line: u32,
}

/// `then:` of a link: how it moves the conversation once it handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThenSpec {
    /// `then: { step: NAME }`.
    Step(Located<String>),
    /// `then: end`: no step, nothing remembered.
    End(u32),
}

impl ThenSpec {
    /// The line it is written on.
    pub fn line(&self) -> u32 {
        match self {
            Self::Step(step) => step.line,
            Self::End(line) => *line,
        }
    }
}

/// Where `remember:` takes its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RememberFrom {
    /// The quick reply's or postback's payload, else a location (`lat,long`), else the text.
    Auto,
    /// The message's text.
    Text,
    /// The quick reply's or postback's payload.
    Payload,
    /// The first location attachment, as `lat,long`.
    Location,
    /// A template of variables, such as `{match.1}` (a regex capture).
    Template(String),
}

/// A built-in kind of value that `validate:` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `name@domain.tld`.
    Email,
    /// 7 to 15 digits, with spaces, dashes, dots, parentheses and a leading `+` allowed;
    /// remembered as the digits (with the `+`).
    Phone,
    /// A decimal number (`12`, `-3.5`, `3,5`); remembered with a `.`.
    Number,
    /// A calendar date, `YYYY-MM-DD` (or with `/`); remembered as `YYYY-MM-DD`.
    Date,
}

impl ValueKind {
    /// Every kind, as written.
    pub const NAMES: [&'static str; 4] = ["email", "phone", "number", "date"];

    fn parse(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Self::Email),
            "phone" => Some(Self::Phone),
            "number" => Some(Self::Number),
            "date" => Some(Self::Date),
            _ => None,
        }
    }
}

/// `remember:` of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberSpec {
    /// The value's name: `{memory.NAME}` for the senders.
    pub name: String,
    /// Where the value comes from.
    pub from: RememberFrom,
    /// A built-in check, if any.
    pub validate: Option<ValueKind>,
    /// A regex the value must match, if any (compiled by the compiler).
    pub regex: Option<String>,
    /// The line of `remember:`'s value.
    pub line: u32,
}

/// One link of a chain: a handler, its arguments, its senders and how the chain flows past it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    /// The registered handler name (never empty).
    pub handler: String,
    /// The handler's arguments: always a JSON object (empty when the link has no `args:`).
    pub args: serde_json::Value,
    /// The senders fired, in order, when the handler handled the event.
    pub senders: Vec<SenderSpec>,
    /// Later links of the chain do not run once this one handled.
    pub stop: bool,
    /// Runs only if no earlier link of the chain handled the event.
    pub fallback: bool,
    /// The line of the `handler:` value (normally the `handler:` key's line).
    pub line: u32,
    /// The line where the `args` mapping starts (for block mappings, its first key's line),
    /// or [`line`](Self::line) when the link has no `args`.
    pub args_line: u32,
    /// The steps the link runs at (`when: { step: ... }`); `None`: when the user is at no step
    /// (or at any, in a chain without `when`, or with `global`).
    pub when: Option<WhenSpec>,
    /// Runs at any step, in a chain whose other links wait for steps.
    pub global: bool,
    /// What the link remembers once its handler handled.
    pub remember: Option<RememberSpec>,
    /// What it forgets (after its senders).
    pub forget: Vec<Located<String>>,
    /// How it moves the conversation (after its senders).
    pub then: Option<ThenSpec>,
}

impl LinkSpec {
    /// Whether the link takes part in a flow (`when`, `global`, `remember`, `forget`,
    /// `then`).
    pub fn in_flow(&self) -> bool {
        self.when.is_some()
            || self.global
            || self.remember.is_some()
            || !self.forget.is_empty()
            || self.then.is_some()
    }
}

/// One sender of a link, written `- kind: { args }`.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderSpec {
    /// The registered sender name: the entry's only key.
    pub kind: String,
    /// The sender's arguments: always a JSON object.
    pub args: serde_json::Value,
    /// The line of the entry (its key).
    pub line: u32,
}

/// A value and the line it is written on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Its 1-based line.
    pub line: u32,
}

/// The `thread_settings:` section: what the Messenger Profile API is told.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadSettingsSpec {
    /// The Get Started button's payload (1 to 1000 characters).
    pub get_started: Option<Located<String>>,
    /// The greeting's Fluent message id.
    pub greeting: Option<Located<String>>,
    /// The persistent menu, at most 20 items with distinct payloads; item N (1 to 5) classifies
    /// as `PERSISTENT_MENU_N`.
    pub persistent_menu: Vec<MenuItemSpec>,
    /// At most 4 ice breakers.
    pub ice_breakers: Vec<IceBreakerSpec>,
    /// At most 50 domains, each starting with `https://`.
    pub whitelisted_domains: Vec<Located<String>>,
}

/// One item of the persistent menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItemSpec {
    /// What tapping it does.
    pub kind: MenuItemKind,
    /// The title's Fluent message id.
    pub title: String,
    /// The line of the item.
    pub line: u32,
}

/// What a persistent menu item does. Nested menus were removed in Graph v8.0 and are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MenuItemKind {
    /// Sends a postback with this payload (1 to 1000 characters, unique in the menu).
    Postback {
        /// The postback payload.
        payload: String,
    },
    /// Opens this `http://` or `https://` URL.
    WebUrl {
        /// The URL.
        url: String,
    },
}

/// One ice breaker: a question shown in an empty thread, answered as a postback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceBreakerSpec {
    /// The question's Fluent message id.
    pub question: String,
    /// The postback payload (1 to 1000 characters).
    pub payload: String,
    /// The line of the ice breaker.
    pub line: u32,
}

impl PolicyDocument {
    /// Parses and checks `text`, the contents of `file`; reports every problem it can find.
    ///
    /// A YAML syntax error, an unknown or duplicate key, or a value of the wrong type stops the
    /// reading and is reported alone, at the line the YAML reader gives. Everything else (route
    /// names, empty chains, sender entries, thread settings limits) is reported all at once,
    /// sorted by line.
    pub fn parse(file: &Path, text: &str) -> Result<Self, PolicyErrors> {
        let raw: Option<Mapping<RawDocument, DocumentMap>> =
            serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
                PolicyErrors(vec![PolicyError {
                    line: error_line(&e),
                    ..PolicyError::whole_file(file, yaml_message(&e))
                }])
            })?;
        let mut checker = Checker {
            file,
            errors: Vec::new(),
            steps: Vec::new(),
        };
        let document = checker.document(file, raw.map(|r| r.0).unwrap_or_default());
        if checker.errors.is_empty() {
            Ok(document)
        } else {
            let mut errors = checker.errors;
            errors.sort_by_key(|e| e.line);
            Err(PolicyErrors(errors))
        }
    }

    /// Reads `file` and [parses](Self::parse) it.
    ///
    /// A file that cannot be read is one error without a line: `cannot read: {io error}`.
    pub fn load(file: &Path) -> Result<Self, PolicyErrors> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| PolicyError::whole_file(file, format!("cannot read: {e}")))?;
        Self::parse(file, &text)
    }

    /// Reads a file of only a `thread_settings:` section, in routing.yaml's format: a Page's
    /// `thread_settings` file in pagebot.toml, used instead of its policy's own. A default
    /// chain, a route or a step in it is refused (it would be ignored), and so is a file that
    /// sets nothing.
    pub fn load_thread_settings(file: &Path) -> Result<Self, PolicyErrors> {
        let document = Self::load(file)?;
        let elsewhere = "belongs in the Page's policy: a thread_settings file holds only \
                         thread_settings:";
        let mut errors: Vec<PolicyError> = Vec::new();
        if let Some(link) = document.default.first() {
            errors.push(PolicyError::at(
                file,
                link.line,
                format!("the default chain {elsewhere}"),
            ));
        }
        for (kind, links) in &document.routes {
            if let Some(link) = links.first() {
                errors.push(PolicyError::at(
                    file,
                    link.line,
                    format!("route {} {elsewhere}", kind.as_str()),
                ));
            }
        }
        for step in &document.steps {
            errors.push(PolicyError::at(
                file,
                step.line,
                format!("step {} {elsewhere}", step.name),
            ));
        }
        if errors.is_empty() && document.thread_settings == ThreadSettingsSpec::default() {
            errors.push(PolicyError::whole_file(
                file,
                "no thread_settings: this file is a Page's thread_settings, what its Messenger \
                 Profile shows",
            ));
        }
        if errors.is_empty() {
            Ok(document)
        } else {
            errors.sort_by_key(|e| e.line);
            Err(PolicyErrors(errors))
        }
    }

    /// The Get Started payload, if the thread settings set one.
    pub fn get_started_payload(&self) -> Option<&str> {
        self.thread_settings
            .get_started
            .as_ref()
            .map(|p| p.value.as_str())
    }

    /// The persistent menu's postback payloads in item order, `""` for a `web_url` item, so
    /// that index N-1 is item N (what `PERSISTENT_MENU_N` classification needs).
    pub fn persistent_menu_payloads(&self) -> Vec<String> {
        self.thread_settings
            .persistent_menu
            .iter()
            .map(|item| match &item.kind {
                MenuItemKind::Postback { payload } => payload.clone(),
                MenuItemKind::WebUrl { .. } => String::new(),
            })
            .collect()
    }

    /// The chain routed for `kind`, if the policy has one (`DEFAULT` gives the default chain).
    pub fn route(&self, kind: ReceivingType) -> Option<&[LinkSpec]> {
        if kind == ReceivingType::Default {
            return Some(&self.default);
        }
        self.routes
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, links)| links.as_slice())
    }

    /// Every link of every chain, in file order (the default chain first).
    pub fn links(&self) -> impl Iterator<Item = &LinkSpec> {
        self.default
            .iter()
            .chain(self.routes.iter().flat_map(|(_, links)| links))
    }

    /// The declared step called `name`.
    pub fn step(&self, name: &str) -> Option<&StepSpec> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every sender: those of the links, then those of the steps (`ask`, then `reask`).
    pub fn senders(&self) -> impl Iterator<Item = &SenderSpec> {
        self.links().flat_map(|l| &l.senders).chain(
            self.steps
                .iter()
                .flat_map(|s| s.ask.iter().chain(s.reask.iter().flatten())),
        )
    }

    /// Every handler or sender name that is not in `handlers` or `senders`, with the known
    /// names sorted: `unknown handler "thumbs_up" (known: thumb_up, user_profile)`.
    pub fn check_names(&self, handlers: &[&str], senders: &[&str]) -> Vec<PolicyError> {
        let known_handlers = known_list(handlers);
        let known_senders = known_list(senders);
        let mut errors = Vec::new();
        for link in self.links() {
            if !handlers.contains(&link.handler.as_str()) {
                errors.push(PolicyError::at(
                    &self.file,
                    link.line,
                    format!(
                        "unknown handler \"{}\" (known: {known_handlers})",
                        link.handler
                    ),
                ));
            }
        }
        for sender in self.senders() {
            if !senders.contains(&sender.kind.as_str()) {
                errors.push(PolicyError::at(
                    &self.file,
                    sender.line,
                    format!(
                        "unknown sender \"{}\" (known: {known_senders})",
                        sender.kind
                    ),
                ));
            }
        }
        errors
    }
}

/// `a, b, c` sorted and deduplicated, or `none` when empty.
fn known_list(names: &[&str]) -> String {
    let mut names = names.to_vec();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

// ---------------------------------------------------------------------------------------------
// Reading YAML

/// How routing.yaml is read: strict, and bounded against hostile input.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_recorded_anchor_events: 50_000,
            max_recorded_anchor_bytes: 1024 * 1024,
            max_depth: 32,
            max_documents: 1,
            max_nodes: 100_000,
            max_total_scalar_bytes: 4 * 1024 * 1024,
            max_merge_keys: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    }
}

/// The line serde-saphyr gives for `error`, if any.
pub(crate) fn error_line(error: &serde_saphyr::Error) -> Option<u32> {
    error
        .location()
        .map(|l| l.line())
        .filter(|&line| line > 0)
        .map(to_line)
}

/// serde-saphyr's message for `error`, without its location suffix or snippet: lowercase,
/// one line, no final period.
pub(crate) fn yaml_message(error: &serde_saphyr::Error) -> String {
    let mut inner = error.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let text = serde_saphyr::UserMessageFormatter.format_message(inner);
    let mut message: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    while message.ends_with(['.', ' ']) {
        message.pop();
    }
    if let Some(first) = message.chars().next()
        && first.is_uppercase()
        && !message.chars().nth(1).is_some_and(char::is_uppercase)
    {
        message = first
            .to_lowercase()
            .chain(message.chars().skip(1))
            .collect();
    }
    if message.is_empty() {
        message = "invalid yaml".to_owned();
    }
    message
}

fn to_line(line: u64) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

fn line_of<T>(spanned: &Spanned<T>) -> u32 {
    to_line(spanned.referenced.line())
}

/// Deserializes a present field as `Some`, even when its value is null (so `default:` with no
/// value is an empty chain, not an absent one).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: de::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A chain as written: `null` when the key has no value.
type RawChain = Spanned<Option<List<Spanned<Mapping<RawLink, LinkMap>>, LinkList>>>;

/// The file as the YAML reader gives it: shapes checked, nothing else. The `Raw*` types keep
/// [`Spanned`] values for the lines; the [`Checker`] turns them into the public specs.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(default, deserialize_with = "present")]
    default: Option<RawChain>,
    #[serde(default)]
    routes: Option<Pairs<Spanned<String>, RawChain>>,
    #[serde(default)]
    thread_settings: Option<Mapping<RawThreadSettings, ThreadSettingsMap>>,
    #[serde(default)]
    steps: Option<Pairs<Spanned<String>, RawStepEntry>>,
}

/// A step's declaration as written: `null` when the name has no value.
type RawStepEntry = Spanned<Option<Mapping<RawStep, StepMap>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default, deserialize_with = "present")]
    ask: Option<List<Spanned<serde_json::Value>, SenderList>>,
    #[serde(default, deserialize_with = "present")]
    reask: Option<List<Spanned<serde_json::Value>, SenderList>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    #[serde(default)]
    handler: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "present")]
    args: Option<Spanned<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    senders: Option<List<Spanned<serde_json::Value>, SenderList>>,
    #[serde(default)]
    stop: Flag,
    #[serde(default)]
    fallback: Flag,
    #[serde(default, deserialize_with = "present")]
    when: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    global: Flag,
    #[serde(default, deserialize_with = "present")]
    remember: Option<Spanned<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    forget: Option<Spanned<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    then: Option<Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreadSettings {
    #[serde(default)]
    get_started: Option<Mapping<RawGetStarted, GetStartedMap>>,
    #[serde(default)]
    greeting: Option<Spanned<String>>,
    #[serde(default)]
    persistent_menu: Option<List<Spanned<Mapping<RawMenuItem, MenuItemMap>>, MenuItemList>>,
    #[serde(default)]
    ice_breakers: Option<List<Spanned<Mapping<RawIceBreaker, IceBreakerMap>>, IceBreakerList>>,
    #[serde(default)]
    whitelisted_domains: Option<List<Spanned<String>, DomainList>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGetStarted {
    payload: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMenuItem {
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    title: Option<Spanned<String>>,
    #[serde(default)]
    payload: Option<Spanned<String>>,
    #[serde(default)]
    url: Option<Spanned<String>>,
    /// Only read to refuse nested menus with a helpful message.
    #[serde(default)]
    call_to_actions: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIceBreaker {
    question: Spanned<String>,
    payload: Spanned<String>,
}

/// What a value should have been, for the message when it is something else: serde-saphyr's
/// own ("expected mapping start") does not say which part of the policy is wrong.
trait Expected {
    /// Completes "invalid type: ..., expected ...".
    const EXPECTED: &'static str;
}

macro_rules! expected {
    ($($name:ident => $expected:literal;)*) => {$(
        struct $name;
        impl Expected for $name {
            const EXPECTED: &'static str = $expected;
        }
    )*};
}

expected! {
    DocumentMap => "a mapping with the keys default, routes, steps and thread_settings";
    StepMap => "a step, a mapping like `{ ask: [ - text: { message: id } ] }`";
    LinkList => "a list of links, each starting with `- handler:`";
    LinkMap => "a link, a mapping like `- handler: name`";
    SenderList => "a list of senders, each like `- text: { message: hello }`";
    ThreadSettingsMap => "a mapping of thread settings (get_started, greeting, persistent_menu, \
                          ice_breakers, whitelisted_domains)";
    GetStartedMap => "a mapping like `get_started: { payload: GET_STARTED }`";
    MenuItemList => "a list of menu items, each like `- { type: postback, title: id, payload: P }`";
    MenuItemMap => "a menu item like `{ type: postback, title: id, payload: P }`";
    IceBreakerList => "a list of ice breakers, each like `- { question: id, payload: P }`";
    IceBreakerMap => "an ice breaker like `{ question: id, payload: P }`";
    DomainList => "a list of https:// URLs";
}

/// A mapping read into `T` (a derived struct) whose "wrong type" error names what it should be
/// (`E`).
struct Mapping<T, E>(T, PhantomData<E>);

impl<T: Default, E> Default for Mapping<T, E> {
    fn default() -> Self {
        Self(T::default(), PhantomData)
    }
}

impl<'de, T, E> Deserialize<'de> for Mapping<T, E>
where
    T: Deserialize<'de>,
    E: Expected,
{
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: de::Deserializer<'de>,
    {
        struct MappingVisitor<T, E>(PhantomData<(T, E)>);

        impl<'de, T, E> de::Visitor<'de> for MappingVisitor<T, E>
        where
            T: Deserialize<'de>,
            E: Expected,
        {
            type Value = Mapping<T, E>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(E::EXPECTED)
            }

            fn visit_map<A>(self, map: A) -> Result<Self::Value, A::Error>
            where
                A: de::MapAccess<'de>,
            {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|value| Mapping(value, PhantomData))
            }

            fn visit_unit<Er>(self) -> Result<Self::Value, Er>
            where
                Er: de::Error,
            {
                Err(Er::invalid_type(de::Unexpected::Other("null"), &self))
            }

            fn visit_none<Er>(self) -> Result<Self::Value, Er>
            where
                Er: de::Error,
            {
                self.visit_unit()
            }
        }

        deserializer.deserialize_any(MappingVisitor(PhantomData))
    }
}

/// `stop:` and `fallback:`: `true` or `false`, nothing else (not `yes`, not `"true"`).
#[derive(Default)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: de::Deserializer<'de>,
    {
        struct FlagVisitor;

        impl de::Visitor<'_> for FlagVisitor {
            type Value = Flag;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }

            fn visit_bool<E>(self, value: bool) -> Result<Flag, E>
            where
                E: de::Error,
            {
                Ok(Flag(value))
            }

            fn visit_unit<E>(self) -> Result<Flag, E>
            where
                E: de::Error,
            {
                Err(E::invalid_type(de::Unexpected::Other("null"), &self))
            }

            fn visit_none<E>(self) -> Result<Flag, E>
            where
                E: de::Error,
            {
                self.visit_unit()
            }
        }

        deserializer.deserialize_any(FlagVisitor)
    }
}

/// A YAML sequence whose "wrong type" error names what it should hold (`L`), instead of the
/// reader's terse "expected sequence start".
struct List<T, L>(Vec<T>, PhantomData<L>);

impl<T, L> Default for List<T, L> {
    fn default() -> Self {
        Self(Vec::new(), PhantomData)
    }
}

impl<'de, T, L> Deserialize<'de> for List<T, L>
where
    T: Deserialize<'de>,
    L: Expected,
{
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: de::Deserializer<'de>,
    {
        struct ListVisitor<T, L>(PhantomData<(T, L)>);

        impl<'de, T, L> de::Visitor<'de> for ListVisitor<T, L>
        where
            T: Deserialize<'de>,
            L: Expected,
        {
            type Value = List<T, L>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(L::EXPECTED)
            }

            fn visit_seq<A>(self, mut seq: A) -> Result<Self::Value, A::Error>
            where
                A: de::SeqAccess<'de>,
            {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(items, PhantomData))
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E>
            where
                E: de::Error,
            {
                Err(E::invalid_type(de::Unexpected::Other("null"), &self))
            }

            fn visit_none<E>(self) -> Result<Self::Value, E>
            where
                E: de::Error,
            {
                self.visit_unit()
            }
        }

        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

/// A mapping read as its entries, in file order (duplicate keys are refused by the reader).
struct Pairs<K, V>(Vec<(K, V)>);

impl<'de, K, V> Deserialize<'de> for Pairs<K, V>
where
    K: Deserialize<'de>,
    V: Deserialize<'de>,
{
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: de::Deserializer<'de>,
    {
        struct PairsVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K, V> de::Visitor<'de> for PairsVisitor<K, V>
        where
            K: Deserialize<'de>,
            V: Deserialize<'de>,
        {
            type Value = Pairs<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A>(self, mut map: A) -> Result<Self::Value, A::Error>
            where
                A: de::MapAccess<'de>,
            {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Pairs(entries))
            }
        }

        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

// ---------------------------------------------------------------------------------------------
// Checking

/// Turns the raw document into the checked one, collecting every problem on the way.
struct Checker<'a> {
    file: &'a Path,
    errors: Vec<PolicyError>,
    /// The declared steps' names.
    steps: Vec<String>,
}

impl Checker<'_> {
    fn error(&mut self, line: u32, message: impl Into<String>) {
        let mut error = PolicyError::at(self.file, line, message);
        if line == 0 {
            error.line = None;
        }
        self.errors.push(error);
    }

    fn document(&mut self, file: &Path, raw: RawDocument) -> PolicyDocument {
        // Steps first: the links name them.
        let steps = self.steps(raw.steps.map(|p| p.0).unwrap_or_default());
        let default = match raw.default {
            Some(chain) => self.chain("the default chain", chain),
            None => Vec::new(),
        };
        let mut routes = Vec::new();
        for (name, chain) in raw.routes.map(|p| p.0).unwrap_or_default() {
            let line = line_of(&name);
            let kind = match name.value.parse::<ReceivingType>() {
                Ok(ReceivingType::Default) => {
                    self.error(
                        line,
                        "DEFAULT is not a route: write the chain that runs first for every \
                         event under the top-level \"default:\" key",
                    );
                    None
                }
                Ok(kind) => Some(kind),
                Err(_) => {
                    self.error(
                        line,
                        format!(
                            "unknown receiving type \"{}\" (known: {})",
                            name.value,
                            routable_names()
                        ),
                    );
                    None
                }
            };
            let links = self.chain_at(&format!("route {}", name.value), chain, line);
            if let Some(kind) = kind {
                routes.push((kind, links));
            }
        }
        let thread_settings = match raw.thread_settings {
            Some(settings) => self.thread_settings(settings.0),
            None => ThreadSettingsSpec::default(),
        };
        PolicyDocument {
            file: file.to_owned(),
            default,
            routes,
            thread_settings,
            steps,
        }
    }

    fn steps(&mut self, raw: Vec<(Spanned<String>, RawStepEntry)>) -> Vec<StepSpec> {
        let mut steps = Vec::new();
        for (name, spec) in raw {
            let line = line_of(&name);
            let name = name.value;
            if !valid_name(&name) {
                self.error(
                    line,
                    format!(
                        "step name \"{name}\" must be letters, digits, `_` or `-` (at most 64)"
                    ),
                );
            }
            let raw = spec.value.map(|m| m.0);
            let (ask, reask) = match raw {
                Some(raw) => (raw.ask, raw.reask),
                None => (None, None),
            };
            let ask = ask
                .unwrap_or_default()
                .0
                .into_iter()
                .filter_map(|s| self.sender(s))
                .collect();
            let reask =
                reask.map(|list| list.0.into_iter().filter_map(|s| self.sender(s)).collect());
            self.steps.push(name.clone());
            steps.push(StepSpec {
                name,
                line,
                ask,
                reask,
            });
        }
        steps
    }

    /// `name` if it is a declared step; reports it otherwise.
    fn known_step(&mut self, name: &str, line: u32) -> bool {
        if self.steps.iter().any(|s| s == name) {
            return true;
        }
        let known = if self.steps.is_empty() {
            "none: declare it under `steps:`".to_owned()
        } else {
            known_list(&self.steps.iter().map(String::as_str).collect::<Vec<_>>())
        };
        self.error(line, format!("unknown step \"{name}\" (declared: {known})"));
        false
    }

    fn when(&mut self, raw: Spanned<serde_json::Value>) -> Option<WhenSpec> {
        let line = line_of(&raw);
        const SHAPE: &str = "write `when: { step: NAME }` or `when: { step: [NAME, NAME] }`";
        let serde_json::Value::Object(mut map) = raw.value else {
            self.error(line, format!("when must be a mapping: {SHAPE}"));
            return None;
        };
        let step = map.remove("step");
        if let Some(key) = map.keys().next() {
            self.error(
                line,
                format!("when: unknown key `{key}` (known: step): {SHAPE}"),
            );
            return None;
        }
        let names: Vec<String> = match step {
            Some(serde_json::Value::String(name)) => vec![name],
            Some(serde_json::Value::Array(items)) if !items.is_empty() => {
                let mut names = Vec::new();
                for item in items {
                    match item {
                        serde_json::Value::String(name) => names.push(name),
                        other => {
                            self.error(
                                line,
                                format!("when: a step cannot be {}: {SHAPE}", describe(&other)),
                            );
                            return None;
                        }
                    }
                }
                names
            }
            _ => {
                self.error(line, format!("when needs a step: {SHAPE}"));
                return None;
            }
        };
        let mut ok = true;
        for name in &names {
            ok &= self.known_step(name, line);
        }
        ok.then_some(WhenSpec { steps: names, line })
    }

    fn then(&mut self, raw: Spanned<serde_json::Value>) -> Option<ThenSpec> {
        let line = line_of(&raw);
        const SHAPE: &str = "write `then: { step: NAME }` or `then: end`";
        match raw.value {
            serde_json::Value::String(word) if word == "end" => Some(ThenSpec::End(line)),
            serde_json::Value::Object(mut map) => {
                let step = map.remove("step");
                if let Some(key) = map.keys().next() {
                    self.error(
                        line,
                        format!("then: unknown key `{key}` (known: step): {SHAPE}"),
                    );
                    return None;
                }
                match step {
                    Some(serde_json::Value::String(name)) => self
                        .known_step(&name, line)
                        .then_some(ThenSpec::Step(Located { value: name, line })),
                    _ => {
                        self.error(line, format!("then needs a step name: {SHAPE}"));
                        None
                    }
                }
            }
            other => {
                self.error(
                    line,
                    format!("then cannot be {}: {SHAPE}", describe_then(&other)),
                );
                None
            }
        }
    }

    fn remember(&mut self, raw: Spanned<serde_json::Value>) -> Option<RememberSpec> {
        let line = line_of(&raw);
        const SHAPE: &str = "write `remember: NAME` or `remember: { name: NAME, from: text, \
                             validate: email }`";
        let mut spec = RememberSpec {
            name: String::new(),
            from: RememberFrom::Auto,
            validate: None,
            regex: None,
            line,
        };
        match raw.value {
            serde_json::Value::String(name) => spec.name = name,
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let text = match value {
                        serde_json::Value::String(text) => text,
                        other => {
                            self.error(
                                line,
                                format!("remember: {key} cannot be {}: {SHAPE}", describe(&other)),
                            );
                            return None;
                        }
                    };
                    match key.as_str() {
                        "name" => spec.name = text,
                        "from" => {
                            spec.from = match text.as_str() {
                                "auto" => RememberFrom::Auto,
                                "text" => RememberFrom::Text,
                                "payload" => RememberFrom::Payload,
                                "location" => RememberFrom::Location,
                                template if template.contains('{') => {
                                    RememberFrom::Template(template.to_owned())
                                }
                                variable if variable.contains('.') => {
                                    RememberFrom::Template(format!("{{{variable}}}"))
                                }
                                other => {
                                    self.error(
                                        line,
                                        format!(
                                            "remember: unknown source \"{other}\" (known: auto, \
                                             text, payload, location, or a variable such as \
                                             match.1 or \"{{match.NAME}}\")"
                                        ),
                                    );
                                    return None;
                                }
                            }
                        }
                        "validate" => match ValueKind::parse(&text) {
                            Some(kind) => spec.validate = Some(kind),
                            None => {
                                self.error(
                                    line,
                                    format!(
                                        "remember: unknown validation \"{text}\" (known: {}; \
                                         or write `regex:`)",
                                        ValueKind::NAMES.join(", ")
                                    ),
                                );
                                return None;
                            }
                        },
                        "regex" => spec.regex = Some(text),
                        other => {
                            self.error(
                                line,
                                format!(
                                    "remember: unknown key `{other}` (known: name, from, validate, \
                                     regex)"
                                ),
                            );
                            return None;
                        }
                    }
                }
            }
            other => {
                self.error(
                    line,
                    format!("remember cannot be {}: {SHAPE}", describe(&other)),
                );
                return None;
            }
        }
        if spec.name.is_empty() {
            self.error(line, format!("remember needs a name: {SHAPE}"));
            return None;
        }
        if !valid_name(&spec.name) {
            self.error(
                line,
                format!(
                    "remembered name \"{}\" must be letters, digits, `_` or `-` (at most 64)",
                    spec.name
                ),
            );
            return None;
        }
        Some(spec)
    }

    fn forget(&mut self, raw: Spanned<serde_json::Value>) -> Vec<Located<String>> {
        let line = line_of(&raw);
        const SHAPE: &str = "write `forget: NAME` or `forget: [NAME, NAME]`";
        let names = match raw.value {
            serde_json::Value::String(name) => vec![name],
            serde_json::Value::Array(items) => {
                let mut names = Vec::new();
                for item in items {
                    match item {
                        serde_json::Value::String(name) => names.push(name),
                        other => {
                            self.error(
                                line,
                                format!("forget: a name cannot be {}: {SHAPE}", describe(&other)),
                            );
                            return Vec::new();
                        }
                    }
                }
                names
            }
            other => {
                self.error(
                    line,
                    format!("forget cannot be {}: {SHAPE}", describe(&other)),
                );
                return Vec::new();
            }
        };
        names
            .into_iter()
            .map(|value| Located { value, line })
            .collect()
    }

    fn chain(&mut self, what: &str, chain: RawChain) -> Vec<LinkSpec> {
        let line = line_of(&chain);
        self.chain_at(what, chain, line)
    }

    /// The links of `chain`; an empty chain is reported at `empty_line`.
    fn chain_at(&mut self, what: &str, chain: RawChain, empty_line: u32) -> Vec<LinkSpec> {
        let links = chain.value.unwrap_or_default().0;
        if links.is_empty() {
            self.error(empty_line, format!("{what} has no handlers"));
        }
        links.into_iter().filter_map(|l| self.link(l)).collect()
    }

    fn link(&mut self, raw: Spanned<Mapping<RawLink, LinkMap>>) -> Option<LinkSpec> {
        let item_line = line_of(&raw);
        let raw = raw.value.0;
        let Some(handler) = raw.handler else {
            self.error(item_line, "link has no handler (write `- handler: name`)");
            return None;
        };
        let line = line_of(&handler);
        let handler = handler.value;
        let name_ok = !handler.trim().is_empty();
        if !name_ok {
            self.error(line, "handler name is empty");
        }
        let (args, args_line) = match raw.args {
            None => (empty_object(), line),
            Some(args) => {
                let args_line = line_of(&args);
                let value = self.mapping(
                    args.value,
                    args_line,
                    &format!("args of handler \"{handler}\""),
                );
                (value, args_line)
            }
        };
        let senders = raw
            .senders
            .unwrap_or_default()
            .0
            .into_iter()
            .filter_map(|s| self.sender(s))
            .collect();
        let when_line = raw.when.as_ref().map(line_of);
        let when = raw.when.and_then(|w| self.when(w));
        let global = raw.global.0;
        if global && let Some(when_line) = when_line {
            self.error(
                when_line,
                "a link cannot be both `global` (any step) and `when` (some steps)",
            );
        }
        let remember = raw.remember.and_then(|r| self.remember(r));
        let forget = raw.forget.map(|f| self.forget(f)).unwrap_or_default();
        let then = raw.then.and_then(|t| self.then(t));
        name_ok.then_some(LinkSpec {
            handler,
            args,
            senders,
            stop: raw.stop.0,
            fallback: raw.fallback.0,
            line,
            args_line,
            when,
            global,
            remember,
            forget,
            then,
        })
    }

    fn sender(&mut self, raw: Spanned<serde_json::Value>) -> Option<SenderSpec> {
        let line = line_of(&raw);
        const SHAPE: &str = "write each sender as a mapping with one key, the sender kind, \
                             e.g. `- text: { message: hello }`";
        let entries = match raw.value {
            serde_json::Value::Object(map) => map,
            serde_json::Value::String(kind) => {
                self.error(
                    line,
                    format!("sender \"{kind}\" has no arguments mapping: {SHAPE}"),
                );
                return None;
            }
            other => {
                self.error(
                    line,
                    format!("a sender cannot be {}: {SHAPE}", describe(&other)),
                );
                return None;
            }
        };
        if entries.len() != 1 {
            let keys: Vec<&str> = entries.keys().map(String::as_str).collect();
            let found = if keys.is_empty() {
                "no key".to_owned()
            } else {
                format!("{} keys ({})", keys.len(), keys.join(", "))
            };
            self.error(line, format!("a sender entry has {found}: {SHAPE}"));
            return None;
        }
        let (kind, args) = entries.into_iter().next()?;
        if kind.trim().is_empty() {
            self.error(line, "sender name is empty");
            return None;
        }
        let args = self.mapping(args, line, &format!("args of sender \"{kind}\""));
        Some(SenderSpec { kind, args, line })
    }

    /// `value` if it is a mapping; otherwise reports `what` and gives an empty one.
    fn mapping(&mut self, value: serde_json::Value, line: u32, what: &str) -> serde_json::Value {
        match value {
            serde_json::Value::Object(_) => value,
            serde_json::Value::Null => {
                self.error(
                    line,
                    format!("{what} must be a mapping, not null (write `{{}}` for none)"),
                );
                empty_object()
            }
            other => {
                self.error(
                    line,
                    format!("{what} must be a mapping, not {}", describe(&other)),
                );
                empty_object()
            }
        }
    }

    fn thread_settings(&mut self, raw: RawThreadSettings) -> ThreadSettingsSpec {
        let mut spec = ThreadSettingsSpec::default();
        if let Some(get_started) = raw.get_started {
            let payload = get_started.0.payload;
            let line = line_of(&payload);
            self.payload("get_started payload", &payload.value, line);
            spec.get_started = Some(Located {
                value: payload.value,
                line,
            });
        }
        if let Some(greeting) = raw.greeting {
            let line = line_of(&greeting);
            self.message_id("greeting", &greeting.value, line);
            spec.greeting = Some(Located {
                value: greeting.value,
                line,
            });
        }
        let menu = raw.persistent_menu.unwrap_or_default().0;
        if let Some(extra) = menu.get(MAX_MENU_ITEMS) {
            self.error(
                line_of(extra),
                format!(
                    "persistent_menu has {} items; Messenger allows at most {MAX_MENU_ITEMS}",
                    menu.len()
                ),
            );
        }
        for (i, item) in menu.into_iter().enumerate() {
            if let Some(item) = self.menu_item(i + 1, item) {
                spec.persistent_menu.push(item);
            }
        }
        self.distinct_payloads(&spec);
        let ice_breakers = raw.ice_breakers.unwrap_or_default().0;
        if let Some(extra) = ice_breakers.get(MAX_ICE_BREAKERS) {
            self.error(
                line_of(extra),
                format!(
                    "ice_breakers has {} items; Messenger allows at most {MAX_ICE_BREAKERS}",
                    ice_breakers.len()
                ),
            );
        }
        for (i, raw) in ice_breakers.into_iter().enumerate() {
            let line = line_of(&raw);
            let raw = raw.value.0;
            let what = format!("ice_breakers item {}", i + 1);
            self.message_id(&format!("{what} question"), &raw.question.value, line);
            self.payload(
                &format!("{what} payload"),
                &raw.payload.value,
                line_of(&raw.payload),
            );
            spec.ice_breakers.push(IceBreakerSpec {
                question: raw.question.value,
                payload: raw.payload.value,
                line,
            });
        }
        let domains = raw.whitelisted_domains.unwrap_or_default().0;
        if let Some(extra) = domains.get(MAX_WHITELISTED_DOMAINS) {
            self.error(
                line_of(extra),
                format!(
                    "whitelisted_domains has {} entries; Messenger allows at most \
                     {MAX_WHITELISTED_DOMAINS}",
                    domains.len()
                ),
            );
        }
        for domain in domains {
            let line = line_of(&domain);
            let rest = domain.value.strip_prefix("https://").unwrap_or_default();
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                self.error(
                    line,
                    format!(
                        "whitelisted domain \"{}\" must be an https:// URL",
                        domain.value
                    ),
                );
            }
            spec.whitelisted_domains.push(Located {
                value: domain.value,
                line,
            });
        }
        if spec.get_started.is_none() && !spec.persistent_menu.is_empty() {
            let line = spec.persistent_menu[0].line;
            self.error(
                line,
                "a persistent_menu needs get_started too: Messenger refuses a menu on a Page \
                 without a Get Started button",
            );
        }
        spec
    }

    fn menu_item(
        &mut self,
        number: usize,
        raw: Spanned<Mapping<RawMenuItem, MenuItemMap>>,
    ) -> Option<MenuItemSpec> {
        let line = line_of(&raw);
        let raw = raw.value.0;
        let what = format!("persistent_menu item {number}");
        let kind = raw.kind.as_ref().map(|k| k.value.as_str());
        if raw.call_to_actions.is_some() || kind == Some("nested") {
            self.error(
                line,
                format!(
                    "{what}: nested menus were removed from the Messenger Platform in v8.0; \
                     flatten the menu"
                ),
            );
            return None;
        }
        let Some(kind) = raw.kind else {
            self.error(
                line,
                format!("{what} has no type (write `type: postback` or `type: web_url`)"),
            );
            return None;
        };
        let title = match raw.title {
            Some(title) => {
                self.message_id(&format!("{what} title"), &title.value, line_of(&title));
                title.value
            }
            None => {
                self.error(line, format!("{what} has no title"));
                String::new()
            }
        };
        let kind = match kind.value.as_str() {
            "postback" => {
                if let Some(url) = &raw.url {
                    self.error(
                        line_of(url),
                        format!("{what}: a postback item takes a payload, not a url"),
                    );
                }
                let Some(payload) = raw.payload else {
                    self.error(line, format!("{what}: a postback item needs a payload"));
                    return None;
                };
                self.payload(
                    &format!("{what} payload"),
                    &payload.value,
                    line_of(&payload),
                );
                MenuItemKind::Postback {
                    payload: payload.value,
                }
            }
            "web_url" => {
                if let Some(payload) = &raw.payload {
                    self.error(
                        line_of(payload),
                        format!("{what}: a web_url item takes a url, not a payload"),
                    );
                }
                let Some(url) = raw.url else {
                    self.error(line, format!("{what}: a web_url item needs a url"));
                    return None;
                };
                let rest = url
                    .value
                    .strip_prefix("https://")
                    .or_else(|| url.value.strip_prefix("http://"))
                    .unwrap_or_default();
                if rest.is_empty() || rest.contains(char::is_whitespace) {
                    self.error(
                        line_of(&url),
                        format!(
                            "{what}: url \"{}\" must start with https:// or http://",
                            url.value
                        ),
                    );
                }
                MenuItemKind::WebUrl { url: url.value }
            }
            other => {
                self.error(
                    line_of(&kind),
                    format!("{what}: unknown type \"{other}\" (known: postback, web_url)"),
                );
                return None;
            }
        };
        Some(MenuItemSpec { kind, title, line })
    }

    /// Menu payloads must be distinct, and differ from Get Started: classification maps a
    /// postback back to one of them.
    fn distinct_payloads(&mut self, spec: &ThreadSettingsSpec) {
        let mut seen: HashMap<&str, (usize, u32)> = HashMap::new();
        for (i, item) in spec.persistent_menu.iter().enumerate() {
            let MenuItemKind::Postback { payload } = &item.kind else {
                continue;
            };
            if let Some(get_started) = &spec.get_started
                && get_started.value == *payload
            {
                self.error(
                    item.line,
                    format!(
                        "persistent_menu item {}: payload \"{payload}\" is also the \
                         get_started payload (line {}); they must differ so the two can be \
                         told apart",
                        i + 1,
                        get_started.line
                    ),
                );
            }
            if let Some((first, first_line)) = seen.get(payload.as_str()) {
                self.error(
                    item.line,
                    format!(
                        "persistent_menu item {}: payload \"{payload}\" is also used by item \
                         {first} (line {first_line}); menu payloads must be distinct",
                        i + 1
                    ),
                );
            } else {
                seen.insert(payload, (i + 1, item.line));
            }
        }
    }

    fn payload(&mut self, what: &str, payload: &str, line: u32) {
        let n = payload.chars().count();
        if n == 0 {
            self.error(line, format!("{what} is empty"));
        } else if n > MAX_PAYLOAD_CHARS {
            self.error(
                line,
                format!("{what} has {n} characters; Messenger allows at most {MAX_PAYLOAD_CHARS}"),
            );
        }
    }

    fn message_id(&mut self, what: &str, id: &str, line: u32) {
        if id.trim().is_empty() {
            self.error(
                line,
                format!("{what} is empty (expected a Fluent message id)"),
            );
        }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A step or remembered name: letters, digits, `_` and `-`, 1 to 64 of them.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// [`describe`], but a string other than `end` is named.
fn describe_then(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(word) => format!("\"{word}\""),
        other => describe(other).to_owned(),
    }
}

/// `a string`, `a list`, ... for error messages.
fn describe(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// Every name a route may use, sorted: the receiving types but `DEFAULT`.
fn routable_names() -> String {
    let mut names: Vec<&str> = ReceivingType::ALL
        .into_iter()
        .filter(|t| *t != ReceivingType::Default)
        .map(ReceivingType::as_str)
        .collect();
    names.sort_unstable();
    names.join(", ")
}
