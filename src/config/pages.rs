//! The Pages one deployment serves: `[[pages]]` in `pagebot.toml`, or, without that section,
//! one Page from the top-level settings (`PAGEBOT_PAGE_TOKEN`, `policy`, `locales`), which
//! answers for every Page id as a single-Page deployment always did.

use std::path::PathBuf;

use secrecy::SecretString;

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
