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
use pagebot::senders::{Message, QuickReply};
use pagebot::{Context, Outgoing, SendError, Sender};
use serde::Deserialize;

/// Sends a question with example answers to tap.
#[derive(Debug, Clone)]
pub struct Suggest {
    message: String,
    examples: Vec<QuickReply>,
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
    /// Checks the message id and the quick reply limits: pagebot's builders check each title
    /// here, and the count with a stand-in text, so the policy is refused at load.
    pub fn from_args(args: SuggestArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        cx.require_message(&args.message)?;
        let examples = args
            .examples
            .into_iter()
            .map(|example| QuickReply::text(example, "EXAMPLE"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("examples: {e}"))?;
        Message::text("?")
            .and_then(|m| m.with_quick_replies(examples.clone()))
            .map_err(|e| format!("examples: {e}"))?;
        Ok(Self {
            message: args.message,
            examples,
        })
    }
}

impl Sender for Suggest {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        if cx.psid().is_none() {
            return Err(SendError::NoRecipient);
        }
        let text = cx.tr(&self.message, &BTreeMap::new())?;
        let message = Message::text(text)?.with_quick_replies(self.examples.clone())?;
        Ok(vec![cx.reply(message)])
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
        assert_eq!(
            err,
            "examples: quick reply title is 21 characters, at most 20"
        );
        let err = build("try-one", &[]).unwrap_err();
        assert_eq!(err, "examples: 0 quick replies, at least 1");
        let fourteen = ["1 C"; 14];
        assert_eq!(
            build("try-one", &fourteen).unwrap_err(),
            "examples: 14 quick replies, at most 13"
        );
        assert!(build("try-one", &[""]).is_err());
        let err = build("no-such-message", &["1 C"]).unwrap_err();
        assert!(err.contains("no-such-message"), "{err}");
    }
}
