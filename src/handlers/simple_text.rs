//! `simple_text`: a text message, optionally matching a regex whose captures become
//! variables (`match.0`, `match.1`, `match.NAME`) for the senders.

use async_trait::async_trait;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::{Handler, HandlerError};
use crate::context::Context;

/// Matches text messages.
#[derive(Debug, Clone)]
pub struct SimpleText {
    regex: Option<Regex>,
}

/// Arguments of `simple_text`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleTextArgs {
    /// The text must match this (anywhere, unless anchored); absent: any text matches.
    #[serde(default)]
    pub regex: Option<String>,
    /// Match without regard to case.
    #[serde(default)]
    pub ignore_case: bool,
}

/// Longest regex accepted once compiled, so that a policy cannot make matching slow.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl SimpleText {
    /// Compiles the regex once, at policy load.
    pub fn from_args(args: SimpleTextArgs) -> Result<Self, String> {
        let regex = args
            .regex
            .map(|pattern| compile_regex(&pattern, args.ignore_case))
            .transpose()?;
        Ok(Self { regex })
    }
}

/// Compiles a policy's regex with a size limit; the error is one readable line.
pub(super) fn compile_regex(pattern: &str, ignore_case: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("bad regex {pattern:?}: {}", first_line(&e.to_string())))
}

/// The captures of `regex` in `text` as variables: `match.0`, `match.1`, `match.NAME`; empty
/// when it does not match.
pub(super) fn capture_vars(regex: &Regex, text: &str) -> Vec<(String, String)> {
    let Some(captures) = regex.captures(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (i, name) in regex.capture_names().enumerate() {
        if let Some(m) = captures.get(i) {
            found.push((format!("match.{i}"), m.as_str().to_owned()));
            if let Some(name) = name {
                found.push((format!("match.{name}"), m.as_str().to_owned()));
            }
        }
    }
    found
}

fn first_line(s: &str) -> String {
    // The regex crate's messages draw a caret diagram over several lines; keep the sentence.
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim().trim_start_matches("error:").trim().to_owned())
        .unwrap_or_else(|| s.lines().next().unwrap_or_default().to_owned())
}

#[async_trait]
impl Handler for SimpleText {
    fn should_handle(&self, cx: &Context) -> bool {
        match (cx.text(), &self.regex) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(text), Some(regex)) => regex.is_match(text),
        }
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let (Some(regex), Some(text)) = (&self.regex, cx.text()) else {
            return Ok(());
        };
        let found = capture_vars(regex, text);
        cx.vars.extend(found);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_regex_is_refused_with_a_readable_reason() {
        let err = SimpleText::from_args(SimpleTextArgs {
            regex: Some("(hi".into()),
            ignore_case: false,
        })
        .unwrap_err();
        assert!(err.starts_with("bad regex \"(hi\": "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
