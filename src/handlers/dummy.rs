//! `dummy`: handles every event and stores nothing, so that a link can just fire senders.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError};
use crate::context::Context;

/// Handles everything, stores nothing.
#[derive(Debug, Clone, Default)]
pub struct Dummy;

/// `dummy` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DummyArgs {}

impl Dummy {
    /// Builds it from its (empty) arguments.
    pub fn from_args(_args: DummyArgs) -> Result<Self, String> {
        Ok(Self)
    }
}

#[async_trait]
impl Handler for Dummy {
    async fn handle(&self, _cx: &mut Context) -> Result<(), HandlerError> {
        Ok(())
    }
}
