//! Turns a parsed [`PolicyDocument`] into chains of live handlers and senders.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::flow::{Remember, Then};
use super::text_prefilter::{TextPrefilter, TextVerdicts};
use super::{PolicyDocument, PolicyError, PolicyErrors, Severity};
use crate::event::{ClassifyConfig, ReceivingType};
use crate::handlers::Handler;
use crate::i18n::Locales;
use crate::registry::{BuildContext, Registry};
use crate::senders::Sender;

/// A loaded, fully validated routing policy.
pub struct Policy {
    document: PolicyDocument,
    default: Chain,
    routes: HashMap<ReceivingType, Chain>,
    classify: ClassifyConfig,
    /// Every Fluent message id the policy uses, with the first line that uses it.
    messages: BTreeMap<String, u32>,
    /// Whether any link runs `user_profile`: only then does the claim read the users.
    stores_users: bool,
    /// Whether the policy has steps or a handler reads conversations: only then does the
    /// claim read them.
    uses_conversations: bool,
    /// The declared steps, by name.
    steps: HashMap<String, Step>,
}

/// A declared step, compiled: what is sent to ask, and to ask again.
pub struct Step {
    /// Sent when the conversation moves to the step.
    pub ask: Vec<Arc<dyn Sender>>,
    /// Sent when an answer does not validate or nothing handled it; `None`: `ask`.
    pub reask: Option<Vec<Arc<dyn Sender>>>,
    /// Where the step is declared.
    pub line: u32,
}

impl Step {
    /// What asks again.
    pub fn reask_senders(&self) -> &[Arc<dyn Sender>] {
        self.reask.as_deref().unwrap_or(&self.ask)
    }
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("ask", &self.ask.len())
            .field("reask", &self.reask.as_ref().map(Vec::len))
            .field("line", &self.line)
            .finish()
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("file", &self.document.file)
            .field("default", &self.default)
            .field("routes", &self.routes)
            .finish()
    }
}

/// An ordered list of links, run one after the other.
#[derive(Debug, Default)]
pub struct Chain {
    /// The links, in file order.
    pub links: Vec<Link>,
    /// Matches the text patterns of the links at once; built with the links.
    prefilter: TextPrefilter,
    /// Whether a link of the chain waits for a step (`when`): then, while the user is at a
    /// step, only the links of that step and the `global` ones run. Never for the default
    /// chain, whose links without `when` run at every step.
    pub flow: bool,
}

impl Chain {
    /// The chain's answers for one event: whether link `i` may want its text, without asking
    /// the link (see [`Handler::text_pattern`]).
    pub(crate) fn text_verdicts(&self) -> TextVerdicts<'_> {
        self.prefilter.verdicts()
    }
}

/// One handler with its senders and flow flags.
pub struct Link {
    /// The handler's registered name.
    pub handler_name: String,
    /// The handler.
    pub handler: Arc<dyn Handler>,
    /// Fired, in order, when the handler handled the event.
    pub senders: Vec<Arc<dyn Sender>>,
    /// Later links of the chain do not run once this one handled.
    pub stop: bool,
    /// Runs only if no earlier link of the chain handled the event.
    pub fallback: bool,
    /// Where the link is written.
    pub line: u32,
    /// The steps it runs at (`when`); `None`: no step (or any: see [`Chain::flow`]).
    pub when: Option<Vec<String>>,
    /// Runs at any step.
    pub global: bool,
    /// What it remembers once its handler handled.
    pub remember: Option<Remember>,
    /// What it forgets after its senders.
    pub forget: Vec<String>,
    /// How it moves the conversation after its senders.
    pub then: Option<Then>,
}

impl Link {
    /// Whether the link runs for a user at `step` (the step the event found), in `chain`.
    pub fn runs_at(&self, step: Option<&str>, flow_chain: bool) -> bool {
        match (&self.when, step) {
            (Some(steps), Some(step)) => steps.iter().any(|s| s == step),
            (Some(_), None) => false,
            (None, Some(_)) => self.global || !flow_chain,
            (None, None) => true,
        }
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("handler", &self.handler_name)
            .field("senders", &self.senders.len())
            .field("stop", &self.stop)
            .field("fallback", &self.fallback)
            .field("line", &self.line)
            .finish()
    }
}

impl Policy {
    /// Reads, parses and compiles the policy at `file`.
    pub fn load(file: &Path, registry: &Registry, locales: &Locales) -> Result<Self, PolicyErrors> {
        let document = PolicyDocument::load(file)?;
        Self::compile(document, registry, locales)
    }

