//! `quick_reply`: a tap on a quick reply whose payload matches exactly (`payload`) or by
//! `regex` (captures become `match.0`, `match.1`, `match.NAME`); without either, any quick
//! reply. Leaves the payload as `payload` for the senders. Stores nothing.

use async_trait::async_trait;
use serde::Deserialize;

use super::payload::PayloadMatch;
use super::{Handler, HandlerError, user_message};
use crate::context::Context;

/// Matches quick-reply payloads.
#[derive(Debug, Clone)]
pub struct QuickReply {
    matcher: PayloadMatch,
}

/// Arguments of `quick_reply`: at most one of `payload` and `regex`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickReplyArgs {
    /// The payload must be exactly this.
    #[serde(default)]
    pub payload: Option<String>,
    /// The payload must match this (anywhere, unless anchored).
    #[serde(default)]
    pub regex: Option<String>,
    /// Match the regex without regard to case.
    #[serde(default)]
    pub ignore_case: bool,
}

impl QuickReply {
    /// Checks the arguments and compiles the regex once, at policy load.
    pub fn from_args(args: QuickReplyArgs) -> Result<Self, String> {
        Ok(Self {
            matcher: PayloadMatch::from_args(args.payload, args.regex, args.ignore_case)?,
        })
    }
}

fn payload(cx: &Context) -> Option<&str> {
    user_message(cx)?
        .quick_reply
        .as_ref()
        .map(|q| q.payload.as_str())
}

#[async_trait]
impl Handler for QuickReply {
    fn should_handle(&self, cx: &Context) -> bool {
        user_message(cx).is_some_and(|m| m.quick_reply.is_some())
            && self.matcher.matches(payload(cx))
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let vars = self.matcher.vars(payload(cx));
        cx.vars.extend(vars);
        Ok(())
    }
}
