//! The layers: defaults (from [`super::table::SETTINGS`]) < `pagebot.toml` < environment <
//! flags, merged by figment into one [`Layered`] value, with errors that name where the bad
//! value came from: `pagebot.toml:7`, `PAGEBOT_WORKERS` or `--workers`.
//!
//! `[[pages]]` is only ever in the file: figment accepts the key, and [`pages::parse`] reads
//! the entries from the file again with their lines.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

use super::ConfigError;
use super::pages::{self, PageEntry, TokenSource, TokenVars};
use super::table::{self, SETTINGS};

/// The file read when no `--config` or `PAGEBOT_CONFIG` names one, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "pagebot.toml";

/// Every setting after the layers are merged, before `serve` checks them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layered {
    /// See [`SETTINGS`] for each field.
    #[serde(default, deserialize_with = "optional_secret")]
    pub app_secret: Option<SecretString>,
    #[allow(missing_docs)]
    #[serde(default, deserialize_with = "optional_secret")]
    pub verify_token: Option<SecretString>,
    #[allow(missing_docs)]
    #[serde(default, deserialize_with = "optional_secret")]
    pub page_token: Option<SecretString>,
    #[allow(missing_docs)]
    #[serde(default, deserialize_with = "optional_secret")]
    pub api_token: Option<SecretString>,
    #[allow(missing_docs)]
    #[serde(default, deserialize_with = "optional_secret")]
    pub admin_password: Option<SecretString>,
    #[allow(missing_docs)]
    #[serde(deserialize_with = "required_secret")]
    pub database_url: SecretString,
    #[allow(missing_docs)]
    pub bind: SocketAddr,
    #[allow(missing_docs)]
    pub policy: PathBuf,
    #[allow(missing_docs)]
    pub locales: PathBuf,
    #[allow(missing_docs)]
    #[serde(deserialize_with = "stringish")]
    pub default_locale: String,
    #[allow(missing_docs)]
    pub workers: usize,
    #[allow(missing_docs)]
    pub http_workers: Option<u16>,
    #[allow(missing_docs)]
    pub max_attempts: i32,
    #[allow(missing_docs)]
    pub lease_secs: u64,
    #[allow(missing_docs)]
    pub retry_base_ms: u64,
    #[allow(missing_docs)]
    pub rate_limit_pause_secs: u64,
    #[allow(missing_docs)]
    pub conversation_idle_secs: u64,
    #[allow(missing_docs)]
    pub max_body_bytes: usize,
    #[allow(missing_docs)]
    pub db_timeout_ms: u64,
    #[allow(missing_docs)]
    #[serde(deserialize_with = "boolish")]
    pub accept_sha1: bool,
    #[allow(missing_docs)]
    pub inbox_retention_days: Option<u32>,
    #[allow(missing_docs)]
    #[serde(deserialize_with = "stringish")]
    pub graph_url: String,
    #[allow(missing_docs)]
    #[serde(deserialize_with = "stringish")]
    pub graph_version: String,
    /// The `[[pages]]` entries of the config file, in its order; empty without the section.
    /// figment only accepts the key: [`load`] fills this from the file, read again with its
    /// lines ([`pages::parse`]).
    #[serde(default, deserialize_with = "read_from_the_file")]
    pub pages: Vec<PageEntry>,
}

/// Secrets given as flags: applied over the merged layers without passing through figment,
/// so that they are never in a serializable value.
#[derive(Debug, Default)]
pub struct SecretFlags {
    /// `--app-secret`.
    pub app_secret: Option<SecretString>,
    /// `--verify-token`.
    pub verify_token: Option<SecretString>,
    /// `--page-token`.
    pub page_token: Option<SecretString>,
    /// `--database-url`.
    pub database_url: Option<SecretString>,
    /// `--admin-password`.
    pub admin_password: Option<SecretString>,
}

