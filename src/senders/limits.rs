//! The Send API's limits (MESSENGER.md section 5) and the checked values built from them.
//!
//! Each sender turns its YAML arguments into these values when the policy loads, so a limit is
//! broken in `pagebot check`, with the file and line, not at Facebook. Lengths are counted in
//! characters (Unicode scalar values), never bytes, the way the Send API counts them.
//!
//! Texts and titles are Fluent message ids ([`LocalizedText`]): their length is checked after
//! localization, in every loaded locale that defines the message. A text whose arguments name
//! variables (`{user.first_name}`) can only be checked on its static part at load (each variable
//! counted as empty); if the filled-in text is too long at send time it is cut at a character
//! boundary to the limit, ending with `…`, and a warning is logged (a reply cut short is better
//! than no reply; Facebook would refuse the whole message).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use super::SendError;
use crate::context::{Context, expand_with};
use crate::i18n::I18nError;
use crate::registry::BuildContext;

/// A text message, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Quick replies on one message.
pub const MAX_QUICK_REPLIES: usize = 13;
/// A quick reply's title, in characters.
pub const MAX_QUICK_REPLY_TITLE_CHARS: usize = 20;
/// A payload (quick reply, postback button), in characters.
pub const MAX_PAYLOAD_CHARS: usize = 1000;
/// Buttons of a button template (at least 1) and of a generic template element.
pub const MAX_BUTTONS: usize = 3;
/// A button's title, in characters (every button type).
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// The text of a button template, in characters.
pub const MAX_BUTTON_TEMPLATE_TEXT_CHARS: usize = 640;
/// Elements of a generic template (a carousel).
pub const MAX_GENERIC_ELEMENTS: usize = 10;
/// A generic template element's title, in characters.
pub const MAX_ELEMENT_TITLE_CHARS: usize = 80;
/// A generic template element's subtitle, in characters.
pub const MAX_ELEMENT_SUBTITLE_CHARS: usize = 80;
/// Elements (order lines) of a receipt template.
pub const MAX_RECEIPT_ELEMENTS: usize = 100;

/// A Send API limit broken by a policy's sender arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// Too many items in a list: `14 quick replies, at most 13`.
    #[error("{got} {what}, at most {max}")]
    TooMany {
        /// The items, plural (`quick replies`).
        what: &'static str,
        /// How many there are.
        got: usize,
        /// The most allowed.
        max: usize,
    },
    /// Too few items in a list: `0 buttons, at least 1`.
    #[error("{got} {what}, at least {min}")]
    TooFew {
        /// The items, plural.
        what: &'static str,
        /// How many there are.
        got: usize,
        /// The fewest allowed.
        min: usize,
    },
    /// A text over its length: `button 1 title "menu-help" is 23 characters in zh-TW, at most 20`.
    #[error("{what} is {got} characters{}, at most {max}", InLocale(.locale))]
    TooLong {
        /// The text (`button 1 title "menu-help"`).
        what: String,
        /// Its length in characters.
        got: usize,
        /// The most allowed.
        max: usize,
        /// The locale it was formatted in, for Fluent texts.
        locale: Option<String>,
    },
    /// A text that must not be empty is.
    #[error("{what} is empty{}", InLocale(.locale))]
    Empty {
        /// The text.
        what: String,
        /// The locale it was formatted in, for Fluent texts.
        locale: Option<String>,
    },
    /// A value of the wrong form (a URL that is not http(s), say).
    #[error("{what} {reason}")]
    Invalid {
        /// The value (`button 2 url`).
        what: String,
        /// What is wrong, a sentence fragment (`must start with https:// or http://`).
        reason: String,
    },
}

/// ` in zh-TW` for a known locale, nothing otherwise.
struct InLocale<'a>(&'a Option<String>);

impl fmt::Display for InLocale<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(locale) => write!(f, " in {locale}"),
            None => Ok(()),
        }
    }
}

/// An error unless `got` lies in `min..=max`; `what` names the items, plural.
pub fn count(what: &'static str, got: usize, min: usize, max: usize) -> Result<(), LimitError> {
    if got < min {
        Err(LimitError::TooFew { what, got, min })
    } else if got > max {
        Err(LimitError::TooMany { what, got, max })
    } else {
        Ok(())
    }
}

