//! `pagebot check`: everything `serve` validates at start, plus what a translator needs to
//! know: texts missing in some locale (warnings) and texts nothing uses (notes), and what looks
//! wrong in the flows (warnings: see [`crate::policy::flow_warnings`]).
//!
//! Findings print the way compilers do (`file:line: warning: ...`), errors first.
//!
//! With `[[pages]]` in pagebot.toml, [`check_page`] checks each Page: its policy and locales
//! as [`check`] does, and what pagebot.toml says of it (files that are not there, named by
//! the entry's line; its token; its `thread_settings` file).

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use crate::config::{Loaded, PageEntry};
use crate::i18n::{I18nError, Locales};
use crate::policy::{Policy, PolicyDocument};
use crate::registry::Registry;
use crate::thread_settings::desired::{LimitError, desired_profile};

/// How serious a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `serve` would refuse to start.
    Error,
    /// Works, but some users get another locale's text, or something looks mistaken.
    Warning,
    /// Worth knowing: e.g. a message nothing uses.
    Note,
}

/// One thing `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub level: Level,
    /// `file` or `file:line`, when known.
    pub location: Option<String>,
    /// What is wrong, naming the locale and message id where they matter.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        match self.level {
            Level::Error => {}
            Level::Warning => f.write_str("warning: ")?,
            Level::Note => f.write_str("note: ")?,
        }
        f.write_str(&self.message)
    }
}

/// Everything `check` found, errors first.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The findings, sorted by level, then in the order they were found.
    pub findings: Vec<Finding>,
}

impl Report {
    /// How many findings of `level`.
    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    /// 0 when clean; 1 on errors, or on warnings when `strict`.
    pub fn exit_code(&self, strict: bool) -> u8 {
        let failing = self.count(Level::Error) > 0 || (strict && self.count(Level::Warning) > 0);
        u8::from(failing)
    }

    /// `3 errors, 1 warning, 2 notes`.
    pub fn summary(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        format!(
            "{}, {}, {}",
            plural(self.count(Level::Error), "error"),
            plural(self.count(Level::Warning), "warning"),
            plural(self.count(Level::Note), "note")
        )
    }

    fn push(&mut self, level: Level, location: Option<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            level,
            location,
            message: message.into(),
        });
    }
}

/// Checks the policy at `policy_file` against `registry` and the locales in `locales_dir`.
pub fn check(
    registry: &Registry,
    policy_file: &Path,
    locales_dir: &Path,
    default_locale: &str,
) -> Report {
    check_using(
        registry,
        policy_file,
        locales_dir,
        default_locale,
        &BTreeSet::new(),
    )
}

/// [`check`], with messages that something else uses too (a Page's thread_settings file), so
/// that they are not noted as unused.
fn check_using(
    registry: &Registry,
    policy_file: &Path,
    locales_dir: &Path,
    default_locale: &str,
    also_used: &BTreeSet<String>,
) -> Report {
    let mut report = Report::default();
    if let Err(e) = registry.check() {
        report.push(Level::Error, None, e.to_string());
    }
    if let Some(Err(e)) = registry.app_migrations().map(|m| m.check()) {
        report.push(Level::Error, None, e.to_string());
    }
    let locales = match Locales::load(locales_dir, default_locale) {
        Ok(locales) => locales,
        Err(I18nError::Syntax(problems)) => {
            // Each problem already starts with `file:line:`.
            for problem in problems {
                report.push(Level::Error, None, problem);
            }
            return report;
        }
        Err(e) => {
            report.push(Level::Error, None, e.to_string());
            return report;
        }
    };
    let policy = match Policy::load(policy_file, registry, &locales) {
        Ok(policy) => policy,
        Err(errors) => {
            for error in errors {
                report.push(Level::Error, None, error.to_string());
            }
            return report;
        }
    };
    for warning in crate::policy::flow_warnings(policy.document()) {
        let location = warning
            .line
            .map(|line| format!("{}:{line}", warning.file.display()));
        report.push(Level::Warning, location, warning.message);
    }
    check_translations(&mut report, &policy, &locales, also_used);
    report.findings.sort_by_key(|f| f.level);
    report
}

