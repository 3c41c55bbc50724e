//! The webhook JSON model (serde) and ReceivingType classification: pure, no I/O.

mod classify;
mod envelope;
mod model;
mod receiving_type;

pub use classify::{ClassifyConfig, classify, classify_value};
pub use envelope::{Envelope, Item, MAX_DEDUPE_KEY_LEN, MAX_ID_LEN, MalformedBody, parse_envelope};
pub use model::{
    AccountLinking, Attachment, AttachmentPayload, Coordinates, Delivery, Message, MessageEdit,
    Messaging, Optin, Party, PolicyEnforcement, Postback, QuickReply, Reaction, Read, Referral,
};
pub use receiving_type::{ReceivingType, UnknownReceivingType};
