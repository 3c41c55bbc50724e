//! The profile routing.yaml asks for: [`desired_profile`] localizes every text in every
//! shipped locale and checks every Messenger limit (MESSENGER.md section 7) before anything
//! is sent.
//!
//! The policy loader already checks what it can without texts (counts, payloads, https
//! domains, nested menus); the checks are repeated here because a
//! [`ThreadSettingsSpec`] can be built by hand, and the text limits (greeting 160 characters,
//! titles 30) can only be checked once each locale's text is known.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::{Value, json};
use unic_langid::LanguageIdentifier;

use super::{Field, Profile};
use crate::i18n::Locales;
use crate::policy::{
    MAX_ICE_BREAKERS, MAX_MENU_ITEMS, MAX_PAYLOAD_CHARS, MAX_WHITELISTED_DOMAINS, MenuItemKind,
    PolicyDocument, PolicyError, ThreadSettingsSpec,
};

/// The longest greeting, in characters, after localization.
pub const MAX_GREETING_CHARS: usize = 160;
/// The longest persistent menu title, in characters, after localization.
pub const MAX_MENU_TITLE_CHARS: usize = 30;

/// Why the desired profile cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A value of routing.yaml (or one of its texts in some locale) breaks a Messenger rule.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A locale folder has no Facebook locale name.
    #[error(
        "locale {tag}: the Messenger Profile API names locales language_REGION (like en_US), \
         so this locale needs a region in its folder name (like en-US)"
    )]
    NoRegion {
        /// The BCP 47 tag of the folder.
        tag: String,
    },
    /// Two locale folders map to the same Facebook locale.
    #[error("locales {first} and {second} are both {facebook} for Facebook: keep one of them")]
    SameFacebookLocale {
        /// One folder's tag.
        first: String,
        /// The other's.
        second: String,
        /// The Facebook locale both map to.
        facebook: String,
    },
}

/// Every reason the desired profile cannot be built, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitErrors(pub Vec<LimitError>);

impl fmt::Display for LimitErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LimitErrors {}

/// Facebook's name of a BCP 47 locale: `en-US` is `en_US`, `zh-Hant-TW` is `zh_TW` (the
/// script is dropped). `None` when the tag has no two-letter region (`fr`, `es-419`).
pub fn facebook_locale(tag: &LanguageIdentifier) -> Option<String> {
    let region = tag.region?;
    let region = region.as_str();
    if region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(format!(
        "{}_{}",
        tag.language.as_str(),
        region.to_ascii_uppercase()
    ))
}

/// Builds the profile `document`'s `thread_settings:` ask for, its texts from `locales`:
/// `get_started`, `greeting` and `persistent_menu` and `ice_breakers` with a `default` entry
/// (the default locale's text) and one entry per loaded locale, `whitelisted_domains`.
/// Properties the section leaves out are not in the profile.
///
/// Every problem is reported at once, each with the file and line it comes from.
pub fn desired_profile(
    document: &PolicyDocument,
    locales: &Locales,
) -> Result<Profile, LimitErrors> {
    let mut builder = Builder {
        file: &document.file,
        locales,
        errors: Vec::new(),
    };
    let profile = builder.build(&document.thread_settings);
    if builder.errors.is_empty() {
        Ok(profile)
    } else {
        Err(LimitErrors(builder.errors))
    }
}

/// One entry of a localized property: Facebook's locale name and the bundle to format in
/// (`None`: the default locale).
struct Entry {
    facebook: String,
    tag: Option<String>,
}

struct Builder<'a> {
    file: &'a Path,
    locales: &'a Locales,
    errors: Vec<LimitError>,
}

