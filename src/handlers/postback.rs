//! `postback`: a postback whose payload matches exactly (`payload`) or by `regex` (captures
//! become `match.0`, `match.1`, `match.NAME`); without either, any postback (also one from
//! `standby`, which has no payload). Leaves `payload` and `postback.title` for the senders.
//! Stores nothing.
//!
//! The Get Started button and the persistent menu items are postbacks too: the classifier
//! already routes those whose payload `thread_settings` names to `GET_STARTED_BUTTON` and
//! `PERSISTENT_MENU_ONE`..`FIVE`, so under those routes `postback` needs no arguments and
//! the payload is written once, in `thread_settings`.

use async_trait::async_trait;
use serde::Deserialize;

use super::payload::PayloadMatch;
use super::{Handler, HandlerError};
use crate::context::Context;

/// Matches postback payloads.
#[derive(Debug, Clone)]
pub struct Postback {
    matcher: PayloadMatch,
}

/// Arguments of `postback`: at most one of `payload` and `regex`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostbackArgs {
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

impl Postback {
    /// Checks the arguments and compiles the regex once, at policy load.
    pub fn from_args(args: PostbackArgs) -> Result<Self, String> {
        Ok(Self {
            matcher: PayloadMatch::from_args(args.payload, args.regex, args.ignore_case)?,
        })
    }
}

fn payload(cx: &Context) -> Option<&str> {
    cx.event.messaging.postback.as_ref()?.payload.as_deref()
}

#[async_trait]
impl Handler for Postback {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.event.messaging.postback.is_some() && self.matcher.matches(payload(cx))
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let mut vars = self.matcher.vars(payload(cx));
        if let Some(title) = cx
            .event
            .messaging
            .postback
            .as_ref()
            .and_then(|p| p.title.clone())
        {
            vars.push(("postback.title".into(), title));
        }
        cx.vars.extend(vars);
        Ok(())
    }
}