/// An error unless `text` has 1 to `max` characters.
pub fn length(what: &str, text: &str, max: usize) -> Result<(), LimitError> {
    let got = text.chars().count();
    if got == 0 {
        Err(LimitError::Empty {
            what: what.to_owned(),
            locale: None,
        })
    } else if got > max {
        Err(LimitError::TooLong {
            what: what.to_owned(),
            got,
            max,
            locale: None,
        })
    } else {
        Ok(())
    }
}

/// Every problem found in one sender's arguments, reported as one policy error.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// Keeps `result`'s value, or notes its error and gives `None`.
    pub fn check<T, E: fmt::Display>(&mut self, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.0.push(e.to_string());
                None
            }
        }
    }

    /// Notes a problem.
    pub fn push(&mut self, problem: impl fmt::Display) {
        self.0.push(problem.to_string());
    }

    /// `value` if nothing was noted, else every problem joined by `; `.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, String> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ if self.0.is_empty() => Err("invalid arguments".to_owned()),
            _ => Err(self.0.join("; ")),
        }
    }
}

/// A payload (quick reply, postback): 1 to 1000 characters, sent back to the bot as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(String);

impl Payload {
    /// Checks `payload`'s length; `what` names it in the error (`button 2 payload`).
    pub fn parse(what: &str, payload: String) -> Result<Self, LimitError> {
        length(what, &payload, MAX_PAYLOAD_CHARS)?;
        Ok(Self(payload))
    }

