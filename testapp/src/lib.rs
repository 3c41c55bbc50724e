//! testapp: a small Messenger bot on pagebot, a temperature converter.
//!
//! It adds two handlers and one sender to pagebot's built-ins and uses them by name from its
//! own `routing.yaml`:
//!
//! - [`Convert`] (`convert`): understands "21 C" or "70 °F" and leaves the conversion for the
//!   senders in the variables `temp.from` and `temp.to`;
//! - [`Feedback`] (`feedback`): stores "feedback: ..." in testapp's own table,
//!   `testapp_feedback`, whose migrations ([`migrations`]) pagebot runs after its own;
//! - [`Suggest`] (`suggest`): a localized question with example inputs as quick replies.
//!
//! See README.md for a walk through.

#![deny(missing_docs)]

mod convert;
pub mod feedback;
pub mod schema;
mod suggest;

pub use convert::{Convert, ConvertArgs};
pub use feedback::{Feedback, FeedbackArgs};
pub use suggest::{Suggest, SuggestArgs};

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use pagebot::{AppMigrations, Registry};

/// testapp's Postgres migrations (`migrations/postgres`), embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// testapp's SQLite migrations (`migrations/sqlite`), embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// testapp's own tables, for both backends: `serve`, `simulate` and the test kit run them
/// after pagebot's migrations.
pub fn migrations() -> AppMigrations {
    AppMigrations::new(POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS)
}

/// pagebot's built-ins plus this bot's `convert` and `feedback` handlers, its `suggest`
/// sender and the migrations of its own table.
pub fn registry() -> Registry {
    Registry::builtin()
        .handler("convert", Convert::from_args)
        .handler("feedback", Feedback::from_args)
        .sender_with("suggest", Suggest::from_args)
        .migrations(migrations())
}