    /// Builds every handler and sender the document names; reports every problem at once.
    pub fn compile(
        document: PolicyDocument,
        registry: &Registry,
        locales: &Locales,
    ) -> Result<Self, PolicyErrors> {
        let used = RefCell::new(Vec::new());
        let cx = BuildContext::recording(locales, &used);
        let messages = RefCell::new(BTreeMap::new());
        // Ids required since the last call were required by what is written at `line`.
        let attribute = |line: u32| {
            let mut messages = messages.borrow_mut();
            for id in used.borrow_mut().drain(..) {
                messages.entry(id).or_insert(line);
            }
        };
        let mut errors = Vec::new();
        let file = document.file.clone();
        let error = |line: u32, message: String| PolicyError {
            file: file.clone(),
            line: Some(line),
            message,
            severity: Severity::Error,
        };
        let build_senders = |specs: &[super::SenderSpec], errors: &mut Vec<PolicyError>| {
            let mut senders = Vec::new();
            for sender in specs {
                match registry.build_sender(&sender.kind, sender.args.clone(), &cx) {
                    None => errors.push(error(
                        sender.line,
                        format!(
                            "unknown sender \"{}\" (known: {})",
                            sender.kind,
                            registry.sender_names().join(", ")
                        ),
                    )),
                    Some(Err(e)) => {
                        errors.push(error(sender.line, format!("sender {}: {e}", sender.kind)))
                    }
                    Some(Ok(s)) => senders.push(s),
                }
                attribute(sender.line);
            }
            senders
        };
        let compile_chain = |links: &[super::LinkSpec], errors: &mut Vec<PolicyError>| {
            let mut chain = Chain::default();
            for spec in links {
                let handler = match registry.build_handler(&spec.handler, spec.args.clone(), &cx) {
                    None => {
                        errors.push(error(
                            spec.line,
                            format!(
                                "unknown handler \"{}\" (known: {})",
                                spec.handler,
                                registry.handler_names().join(", ")
                            ),
                        ));
                        None
                    }
                    Some(Err(e)) => {
                        errors.push(error(
                            spec.args_line,
                            format!("handler {}: {e}", spec.handler),
                        ));
                        None
                    }
                    Some(Ok(h)) => Some(h),
                };
                attribute(spec.args_line);
                let senders = build_senders(&spec.senders, errors);
                let remember = spec.remember.as_ref().and_then(|r| {
                    let regex = match &r.regex {
                        None => None,
                        Some(pattern) => match regex::RegexBuilder::new(pattern)
                            .size_limit(crate::handlers::REGEX_SIZE_LIMIT)
                            .build()
                        {
                            Ok(regex) => Some(regex),
                            Err(e) => {
                                let e = e.to_string();
                                errors.push(error(
                                    r.line,
                                    format!(
                                        "remember: bad regex {pattern:?}: {}",
                                        e.lines().last().unwrap_or_default().trim()
                                    ),
                                ));
                                return None;
                            }
                        },
                    };
                    Some(Remember {
                        name: r.name.clone(),
                        from: r.from.clone(),
                        validate: r.validate,
                        regex,
                    })
                });
                if let Some(handler) = handler {
                    chain.links.push(Link {
                        handler_name: spec.handler.clone(),
                        handler,
                        senders,
                        stop: spec.stop,
                        fallback: spec.fallback,
                        line: spec.line,
                        when: spec.when.as_ref().map(|w| w.steps.clone()),
                        global: spec.global,
                        remember,
                        forget: spec.forget.iter().map(|f| f.value.clone()).collect(),
                        then: spec.then.as_ref().map(|t| match t {
                            super::ThenSpec::Step(step) => Then::Step(step.value.clone()),
                            super::ThenSpec::End(_) => Then::End,
                        }),
                    });
                }
            }
            chain.prefilter = TextPrefilter::build(&chain.links);
            chain.flow = chain.links.iter().any(|link| link.when.is_some());
            chain
        };
        let mut steps = HashMap::new();
        for step in &document.steps {
            let ask = build_senders(&step.ask, &mut errors);
            let reask = step
                .reask
                .as_ref()
                .map(|reask| build_senders(reask, &mut errors));
            steps.insert(
                step.name.clone(),
                Step {
                    ask,
                    reask,
                    line: step.line,
                },
            );
        }
        let mut default = compile_chain(&document.default, &mut errors);
        // What runs first for every event (user_profile) runs at every step.
        default.flow = false;
        let mut routes = HashMap::new();
        for (kind, links) in &document.routes {
            routes.insert(*kind, compile_chain(links, &mut errors));
        }
        let settings = &document.thread_settings;
        let texts = settings
            .greeting
            .iter()
            .map(|g| (g.line, g.value.as_str()))
            .chain(
                settings
                    .persistent_menu
                    .iter()
                    .map(|m| (m.line, m.title.as_str())),
            )
            .chain(
                settings
                    .ice_breakers
                    .iter()
                    .map(|i| (i.line, i.question.as_str())),
            );
        for (line, id) in texts {
            if let Err(e) = cx.require_message(id) {
                errors.push(error(line, format!("thread_settings: {e}")));
            }
            attribute(line);
        }
        if !errors.is_empty() {
            return Err(PolicyErrors(errors));
        }
        let classify = classify_config_of(&document);
        let stores_users = std::iter::once(&default)
            .chain(routes.values())
            .flat_map(|chain| &chain.links)
            .any(|link| link.handler_name == "user_profile");
        let uses_conversations = !steps.is_empty()
            || document.links().any(super::LinkSpec::in_flow)
            || std::iter::once(&default)
                .chain(routes.values())
                .flat_map(|chain| &chain.links)
                .any(|link| link.handler.uses_conversation());
        Ok(Self {
            document,
            default,
            routes,
            classify,
            messages: messages.into_inner(),
            stores_users,
            uses_conversations,
            steps,
        })
    }

