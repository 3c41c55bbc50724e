//! Wiring: settings in, a bound server and a running pipeline out.
//!
//! [`Application::build`] does everything that can fail (locales, policy, database,
//! listener) before anything is served, so a broken routing.yaml stops the start with its
//! file and line. Tests build it with port 0 and ask [`Application::port`].

use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App as ActixApp, HttpServer, web};
use tokio::sync::watch;

use crate::config::Settings;
use crate::context::Services;
use crate::graph::{GraphClient, GraphError, GraphSettings};
use crate::i18n::{I18nError, Locales};
use crate::metrics::Metrics;
use crate::pages::{self, Pages};
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::policy::{Policy, PolicyErrors};
use crate::registry::{DuplicateNames, Registry};
use crate::retention;
use crate::store::group_commit::GroupCommit;
use crate::store::{Health, Planning, Store, StoreError};
use crate::webhook::group_commit::InboxWriter;
use crate::webhook::{self, WebhookState};

/// The most new users one commit stores.
const NEW_USERS_GROUP_ROWS: usize = 500;

/// How often the database is pinged when no call told whether it answers (`/readyz` reads
/// the outcome).
const HEALTH_PROBE_EVERY: Duration = Duration::from_secs(1);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The registry has a name twice.
    #[error(transparent)]
    Registry(#[from] DuplicateNames),
    /// The locales could not be loaded.
    #[error("{0}")]
    Locales(#[from] I18nError),
    /// The policy is invalid.
    #[error("{0}")]
    Policy(#[from] PolicyErrors),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Graph client could not be built.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// One Page's files could not be loaded (several Pages are served).
    #[error("page {page}: {error}")]
    Page {
        /// The Page's name.
        page: String,
        /// Why.
        error: Box<StartError>,
    },
    /// Pages whose reload was refused: each keeps its last good version.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Reload(Vec<StartError>),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
}

impl StartError {
    /// `error` of `page`'s files: named by the Page when several are served (the catch-all
    /// Page of a deployment without `[[pages]]` keeps the error as it was).
    pub(crate) fn page(page: &crate::config::PageSettings, error: StartError) -> Self {
        match page.id {
            None => error,
            Some(_) => Self::Page {
                page: page.name.clone(),
                error: Box::new(error),
            },
        }
    }
}

/// Loads the locales and the policy, the way `serve` and `check` both do.
pub fn load_bot(
    registry: &Registry,
    policy: &std::path::Path,
    locales: &std::path::Path,
    default_locale: &str,
) -> Result<(Arc<Locales>, Arc<Policy>), StartError> {
    registry.check()?;
    let locales = Arc::new(Locales::load(locales, default_locale)?);
    let policy = Arc::new(Policy::load(policy, registry, &locales)?);
    Ok((locales, policy))
}

/// Logs each request as `POST /webhook 200 14 1.2ms`: the method and the path only, never the
/// query string, which carries `hub.verify_token` on Facebook's verification request.
fn request_logger() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%{method}xi %U %s %b %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        // The chat page polls its thread about three times a second.
        .exclude("/dev/chat/thread")
}

/// Stops a running [`Application`] from elsewhere (tests, signal handlers).
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    shutdown: Arc<watch::Sender<bool>>,
}

impl StopHandle {
    /// Stops accepting requests and tells the pipeline to finish what it holds.
    pub async fn stop(&self, graceful: bool) {
        let _ = self.shutdown.send(true);
        self.server.stop(graceful).await;
    }
}

/// Loads each Page's policy and locales again and puts in force those that are valid.
#[derive(Clone)]
pub struct ReloadHandle {
    pipeline: Pipeline,
    registry: Arc<Registry>,
}

impl ReloadHandle {
    /// Reloads every Page on its own: a Page whose files are valid runs them from now on; one
    /// whose files are not keeps its running version, and its error is returned (with the
    /// others refused).
    pub fn reload(&self) -> Result<(), StartError> {
        let mut refused = self.pipeline.pages().reload(&self.registry);
        match refused.len() {
            0 => Ok(()),
            1 => Err(refused.remove(0)),
            _ => Err(StartError::Reload(refused)),
        }
    }
}

/// A built, not yet running, pagebot server.
pub struct Application {
    port: u16,
    reload: ReloadHandle,
    server: Server,
    pipeline: Pipeline,
    shutdown: Arc<watch::Sender<bool>>,
    /// The pipeline's store and the retention in days, when done events are purged.
    retention: Option<(Store, u32)>,
    /// Where the app's own code queues messages the bot starts.
    outbox: crate::outbox::Outbox,
    /// The webhook's store, through which the database's health is probed.
    probe: Store,
}

