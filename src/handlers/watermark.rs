//! `delivery` and `read`: a delivery or a read receipt. Raises the user's watermark of that
//! kind (everything the Page sent before it was delivered, or read); a retried or late receipt
//! never lowers it. One handler, registered under both names.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError};
use crate::context::Context;
use crate::store::watermarks::{self, Receipt};

/// Stores delivery or read watermarks, as its `receipt` says.
#[derive(Debug, Clone)]
pub struct Watermark {
    receipt: Receipt,
}

/// `delivery` and `read` take no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatermarkArgs {}

impl Watermark {
    /// The `delivery` handler: delivery receipts.
    pub fn delivery(_args: WatermarkArgs) -> Result<Self, String> {
        Ok(Self {
            receipt: Receipt::Delivery,
        })
    }

    /// The `read` handler: read receipts.
    pub fn read(_args: WatermarkArgs) -> Result<Self, String> {
        Ok(Self {
            receipt: Receipt::Read,
        })
    }

    fn watermark(&self, cx: &Context) -> Option<i64> {
        let messaging = &cx.event.messaging;
        match self.receipt {
            Receipt::Delivery => messaging.delivery.as_ref()?.watermark,
            Receipt::Read => messaging.read.as_ref()?.watermark,
        }
    }
}

#[async_trait]
impl Handler for Watermark {
    fn should_handle(&self, cx: &Context) -> bool {
        cx.psid().is_some() && self.watermark(cx).is_some()
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(psid), Some(watermark)) = (cx.psid().map(str::to_owned), self.watermark(cx))
        else {
            return Ok(());
        };
        let receipt = self.receipt;
        let page_id = cx.event.page_id.clone().unwrap_or_default();
        cx.store()
            .run(move |conn| watermarks::raise(conn, &page_id, &psid, receipt, watermark))
            .await?;
        Ok(())
    }
}