    /// Every Fluent message id the policy uses, with the first line that uses it.
    pub fn messages(&self) -> &BTreeMap<String, u32> {
        &self.messages
    }

    /// The chains an event of `kind` runs: the default chain, then its route (if any).
    pub fn chains(&self, kind: ReceivingType) -> impl Iterator<Item = &Chain> {
        std::iter::once(&self.default).chain(self.routes.get(&kind))
    }

    /// Whether a chain runs the `user_profile` handler, which takes the sender's stored row
    /// read with the claim.
    pub fn stores_users(&self) -> bool {
        self.stores_users
    }

    /// The declared step called `name`.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.get(name)
    }

    /// The chain routed for `kind`, if any (not the default chain).
    pub fn route(&self, kind: ReceivingType) -> Option<&Chain> {
        self.routes.get(&kind)
    }

    /// The chain run first for every event.
    pub fn default_chain(&self) -> &Chain {
        &self.default
    }

    /// Whether events need their sender's conversation read with the claim: the policy has
    /// steps, or one of its handlers reads the conversation in `should_handle`.
    pub fn uses_conversations(&self) -> bool {
        self.uses_conversations
    }

    /// What classification needs from the thread settings (Get Started and menu payloads).
    pub fn classify_config(&self) -> &ClassifyConfig {
        &self.classify
    }

    /// Classifies Get Started and menu postbacks by the payloads of `thread_settings` (a
    /// Page's own thread settings file) instead of the policy's `thread_settings:` section:
    /// the payloads Facebook sends back are the ones that were pushed.
    pub fn classify_by(mut self, thread_settings: &PolicyDocument) -> Self {
        self.classify = classify_config_of(thread_settings);
        self
    }

    /// The parsed document (thread settings, file name, lines).
    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// The file the policy was read from.
    pub fn file(&self) -> &Path {
        &self.document.file
    }
}

/// The payloads a document's thread settings give classification.
fn classify_config_of(document: &PolicyDocument) -> ClassifyConfig {
    ClassifyConfig {
        get_started_payload: document.get_started_payload().map(str::to_owned),
        persistent_menu_payloads: document.persistent_menu_payloads(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(yaml: &str) -> Policy {
        let locales = Locales::from_sources(
            "en-US".parse().unwrap(),
            vec![("en-US".into(), vec![("a.ftl".into(), "hi = Hi\n".into())])],
        )
        .unwrap();
        let document = PolicyDocument::parse(Path::new("routing.yaml"), yaml).unwrap();
        Policy::compile(document, &Registry::builtin(), &locales).unwrap()
    }

    #[test]
    fn a_policy_stores_users_when_a_chain_runs_user_profile() {
        assert!(compiled("default:\n  - handler: user_profile\n").stores_users());
        assert!(
            compiled("routes:\n  STICKER:\n    - handler: thumb_up\n    - handler: user_profile\n")
                .stores_users()
        );
        assert!(
            !compiled("routes:\n  SIMPLE_TEXT:\n    - handler: simple_text\n      senders:\n        - text: { message: hi }\n")
                .stores_users()
        );
    }
}