impl Builder<'_> {
    fn build(&mut self, spec: &ThreadSettingsSpec) -> Profile {
        let mut profile = Profile::new();
        let localized = spec.greeting.is_some()
            || !spec.persistent_menu.is_empty()
            || !spec.ice_breakers.is_empty();
        let entries = if localized {
            self.entries()
        } else {
            Vec::new()
        };

        if !spec.whitelisted_domains.is_empty() {
            if let Some(extra) = spec.whitelisted_domains.get(MAX_WHITELISTED_DOMAINS) {
                self.error(
                    extra.line,
                    format!(
                        "whitelisted_domains has {} entries; Messenger allows at most \
                         {MAX_WHITELISTED_DOMAINS}",
                        spec.whitelisted_domains.len()
                    ),
                );
            }
            for domain in &spec.whitelisted_domains {
                let rest = domain.value.strip_prefix("https://").unwrap_or_default();
                if rest.is_empty() || rest.contains(char::is_whitespace) {
                    self.error(
                        domain.line,
                        format!(
                            "whitelisted domain \"{}\" must be an https:// URL",
                            domain.value
                        ),
                    );
                }
            }
            let domains: Vec<&str> = spec
                .whitelisted_domains
                .iter()
                .map(|d| d.value.as_str())
                .collect();
            profile.set(Field::WhitelistedDomains, json!(domains));
        }

        if let Some(get_started) = &spec.get_started {
            self.payload("get_started payload", &get_started.value, get_started.line);
            profile.set(Field::GetStarted, json!({ "payload": get_started.value }));
        }

        if let Some(greeting) = &spec.greeting {
            let mut list = Vec::new();
            for entry in &entries {
                let what = format!("greeting \"{}\"", greeting.value);
                if let Some(text) = self.text(
                    &what,
                    &greeting.value,
                    entry,
                    MAX_GREETING_CHARS,
                    greeting.line,
                ) {
                    list.push(json!({ "locale": entry.facebook, "text": text }));
                }
            }
            profile.set(Field::Greeting, Value::Array(list));
        }

        if !spec.persistent_menu.is_empty() {
            if spec.get_started.is_none() {
                self.error(
                    spec.persistent_menu[0].line,
                    "a persistent_menu needs get_started too: Messenger refuses a menu on a Page \
                     without a Get Started button",
                );
            }
            if let Some(extra) = spec.persistent_menu.get(MAX_MENU_ITEMS) {
                self.error(
                    extra.line,
                    format!(
                        "persistent_menu has {} items; Messenger allows at most {MAX_MENU_ITEMS}",
                        spec.persistent_menu.len()
                    ),
                );
            }
            for (i, item) in spec.persistent_menu.iter().enumerate() {
                if let MenuItemKind::Postback { payload } = &item.kind {
                    self.payload(
                        &format!("persistent_menu item {} payload", i + 1),
                        payload,
                        item.line,
                    );
                }
            }
            let mut list = Vec::new();
            for entry in &entries {
                let mut items = Vec::new();
                for (i, item) in spec.persistent_menu.iter().enumerate() {
                    let what = format!("persistent_menu item {} title \"{}\"", i + 1, item.title);
                    let title = self
                        .text(&what, &item.title, entry, MAX_MENU_TITLE_CHARS, item.line)
                        .unwrap_or_default();
                    items.push(match &item.kind {
                        MenuItemKind::Postback { payload } => {
                            json!({ "type": "postback", "title": title, "payload": payload })
                        }
                        MenuItemKind::WebUrl { url } => {
                            json!({ "type": "web_url", "title": title, "url": url })
                        }
                    });
                }
                list.push(json!({
                    "locale": entry.facebook,
                    "composer_input_disabled": false,
                    "call_to_actions": items,
                }));
            }
            profile.set(Field::PersistentMenu, Value::Array(list));
        }

        if !spec.ice_breakers.is_empty() {
            if let Some(extra) = spec.ice_breakers.get(MAX_ICE_BREAKERS) {
                self.error(
                    extra.line,
                    format!(
                        "ice_breakers has {} items; Messenger allows at most {MAX_ICE_BREAKERS}",
                        spec.ice_breakers.len()
                    ),
                );
            }
            for (i, ice_breaker) in spec.ice_breakers.iter().enumerate() {
                self.payload(
                    &format!("ice_breakers item {} payload", i + 1),
                    &ice_breaker.payload,
                    ice_breaker.line,
                );
            }
            let mut list = Vec::new();
            for entry in &entries {
                let mut items = Vec::new();
                for (i, ice_breaker) in spec.ice_breakers.iter().enumerate() {
                    let what = format!(
                        "ice_breakers item {} question \"{}\"",
                        i + 1,
                        ice_breaker.question
                    );
                    let question = self
                        .text(
                            &what,
                            &ice_breaker.question,
                            entry,
                            usize::MAX,
                            ice_breaker.line,
                        )
                        .unwrap_or_default();
                    items.push(json!({ "question": question, "payload": ice_breaker.payload }));
                }
                list.push(json!({ "locale": entry.facebook, "call_to_actions": items }));
            }
            profile.set(Field::IceBreakers, Value::Array(list));
        }
        profile
    }

    /// `default`, then every loaded locale by its Facebook name.
    fn entries(&mut self) -> Vec<Entry> {
        let mut named: BTreeMap<String, String> = BTreeMap::new();
        for tag in self.locales.locales() {
            let Some(facebook) = facebook_locale(tag) else {
                self.errors.push(LimitError::NoRegion {
                    tag: tag.to_string(),
                });
                continue;
            };
            if let Some(first) = named.get(&facebook) {
                self.errors.push(LimitError::SameFacebookLocale {
                    first: first.clone(),
                    second: tag.to_string(),
                    facebook,
                });
                continue;
            }
            named.insert(facebook, tag.to_string());
        }
        std::iter::once(Entry {
            facebook: "default".to_owned(),
            tag: None,
        })
        .chain(named.into_iter().map(|(facebook, tag)| Entry {
            facebook,
            tag: Some(tag),
        }))
        .collect()
    }

    /// Formats `id` for `entry`; checks it is 1 to `max` characters.
    fn text(
        &mut self,
        what: &str,
        id: &str,
        entry: &Entry,
        max: usize,
        line: u32,
    ) -> Option<String> {
        let locale = entry
            .tag
            .clone()
            .unwrap_or_else(|| self.locales.default_locale().to_string());
        let text = match self
            .locales
            .format(entry.tag.as_deref(), id, &BTreeMap::new())
        {
            Ok(text) => text,
            Err(e) => {
                self.error(line, format!("{what} in {locale}: {e}"));
                return None;
            }
        };
        let n = text.chars().count();
        if text.trim().is_empty() {
            self.error(line, format!("{what} is empty in {locale}"));
        } else if n > max {
            self.error(
                line,
                format!(
                    "{what} has {n} characters in {locale} ({text:?}); Messenger allows at most \
                     {max}"
                ),
            );
        }
        Some(text)
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

    fn error(&mut self, line: u32, message: impl Into<String>) {
        self.errors.push(LimitError::Policy(PolicyError::at(
            self.file, line, message,
        )));
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::event::{ClassifyConfig, Messaging, ReceivingType, classify};
    use crate::policy::{IceBreakerSpec, Located, MenuItemSpec};

    const EN: &str = "\
greeting-text = Hi {\"{{\"}user_first_name{\"}}\"}!
menu-help = Help
menu-site = Website
ask-hours = When are you open?
";
    const ZH: &str = "\
greeting-text = 你好 {\"{{\"}user_first_name{\"}}\"}！
menu-help = 說明
ask-hours = 幾點開門？
";

    fn locales_with(extra: &[(&str, &str)]) -> Locales {
        let mut sources = vec![
            (
                "en-US".to_owned(),
                vec![(PathBuf::from("en.ftl"), EN.to_owned())],
            ),
            (
                "zh-TW".to_owned(),
                vec![(PathBuf::from("zh.ftl"), ZH.to_owned())],
            ),
        ];
        for (tag, text) in extra {
            sources.push((
                (*tag).to_owned(),
                vec![(PathBuf::from("x.ftl"), (*text).to_owned())],
            ));
        }
        Locales::from_sources("en-US".parse().unwrap(), sources).unwrap()
    }

    const POLICY: &str = "\
thread_settings:
  get_started: { payload: GET_STARTED }
  greeting: greeting-text
  persistent_menu:
    - { type: postback, title: menu-help, payload: HELP }
    - { type: web_url, title: menu-site, url: \"https://example.com\" }
  ice_breakers:
    - { question: ask-hours, payload: HOURS }
  whitelisted_domains: [\"https://example.com\"]
";

    fn document(text: &str) -> PolicyDocument {
        PolicyDocument::parse(Path::new("routing.yaml"), text).unwrap()
    }

    #[test]
    fn facebook_locale_names() {
        for (tag, want) in [
            ("en-US", Some("en_US")),
            ("zh-TW", Some("zh_TW")),
            ("zh-Hant-TW", Some("zh_TW")),
            ("pt-br", Some("pt_BR")),
            ("fr", None),
            ("es-419", None),
        ] {
            let tag: LanguageIdentifier = tag.parse().unwrap();
            assert_eq!(facebook_locale(&tag).as_deref(), want, "{tag}");
        }
    }

    #[test]
    fn builds_every_field_with_a_default_entry_and_one_per_locale() {
        let profile = desired_profile(&document(POLICY), &locales_with(&[])).unwrap();
        assert_eq!(
            profile.to_json(),
            json!({
                "whitelisted_domains": ["https://example.com"],
                "get_started": {"payload": "GET_STARTED"},
                "greeting": [
                    {"locale": "default", "text": "Hi {{user_first_name}}!"},
                    {"locale": "en_US", "text": "Hi {{user_first_name}}!"},
                    {"locale": "zh_TW", "text": "你好 {{user_first_name}}！"},
                ],
                "persistent_menu": [
                    {"locale": "default", "composer_input_disabled": false, "call_to_actions": [
                        {"type": "postback", "title": "Help", "payload": "HELP"},
                        {"type": "web_url", "title": "Website", "url": "https://example.com"},
                    ]},
                    {"locale": "en_US", "composer_input_disabled": false, "call_to_actions": [
                        {"type": "postback", "title": "Help", "payload": "HELP"},
                        {"type": "web_url", "title": "Website", "url": "https://example.com"},
                    ]},
                    // zh-TW has no menu-site: the default locale's text stands in.
                    {"locale": "zh_TW", "composer_input_disabled": false, "call_to_actions": [
                        {"type": "postback", "title": "說明", "payload": "HELP"},
                        {"type": "web_url", "title": "Website", "url": "https://example.com"},
                    ]},
                ],
                "ice_breakers": [
                    {"locale": "default", "call_to_actions": [
                        {"question": "When are you open?", "payload": "HOURS"}]},
                    {"locale": "en_US", "call_to_actions": [
                        {"question": "When are you open?", "payload": "HOURS"}]},
                    {"locale": "zh_TW", "call_to_actions": [
                        {"question": "幾點開門？", "payload": "HOURS"}]},
                ],
            })
        );
    }

    #[test]
    fn a_section_without_texts_needs_no_locale_names() {
        let doc = document("thread_settings:\n  get_started: { payload: GO }\n");
        let profile = desired_profile(&doc, &locales_with(&[("fr", "x = y\n")])).unwrap();
        assert_eq!(profile.to_json(), json!({"get_started": {"payload": "GO"}}));
        assert!(
            desired_profile(&document(""), &locales_with(&[]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn localized_limits_name_the_line_the_locale_and_the_limit() {
        let long_title = "menu-help = Aide et informations sur ce service\n";
        let long_greeting = format!("greeting-text = {}\n", "é".repeat(161));
        let locales = locales_with(&[
            ("fr-FR", &format!("{long_title}{long_greeting}")),
            ("de", "menu-help = Hilfe\n"),
        ]);
        let err = desired_profile(&document(POLICY), &locales).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("routing.yaml:3: greeting \"greeting-text\" has 161 characters in fr-FR")
                && text.contains("Messenger allows at most 160"),
            "{text}"
        );
        assert!(
            text.contains(
                "routing.yaml:5: persistent_menu item 1 title \"menu-help\" has 35 characters \
                 in fr-FR (\"Aide et informations sur ce service\")"
            ) && text.contains("at most 30"),
            "{text}"
        );
        assert!(
            text.contains("locale de: the Messenger Profile API names locales language_REGION"),
            "{text}"
        );
        assert_eq!(err.0.len(), 3, "{text}");
    }

    #[test]
    fn two_folders_with_one_facebook_name_are_refused() {
        let locales = locales_with(&[("zh-Hant-TW", "menu-help = 說明\n")]);
        let err = desired_profile(&document(POLICY), &locales).unwrap_err();
        assert!(
            matches!(&err.0[..], [LimitError::SameFacebookLocale { facebook, .. }] if facebook == "zh_TW"),
            "{err}"
        );
    }

    #[test]
    fn a_spec_built_by_hand_is_checked_too() {
        let line = |value: &str, line| Located {
            value: value.to_owned(),
            line,
        };
        let mut doc = document("");
        doc.thread_settings = ThreadSettingsSpec {
            get_started: None,
            greeting: None,
            persistent_menu: (0..21)
                .map(|i| MenuItemSpec {
                    kind: MenuItemKind::Postback {
                        payload: if i == 0 {
                            "P".repeat(1001)
                        } else {
                            format!("P{i}")
                        },
                    },
                    title: "menu-help".into(),
                    line: 10 + i,
                })
                .collect(),
            ice_breakers: (0..5)
                .map(|i| IceBreakerSpec {
                    question: "ask-hours".into(),
                    payload: format!("Q{i}"),
                    line: 40 + i,
                })
                .collect(),
            whitelisted_domains: vec![line("http://example.com", 50)],
        };
        let err = desired_profile(&doc, &locales_with(&[]))
            .unwrap_err()
            .to_string();
        for needle in [
            "routing.yaml:10: a persistent_menu needs get_started too",
            "routing.yaml:30: persistent_menu has 21 items; Messenger allows at most 20",
            "routing.yaml:10: persistent_menu item 1 payload has 1001 characters",
            "routing.yaml:44: ice_breakers has 5 items; Messenger allows at most 4",
            "routing.yaml:50: whitelisted domain \"http://example.com\" must be an https:// URL",
        ] {
            assert!(err.contains(needle), "{needle}\n{err}");
        }
    }

    #[test]
    fn menu_and_get_started_payloads_are_the_ones_the_classifier_maps() {
        let doc = document(
            "thread_settings:
  get_started: { payload: START }
  persistent_menu:
    - { type: postback, title: menu-help, payload: ONE }
    - { type: web_url, title: menu-site, url: \"https://example.com\" }
    - { type: postback, title: menu-help, payload: THREE }
",
        );
        let profile = desired_profile(&doc, &locales_with(&[])).unwrap();
        let cfg = ClassifyConfig {
            get_started_payload: doc.get_started_payload().map(str::to_owned),
            persistent_menu_payloads: doc.persistent_menu_payloads(),
        };
        let postback = |payload: &str| -> ReceivingType {
            let m: Messaging = serde_json::from_value(json!({
                "sender": {"id": "1"}, "recipient": {"id": "2"}, "timestamp": 1,
                "postback": {"title": "t", "payload": payload}
            }))
            .unwrap();
            classify(&m, &cfg)
        };
        let get_started = profile.get(Field::GetStarted).unwrap()["payload"]
            .as_str()
            .unwrap();
        assert_eq!(postback(get_started), ReceivingType::GetStartedButton);
        for entry in profile
            .get(Field::PersistentMenu)
            .unwrap()
            .as_array()
            .unwrap()
        {
            let items = entry["call_to_actions"].as_array().unwrap();
            assert_eq!(
                postback(items[0]["payload"].as_str().unwrap()),
                ReceivingType::PERSISTENT_MENU[0]
            );
            assert_eq!(
                postback(items[2]["payload"].as_str().unwrap()),
                ReceivingType::PERSISTENT_MENU[2]
            );
        }
    }
}
