//! testapp's own tables, created by its migrations (`migrations/postgres`,
//! `migrations/sqlite`), which pagebot runs after its own.

diesel::table! {
    /// One row per feedback message, keyed by the inbox event that carried it.
    testapp_feedback (event_id) {
        /// The inbox event (the idempotency key).
        event_id -> BigInt,
        /// Who sent it.
        psid -> Text,
        /// What they wrote after "feedback".
        note -> Text,
        /// When it was stored (epoch ms).
        created_at -> BigInt,
        /// The Page it was sent to (`""`: the event named none); with `psid`, the user.
        page_id -> Text,
    }
}
