//! Storage: the diesel schema, models and queries, over one connection type for Postgres and
//! SQLite.
//!
//! Queries are plain functions on `&mut DbConn`, written once; the few statements that differ
//! between backends `match` on the connection with both arms side by side (this module's
//! `per_backend!` macro).
//! Diesel is blocking, so async callers go through [`Store::run`], which borrows a pooled
//! connection on tokio's blocking threads.

/// Runs the same code against whichever concrete connection a `DbConn` holds.
///
/// For the few statements outside the common `MultiBackend` subset (ON CONFLICT above all):
/// both arms compile the same source, once per backend.
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::store::DbConn::Postgres($c) => $body,
            $crate::store::DbConn::Sqlite($c) => $body,
        }
    };
}

pub mod account_links;
mod app_migrations;
pub mod broadcasts;
pub mod browse;
mod conn;
pub mod conversations;
pub mod deliveries;
pub mod echoes;
pub mod group_commit;
pub mod handovers;
mod health;
pub mod inbox;
pub mod locations;
pub mod media;
pub mod optins;
pub mod outbox;
mod prepared;
pub mod reactions;
pub mod referrals;
pub mod schema;
pub mod threads;
pub mod thumbs_up;
pub mod users;
pub mod watermarks;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use diesel::r2d2::Pool;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use app_migrations::{AppMigrations, MigrationClash};
pub use conn::{DatabaseTarget, DbConn, DbManager, Planning};
pub use deliveries::{Delivery, NewDelivery};
pub use health::Health;
pub use inbox::{InboxEvent, InboxGauges, InboxStats, NewInboxEvent, Status};
pub(crate) use prepared::Prepared;
pub use users::User;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `DATABASE_URL` is not usable.
    #[error("database settings: {0}")]
    Config(String),
    /// The database could not be reached.
    #[error("database connection: {0}")]
    Connect(String),
    /// No pooled connection became free in time.
    #[error("database pool: {0}")]
    Pool(String),
    /// A query failed.
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("database migrations: {0}")]
    Migration(String),
    /// The app's migrations use a version that is not unique; nothing was run.
    #[error("database migrations: {0}")]
    MigrationClash(#[from] MigrationClash),
    /// Rows changed under a statement that expected them unchanged; nothing was written.
    #[error("database conflict: {0}")]
    Conflict(String),
    /// A blocking database task panicked or was cancelled.
    #[error("database task: {0}")]
    Task(String),
    /// The database could not be reached in time (the error that said so, as text).
    #[error("database unreachable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Whether the database could not be reached or the connection broke (as opposed to a
    /// statement the database refused): no connection could be had, or it closed under the
    /// statement.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            Self::Connect(_)
                | Self::Pool(_)
                | Self::Unavailable(_)
                | Self::Query(
                    Error::DatabaseError(
                        DatabaseErrorKind::ClosedConnection
                            | DatabaseErrorKind::UnableToSendCommand,
                        _,
                    ) | Error::BrokenTransactionManager,
                )
        )
    }

    /// Whether trying the same statement again cannot succeed: the database refused its rows
    /// (a constraint), or it could not be built or read. Anything else (the database
    /// unreachable, a connection that broke, a failover, a conflict) may pass.
    pub fn is_permanent(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Self::Config(_) | Self::Migration(_) | Self::MigrationClash(_) => true,
            Self::Query(Error::DatabaseError(kind, _)) => matches!(
                kind,
                DatabaseErrorKind::UniqueViolation
                    | DatabaseErrorKind::ForeignKeyViolation
                    | DatabaseErrorKind::NotNullViolation
                    | DatabaseErrorKind::CheckViolation
                    | DatabaseErrorKind::RestrictViolation
                    | DatabaseErrorKind::ExclusionViolation
            ),
            Self::Query(
                Error::QueryBuilderError(_)
                | Error::DeserializationError(_)
                | Error::SerializationError(_)
                | Error::InvalidCString(_),
            ) => true,
            _ => false,
        }
    }
}

impl From<diesel::result::ConnectionError> for StoreError {
    fn from(e: diesel::result::ConnectionError) -> Self {
        Self::Connect(e.to_string())
    }
}

