//! The Pages in force: for each Page the deployment serves, its policy, its texts and a Graph
//! client with its token, found by the id its webhooks carry (`entry[].id`).
//!
//! Each Page is reloaded on its own: a broken file of one Page leaves that Page on its last
//! good version and the others untouched. Each Page's token health is its own too: a token
//! Facebook rejects (error 190) pauses that Page's deliveries only, and `/readyz` names it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use secrecy::SecretString;

use crate::config::PageSettings;
use crate::context::Services;
use crate::i18n::Locales;
use crate::policy::{Policy, PolicyDocument};
use crate::registry::Registry;
use crate::startup::StartError;

/// The metrics label of the catch-all Page (a deployment without `[[pages]]`).
const CATCH_ALL_LABEL: &str = "default";

/// The metrics label of an event whose Page is not served.
pub(crate) const UNCONFIGURED_LABEL: &str = "unconfigured";

/// What one Page runs with; replaced whole on reload, read whole per event.
#[derive(Debug)]
pub struct PageBot {
    /// The routing policy.
    pub policy: Arc<Policy>,
    /// The services with this Page's Graph client and locales.
    pub services: Arc<Services>,
}

/// The outcome of the last reload of a Page's files.
#[derive(Debug, Clone)]
pub struct ReloadStatus {
    /// When it was tried.
    pub at: SystemTime,
    /// Why it was refused (the Page kept its last good version); `None`: in force.
    pub error: Option<String>,
}

/// One Page served.
#[derive(Debug)]
pub struct Page {
    settings: PageSettings,
    label: String,
    bot: ArcSwap<PageBot>,
    last_reload: Mutex<Option<ReloadStatus>>,
}

impl Page {
    /// What the Page runs with now.
    pub fn bot(&self) -> Arc<PageBot> {
        self.bot.load_full()
    }

    /// Its settings.
    pub fn settings(&self) -> &PageSettings {
        &self.settings
    }

    /// Its display name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Its label in metrics: the Page id, or `default` for the catch-all Page.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Why Facebook rejected the Page's token (error 190 on any call made with it), while it
    /// does (never the token itself).
    pub fn token_problem(&self) -> Option<String> {
        self.bot().services.graph.token_rejection()
    }

