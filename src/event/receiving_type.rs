//! The kinds of incoming event a routing policy can name.

use std::fmt;
use std::str::FromStr;

/// What kind of event one `messaging`/`standby` item is.
///
/// The names are djmessenger's, kept so its users feel at home, plus the kinds it never had.
/// `DEFAULT` is not a kind of event: it names the policy's catch-all chain and is never the
/// result of classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReceivingType {
    /// A plain text message.
    SimpleText,
    /// A tap on a quick reply (the message carries text too).
    QuickReply,
    /// An image attachment.
    Image,
    /// An audio attachment.
    Audio,
    /// A video attachment.
    Video,
    /// A file attachment.
    File,
    /// A (legacy) location attachment.
    Location,
    /// A sticker, legacy `sticker_id` or current `sticker` attachment.
    Sticker,
    /// A postback that is neither Get Started nor a persistent menu item.
    Postback,
    /// An `optin` (send-to-Messenger plugin, checkbox, notification messages).
    Authentication,
    /// `account_linking`: linked or unlinked.
    AccountLinking,
    /// A delivery receipt.
    Delivered,
    /// A read receipt.
    Read,
    /// One of the Page's own messages echoed back.
    Echo,
    /// Persistent menu item 1.
    PersistentMenuOne,
    /// Persistent menu item 2.
    PersistentMenuTwo,
    /// Persistent menu item 3.
    PersistentMenuThree,
    /// Persistent menu item 4.
    PersistentMenuFour,
    /// Persistent menu item 5.
    PersistentMenuFive,
    /// The Get Started button.
    GetStartedButton,
    /// A reaction to a message, or its removal.
    Reaction,
    /// A referral (m.me link, ad, chat plugin) into an existing thread.
    Referral,
    /// A message the user edited.
    MessageEdit,
    /// Handover protocol: thread control passed, taken or requested, app roles.
    Handover,
    /// The Page was warned, blocked or unblocked.
    PolicyEnforcement,
    /// A shared link (`fallback` attachment).
    Fallback,
    /// Anything pagebot does not know; stored and logged, never an error.
    Unknown,
    /// The policy's catch-all chain; never produced by classification.
    Default,
}

impl ReceivingType {
    /// Every type, in declaration order.
    pub const ALL: [ReceivingType; 28] = [
        Self::SimpleText,
        Self::QuickReply,
        Self::Image,
        Self::Audio,
        Self::Video,
        Self::File,
        Self::Location,
        Self::Sticker,
        Self::Postback,
        Self::Authentication,
        Self::AccountLinking,
        Self::Delivered,
        Self::Read,
        Self::Echo,
        Self::PersistentMenuOne,
        Self::PersistentMenuTwo,
        Self::PersistentMenuThree,
        Self::PersistentMenuFour,
        Self::PersistentMenuFive,
        Self::GetStartedButton,
        Self::Reaction,
        Self::Referral,
        Self::MessageEdit,
        Self::Handover,
        Self::PolicyEnforcement,
        Self::Fallback,
        Self::Unknown,
        Self::Default,
    ];

    /// The persistent menu types, item 1 first.
    pub const PERSISTENT_MENU: [ReceivingType; 5] = [
        Self::PersistentMenuOne,
        Self::PersistentMenuTwo,
        Self::PersistentMenuThree,
        Self::PersistentMenuFour,
        Self::PersistentMenuFive,
    ];

    /// The name used in routing.yaml, logs and the database (`SIMPLE_TEXT`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SimpleText => "SIMPLE_TEXT",
            Self::QuickReply => "QUICK_REPLY",
            Self::Image => "IMAGE",
            Self::Audio => "AUDIO",
            Self::Video => "VIDEO",
            Self::File => "FILE",
            Self::Location => "LOCATION",
            Self::Sticker => "STICKER",
            Self::Postback => "POSTBACK",
            Self::Authentication => "AUTHENTICATION",
            Self::AccountLinking => "ACCOUNT_LINKING",
            Self::Delivered => "DELIVERED",
            Self::Read => "READ",
            Self::Echo => "ECHO",
            Self::PersistentMenuOne => "PERSISTENT_MENU_ONE",
            Self::PersistentMenuTwo => "PERSISTENT_MENU_TWO",
            Self::PersistentMenuThree => "PERSISTENT_MENU_THREE",
            Self::PersistentMenuFour => "PERSISTENT_MENU_FOUR",
            Self::PersistentMenuFive => "PERSISTENT_MENU_FIVE",
            Self::GetStartedButton => "GET_STARTED_BUTTON",
            Self::Reaction => "REACTION",
            Self::Referral => "REFERRAL",
            Self::MessageEdit => "MESSAGE_EDIT",
            Self::Handover => "HANDOVER",
            Self::PolicyEnforcement => "POLICY_ENFORCEMENT",
            Self::Fallback => "FALLBACK",
            Self::Unknown => "UNKNOWN",
            Self::Default => "DEFAULT",
        }
    }
}

impl fmt::Display for ReceivingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`ReceivingType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown receiving type \"{0}\"")]
pub struct UnknownReceivingType(pub String);

impl FromStr for ReceivingType {
    type Err = UnknownReceivingType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownReceivingType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for t in ReceivingType::ALL {
            assert_eq!(t.as_str().parse::<ReceivingType>(), Ok(t));
        }
    }

    #[test]
    fn names_are_case_sensitive_and_unknown_names_are_refused() {
        assert!("simple_text".parse::<ReceivingType>().is_err());
        assert_eq!(
            "STICKERS".parse::<ReceivingType>(),
            Err(UnknownReceivingType("STICKERS".into()))
        );
    }
}