impl Application {
    /// Loads everything and binds the listener; nothing runs until
    /// [`Application::run_until_stopped`].
    pub async fn build(settings: Settings, registry: Registry) -> Result<Self, StartError> {
        registry.check()?;
        let loaded = pages::load_files(&settings.pages, &registry)?;
        let (store, inbox_store, journal_store, claim_store) = {
            let url = settings.database_url.clone();
            let size = settings.db_pool_size;
            let db_timeout = settings.db_timeout;
            let app_migrations = registry.app_migrations().cloned();
            tokio::task::spawn_blocking(move || {
                // pagebot's migrations, then the app's.
                let store =
                    Store::connect_with(url.expose_secret(), size, app_migrations.as_ref())?;
                // The acknowledgment waits for the inbox commit: it gets connections of its
                // own, so that it never queues behind the pipeline's workers for one. Its
                // statements, and the journal's, are planned once (see `Planning::OnceByKey`).
                let in_flight = u32::try_from(store.commits_in_flight()).unwrap_or(1);
                // It waits for a connection only as long as Facebook's sender may wait for the
                // answer (`PAGEBOT_DB_TIMEOUT_MS`); its pool reconnects as often.
                let inbox_store = store
                    .with_wait(db_timeout)
                    .with_own_connections(in_flight, Planning::OnceByKey)?;
                // SQLite's one connection keeps the journal and the claim in the workers'
                // queue, as before. On Postgres the claim (one at a time) has a connection of
                // its own that plans it once (see `Planning::Claim`).
                let (journal_store, claim_store) = match store.backend() {
                    "postgres" => (
                        store.with_own_connections(in_flight, Planning::OnceByKey)?,
                        store.with_own_connections(1, Planning::Claim)?,
                    ),
                    _ => (store.clone(), store.clone()),
                };
                Ok::<_, StoreError>((store, inbox_store, journal_store, claim_store))
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??
        };
        // One connection pool for every Page's calls; each Page gets a client with its token.
        let graph = GraphClient::new(GraphSettings {
            base_url: settings.graph_url.clone(),
            version: settings.graph_version.clone(),
            page_token: None,
            app_secret: settings.app_secret.clone(),
            timeout: settings.graph_timeout,
        })?;
        if settings.dev {
            log::warn!(
                "DEV MODE: webhook signatures are NOT checked; listening on {} only",
                settings.bind
            );
            for page in settings.pages.iter().filter(|page| page.token.is_none()) {
                log::warn!(
                    "DEV MODE: {} has no page token, so its replies are printed here instead \
                     of sent",
                    page.name
                );
            }
        }
        // New users commit in groups, on the journal's connections (one INSERT, by key).
        let new_users = GroupCommit::start(
            journal_store.clone(),
            journal_store.commits_in_flight(),
            NEW_USERS_GROUP_ROWS,
        );
        let outbox = crate::outbox::Outbox::new(store.clone());
        let services = Arc::new(Services {
            outbox: outbox.clone(),
            store: store.clone(),
            new_users,
            graph,
            locales: loaded[0].locales().clone(),
            profile_ttl: settings.profile_ttl,
            conversation_idle: settings.conversation_idle,
        });
        let pages = Arc::new(Pages::build(
            loaded,
            &services,
            settings.app_secret.as_ref(),
        )?);
        outbox.serve(&pages);
        let metrics = Arc::new(Metrics::new());
        let pipeline = Pipeline::new(
            services,
            pages,
            journal_store,
            claim_store,
            metrics.clone(),
            PipelineSettings {
                workers: settings.workers,
                max_attempts: settings.max_attempts,
                lease: settings.lease,
                poll_interval: settings.poll_interval,
                retry_base: settings.retry_base,
                rate_limit_pause: settings.rate_limit_pause,
                clock: settings.clock.clone(),
            },
        );
        // The send API, on the main bind, only with a token (README "Sending first").
        let api = settings.api_token.clone().map(|token| {
            web::Data::new(crate::api::ApiState {
                token,
                outbox: outbox.clone(),
            })
        });
        let state = web::Data::new(WebhookState {
            app_secret: if settings.dev {
                None
            } else {
                settings.app_secret.clone()
            },
            verify_token: settings.verify_token.clone(),
            accept_sha1: settings.accept_sha1,
            inbox: InboxWriter::start(inbox_store.clone(), inbox_store.commits_in_flight()),
            db_timeout: settings.db_timeout,
            store: store.clone(),
            pipeline: pipeline.clone(),
            metrics,
        });
        let retention = settings.inbox_retention_days.map(|days| (store, days));
        let listener = TcpListener::bind(settings.bind).map_err(|source| StartError::Bind {
            addr: settings.bind,
            source,
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let max_body = settings.max_body_bytes;
        let dev = settings.dev;
        // The chat page (dev mode only) signs its bodies as Facebook would, when there is a
        // secret to sign with.
        let chat = web::Data::new(crate::web::chat::ChatSettings {
            app_secret: settings.app_secret.clone(),
        });
        if dev {
            log::warn!(
                "DEV MODE: the chat page is at http://{}/dev/chat",
                std::net::SocketAddr::new(settings.bind.ip(), port)
            );
        }
        // The admin (`/admin`) exists only with a password.
        let admin = settings
            .admin_password
            .as_ref()
            .map(|password| web::Data::new(crate::web::admin::AdminState::new(password)));
        if admin.is_some() {
            log::info!("the admin is at /admin");
        }
        let server = HttpServer::new(move || {
            let app = ActixApp::new()
                .wrap(request_logger())
                .app_data(state.clone())
                .app_data(chat.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .configure(webhook::configure)
                .configure(|cfg| crate::web::configure(cfg, dev))
                .configure(|cfg| crate::web::admin::configure(cfg, admin.clone()));
            match &api {
                Some(api) => app.app_data(api.clone()).configure(crate::api::configure),
                None => app,
            }
        })
        .listen(listener)
        .map_err(|source| StartError::Bind {
            addr: settings.bind,
            source,
        })?
        .workers(settings.http_workers)
        .shutdown_timeout(10)
        .run();
        let (shutdown, _) = watch::channel(false);
        let shutdown = Arc::new(shutdown);
        log::info!("pagebot listening on port {port}");
        let reload = ReloadHandle {
            pipeline: pipeline.clone(),
            registry: Arc::new(registry),
        };
        Ok(Self {
            port,
            reload,
            server,
            pipeline,
            shutdown,
            retention,
            probe: inbox_store,
            outbox,
        })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server once it runs.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// A handle that reloads the policy and locales (what SIGHUP does).
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reload.clone()
    }

    /// The pipeline, to wake or drain it.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Where the app's own code queues messages the bot starts (README "Sending first"):
    /// delivered by the pipeline's outbox loop once the server runs.
    pub fn outbox(&self) -> &crate::outbox::Outbox {
        &self.outbox
    }

    /// Serves until the server stops (SIGINT/SIGTERM), then lets in-flight events finish.
    /// SIGHUP reloads the policy and locales; a bad reload is logged and changes nothing.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let worker = tokio::spawn(self.pipeline.clone().run(self.shutdown.subscribe()));
        let outbox = tokio::spawn(self.pipeline.clone().run_outbox(self.shutdown.subscribe()));
        let broadcasts = tokio::spawn(
            self.pipeline
                .clone()
                .run_broadcasts(self.shutdown.subscribe()),
        );
        let reloader = tokio::spawn(reload_on_sighup(self.reload.clone()));
        let prober = tokio::spawn(Health::probe(self.probe.clone(), HEALTH_PROBE_EVERY));
        let purger = self.retention.map(|(store, days)| {
            tokio::spawn(retention::purge_periodically(
                store,
                days,
                self.shutdown.subscribe(),
            ))
        });
        let result = self.server.await;
        reloader.abort();
        prober.abort();
        let _ = self.shutdown.send(true);
        if let Some(purger) = purger
            && let Err(e) = purger.await
        {
            log::error!("inbox retention task ended abnormally: {e}");
        }
        if let Err(e) = worker.await {
            log::error!("pipeline task ended abnormally: {e}");
        }
        if let Err(e) = outbox.await {
            log::error!("outbox task ended abnormally: {e}");
        }
        if let Err(e) = broadcasts.await {
            log::error!("broadcast task ended abnormally: {e}");
        }
        result
    }
}

#[cfg(unix)]
async fn reload_on_sighup(reload: ReloadHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        log::warn!("cannot listen for SIGHUP: reloading is off");
        return;
    };
    while hangups.recv().await.is_some() {
        let reload = reload.clone();
        let outcome = tokio::task::spawn_blocking(move || reload.reload()).await;
        match outcome {
            Ok(Ok(())) => log::info!("SIGHUP: policy and locales reloaded"),
            Ok(Err(e)) => log::error!(
                "SIGHUP: reload refused (the Pages named keep their running version; any \
                 other was reloaded):\n{e}"
            ),
            Err(e) => log::error!("SIGHUP: reload task failed: {e}"),
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_reload: ReloadHandle) {}
