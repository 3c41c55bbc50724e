//! `referral`: how the user came into the thread (an m.me link, an ad, the chat plugin).
//! Stores ref, source, type, ad id, referer URI and the ad's context once per event, from a
//! `referral` event or from the referral a postback carries (Get Started from a link or ad),
//! so it belongs under `REFERRAL` and `GET_STARTED_BUTTON` alike. Leaves `referral.ref`,
//! `referral.source` and `referral.ad_id` for the senders.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError, event_time};
use crate::context::Context;
use crate::store::{now_ms, referrals};

/// Stores referrals.
#[derive(Debug, Clone, Default)]
pub struct Referral;

/// `referral` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralArgs {}

impl Referral {
    /// Builds it from its (empty) arguments.
    pub fn from_args(_args: ReferralArgs) -> Result<Self, String> {
        Ok(Self)
    }
}

fn referral(cx: &Context) -> Option<&crate::event::Referral> {
    let m = &cx.event.messaging;
    m.referral
        .as_ref()
        .or_else(|| m.postback.as_ref()?.referral.as_ref())
}

#[async_trait]
impl Handler for Referral {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some() && referral(cx).is_some()
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(r)) = (cx.psid(), referral(cx).cloned()) else {
            return Ok(());
        };
        let vars = [
            ("referral.ref", r.ref_.clone()),
            ("referral.source", r.source.clone()),
            ("referral.ad_id", r.ad_id.clone()),
        ];
        let row = referrals::Referral {
            event_id: cx.event.inbox_id,
            page_id: cx.event.page_id.clone().unwrap_or_default(),
            psid: psid.to_owned(),
            ref_: r.ref_,
            source: r.source,
            kind: r.kind,
            ad_id: r.ad_id,
            referer_uri: r.referer_uri,
            ads_context_data: r.ads_context_data.map(|v| v.to_string()),
            event_time: event_time(cx),
            created_at: now_ms(),
        };
        cx.store()
            .run(move |conn| referrals::record(conn, &row))
            .await?;
        for (name, value) in vars {
            if let Some(value) = value {
                cx.vars.insert(name.to_owned(), value);
            }
        }
        Ok(())
    }
}
