//! `echo`: one of the Page's own messages, echoed back by Facebook. Stores it (mid, app_id,
//! metadata, and the user it went to) once per event, unless `store: false`; with `app_ids`,
//! handles only echoes of messages those apps sent (Meta's Page Inbox is 263902037430900: a
//! person answered by hand). Leaves `echo.mid`, `echo.app_id`, `echo.metadata`, `echo.text`.
//!
//! A bot never answers its own echoes: the pipeline fires no sender for an echo, in any chain,
//! unless the link's handler is `echo` with `answer: true`; the reply then goes to the user the
//! echoed message was sent to.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, event_time};
use crate::context::Context;
use crate::store::{echoes, now_ms};

/// Stores echoes.
#[derive(Debug, Clone)]
pub struct Echo {
    app_ids: Vec<String>,
    store: bool,
    answer: bool,
}

/// Arguments of `echo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoArgs {
    /// Handle only echoes sent by these apps (ids as strings or numbers); absent: any.
    #[serde(default)]
    pub app_ids: Vec<AppId>,
    /// Store the echo (default `true`).
    #[serde(default = "yes")]
    pub store: bool,
    /// Let this link's senders answer the echo (default `false`: a bot does not answer itself).
    #[serde(default)]
    pub answer: bool,
}

impl Default for EchoArgs {
    fn default() -> Self {
        Self {
            app_ids: Vec::new(),
            store: true,
            answer: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// An app id, written as a string or a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AppId {
    /// `"263902037430900"`.
    Text(String),
    /// `263902037430900`.
    Number(u64),
}

impl Echo {
    /// Reads the app ids.
    pub fn from_args(args: EchoArgs) -> Result<Self, String> {
        let mut app_ids = Vec::new();
        for id in args.app_ids {
            let id = match id {
                AppId::Text(s) => s.trim().to_owned(),
                AppId::Number(n) => n.to_string(),
            };
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("app_ids: \"{id}\" is not an app id (digits)"));
            }
            app_ids.push(id);
        }
        Ok(Self {
            app_ids,
            store: args.store,
            answer: args.answer,
        })
    }

    fn wants(&self, app_id: Option<&str>) -> bool {
        self.app_ids.is_empty() || app_id.is_some_and(|id| self.app_ids.iter().any(|a| a == id))
    }
}

#[async_trait]
impl Handler for Echo {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.event
            .messaging
            .message
            .as_ref()
            .is_some_and(|m| m.is_echo && self.wants(m.app_id.as_deref()))
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let Some(message) = cx.event.messaging.message.as_ref().filter(|m| m.is_echo) else {
            return Ok(());
        };
        let vars = [
            ("echo.mid", message.mid.clone()),
            ("echo.app_id", message.app_id.clone()),
            ("echo.metadata", message.metadata.clone()),
            ("echo.text", message.text.clone()),
        ];
        if self.store {
            let row = echoes::Echo {
                event_id: cx.event.inbox_id,
                page_id: cx.event.page_id.clone().unwrap_or_default(),
                psid: cx
                    .event
                    .messaging
                    .recipient
                    .as_ref()
                    .and_then(|r| r.key())
                    .map(str::to_owned),
                mid: message.mid.clone(),
                app_id: message.app_id.clone(),
                metadata: message.metadata.clone(),
                event_time: event_time(cx),
                created_at: now_ms(),
            };
            cx.store()
                .run(move |conn| echoes::record(conn, &row))
                .await?;
        }
        for (name, value) in vars {
            if let Some(value) = value {
                cx.vars.insert(name.to_owned(), value);
            }
        }
        Ok(())
    }

    fn answers_echoes(&self) -> bool {
        self.answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(v: serde_json::Value) -> Result<Echo, String> {
        Echo::from_args(serde_json::from_value(v).map_err(|e| e.to_string())?)
    }

    #[test]
    fn defaults_store_and_never_answer() {
        let echo = build(serde_json::json!({})).unwrap();
        assert!(echo.store && !echo.answer && !echo.answers_echoes());
        assert!(echo.wants(None) && echo.wants(Some("1")));
        assert!(
            build(serde_json::json!({"answer": true}))
                .unwrap()
                .answers_echoes()
        );
    }

    #[test]
    fn app_ids_filter_as_strings_or_numbers() {
        let echo = build(serde_json::json!({"app_ids": [263902037430900u64, " 42 "]})).unwrap();
        assert!(echo.wants(Some("263902037430900")));
        assert!(echo.wants(Some("42")));
        assert!(!echo.wants(Some("1517776481860111")));
        assert!(!echo.wants(None));
    }

    #[test]
    fn bad_arguments_are_refused() {
        let err = build(serde_json::json!({"app_ids": ["page-inbox"]})).unwrap_err();
        assert_eq!(err, "app_ids: \"page-inbox\" is not an app id (digits)");
        let err = build(serde_json::json!({"reply": true})).unwrap_err();
        assert!(err.contains("unknown field `reply`"), "{err}");
    }
}