/// The merged layers and where each value came from.
pub struct Loaded {
    /// The values.
    pub values: Layered,
    figment: Figment,
    flags: Vec<&'static str>,
    /// The variables the `[[pages]]` entries' `token_env` name, from the environment read.
    pub(super) token_vars: TokenVars,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

impl Loaded {
    /// Where `key`'s value came from, for an error message: `pagebot.toml:7`,
    /// `PAGEBOT_WORKERS`, `--workers`, or `the default`.
    pub fn source_of(&self, key: &str) -> String {
        if self.flags.contains(&key) {
            return flag(key);
        }
        match self.figment.find_metadata(key) {
            Some(metadata) => describe(metadata, key),
            None => "the default".to_owned(),
        }
    }
}

/// Merges the layers: the defaults, the config file (`config`, else `pagebot.toml` if it
/// exists), the process's environment, then `flags` (a value whose `None` fields are left out)
/// and the secret flags.
pub fn load(
    config: Option<&Path>,
    flags: &impl Serialize,
    secrets: SecretFlags,
) -> Result<Loaded, ConfigError> {
    load_with_env(config, flags, secrets, std::env::vars_os())
}

/// [`load`] with the given environment instead of the process's.
pub fn load_with_env(
    config: Option<&Path>,
    flags: &impl Serialize,
    secrets: SecretFlags,
    env: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Loaded, ConfigError> {
    let env: Vec<(std::ffi::OsString, std::ffi::OsString)> = env.into_iter().collect();
    let file = config_file(config)?;
    let mut figment = Figment::from(Defaults);
    if let Some(file) = &file {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment
        .merge(Environment::read(&env)?)
        .merge(Named("command-line flags", Serialized::defaults(flags)));
    let set_flags = flag_keys(flags);
    let mut values: Layered = figment.extract().map_err(|e| explain(&e))?;
    if let Some(file) = &file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigError::Invalid(format!("{}: cannot be read: {e}", file.display()))
        })?;
        values.pages =
            pages::parse(file, &text).map_err(|lines| ConfigError::Invalid(lines.join("\n")))?;
    }
    let token_vars = token_vars(&values.pages, &env);
    let mut flags = set_flags;
    for (key, value, target) in [
        ("app_secret", secrets.app_secret, &mut values.app_secret),
        (
            "verify_token",
            secrets.verify_token,
            &mut values.verify_token,
        ),
        ("page_token", secrets.page_token, &mut values.page_token),
        (
            "admin_password",
            secrets.admin_password,
            &mut values.admin_password,
        ),
    ] {
        if value.is_some() {
            *target = value;
            flags.push(key);
        }
    }
    if let Some(url) = secrets.database_url {
        values.database_url = url;
        flags.push("database_url");
    }
    let loaded = Loaded {
        values,
        figment,
        flags,
        token_vars,
    };
    if let (Some(first), Some(_)) = (loaded.values.pages.first(), &loaded.values.page_token) {
        return Err(ConfigError::Invalid(format!(
            "{}: page_token cannot be used with [[pages]] (at {}): each Page names its own \
             token with token_env or token_file; remove page_token",
            loaded.source_of("page_token"),
            first.at
        )));
    }
    Ok(loaded)
}

/// The variables `entries` name with `token_env`, as `env` has them.
fn token_vars(
    entries: &[PageEntry],
    env: &[(std::ffi::OsString, std::ffi::OsString)],
) -> TokenVars {
    let mut vars = TokenVars::new();
    for entry in entries {
        let TokenSource::Env(name) = &entry.token else {
            continue;
        };
        // The last one wins, as in a process's environment.
        if let Some((_, value)) = env.iter().rev().find(|(n, _)| n == name.as_str()) {
            let value = value
                .to_str()
                .map(|v| SecretString::from(v.to_owned()))
                .ok_or(());
            vars.insert(name.clone(), value);
        }
    }
    vars
}

/// `pages` as figment has it: accepted as it is, since [`pages::parse`] reads it again, with
/// its lines.
fn read_from_the_file<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<PageEntry>, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer)?;
    Ok(Vec::new())
}

/// The file to read: the one named (which must exist), else `pagebot.toml` if it exists.
fn config_file(named: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    match named {
        Some(path) if path.is_file() => Ok(Some(path.to_owned())),
        Some(path) => Err(ConfigError::Invalid(format!(
            "no config file at {} (named by --config or PAGEBOT_CONFIG)",
            path.display()
        ))),
        None => {
            let default = Path::new(DEFAULT_CONFIG_FILE);
            Ok(default.is_file().then(|| default.to_owned()))
        }
    }
}

/// The variables of [`SETTINGS`], each under its key, its value read as figment reads
/// environment variables (`256` a number, `true` a boolean, anything else a string). Others
/// (`PAGEBOT_CONFIG`, `PAGEBOT_TEST_DATABASE_URL`, ...) are not settings and are left alone.
struct Environment(Dict);