    /// The payload.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute `https://` or `http://` URL without spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url(String);

impl Url {
    /// Checks the form of `url`; `what` names it in the error (`image_url`).
    pub fn parse(what: &str, url: String) -> Result<Self, LimitError> {
        let invalid = |reason: &str| LimitError::Invalid {
            what: format!("{what} \"{url}\""),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| invalid("must start with https:// or http://"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("has no host"));
        }
        if url.chars().any(char::is_whitespace) {
            return Err(invalid("must not contain spaces"));
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number for a `phone_number` button: `+`, a country code and the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks `number`'s form; `what` names it in the error.
    pub fn parse(what: &str, number: String) -> Result<Self, LimitError> {
        let digits = number.strip_prefix('+').unwrap_or_default();
        let ok = !digits.is_empty()
            && digits.chars().any(|c| c.is_ascii_digit())
            && digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'));
        if !ok {
            return Err(LimitError::Invalid {
                what: format!("{what} \"{number}\""),
                reason: "must be a phone number starting with + and a country code".to_owned(),
            });
        }
        length(what, &number, MAX_PAYLOAD_CHARS)?;
        Ok(Self(number))
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Fluent message id with its arguments, checked against a length limit in every locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalizedText {
    what: String,
    id: String,
    args: BTreeMap<String, String>,
    max: usize,
}

impl LocalizedText {
    /// Checks that the default locale defines `id`, and that in every locale that defines it
    /// the text, formatted with each argument's static part, formats without error, is not
    /// empty (unless an argument names a variable) and has at most `max` characters.
    ///
    /// `what` names the text in errors: `quick reply 2 title`. Every problem is reported.
    pub fn parse(
        what: &str,
        id: String,
        args: BTreeMap<String, String>,
        max: usize,
        cx: &BuildContext<'_>,
    ) -> Result<Self, String> {
        // The sender's own text needs no label: "message id \"x\" is not defined ...".
        cx.require_message(&id).map_err(|e| {
            if what == "message" {
                e
            } else {
                format!("{what}: {e}")
            }
        })?;
        let what = format!("{what} \"{id}\"");
        let has_variables = Cell::new(false);
        let static_args: BTreeMap<String, String> = args
            .iter()
            .map(|(name, template)| {
                let value = expand_with(template, |_| {
                    has_variables.set(true);
                    None
                });
                (name.clone(), value)
            })
            .collect();
        let mut problems = Problems::default();
        for (locale, text) in cx.locales.format_each(&id, &static_args) {
            let text = match text {
                Ok(text) => text,
                Err(I18nError::Format { problems: why, .. }) => {
                    problems.push(format_args!(
                        "{what} cannot be formatted in {locale}: {why}"
                    ));
                    continue;
                }
                Err(e) => {
                    problems.push(format_args!("{what} cannot be formatted in {locale}: {e}"));
                    continue;
                }
            };
            let got = text.chars().count();
            if got == 0 && !has_variables.get() {
                problems.push(LimitError::Empty {
                    what: what.clone(),
                    locale: Some(locale),
                });
            } else if got > max {
                problems.push(LimitError::TooLong {
                    what: what.clone(),
                    got,
                    max,
                    locale: Some(locale),
                });
            }
        }
        problems.finish(Some(Self {
            what,
            id,
            args,
            max,
        }))
    }

    /// The Fluent message id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Formats the text in the user's locale with the event's variables.
    ///
    /// A text that variables made too long is cut to the limit (ending with `…`) and logged;
    /// one that they left empty is an error, since Messenger refuses empty texts.
    pub fn render(&self, cx: &Context) -> Result<String, SendError> {
        let text = cx.tr(&self.id, &self.args)?;
        let got = text.chars().count();
        if got == 0 {
            return Err(SendError::Limit(format!(
                "{} is empty once its variables are filled in",
                self.what
            )));
        }
        if got <= self.max {
            return Ok(text);
        }
        log::warn!(
            "event {}: {} is {got} characters once its variables are filled in, at most {}: cut",
            cx.event.inbox_id,
            self.what,
            self.max
        );
        Ok(truncate(&text, self.max))
    }
}

/// `text` cut to at most `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_name_the_limit() {
        assert_eq!(
            count("quick replies", 14, 1, MAX_QUICK_REPLIES)
                .unwrap_err()
                .to_string(),
            "14 quick replies, at most 13"
        );
        assert_eq!(
            count("buttons", 0, 1, MAX_BUTTONS).unwrap_err().to_string(),
            "0 buttons, at least 1"
        );
        assert_eq!(count("buttons", 3, 1, MAX_BUTTONS), Ok(()));
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        let payload = "é".repeat(MAX_PAYLOAD_CHARS);
        assert!(payload.len() > MAX_PAYLOAD_CHARS);
        assert!(Payload::parse("payload", payload).is_ok());
        assert_eq!(
            Payload::parse("button 1 payload", "x".repeat(1001))
                .unwrap_err()
                .to_string(),
            "button 1 payload is 1001 characters, at most 1000"
        );
        assert_eq!(
            Payload::parse("button 1 payload", String::new())
                .unwrap_err()
                .to_string(),
            "button 1 payload is empty"
        );
        let err = LimitError::TooLong {
            what: "button 1 title \"menu-help\"".into(),
            got: 23,
            max: 20,
            locale: Some("zh-TW".into()),
        };
        assert_eq!(
            err.to_string(),
            "button 1 title \"menu-help\" is 23 characters in zh-TW, at most 20"
        );
    }

    #[test]
    fn urls_and_phone_numbers_are_checked() {
        assert!(Url::parse("url", "https://example.com/a.png".into()).is_ok());
        assert!(Url::parse("url", "http://example.com".into()).is_ok());
        for bad in [
            "example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
        ] {
            let err = Url::parse("image url", bad.into()).unwrap_err().to_string();
            assert!(err.starts_with(&format!("image url \"{bad}\" ")), "{err}");
        }
        assert!(PhoneNumber::parse("payload", "+1 (555) 010-9999".into()).is_ok());
        for bad in ["5550100", "+", "+abc", ""] {
            assert!(PhoneNumber::parse("payload", bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("你好世界", 3), "你好…");
        assert_eq!(truncate("你好", 3), "你好");
        assert_eq!(truncate(&"é".repeat(2001), 2000).chars().count(), 2000);
    }

    #[test]
    fn problems_are_all_reported() {
        let mut problems = Problems::default();
        assert_eq!(problems.check(count("buttons", 4, 1, 3)), None);
        problems.push("second");
        assert_eq!(
            problems.finish(Some(())),
            Err("4 buttons, at most 3; second".to_owned())
        );
        assert_eq!(Problems::default().finish(Some(1)), Ok(1));
    }
}