    /// The last reload's outcome, if the Page was reloaded since the start.
    pub fn last_reload(&self) -> Option<ReloadStatus> {
        lock(&self.last_reload).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Pages served, by id.
#[derive(Debug)]
pub struct Pages {
    pages: Vec<Page>,
    by_id: HashMap<String, usize>,
    /// The Page without an id, which answers for every id (a deployment without `[[pages]]`).
    catch_all: Option<usize>,
}

/// A Page's files, loaded and checked (before anything else starts).
#[derive(Debug)]
pub struct LoadedPage {
    settings: PageSettings,
    locales: Arc<Locales>,
    policy: Arc<Policy>,
}

impl LoadedPage {
    /// Its locales.
    pub fn locales(&self) -> &Arc<Locales> {
        &self.locales
    }
}

/// Loads every Page's policy and locales; the first error, named by its Page, stops it.
pub fn load_files(
    settings: &[PageSettings],
    registry: &Registry,
) -> Result<Vec<LoadedPage>, StartError> {
    settings
        .iter()
        .map(|page| {
            let (locales, policy) =
                load_page(page, registry).map_err(|error| StartError::page(page, error))?;
            Ok(LoadedPage {
                settings: page.clone(),
                locales,
                policy,
            })
        })
        .collect()
}

/// A Page's locales and policy. A Page with a `thread_settings` file of its own classifies
/// Get Started and menu postbacks by that file's payloads, the ones its profile was given.
fn load_page(
    page: &PageSettings,
    registry: &Registry,
) -> Result<(Arc<Locales>, Arc<Policy>), StartError> {
    registry.check()?;
    let locales = Arc::new(Locales::load(&page.locales, &page.default_locale)?);
    let mut policy = Policy::load(&page.policy, registry, &locales)?;
    if let Some(file) = &page.thread_settings {
        policy = policy.classify_by(&PolicyDocument::load_thread_settings(file)?);
    }
    Ok((locales, Arc::new(policy)))
}

impl Pages {
    /// The Pages of `loaded`, each with a Graph client of its own token that shares `base`'s
    /// connection pool, and `base`'s store.
    pub fn build(
        loaded: Vec<LoadedPage>,
        base: &Services,
        app_secret: Option<&SecretString>,
    ) -> Result<Self, StartError> {
        let mut pages = Vec::with_capacity(loaded.len());
        for page in loaded {
            let graph = base
                .graph
                .for_token(
                    &page.settings.name,
                    page.settings.token.as_ref(),
                    app_secret,
                )
                .map_err(|error| StartError::page(&page.settings, error.into()))?;
            let bot = PageBot {
                policy: page.policy,
                services: Arc::new(Services {
                    graph,
                    locales: page.locales,
                    ..base.clone()
                }),
            };
            pages.push((page.settings, bot));
        }
        Ok(Self::from_bots(pages))
    }

    /// One catch-all Page running `policy` with `services` (tests, the simulator).
    pub fn single(policy: Arc<Policy>, services: Arc<Services>) -> Self {
        let settings = PageSettings {
            id: None,
            name: "the Page".to_owned(),
            token: None,
            policy: std::path::PathBuf::new(),
            locales: std::path::PathBuf::new(),
            default_locale: services.locales.default_locale().to_string(),
            thread_settings: None,
        };
        Self::from_bots(vec![(settings, PageBot { policy, services })])
    }

    fn from_bots(bots: Vec<(PageSettings, PageBot)>) -> Self {
        let mut by_id = HashMap::new();
        let mut catch_all = None;
        let pages = bots
            .into_iter()
            .enumerate()
            .map(|(n, (settings, bot))| {
                match &settings.id {
                    Some(id) => {
                        by_id.insert(id.clone(), n);
                    }
                    None => catch_all = Some(n),
                }
                Page {
                    label: settings
                        .id
                        .clone()
                        .unwrap_or_else(|| CATCH_ALL_LABEL.to_owned()),
                    settings,
                    bot: ArcSwap::from_pointee(bot),
                    last_reload: Mutex::new(None),
                }
            })
            .collect();
        Self {
            pages,
            by_id,
            catch_all,
        }
    }

    /// The Page an event with this page id (`entry[].id`) belongs to: the one configured with
    /// that id, else the catch-all Page; `None` when no Page serves it.
    pub fn find(&self, page_id: Option<&str>) -> Option<&Page> {
        page_id
            .and_then(|id| self.by_id.get(id))
            .or(self.catch_all.as_ref())
            .map(|&n| &self.pages[n])
    }

    /// The metrics label of the Page serving `page_id`: its id, `default` for the catch-all
    /// Page, `unconfigured` when no Page serves it.
    pub fn label_of(&self, page_id: Option<&str>) -> &str {
        self.find(page_id).map_or(UNCONFIGURED_LABEL, Page::label)
    }

    /// Every Page, in the order of the settings.
    pub fn iter(&self) -> impl Iterator<Item = &Page> {
        self.pages.iter()
    }

    /// The first Page (the one the webhook classifies with when an item names no known Page).
    pub fn first(&self) -> &Page {
        &self.pages[0]
    }

    /// Whether any Page's policy reads the users' rows (then the claim reads them).
    pub fn any_stores_users(&self) -> bool {
        self.pages.iter().any(|p| p.bot().policy.stores_users())
    }

    /// Whether any Page's policy uses conversations (then the claim reads them).
    pub fn any_uses_conversations(&self) -> bool {
        self.pages
            .iter()
            .any(|p| p.bot().policy.uses_conversations())
    }

    /// Loads every Page's files again, each on its own: a Page whose files are valid runs them
    /// from now on, one whose files are not keeps its last good version. Returns the refusals.
    pub fn reload(&self, registry: &Registry) -> Vec<StartError> {
        let mut refused = Vec::new();
        for page in &self.pages {
            let current = page.bot();
            let outcome = reload_page(&page.settings, registry, &current);
            let status = ReloadStatus {
                at: SystemTime::now(),
                error: outcome.as_ref().err().map(ToString::to_string),
            };
            *lock(&page.last_reload) = Some(status);
            match outcome {
                Ok(bot) => page.bot.store(Arc::new(bot)),
                Err(error) => refused.push(StartError::page(&page.settings, error)),
            }
        }
        refused
    }
}

/// A Page's bot from its files again, keeping its Graph client.
fn reload_page(
    page: &PageSettings,
    registry: &Registry,
    current: &PageBot,
) -> Result<PageBot, StartError> {
    let (locales, policy) = load_page(page, registry)?;
    Ok(PageBot {
        policy,
        services: Arc::new(Services {
            locales,
            ..(*current.services).clone()
        }),
    })
}