/// Checks the Page of `entry` (one of `loaded`'s `[[pages]]`): its policy and locales (its own
/// or the top-level ones) as [`check`] does, its `thread_settings` file (read, and built for
/// every locale as `pagebot thread-settings` would build it), and its token.
///
/// A policy, locales folder or thread_settings file that is not there is an error at the
/// pagebot.toml line that names it (or the entry's, for a top-level default). A token that
/// cannot be read is a warning, not an error: `check` runs where the bot is written and in CI,
/// where the Page's secrets usually are not (`serve` refuses to start without it).
pub fn check_page(registry: &Registry, loaded: &Loaded, entry: &PageEntry) -> Report {
    let page = loaded.page(entry, None);
    let mut report = Report::default();
    if let Err(e) = loaded.page_token(entry) {
        report.push(
            Level::Warning,
            Some(e.at.to_string()),
            format!("{}: serve refuses to start without it", e.message),
        );
    }
    let id = &entry.id;
    let mut missing = |key: &str, path: &Path, folder: bool| {
        let problem = match std::fs::metadata(path) {
            Err(e) => format!("cannot be read: {e}"),
            Ok(m) if folder && !m.is_dir() => "is not a folder".to_owned(),
            Ok(m) if !folder && m.is_dir() => "is a folder, not a file".to_owned(),
            Ok(_) => return false,
        };
        let whose = if entry.sets(key) {
            String::new()
        } else {
            format!(" (the top-level {key})")
        };
        report.push(
            Level::Error,
            Some(entry.place_of(key).to_string()),
            format!("page {id}'s {key} {}{whose} {problem}", path.display()),
        );
        true
    };
    let no_policy = missing("policy", &page.policy, false);
    let no_locales = missing("locales", &page.locales, true);
    let thread_settings = match &page.thread_settings {
        Some(file) if !missing("thread_settings", file, false) => {
            match PolicyDocument::load_thread_settings(file) {
                Ok(document) => Some(document),
                Err(errors) => {
                    for error in &errors {
                        report.push(Level::Error, None, error.to_string());
                    }
                    None
                }
            }
        }
        _ => None,
    };
    let texts = thread_settings.as_ref().map(texts_of).unwrap_or_default();
    if !no_policy && !no_locales {
        let used = texts.iter().map(|(id, _)| id.clone()).collect();
        let found = check_using(
            registry,
            &page.policy,
            &page.locales,
            &page.default_locale,
            &used,
        );
        report.findings.extend(found.findings);
    }
    // Problems of the locales themselves are the policy check's findings.
    let locales = (!no_locales)
        .then(|| Locales::load(&page.locales, &page.default_locale).ok())
        .flatten();
    if let (Some(document), Some(locales)) = (&thread_settings, &locales) {
        check_thread_settings(&mut report, document, &texts, locales);
    }
    report.findings.sort_by_key(|f| f.level);
    report
}

/// The Fluent ids a `thread_settings:` section uses, each with its line.
fn texts_of(document: &PolicyDocument) -> Vec<(String, u32)> {
    let spec = &document.thread_settings;
    spec.greeting
        .iter()
        .map(|g| (g.value.clone(), g.line))
        .chain(
            spec.persistent_menu
                .iter()
                .map(|m| (m.title.clone(), m.line)),
        )
        .chain(
            spec.ice_breakers
                .iter()
                .map(|i| (i.question.clone(), i.line)),
        )
        .collect()
}

/// A Page's `thread_settings` file, built for every locale as `pagebot thread-settings` would
/// (errors), and its texts missing in a locale (warnings, as for the policy's).
fn check_thread_settings(
    report: &mut Report,
    document: &PolicyDocument,
    texts: &[(String, u32)],
    locales: &Locales,
) {
    let file = document.file.display().to_string();
    if let Err(errors) = desired_profile(document, locales) {
        for error in errors.0 {
            match error {
                LimitError::Policy(e) => report.push(Level::Error, None, e.to_string()),
                other => report.push(Level::Error, Some(file.clone()), other.to_string()),
            }
        }
    }
    let default = locales.default_locale();
    for (id, line) in texts {
        for locale in locales.locales().filter(|l| *l != default) {
            if locales.has_message(id) && !locales.has_message_in(locale, id) {
                report.push(
                    Level::Warning,
                    Some(format!("{file}:{line}")),
                    format!(
                        "message \"{id}\" is missing in locale {locale}: its users get the \
                         {default} text"
                    ),
                );
            }
        }
    }
}

/// Missing translations (warnings) and unused messages (notes).
fn check_translations(
    report: &mut Report,
    policy: &Policy,
    locales: &Locales,
    also_used: &BTreeSet<String>,
) {
    let used = policy.messages();
    let default = locales.default_locale();
    let at = |line: &u32| Some(format!("{}:{line}", policy.file().display()));
    for (id, line) in used {
        for locale in locales.locales().filter(|l| *l != default) {
            if !locales.has_message_in(locale, id) {
                report.push(
                    Level::Warning,
                    at(line),
                    format!(
                        "message \"{id}\" is missing in locale {locale}: its users get the \
                         {default} text"
                    ),
                );
            }
        }
    }
    for locale in locales.locales() {
        for (id, file) in locales.message_ids(locale) {
            let location = Some(file.display().to_string());
            if locale != default && !locales.has_message_in(default, id) {
                report.push(
                    Level::Warning,
                    location,
                    format!(
                        "message \"{id}\" of locale {locale} is not in the default locale \
                         {default} (a typo in its id?)"
                    ),
                );
            } else if locale == default
                && !used.contains_key(id)
                && !also_used.contains(id)
                && !locales.is_referenced(id)
            {
                report.push(
                    Level::Note,
                    location,
                    format!(
                        "message \"{id}\" is not used by {}",
                        policy.file().display()
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(level: Level) -> Finding {
        Finding {
            level,
            location: Some("routing.yaml:3".into()),
            message: "something".into(),
        }
    }

    #[test]
    fn exit_code_fails_on_errors_and_on_warnings_only_when_strict() {
        let mut report = Report::default();
        report.findings.push(finding(Level::Note));
        assert_eq!(report.exit_code(true), 0);
        report.findings.push(finding(Level::Warning));
        assert_eq!(report.exit_code(false), 0);
        assert_eq!(report.exit_code(true), 1);
        report.findings.push(finding(Level::Error));
        assert_eq!(report.exit_code(false), 1);
        assert_eq!(report.summary(), "1 error, 1 warning, 1 note");
    }

    #[test]
    fn findings_display_like_compiler_messages() {
        assert_eq!(
            finding(Level::Warning).to_string(),
            "routing.yaml:3: warning: something"
        );
        assert_eq!(
            finding(Level::Note).to_string(),
            "routing.yaml:3: note: something"
        );
        assert_eq!(
            finding(Level::Error).to_string(),
            "routing.yaml:3: something"
        );
    }
}