/// The pooled database every part of pagebot shares. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<DbManager>,
    target: DatabaseTarget,
    backend: &'static str,
    /// One per pooled connection: an async caller waits here, not on a blocking thread that
    /// would wait for the pool (hundreds of workers made hundreds of such threads).
    turns: Arc<Semaphore>,
    /// How long a caller waits for a pooled connection (see [`Store::with_wait`]).
    wait: Duration,
    /// Whether the database answers, shared by every store over it.
    health: Health,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Connects to `database_url`, runs pagebot's pending migrations and returns the pool.
    ///
    /// Blocking: call it before the runtime's hot path (at start-up), or from
    /// `spawn_blocking`.
    pub fn connect(database_url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Self::connect_with(database_url, pool_size, None)
    }

    /// [`Store::connect`], then the app's pending migrations, if any, after pagebot's (what
    /// `serve` and `simulate` do with the registry's
    /// [`app_migrations`](crate::Registry::app_migrations)).
    ///
    /// The app's versions are checked first ([`AppMigrations::check`]): a clash is refused
    /// with [`StoreError::MigrationClash`] before the database is opened.
    pub fn connect_with(
        database_url: &str,
        pool_size: u32,
        app: Option<&AppMigrations>,
    ) -> Result<Self, StoreError> {
        if let Some(app) = app {
            app.check()?;
        }
        let target = DatabaseTarget::parse(database_url)?;
        let backend = target.backend_name();
        let target_is_sqlite = matches!(target, DatabaseTarget::Sqlite(_));
        let manager = DbManager::new(target.clone());
        let mut first = manager.open()?;
        run_migrations(&mut first, app)?;
        drop(first);
        let pool_size = match target_is_sqlite {
            // SQLite has one writer, and a writer that finds the file locked sleeps in steps of
            // up to 100 ms (busy_timeout) instead of queueing: one connection makes every
            // caller queue in the pool instead, in order and without sleeping.
            true => 1,
            false => pool_size.max(1),
        };
        let health = Health::default();
        let wait = conn::POOL_TIMEOUT;
        let pool = build_pool(manager, pool_size, wait, &health)?;
        Ok(Self {
            pool,
            target,
            backend,
            turns: turns(pool_size),
            wait,
            health,
        })
    }

    /// A store over the same database with connections of its own (at most `size`), for work
    /// that must not queue behind the others' for a connection: the webhook's inbox commits,
    /// which the acknowledgment waits for. On SQLite, which has one writer, the same single
    /// connection, with a queue of its own: its callers wait for the one call in progress,
    /// not behind every worker's. On Postgres they plan as `planning` says. Blocking, like
    /// [`Store::connect`] (migrations are not run again). Its callers wait for a connection
    /// as long as this store's do ([`Store::with_wait`]), and on Postgres its pool tries to
    /// reconnect at least every half of that after an outage.
    pub fn with_own_connections(&self, size: u32, planning: Planning) -> Result<Self, StoreError> {
        if matches!(self.target, DatabaseTarget::Sqlite(_)) {
            return Ok(Self {
                turns: turns(1),
                ..self.clone()
            });
        }
        let size = size.max(1);
        Ok(Self {
            pool: build_pool(
                DbManager::with_planning(self.target.clone(), planning),
                size,
                self.wait,
                &self.health,
            )?,
            target: self.target.clone(),
            backend: self.backend,
            turns: turns(size),
            wait: self.wait,
            health: self.health.clone(),
        })
    }

    /// This store with callers that wait at most `wait` for a pooled connection (30 s by
    /// default), then fail with [`StoreError::Pool`]: for callers that must answer in time
    /// (the webhook), over the same connections.
    pub fn with_wait(&self, wait: Duration) -> Self {
        Self {
            wait: wait.max(Duration::from_millis(1)),
            ..self.clone()
        }
    }

    /// Whether the database answered the last time one of the stores over it asked: kept by
    /// every call, read without waiting.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// "postgres" or "sqlite".
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Group-commit transactions worth running at once: SQLite has one writer, so more would
    /// only queue; Postgres overlaps a few, each carrying the work that arrived during the
    /// others.
    pub fn commits_in_flight(&self) -> usize {
        match self.backend {
            "sqlite" => 1,
            _ => 4,
        }
    }

    /// Borrows a connection for blocking work on the current thread, waiting for one at most
    /// as long as this store waits ([`Store::with_wait`]).
    ///
    /// A connection that last worked before the database was last found unreachable is
    /// checked first (`SELECT 1`): one that lost its server in the outage is dropped, and
    /// another one taken, so that no caller fails on it once the database is back.
    pub fn get(&self) -> Result<diesel::r2d2::PooledConnection<DbManager>, StoreError> {
        use diesel::connection::SimpleConnection;
        use diesel::r2d2::PooledConnection;

        /// The outages of [`Health::outages`] a connection is known to have outlived.
        struct Outlived(u64);

        let began = now_ms();
        let deadline = std::time::Instant::now() + self.wait;
        let mut failed_checks = 0;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let mut conn = self.pool.get_timeout(left).map_err(|e| {
                let e = StoreError::Pool(e.to_string());
                self.health.failed(began, &e);
                e
            })?;
            let outages = self.health.outages();
            let outlived = PooledConnection::extensions(&conn)
                .get::<Outlived>()
                .map_or(0, |o| o.0);
            if outlived == outages {
                return Ok(conn);
            }
            // On a dead connection diesel marks it broken, and the pool drops it when it is
            // given back here.
            match conn.batch_execute("SELECT 1") {
                Ok(()) => {
                    PooledConnection::extensions_mut(&mut conn).insert(Outlived(outages));
                    return Ok(conn);
                }
                // Each connection of the pool failed its check (and was not dropped): give up
                // rather than be handed the same ones again.
                Err(e) if failed_checks >= self.pool.max_size() => {
                    let e = StoreError::Query(e);
                    self.health.failed(began, &e);
                    return Err(e);
                }
                Err(_) => failed_checks += 1,
            }
        }
    }

    /// Runs `f` with a pooled connection on tokio's blocking threads.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let turn = self
            .turns
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let began = now_ms();
            let mut conn = store.get()?;
            let result = f(&mut conn);
            if let Err(e) = &result
                && e.is_unavailable()
            {
                // diesel marks a connection that lost its server broken (and the pool then
                // drops it) on some paths only: a failed prepared statement can leave it to be
                // handed out again, failing every caller after the database is back. A plain
                // statement of our own marks it if it is dead, and costs nothing if not.
                use diesel::connection::SimpleConnection;
                let _ = conn.batch_execute("SELECT 1");
            }
            // Given back before the turn, so that the next caller finds it in the pool.
            drop(conn);
            drop(turn);
            match &result {
                Err(e) if e.is_unavailable() => store.health.failed(began, e),
                _ => store.health.succeeded(),
            }
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// One turn per connection of a pool of `size`.
fn turns(size: u32) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(usize::try_from(size).unwrap_or(1)))
}

