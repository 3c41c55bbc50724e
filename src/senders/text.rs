//! `text`: a localized text message.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::{Outgoing, SendError, Sender};
use crate::context::Context;
use crate::registry::BuildContext;

/// The Send API's limit on a text message, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Sends one Fluent message as text.
#[derive(Debug, Clone)]
pub struct Text {
    message: String,
    args: BTreeMap<String, String>,
}

/// Arguments of `text`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextArgs {
    /// The Fluent message id.
    pub message: String,
    /// Fluent arguments; values may name variables: `"{user.first_name}"`, `"{match.1}"`.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

impl Text {
    /// Checks that the message exists in the default locale.
    pub fn from_args(args: TextArgs, cx: &BuildContext<'_>) -> Result<Self, String> {
        cx.require_message(&args.message)?;
        Ok(Self {
            message: args.message,
            args: args.args,
        })
    }
}

impl Sender for Text {
    fn build(&self, cx: &Context) -> Result<Vec<Outgoing>, SendError> {
        if cx.psid().is_none() {
            return Err(SendError::NoRecipient);
        }
        let text = cx.tr(&self.message, &self.args)?;
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(SendError::Limit(format!(
                "message \"{}\" is {chars} characters long; the Send API takes at most {MAX_TEXT_CHARS}",
                self.message
            )));
        }
        Ok(vec![cx.reply(json!({ "text": text }))])
    }
}
