//! `delivery`: a delivery receipt. Raises the user's delivery watermark (everything the Page
//! sent before it was delivered); a retried or late receipt never lowers it.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError};
use crate::context::Context;
use crate::store::watermarks::{self, Receipt};

/// Stores delivery watermarks.
#[derive(Debug, Clone, Default)]
pub struct Delivery;

/// `delivery` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryArgs {}

impl Delivery {
    /// Builds it from its (empty) arguments.
    pub fn from_args(_args: DeliveryArgs) -> Result<Self, String> {
        Ok(Self)
    }
}

fn watermark(cx: &Context) -> Option<i64> {
    cx.event.messaging.delivery.as_ref()?.watermark
}

#[async_trait]
impl Handler for Delivery {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some() && watermark(cx).is_some()
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(watermark)) = (cx.psid().map(str::to_owned), watermark(cx)) else {
            return Ok(());
        };
        cx.store()
            .run(move |conn| watermarks::raise(conn, &psid, Receipt::Delivery, watermark))
            .await?;
        Ok(())
    }
}
