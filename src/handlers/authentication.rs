//! `authentication`: an opt-in (send-to-Messenger plugin, checkbox plugin, one-time
//! notification request, recurring notification messages). Stores it, once per event, keyed
//! by the PSID or, for checkbox opt-ins which have no sender, the `user_ref`; notification
//! tokens are stored with their expiry and never logged. Leaves `optin.ref`, `optin.type` and
//! `optin.payload` for the senders.
//!
//! A checkbox opt-in has no PSID: a reply must go to `recipient.user_ref`, which the built-in
//! senders do not do, so give such a link no senders.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, event_time};
use crate::context::Context;
use crate::store::{now_ms, optins};

/// Stores opt-ins.
#[derive(Debug, Clone, Default)]
pub struct Authentication;

/// `authentication` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationArgs {}

impl Authentication {
    /// Builds it from its (empty) arguments.
    pub fn from_args(_args: AuthenticationArgs) -> Result<Self, String> {
        Ok(Self)
    }
}

#[async_trait]
impl Handler for Authentication {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.event
            .messaging
            .optin
            .as_ref()
            .is_some_and(|o| cx.psid().is_some() || o.user_ref.is_some())
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let Some(optin) = cx.event.messaging.optin.clone() else {
            return Ok(());
        };
        let vars = [
            ("optin.ref", optin.ref_.clone()),
            ("optin.type", optin.kind.clone()),
            ("optin.payload", optin.payload.clone()),
        ];
        let row = optins::Optin {
            event_id: cx.event.inbox_id,
            page_id: cx.event.page_id.clone().unwrap_or_default(),
            psid: cx.psid().map(str::to_owned),
            user_ref: optin.user_ref,
            ref_: optin.ref_,
            kind: optin.kind,
            payload: optin.payload,
            one_time_notif_token: optin.one_time_notif_token,
            notification_messages_token: optin.notification_messages_token,
            notification_messages_status: optin.notification_messages_status,
            token_expiry_timestamp: optin.token_expiry_timestamp,
            user_token_status: optin.user_token_status,
            event_time: event_time(cx),
            created_at: now_ms(),
        };
        cx.store()
            .run(move |conn| optins::record(conn, &row))
            .await?;
        for (name, value) in vars {
            if let Some(value) = value {
                cx.vars.insert(name.to_owned(), value);
            }
        }
        Ok(())
    }
}
