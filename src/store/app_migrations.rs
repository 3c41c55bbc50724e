//! A bot's own tables: migrations a bot's binary embeds and registers, run after pagebot's.
//!
//! Diesel records every applied migration, pagebot's and the app's alike, by version alone in
//! one `__diesel_schema_migrations` table. A version used by both would be recorded once and
//! the second migration would never run, silently: [`AppMigrations::check`] refuses such a
//! clash before anything runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use diesel::backend::Backend;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::EmbeddedMigrations;

use super::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// A bot's own migrations, one set per backend, embedded in its binary with
/// `diesel_migrations::embed_migrations!` and registered with
/// [`Registry::migrations`](crate::Registry::migrations).
///
/// `serve`, `simulate` and the test kit ([`TestApp`](crate::testing::TestApp)) run pagebot's
/// pending migrations first, then the app's pending ones, each set in version order, so an
/// app's migration may refer to pagebot's tables as they are in the running version. The
/// `inbox` commands only run pagebot's: they do not read the app's tables.
///
/// What an app's migrations must keep to:
///
/// - Each version (the directory name up to its first `_`, dashes removed) must be unique:
///   unused by pagebot's migrations on either backend and by the app's other migrations.
///   [`AppMigrations::check`] refuses a clash, naming the version, before anything runs.
///   Versions from `diesel migration generate` (the date and time of day) are unique in
///   practice; pagebot's own are `YYYY-MM-DD-0000NN`.
/// - A version may sort before pagebot's newest one: the app's set runs after pagebot's
///   whatever the versions, and a pagebot upgrade that adds a newer migration of its own
///   never makes an already applied app migration a problem.
/// - Nothing may reference `inbox_events` by foreign key: done events are purged
///   (`inbox purge`, `--inbox-retention-days`); keep the event id as a plain column.
///
/// ```no_run
/// use diesel_migrations::{EmbeddedMigrations, embed_migrations};
/// use pagebot::{AppMigrations, Registry};
///
/// const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
///
/// pub fn registry() -> Registry {
///     Registry::builtin() // .handler("feedback", Feedback::from_args) ...
///         .migrations(AppMigrations::new(POSTGRES, SQLITE))
/// }
/// ```
#[derive(Clone)]
pub struct AppMigrations {
    postgres: Arc<EmbeddedMigrations>,
    sqlite: Arc<EmbeddedMigrations>,
}

impl std::fmt::Debug for AppMigrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppMigrations")
            .field("postgres", &names(&listed::<Pg>(&self.postgres)))
            .field("sqlite", &names(&listed::<Sqlite>(&self.sqlite)))
            .finish()
    }
}

impl AppMigrations {
    /// The app's migrations for Postgres and for SQLite, each from
    /// `embed_migrations!("migrations/postgres")` and `embed_migrations!("migrations/sqlite")`
    /// (paths relative to the app's `Cargo.toml`).
    pub fn new(postgres: EmbeddedMigrations, sqlite: EmbeddedMigrations) -> Self {
        Self {
            postgres: Arc::new(postgres),
            sqlite: Arc::new(sqlite),
        }
    }

    /// The migration names of `backend` ("postgres" or "sqlite"), in the order they run.
    pub fn names(&self, backend: &str) -> Vec<String> {
        match backend {
            "postgres" => names(&listed::<Pg>(&self.postgres)),
            "sqlite" => names(&listed::<Sqlite>(&self.sqlite)),
            _ => Vec::new(),
        }
    }

    /// An error naming every version that is not unique: one of pagebot's (on either
    /// backend), or another of the app's migrations of the same backend. Needs no database;
    /// `Store::connect_with` and `pagebot check` call it.
    pub fn check(&self) -> Result<(), MigrationClash> {
        // Every version pagebot uses on either backend, with its migration's name(s).
        let mut pagebot: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in listed::<Pg>(&POSTGRES_MIGRATIONS)
            .into_iter()
            .chain(listed::<Sqlite>(&SQLITE_MIGRATIONS))
        {
            let names = pagebot.entry(m.version).or_default();
            if !names.contains(&m.name) {
                names.push(m.name);
            }
        }
        let newest = listed::<Pg>(&POSTGRES_MIGRATIONS)
            .into_iter()
            .chain(listed::<Sqlite>(&SQLITE_MIGRATIONS))
            .max_by(|a, b| a.version.cmp(&b.version))
            .map(|m| m.name)
            .unwrap_or_default();
        let mut versions = Vec::new();
        let mut problems = Vec::new();
        for (backend, listed) in [
            ("postgres", listed::<Pg>(&self.postgres)),
            ("sqlite", listed::<Sqlite>(&self.sqlite)),
        ] {
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            for m in &listed {
                if let Some(theirs) = pagebot.get(&m.version) {
                    problems.push(format!(
                        "the app's {backend} migration {} has version {}, which pagebot's \
                         migration {} already uses",
                        m.name,
                        m.version,
                        theirs.join(" and ")
                    ));
                    versions.push(m.version.clone());
                }
                if let Some(first) = seen.insert(&m.version, &m.name) {
                    problems.push(format!(
                        "the app's {backend} migrations {first} and {} have the same version {}",
                        m.name, m.version
                    ));
                    versions.push(m.version.clone());
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        versions.sort();
        versions.dedup();
        Err(MigrationClash {
            versions,
            problems,
            newest,
        })
    }

    /// The app's migrations for Postgres.
    pub(super) fn for_postgres(&self) -> Embedded<'_> {
        Embedded(&self.postgres)
    }

    /// The app's migrations for SQLite.
    pub(super) fn for_sqlite(&self) -> Embedded<'_> {
        Embedded(&self.sqlite)
    }
}

/// App migration versions that are not unique, found before any migration ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}; diesel records applied migrations by version alone (in __diesel_schema_migrations), \
     so only one migration of a version would ever run: give each of the app's migrations a \
     unique version prefix, later than pagebot's newest migration {newest} (e.g. the date and \
     time prefix `diesel migration generate` makes), and rename its directory",
    problems.join("; ")
)]
pub struct MigrationClash {
    /// The versions that clash, sorted (e.g. `20261122000001`).
    pub versions: Vec<String>,
    problems: Vec<String>,
    newest: String,
}

/// Embedded migrations by reference (diesel implements its source trait on the value only).
pub(super) struct Embedded<'a>(pub(super) &'a EmbeddedMigrations);

impl<DB: Backend> MigrationSource<DB> for Embedded<'_> {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

/// One migration's version and name.
struct Listed {
    version: String,
    name: String,
}

/// The migrations of `source` for `DB`, sorted by version.
fn listed<DB: Backend>(source: &EmbeddedMigrations) -> Vec<Listed> {
    let mut listed: Vec<Listed> = MigrationSource::<DB>::migrations(source)
        .unwrap_or_default()
        .iter()
        .map(|m| Listed {
            version: m.name().version().to_string(),
            name: m.name().to_string(),
        })
        .collect();
    listed.sort_by(|a, b| a.version.cmp(&b.version));
    listed
}

fn names(listed: &[Listed]) -> Vec<String> {
    listed.iter().map(|m| m.name.clone()).collect()
}
