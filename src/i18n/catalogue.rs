//! Which message ids each locale defines and which ids messages reference, read from the
//! Fluent syntax tree once at load, so that `pagebot check` can compare them with the policy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fluent_bundle::FluentResource;
use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};
use unic_langid::LanguageIdentifier;

/// Message ids per locale, and the ids referenced from other messages.
#[derive(Debug, Default)]
pub(super) struct Catalogue {
    /// Locale -> message id -> the file that defines it.
    ids: BTreeMap<String, BTreeMap<String, PathBuf>>,
    references: BTreeSet<String>,
}

impl Catalogue {
    /// Records the messages of one resource of `locale`.
    pub(super) fn add(
        &mut self,
        locale: &LanguageIdentifier,
        file: &Path,
        resource: &FluentResource,
    ) {
        let ids = self.ids.entry(locale.to_string()).or_default();
        for entry in resource.entries() {
            let patterns: Vec<&Pattern<&str>> = match entry {
                Entry::Message(m) => {
                    ids.entry(m.id.name.to_owned())
                        .or_insert_with(|| file.to_owned());
                    m.value
                        .iter()
                        .chain(m.attributes.iter().map(|a| &a.value))
                        .collect()
                }
                Entry::Term(t) => std::iter::once(&t.value)
                    .chain(t.attributes.iter().map(|a| &a.value))
                    .collect(),
                _ => Vec::new(),
            };
            for pattern in patterns {
                collect_pattern(pattern, &mut self.references);
            }
        }
    }

    pub(super) fn has(&self, locale: &LanguageIdentifier, id: &str) -> bool {
        self.ids
            .get(&locale.to_string())
            .is_some_and(|ids| ids.contains_key(id))
    }

    pub(super) fn ids(&self, locale: &LanguageIdentifier) -> Vec<(&str, &Path)> {
        self.ids
            .get(&locale.to_string())
            .map(|ids| {
                ids.iter()
                    .map(|(id, file)| (id.as_str(), file.as_path()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn is_referenced(&self, id: &str) -> bool {
        self.references.contains(id)
    }
}

fn collect_pattern(pattern: &Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let PatternElement::Placeable { expression } = element {
            collect_expression(expression, out);
        }
    }
}

fn collect_expression(expression: &Expression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        Expression::Select { selector, variants } => {
            collect_inline(selector, out);
            for variant in variants {
                collect_pattern(&variant.value, out);
            }
        }
        Expression::Inline(inline) => collect_inline(inline, out),
    }
}

fn collect_inline(inline: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match inline {
        InlineExpression::MessageReference { id, .. } => {
            out.insert(id.name.to_owned());
        }
        InlineExpression::FunctionReference { arguments, .. } => {
            for argument in arguments
                .positional
                .iter()
                .chain(arguments.named.iter().map(|n| &n.value))
            {
                collect_inline(argument, out);
            }
        }
        InlineExpression::TermReference {
            arguments: Some(arguments),
            ..
        } => {
            for argument in arguments
                .positional
                .iter()
                .chain(arguments.named.iter().map(|n| &n.value))
            {
                collect_inline(argument, out);
            }
        }
        InlineExpression::Placeable { expression } => collect_expression(expression, out),
        _ => {}
    }
}
