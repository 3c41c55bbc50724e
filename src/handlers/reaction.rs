//! `reaction`: a user reacted to a message, or took the reaction back. Stores it once per
//! event; `reactions` and `action` narrow what is handled (say, only `love` being added).
//! Leaves `reaction.reaction`, `reaction.emoji`, `reaction.action`, `reaction.mid`.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, check_names, event_time};
use crate::context::Context;
use crate::store::{now_ms, reactions};

const REACTIONS: [&str; 8] = [
    "smile", "angry", "sad", "wow", "love", "like", "dislike", "other",
];
const ACTIONS: [&str; 2] = ["react", "unreact"];

/// Stores reactions.
#[derive(Debug, Clone, Default)]
pub struct Reaction {
    reactions: Vec<String>,
    action: Option<String>,
}

/// Arguments of `reaction`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionArgs {
    /// Handle only these reactions (smile, angry, sad, wow, love, like, dislike, other);
    /// absent: all.
    #[serde(default)]
    pub reactions: Vec<String>,
    /// `react` or `unreact`: handle only that; absent: both.
    #[serde(default)]
    pub action: Option<String>,
}

impl Reaction {
    /// Checks the names.
    pub fn from_args(args: ReactionArgs) -> Result<Self, String> {
        check_names("reactions", &args.reactions, &REACTIONS)?;
        if let Some(action) = &args.action {
            check_names("action", std::slice::from_ref(action), &ACTIONS)?;
        }
        Ok(Self {
            reactions: args.reactions,
            action: args.action,
        })
    }

    fn wants(&self, r: &crate::event::Reaction) -> bool {
        let reaction_ok = self.reactions.is_empty()
            || r.reaction
                .as_ref()
                .is_some_and(|x| self.reactions.contains(x));
        let action_ok = self
            .action
            .as_ref()
            .is_none_or(|want| r.action.as_ref() == Some(want));
        reaction_ok && action_ok
    }
}

#[async_trait]
impl Handler for Reaction {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some()
            && cx
                .event
                .messaging
                .reaction
                .as_ref()
                .is_some_and(|r| self.wants(r))
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(r)) = (cx.psid(), cx.event.messaging.reaction.clone()) else {
            return Ok(());
        };
        let vars = [
            ("reaction.reaction", r.reaction.clone()),
            ("reaction.emoji", r.emoji.clone()),
            ("reaction.action", r.action.clone()),
            ("reaction.mid", r.mid.clone()),
        ];
        let row = reactions::Reaction {
            event_id: cx.event.inbox_id,
            page_id: cx.event.page_id.clone().unwrap_or_default(),
            psid: psid.to_owned(),
            mid: r.mid,
            reaction: r.reaction,
            emoji: r.emoji,
            action: r.action,
            event_time: event_time(cx),
            created_at: now_ms(),
        };
        cx.store()
            .run(move |conn| reactions::record(conn, &row))
            .await?;
        for (name, value) in vars {
            if let Some(value) = value {
                cx.vars.insert(name.to_owned(), value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reaction: &str, action: &str) -> crate::event::Reaction {
        crate::event::Reaction {
            reaction: Some(reaction.into()),
            action: Some(action.into()),
            ..Default::default()
        }
    }

    #[test]
    fn filters_narrow_what_is_handled() {
        let all = Reaction::from_args(ReactionArgs::default()).unwrap();
        assert!(all.wants(&event("sad", "unreact")));
        let love = Reaction::from_args(ReactionArgs {
            reactions: vec!["love".into(), "like".into()],
            action: Some("react".into()),
        })
        .unwrap();
        assert!(love.wants(&event("love", "react")));
        assert!(love.wants(&event("like", "react")));
        assert!(!love.wants(&event("love", "unreact")));
        assert!(!love.wants(&event("angry", "react")));
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = Reaction::from_args(ReactionArgs {
            reactions: vec!["heart".into()],
            action: None,
        })
        .unwrap_err();
        assert!(
            err.starts_with("reactions: unknown value \"heart\" (known: smile,"),
            "{err}"
        );
        let err = Reaction::from_args(ReactionArgs {
            reactions: vec![],
            action: Some("remove".into()),
        })
        .unwrap_err();
        assert_eq!(
            err,
            "action: unknown value \"remove\" (known: react, unreact)"
        );
    }
}