impl Environment {
    fn read(env: &[(std::ffi::OsString, std::ffi::OsString)]) -> Result<Self, ConfigError> {
        let mut dict = Dict::new();
        for (name, value) in env {
            let Some(setting) = SETTINGS.iter().find(|s| *name == s.env) else {
                continue;
            };
            let Some(value) = value.to_str() else {
                return Err(ConfigError::Invalid(format!(
                    "{}: not valid UTF-8",
                    setting.env
                )));
            };
            let value = match value.parse::<Value>() {
                Ok(value) => value,
                Err(never) => match never {},
            };
            dict.insert(setting.key.to_owned(), value);
        }
        Ok(Self(dict))
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// The keys `flags` sets.
fn flag_keys(flags: &impl Serialize) -> Vec<&'static str> {
    let Ok(serde_json::Value::Object(set)) = serde_json::to_value(flags) else {
        return Vec::new();
    };
    SETTINGS
        .iter()
        .map(|s| s.key)
        .filter(|key| set.get(*key).is_some_and(|v| !v.is_null()))
        .collect()
}

/// The defaults layer, read from [`SETTINGS`].
struct Defaults;

impl Provider for Defaults {
    fn metadata(&self) -> Metadata {
        Metadata::named("the default")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let toml: String = SETTINGS
            .iter()
            .filter_map(|s| s.default.map(|value| format!("{} = {value}\n", s.key)))
            .collect();
        Toml::string(&toml).data()
    }
}

/// A provider under a name of ours, for error messages.
struct Named<P>(&'static str, P);

impl<P: Provider> Provider for Named<P> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.0)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.1.data()
    }
}

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// Names a value's source: the file and line, the variable, the flag.
fn describe(metadata: &Metadata, key: &str) -> String {
    match &metadata.source {
        Some(Source::File(path)) => match line_of(path, key) {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        },
        _ if metadata.name == "command-line flags" => flag(key),
        _ if metadata.name == "the default" => "the default".to_owned(),
        _ => table::find(key).map_or_else(|| key.to_owned(), |s| s.env.to_owned()),
    }
}

/// The line of `pagebot.toml` where top-level `key` is set.
fn line_of(path: &Path, key: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|n| n + 1)
}

/// A figment error as a sentence naming the source, and never the value of a secret.
fn explain(error: &figment::Error) -> ConfigError {
    let mut lines = Vec::new();
    for e in error.clone() {
        let key = e.path.first().cloned().unwrap_or_default();
        let what = match &e.kind {
            figment::error::Kind::UnknownField(field, known) => {
                let at = e
                    .metadata
                    .as_ref()
                    .map_or_else(|| field.clone(), |m| describe(m, field));
                lines.push(format!(
                    "{at}: unknown setting \"{field}\" (known: {})",
                    known.join(", ")
                ));
                continue;
            }
            kind if table::find(&key).is_some_and(|s| s.secret) => {
                // The message of a type error may quote the value: not for a secret.
                match kind {
                    figment::error::Kind::InvalidType(_, expected) => {
                        format!("{key}: expected {expected}")
                    }
                    _ => format!("{key}: not a valid value"),
                }
            }
            kind => format!("{key}: {kind}"),
        };
        let at = e
            .metadata
            .as_ref()
            .map_or_else(|| "pagebot.toml".to_owned(), |m| describe(m, &key));
        lines.push(format!("{at}: {what}"));
    }
    ConfigError::Invalid(lines.join("\n"))
}

/// A string, also from a number or a boolean (an environment variable `12345` is read as a
/// number).
fn stringish<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stringish {
        String(String),
        Integer(i64),
        Unsigned(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Stringish::deserialize(deserializer)? {
        Stringish::String(s) => s,
        Stringish::Integer(n) => n.to_string(),
        Stringish::Unsigned(n) => n.to_string(),
        Stringish::Float(n) => n.to_string(),
        Stringish::Bool(b) => b.to_string(),
    })
}

fn required_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretString, D::Error> {
    stringish(deserializer).map(SecretString::from)
}

fn optional_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    stringish(deserializer).map(|s| Some(SecretString::from(s)))
}

/// A boolean, also `1`/`0`, `yes`/`no`, `on`/`off` (as environment variables are written).
fn boolish<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let text = stringish(deserializer)?;
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(serde::de::Error::custom(format!(
            "expected true or false (or 1/0, yes/no, on/off), found \"{text}\""
        ))),
    }
}
