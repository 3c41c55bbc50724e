//! `suggest`: a localized question with example inputs as quick replies.
//!
//! ```yaml
//! - suggest: { message: try-one, examples: ["21 °C", "70 °F"] }
//! ```
//!
//! The Send API limits (MESSENGER.md section 5: at most 13 quick replies, titles of 1 to 20
//! characters) are checked when the policy loads, so `pagebot check` and `serve` refuse a
//! policy that breaks them instead of Facebook refusing the message later. Tapping an example
//! sends its title back as the message text, with the payload `EXAMPLE`.

use std::collections::BTreeMap;

use pagebot::registry::BuildContext;
use pagebot::{Context, Outgoing, SendError, Sender};
use serde::Deserialize;
use serde_json::json;

/// The most quick replies a message may carry.
pub const MAX_QUICK_REPLIES: usize = 13;
/// The longest quick reply title, in characters.
pub const MAX_TITLE_CHARS: usize = 20;
/// The longest text message, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Sends a question with example answers to tap.
#[derive(Debug, Clone)]
pub struct Suggest {
    message: String,
    examples: Vec<String>,
}

/// Arguments of `suggest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestArgs {
    /// The Fluent message id of the question.
    pub message: String,
    /// The examples, shown as quick replies (1 to 13, each 1 to 20 characters).
    pub examples: Vec<String>,
}

impl Suggest {
    /// Checks the message id and the quick reply limits.
    pub fn from_args(args: SuggestArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        cx.require_message(&args.message)?;
        if args.examples.is_empty() || args.examples.len() > MAX_QUICK_REPLIES {
            return Err(format!(
                "examples has {} items; a message takes 1 to {MAX_QUICK_REPLIES} quick replies",
                args.examples.len()
            ));
        }
        for example in &args.examples {
            let chars = example.chars().count();
            if chars == 0 || chars > MAX_TITLE_CHARS {
                return Err(format!(
                    "example {example:?} is {chars} characters long; a quick reply title takes 1 to {MAX_TITLE_CHARS}"
                ));
            }
        }
        Ok(Self {
            message: args.message,
            examples: args.examples,
        })
    }
}

impl Sender for Suggest {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        if cx.psid().is_none() {
            return Err(SendError::NoRecipient);
        }
        let text = cx.tr(&self.message, &BTreeMap::new())?;
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(SendError::Limit(format!(
                "message \"{}\" is {chars} characters long; the Send API takes at most {MAX_TEXT_CHARS}",
                self.message
            )));
        }
        let quick_replies: Vec<_> = self
            .examples
            .iter()
            .map(|title| json!({ "content_type": "text", "title": title, "payload": "EXAMPLE" }))
            .collect();
        Ok(vec![cx.reply(
            json!({ "text": text, "quick_replies": quick_replies }),
        )])
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use pagebot::i18n::Locales;

    use super::*;

    fn build(message: &str, examples: &[&str]) -> Result<Suggest, String> {
        let locales = Locales::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("locales"),
            "en-US",
        )
        .unwrap();
        Suggest::from_args(
            SuggestArgs {
                message: message.into(),
                examples: examples.iter().map(|e| (*e).to_owned()).collect(),
            },
            &BuildContext::new(&locales),
        )
    }

    #[test]
    fn the_send_api_limits_are_checked_at_load() {
        assert!(build("try-one", &["21 °C", "70 °F"]).is_ok());
        // 20 characters is the most a title takes, counted in characters, not bytes.
        assert!(build("try-one", &["°°°°°°°°°°°°°°°°°°°°"]).is_ok());
        let err = build("try-one", &["°°°°°°°°°°°°°°°°°°°°°"]).unwrap_err();
        assert!(err.contains("21 characters long"), "{err}");
        let err = build("try-one", &[]).unwrap_err();
        assert!(err.contains("1 to 13 quick replies"), "{err}");
        let fourteen = ["1 C"; 14];
        assert!(build("try-one", &fourteen).is_err());
        assert!(build("try-one", &[""]).is_err());
        let err = build("no-such-message", &["1 C"]).unwrap_err();
        assert!(err.contains("no-such-message"), "{err}");
    }
}
