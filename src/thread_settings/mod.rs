//! `pagebot thread-settings`: plan and apply the Page's Messenger Profile (MESSENGER.md
//! section 7) from the `thread_settings:` section of routing.yaml.
//!
//! The steps, each in its own module:
//!
//! 1. [`desired`]: the profile routing.yaml asks for, every text localized in every shipped
//!    locale (plus the `default` entry), with every Messenger limit checked before any call.
//! 2. [`mod@diff`]: what differs between that and the live profile, field by field, and the
//!    [`Call`]s that fix it: as few as possible, in the order Facebook needs.
//! 3. [`render`]: profiles, differences and calls as text for a person.
//! 4. [`command`]: the command line (`show`, `plan`, `apply`, `delete`): Graph calls, the
//!    confirmation prompt and exit codes.
//!
//! The payloads pushed are the policy's own: the Get Started payload and the menu payloads
//! come from the same [`ThreadSettingsSpec`](crate::policy::ThreadSettingsSpec) that
//! classification reads, so the buttons Facebook shows are the ones the classifier maps to
//! `GET_STARTED_BUTTON` and `PERSISTENT_MENU_ONE..FIVE`.
//!
//! Depends on [`crate::policy`], [`crate::i18n`] and [`crate::graph`]; nothing here runs in
//! the server (the Messenger Profile API allows 10 calls per 10 minutes: never push on start).

pub mod command;
pub mod desired;
pub mod diff;
pub mod render;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

pub use command::{ThreadSettingsCommand, run};
pub use diff::{Call, Change, Diff};

/// A Messenger Profile property that pagebot manages. The order is the order Facebook needs
/// them set in: whitelisted domains first (web_url buttons may need them), then Get Started
/// (the menu needs it), then the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `whitelisted_domains`: HTTPS domains of webviews and extensions.
    WhitelistedDomains,
    /// `get_started`: the Get Started button's payload.
    GetStarted,
    /// `greeting`: the text of an empty thread, per locale.
    Greeting,
    /// `persistent_menu`: the menu next to the composer, per locale.
    PersistentMenu,
    /// `ice_breakers`: questions offered in an empty thread, per locale.
    IceBreakers,
}

impl Field {
    /// Every managed field, in the order Facebook needs them set.
    pub const ALL: [Field; 5] = [
        Field::WhitelistedDomains,
        Field::GetStarted,
        Field::Greeting,
        Field::PersistentMenu,
        Field::IceBreakers,
    ];

    /// The property name in the Messenger Profile API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WhitelistedDomains => "whitelisted_domains",
            Self::GetStarted => "get_started",
            Self::Greeting => "greeting",
            Self::PersistentMenu => "persistent_menu",
            Self::IceBreakers => "ice_breakers",
        }
    }

    /// Whether the value is a list of per-locale entries (`[{"locale":..}, ..]`).
    pub fn is_localized(self) -> bool {
        matches!(
            self,
            Self::Greeting | Self::PersistentMenu | Self::IceBreakers
        )
    }

    /// Every property name, for `fields=` and error messages.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|f| f.as_str()).collect()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a managed Messenger Profile property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown thread settings field \"{0}\" (known: {known})", known = Field::names().join(", "))]
pub struct UnknownField(pub String);

impl FromStr for Field {
    type Err = UnknownField;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownField(s.to_owned()))
    }
}

/// Messenger Profile properties: what routing.yaml asks for, or what Graph has.
///
/// Only the managed [`Field`]s; iteration follows their order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    fields: BTreeMap<Field, Value>,
}

impl Profile {
    /// An empty profile (nothing set).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the managed properties out of a Graph answer (`data[0]` of
    /// `GET /me/messenger_profile`); other properties are ignored, and so is a `null` value.
    pub fn from_graph(value: &Value) -> Self {
        let mut profile = Self::new();
        if let Some(object) = value.as_object() {
            for field in Field::ALL {
                if let Some(v) = object.get(field.as_str()).filter(|v| !v.is_null()) {
                    profile.set(field, v.clone());
                }
            }
        }
        profile
    }

    /// Sets `field`.
    pub fn set(&mut self, field: Field, value: Value) {
        self.fields.insert(field, value);
    }

    /// The value of `field`, if set.
    pub fn get(&self, field: Field) -> Option<&Value> {
        self.fields.get(&field)
    }

    /// Whether no managed property is set.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The set properties, in [`Field`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Field, &Value)> {
        self.fields.iter().map(|(f, v)| (*f, v))
    }

    /// The profile as the API writes it: one JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.fields
                .iter()
                .map(|(f, v)| (f.as_str().to_owned(), v.clone()))
                .collect::<Map<String, Value>>(),
        )
    }
}

/// The Messenger Profile a served Page's files ask for, as `thread-settings plan` builds it:
/// from the Page's `thread_settings` file when pagebot.toml names one, else from its policy's
/// section; its texts in the Page's locales. The chat page draws its Get Started button,
/// persistent menu and ice breakers from it. The error is the file's problems, as text.
pub(crate) fn page_profile(page: &crate::pages::Page) -> Result<Profile, String> {
    let bot = page.bot();
    let locales = &bot.services.locales;
    match &page.settings().thread_settings {
        Some(file) => {
            let document = crate::policy::PolicyDocument::load_thread_settings(file)
                .map_err(|errors| errors.to_string())?;
            desired::desired_profile(&document, locales).map_err(|errors| errors.to_string())
        }
        None => desired::desired_profile(bot.policy.document(), locales)
            .map_err(|errors| errors.to_string()),
    }
}

/// The entry of a localized property (`greeting`, `persistent_menu`, `ice_breakers`) for
/// Facebook's locale `facebook` (`en_US`), else its `default` entry, as Messenger picks it.
pub(crate) fn localized_entry<'a>(value: &'a Value, facebook: Option<&str>) -> Option<&'a Value> {
    let entries = value.as_array()?;
    let locale_of = |entry: &Value| {
        entry
            .get("locale")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    facebook
        .and_then(|wanted| {
            entries
                .iter()
                .find(|entry| locale_of(entry).as_deref() == Some(wanted))
        })
        .or_else(|| {
            entries
                .iter()
                .find(|entry| locale_of(entry).as_deref() == Some("default"))
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_parse_by_their_api_name_and_keep_the_apply_order() {
        for field in Field::ALL {
            assert_eq!(field.as_str().parse::<Field>(), Ok(field));
        }
        let err = "home_url".parse::<Field>().unwrap_err().to_string();
        assert!(
            err.contains("\"home_url\"") && err.contains("ice_breakers"),
            "{err}"
        );
        let mut sorted = Field::ALL;
        sorted.sort();
        assert_eq!(sorted, Field::ALL);
        assert_eq!(Field::ALL[0], Field::WhitelistedDomains);
        assert_eq!(Field::ALL[1], Field::GetStarted);
    }

    #[test]
    fn from_graph_keeps_only_managed_non_null_fields() {
        let profile = Profile::from_graph(&json!({
            "get_started": {"payload": "GO"},
            "greeting": null,
            "home_url": {"url": "https://example.com"},
        }));
        assert_eq!(profile.to_json(), json!({"get_started": {"payload": "GO"}}));
        assert!(Profile::from_graph(&json!([])).is_empty());
    }
}
