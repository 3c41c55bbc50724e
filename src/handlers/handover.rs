//! `handover`: Handover Protocol events: thread control passed to this app, taken from it,
//! requested by another app, or app roles changed. Stores each once per event (owners,
//! metadata and the raw object); `actions` narrows which are handled. Leaves
//! `handover.action` and `handover.new_owner_app_id` for the senders.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::{Handler, HandlerError, check_names, event_time};
use crate::context::Context;
use crate::store::{handovers, now_ms};

const ACTIONS: [&str; 4] = [
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
];

/// Stores handover events.
#[derive(Debug, Clone, Default)]
pub struct Handover {
    actions: Vec<String>,
}

/// Arguments of `handover`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverArgs {
    /// Handle only these (pass_thread_control, take_thread_control, request_thread_control,
    /// app_roles); absent: all.
    #[serde(default)]
    pub actions: Vec<String>,
}

impl Handover {
    /// Checks the action names.
    pub fn from_args(args: HandoverArgs) -> Result<Self, String> {
        check_names("actions", &args.actions, &ACTIONS)?;
        Ok(Self {
            actions: args.actions,
        })
    }
}

/// The handover action the event carries and its object.
fn action(cx: &Context) -> Option<(&'static str, &Value)> {
    let m = &cx.event.messaging;
    [
        (ACTIONS[0], &m.pass_thread_control),
        (ACTIONS[1], &m.take_thread_control),
        (ACTIONS[2], &m.request_thread_control),
        (ACTIONS[3], &m.app_roles),
    ]
    .into_iter()
    .find_map(|(name, v)| Some((name, v.as_ref()?)))
}

/// A field of the handover object as a string; app ids arrive as strings or numbers.
fn field(v: &Value, name: &str) -> Option<String> {
    match v.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl Handler for Handover {
    fn should_handle(&self, cx: &Context) -> bool {
        action(cx).is_some_and(|(name, _)| {
            self.actions.is_empty() || self.actions.iter().any(|a| a == name)
        })
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let Some((name, value)) = action(cx) else {
            return Ok(());
        };
        let row = handovers::Handover {
            event_id: cx.event.inbox_id,
            page_id: cx.event.page_id.clone().unwrap_or_default(),
            psid: cx.psid().map(str::to_owned),
            action: name.to_owned(),
            previous_owner_app_id: field(value, "previous_owner_app_id"),
            new_owner_app_id: field(value, "new_owner_app_id"),
            requested_owner_app_id: field(value, "requested_owner_app_id"),
            metadata: field(value, "metadata"),
            raw: value.to_string(),
            event_time: event_time(cx),
            created_at: now_ms(),
        };
        let new_owner = row.new_owner_app_id.clone();
        cx.store()
            .run(move |conn| handovers::record(conn, &row))
            .await?;
        cx.vars.insert("handover.action".into(), name.to_owned());
        if let Some(owner) = new_owner {
            cx.vars.insert("handover.new_owner_app_id".into(), owner);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owner_ids_are_read_as_strings_or_numbers() {
        let v = json!({"previous_owner_app_id": 123456789u64, "new_owner_app_id": "263902037430900",
                       "metadata": "", "requested_owner_app_id": null});
        assert_eq!(
            field(&v, "previous_owner_app_id").as_deref(),
            Some("123456789")
        );
        assert_eq!(
            field(&v, "new_owner_app_id").as_deref(),
            Some("263902037430900")
        );
        assert_eq!(field(&v, "metadata").as_deref(), Some(""));
        assert_eq!(field(&v, "requested_owner_app_id"), None);
        assert_eq!(field(&v, "missing"), None);
    }

    #[test]
    fn unknown_actions_are_refused() {
        let err = Handover::from_args(HandoverArgs {
            actions: vec!["pass_thread_control".into(), "release".into()],
        })
        .unwrap_err();
        assert!(
            err.starts_with("actions: unknown value \"release\""),
            "{err}"
        );
    }
}
