//! `account_linking`: a user linked or unlinked their account. Stores the status and, for a
//! link, the authorization code, once per event; with `status`, handles only that one (so
//! that linking and unlinking can answer differently). Leaves `account_linking.status`.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, check_names, event_time};
use crate::context::Context;
use crate::store::{account_links, now_ms};

const STATUSES: [&str; 2] = ["linked", "unlinked"];

/// Stores account linking.
#[derive(Debug, Clone, Default)]
pub struct AccountLinking {
    status: Option<String>,
}

/// Arguments of `account_linking`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountLinkingArgs {
    /// `linked` or `unlinked`: handle only that; absent: both.
    #[serde(default)]
    pub status: Option<String>,
}

impl AccountLinking {
    /// Checks the status.
    pub fn from_args(args: AccountLinkingArgs) -> Result<Self, String> {
        if let Some(status) = &args.status {
            check_names("status", std::slice::from_ref(status), &STATUSES)?;
        }
        Ok(Self {
            status: args.status,
        })
    }
}

fn status(cx: &Context) -> Option<&str> {
    cx.event
        .messaging
        .account_linking
        .as_ref()?
        .status
        .as_deref()
}

#[async_trait]
impl Handler for AccountLinking {
    fn should_handle(&self, cx: &Context) -> bool {
        let Some(status) = status(cx) else {
            return false;
        };
        cx.psid().is_some() && self.status.as_deref().is_none_or(|want| want == status)
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(linking)) = (cx.psid(), &cx.event.messaging.account_linking) else {
            return Ok(());
        };
        let Some(status) = linking.status.clone() else {
            return Ok(());
        };
        let row = account_links::AccountLink {
            event_id: cx.event.inbox_id,
            page_id: cx.event.page_id.clone().unwrap_or_default(),
            psid: psid.to_owned(),
            status: status.clone(),
            authorization_code: linking.authorization_code.clone(),
            event_time: event_time(cx),
            created_at: now_ms(),
        };
        cx.store()
            .run(move |conn| account_links::record(conn, &row))
            .await?;
        cx.vars.insert("account_linking.status".into(), status);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_statuses_are_accepted() {
        let ok = AccountLinking::from_args(AccountLinkingArgs {
            status: Some("unlinked".into()),
        })
        .unwrap();
        assert_eq!(ok.status.as_deref(), Some("unlinked"));
        let err = AccountLinking::from_args(AccountLinkingArgs {
            status: Some("Linked".into()),
        })
        .unwrap_err();
        assert_eq!(
            err,
            "status: unknown value \"Linked\" (known: linked, unlinked)"
        );
    }
}
