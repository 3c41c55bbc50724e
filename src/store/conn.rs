//! One connection type over Postgres and SQLite, chosen by the URL's scheme, and its pool.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};

use super::StoreError;

/// A connection to whichever database `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// Production: several instances may share one database.
    Postgres(PgConnection),
    /// The zero-setup default: one file, one instance.
    Sqlite(SqliteConnection),
}

/// Which database a URL selects. Its Debug output leaves the Postgres URL out: it may hold a
/// password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// `postgres://` or `postgresql://`: the URL is handed to libpq as is.
    Postgres(String),
    /// `sqlite://PATH` or `sqlite:PATH`: a file path.
    Sqlite(String),
}

impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(_) => f.write_str("Postgres(<redacted>)"),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
        }
    }
}

impl DatabaseTarget {
    /// Reads a `DATABASE_URL`. The error never repeats the URL, which may hold a password.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some("") | None => Err(StoreError::Config(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (e.g. sqlite://pagebot.db)"
                    .into(),
            )),
            Some(":memory:") => Err(StoreError::Config(
                "an in-memory SQLite database would be lost on restart and differ per connection; use a file"
                    .into(),
            )),
            Some(path) => Ok(Self::Sqlite(path.to_owned())),
        }
    }

    /// "postgres" or "sqlite", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

/// How Postgres plans the prepared statements of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Planning {
    /// Each run is planned for its own values (`plan_cache_mode = force_custom_plan`): a plan
    /// made once for good would be made while a table is young (a new deployment, a queue
    /// that just grew) and keep its sequential scans when the table is large.
    #[default]
    EachRun,
    /// Each statement is planned once and the plan kept (`force_generic_plan`), and the plan
    /// reaches rows by index only (no sequential scan, hash or merge join), so that a plan
    /// made while the tables were young stays right when they are large.
    ///
    /// Only for connections that insert rows and update or read them by primary key, and
    /// whose statements bind what a partial index's predicate names (`status = $n`, not
    /// `status = 'pending'`: a literal would let the plan walk the whole index instead).
    /// The webhook's and the journal's group commits: planning their statements anew was 12%
    /// of Postgres's CPU in the benchmark.
    OnceByKey,
    /// The claim's connection: each statement planned once (`force_generic_plan`) with
    /// sequential scans, sorts and hash joins off, the settings the claim's one plan needs to
    /// stay a walk of the Pages' due events at any size of the inbox, and JIT off (the one
    /// sort the claim keeps, of one row per Page, costs what a disabled sort costs; each shown
    /// needed by a plan: see `CLAIM_SQL` in `store/inbox.rs`). What is read with a claim (the claimed events'
    /// deliveries, their senders' users) is read by key and gets index scans here too.
    Claim,
}

impl Planning {
    fn settings(self) -> &'static str {
        match self {
            Self::EachRun => "SET plan_cache_mode = force_custom_plan",
            Self::OnceByKey => {
                "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
                 SET enable_hashjoin = off; SET enable_mergejoin = off"
            }
            Self::Claim => {
                "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
                 SET enable_sort = off; SET enable_hashjoin = off; SET jit = off"
            }
        }
    }
}

/// Makes pooled connections for a [`DatabaseTarget`], with SQLite's pragmas set on each.
#[derive(Debug)]
pub struct DbManager {
    target: DatabaseTarget,
    planning: Planning,
}

impl DbManager {
    /// A manager for `target`, each run of a statement planned anew.
    pub fn new(target: DatabaseTarget) -> Self {
        Self::with_planning(target, Planning::EachRun)
    }

    /// A manager for `target` whose Postgres connections plan as `planning` says.
    pub fn with_planning(target: DatabaseTarget, planning: Planning) -> Self {
        Self { target, planning }
    }

    /// Opens one connection.
    pub fn open(&self) -> Result<DbConn, StoreError> {
        match &self.target {
            DatabaseTarget::Postgres(url) => {
                let mut conn = PgConnection::establish(url)
                    .map_err(|e| StoreError::Connect(redact_connection_error(&e.to_string())))?;
                // Statements stay prepared (parsed once); `planning` says whether they are
                // planned once too.
                conn.batch_execute(self.planning.settings())
                    .map_err(|e| match e.to_string() {
                        // Postgres 11 and older do not know the setting.
                        m if m.contains("unrecognized configuration parameter") => {
                            StoreError::Connect(format!("Postgres 12 or later is needed ({m})"))
                        }
                        _ => StoreError::Query(e),
                    })?;
                Ok(DbConn::Postgres(conn))
            }
            DatabaseTarget::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)
                    .map_err(|e| StoreError::Connect(format!("sqlite file {path}: {e}")))?;
                // busy_timeout makes writers wait for each other instead of failing: set first,
                // so that switching to WAL waits too while another process's last connection
                // closes (and checkpoints) the file; WAL lets readers run beside the one
                // writer; FULL keeps an acknowledged event on disk.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                )?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// libpq's messages may quote the connection string: keep only the first line, without it.
fn redact_connection_error(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    if first.contains("://") {
        "could not connect to Postgres (check DATABASE_URL)".to_owned()
    } else {
        format!("could not connect to Postgres: {first}")
    }
}

impl diesel::r2d2::ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConn, StoreError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        conn.ping().map_err(StoreError::from)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// How long a caller waits for a pooled connection by default (the pipeline's callers; the
/// webhook waits less, `PAGEBOT_DB_TIMEOUT_MS`). A caller only asks the pool once it holds
/// one of the store's turns (one per connection), so it waits this long only while no
/// connection can be opened: the database is unreachable. It is also what r2d2 derives its
/// reconnection pace from (a try at least every half of it): 10 s, not 30, so that the
/// pipeline resumes within 5 s of the database's return.
pub const POOL_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::DatabaseTarget;

    #[test]
    fn a_postgres_url_is_not_in_debug_output() {
        let target = DatabaseTarget::parse("postgres://u:very-secret@db/pagebot").unwrap();
        assert_eq!(format!("{target:?}"), "Postgres(<redacted>)");
        let target = DatabaseTarget::parse("sqlite://pagebot.db").unwrap();
        assert_eq!(format!("{target:?}"), "Sqlite(\"pagebot.db\")");
    }
}
