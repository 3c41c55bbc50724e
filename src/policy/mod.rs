//! routing.yaml: parse, validate with a file and line for every mistake, then compile.
//!
//! [`PolicyDocument`] is the file as data, checked for everything that needs no registry;
//! [`PolicyError`] and [`PolicyErrors`] say what is wrong and where. This module depends on
//! [`crate::event`] (for [`ReceivingType`](crate::event::ReceivingType)) and nothing that does
//! I/O beyond reading the policy file.

mod document;
mod error;

pub use document::{
    IceBreakerSpec, LinkSpec, Located, MAX_ICE_BREAKERS, MAX_MENU_ITEMS, MAX_PAYLOAD_CHARS,
    MAX_WHITELISTED_DOMAINS, MenuItemKind, MenuItemSpec, PolicyDocument, RememberFrom,
    RememberSpec, SenderSpec, StepSpec, ThenSpec, ThreadSettingsSpec, ValueKind, WhenSpec,
};
pub use error::{PolicyError, PolicyErrors, Severity};
// The transcripts of the test kit read YAML the same strict, bounded way.
pub(crate) use document::{error_line, yaml_message, yaml_options};

mod compile;
mod flow;
mod flow_check;
mod text_prefilter;

pub use compile::{Chain, Link, Policy, Step};
pub use flow::{Remember, Then, validate};
pub use flow_check::{flow_warnings, memory_variables};
