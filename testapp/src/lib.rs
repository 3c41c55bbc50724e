//! testapp: a small Messenger bot on pagebot, a temperature converter.
//!
//! It adds one handler and one sender to pagebot's built-ins and uses them by name from its
//! own `routing.yaml`:
//!
//! - [`Convert`] (`convert`): understands "21 C" or "70 °F" and leaves the conversion for the
//!   senders in the variables `temp.from` and `temp.to`;
//! - [`Suggest`] (`suggest`): a localized question with example inputs as quick replies.
//!
//! See README.md for a walk through.

#![deny(missing_docs)]

mod convert;
mod suggest;

pub use convert::{Convert, ConvertArgs};
pub use suggest::{Suggest, SuggestArgs};

use pagebot::Registry;

/// pagebot's built-ins plus this bot's `convert` handler and `suggest` sender.
pub fn registry() -> Registry {
    Registry::builtin()
        .handler("convert", Convert::from_args)
        .sender_with("suggest", Suggest::from_args)
}
