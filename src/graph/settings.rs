//! `GraphSettings`: where the Graph API is and which credentials to present.

use std::time::Duration;

use secrecy::SecretString;

/// The default Graph API base URL.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The default Graph API version.
pub const DEFAULT_VERSION: &str = "v25.0";
/// The default timeout of one Graph call, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a [`GraphClient`](super::GraphClient).
///
/// `Debug` never prints the secrets: [`SecretString`] redacts itself.
#[derive(Clone, Debug)]
pub struct GraphSettings {
    /// Base URL of the Graph API, e.g. `https://graph.facebook.com` (a trailing slash and a path
    /// prefix are both fine). Tests and the simulator point it at a fake.
    pub base_url: String,
    /// API version, the first path segment of every call, e.g. `v25.0`.
    pub version: String,
    /// The Page access token. `None` puts the client in log mode (`serve --dev`): sends are
    /// logged, not made.
    pub page_token: Option<SecretString>,
    /// The app secret. When set, every call carries `appsecret_proof`.
    pub app_secret: Option<SecretString>,
    /// Timeout of one call, from connecting to reading the whole answer.
    pub timeout: Duration,
}

impl Default for GraphSettings {
    /// Meta's Graph API, version v25.0, 10 s timeout, no credentials (log mode).
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            version: DEFAULT_VERSION.to_owned(),
            page_token: None,
            app_secret: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}
