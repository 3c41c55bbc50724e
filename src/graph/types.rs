//! The answers of the Graph endpoints pagebot calls.

use serde::{Deserialize, Serialize};

/// The Send API's answer: `{"recipient_id":"PSID","message_id":"m_..."}`.
///
/// Both fields are optional: sender actions are answered with `recipient_id` only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// The PSID the message went to.
    #[serde(default)]
    pub recipient_id: Option<String>,
    /// The id of the sent message (`mid`), as echoes and deliveries will name it.
    #[serde(default)]
    pub message_id: Option<String>,
}

/// What the User Profile API returned for a PSID. Every field is optional: some need extra
/// permissions (`locale`, `timezone`, `gender`), and Graph returns fewer fields without them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    /// `first_name`.
    #[serde(default)]
    pub first_name: Option<String>,
    /// `last_name`.
    #[serde(default)]
    pub last_name: Option<String>,
    /// `profile_pic`: a URL that expires.
    #[serde(default)]
    pub profile_pic: Option<String>,
    /// `locale`, Facebook style (`en_US`).
    #[serde(default)]
    pub locale: Option<String>,
    /// `timezone`: offset from UTC in hours, possibly fractional (`5.5`).
    #[serde(default)]
    pub timezone: Option<f64>,
    /// `gender`.
    #[serde(default)]
    pub gender: Option<String>,
}