/// A pool of at most `size` connections made by `manager`, whose callers wait `wait` for a
/// connection by default, and whose attempts to open one tell `health` how they went.
fn build_pool(
    manager: DbManager,
    size: u32,
    wait: Duration,
    health: &Health,
) -> Result<Pool<DbManager>, StoreError> {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // No `SELECT 1` before every use: it doubled the round trips of short queries. A
        // connection that broke is noticed by the query that fails on it (and then
        // dropped by `has_broken`), and the event that ran it is retried.
        .test_on_check_out(false)
        // Also how often r2d2 tries to open a connection again while the database is
        // unreachable: at least every half of it.
        .connection_timeout(wait.max(Duration::from_millis(1)))
        .error_handler(Box::new(health::PoolErrors(health.clone())))
        .event_handler(Box::new(health::PoolEvents(health.clone())))
        .build(manager)
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// Runs pagebot's pending migrations, then the app's.
fn run_migrations(conn: &mut DbConn, app: Option<&AppMigrations>) -> Result<(), StoreError> {
    type Failure = Box<dyn std::error::Error + Send + Sync>;
    let pagebot = |e: Failure| StoreError::Migration(e.to_string());
    let apps = |e: Failure| {
        StoreError::Migration(format!("the app's migrations (pagebot's are applied): {e}"))
    };
    match conn {
        DbConn::Postgres(c) => {
            c.run_pending_migrations(app_migrations::Embedded(&POSTGRES_MIGRATIONS))
                .map_err(pagebot)?;
            if let Some(app) = app {
                c.run_pending_migrations(app.for_postgres()).map_err(apps)?;
            }
        }
        DbConn::Sqlite(c) => {
            c.run_pending_migrations(app_migrations::Embedded(&SQLITE_MIGRATIONS))
                .map_err(pagebot)?;
            if let Some(app) = app {
                c.run_pending_migrations(app.for_sqlite()).map_err(apps)?;
            }
        }
    }
    Ok(())
}

/// The versions recorded in `__diesel_schema_migrations` (pagebot's and the app's), sorted.
pub fn applied_migrations(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        DbConn::Postgres(c) => c.applied_migrations(),
        DbConn::Sqlite(c) => c.applied_migrations(),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    let mut versions: Vec<String> = applied.iter().map(ToString::to_string).collect();
    versions.sort();
    Ok(versions)
}

/// Runs `f` in a write transaction: on SQLite a `BEGIN IMMEDIATE` one, so that two writers
/// queue on the busy timeout instead of failing when a read lock would have to be upgraded.
pub fn write_transaction<T, F>(conn: &mut DbConn, f: F) -> Result<T, StoreError>
where
    F: FnOnce(&mut DbConn) -> Result<T, StoreError>,
{
    use diesel::Connection;
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if matches!(conn, DbConn::Postgres(_)) {
        return conn.transaction(f);
    }
    // What SqliteConnection::immediate_transaction does, with `f` given the enum: the enum's
    // transaction manager delegates to the inner connection's, so its state stays consistent.
    let DbConn::Sqlite(inner) = conn else {
        return Err(StoreError::Config("unreachable backend".into()));
    };
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => {
            if let DbConn::Sqlite(inner) = conn {
                AnsiTransactionManager::commit_transaction(inner)?;
            }
            Ok(value)
        }
        Err(e) => {
            if let DbConn::Sqlite(inner) = conn {
                AnsiTransactionManager::rollback_transaction(inner)?;
            }
            Err(e)
        }
    }
}

/// One field of every row, as the array a Postgres `unnest($n::type[])` statement binds.
pub(crate) fn column<'r, R, T>(rows: &[&'r R], field: impl Fn(&'r R) -> T) -> Vec<T> {
    rows.iter().map(|row| field(row)).collect()
}

/// Whether the database answers (`SELECT 1`).
pub fn ping(conn: &mut DbConn) -> Result<(), StoreError> {
    use diesel::r2d2::R2D2Connection;
    Ok(conn.ping()?)
}

/// Milliseconds since the Unix epoch: the one clock every table uses.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
