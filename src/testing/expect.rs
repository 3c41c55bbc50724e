//! Expectations on the bot's replies to one turn, and the readable diff when they fail.
//!
//! An [`Expected`] describes one message; each field that is set is checked, the others are
//! not. [`compare`] matches a list of them, in order, against the messages the bot sent (sender
//! actions are not messages and are skipped): the counts must agree, and each message must
//! satisfy its expectation. On a mismatch, [`Mismatch`] shows both lists, marking with `-`
//! what was expected and `+` what was received where they differ.
//!
//! The transcript format reads [`Expected`] straight from YAML (`text:`, `text_contains:`,
//! `quick_replies:`, `buttons:`, `cards:`, `attachment:`).

use std::fmt;

use serde::Deserialize;

use super::render::BotMessage;

/// What one message of the bot must look like; unset fields are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// The exact text (of a text message, or of a button template).
    #[serde(default)]
    pub text: Option<String>,
    /// A part of the text.
    #[serde(default)]
    pub text_contains: Option<String>,
    /// The quick replies' titles, in order.
    #[serde(default)]
    pub quick_replies: Option<Vec<String>>,
    /// The buttons' titles (button template, or all cards' buttons), in order.
    #[serde(default)]
    pub buttons: Option<Vec<String>>,
    /// The cards' titles (generic template), in order.
    #[serde(default)]
    pub cards: Option<Vec<String>>,
    /// The attachment kind: `image`, `audio`, `video`, `file` or `template`.
    #[serde(default)]
    pub attachment: Option<String>,
}

impl Expected {
    /// A message with exactly this text.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// Whether `message` satisfies every field that is set.
    pub fn matches(&self, message: &BotMessage) -> bool {
        self.differences(message).is_empty()
    }

    /// What differs between this expectation and `message`, one sentence each.
    pub fn differences(&self, message: &BotMessage) -> Vec<String> {
        let mut found = Vec::new();
        let text = message.text.as_deref();
        if let Some(want) = &self.text
            && text != Some(want.as_str())
        {
            found.push(format!("text is {}, expected {want:?}", show_text(text)));
        }
        if let Some(part) = &self.text_contains
            && !text.is_some_and(|t| t.contains(part.as_str()))
        {
            found.push(format!(
                "text is {}, expected it to contain {part:?}",
                show_text(text)
            ));
        }
        let lists = [
            (
                "quick replies",
                &self.quick_replies,
                message.quick_reply_titles(),
            ),
            ("buttons", &self.buttons, message.button_titles()),
            ("cards", &self.cards, message.card_titles()),
        ];
        for (what, want, got) in lists {
            if let Some(want) = want
                && *want != got
            {
                found.push(format!(
                    "{what} are {}, expected {}",
                    list(&got),
                    list(want)
                ));
            }
        }
        if let Some(want) = &self.attachment
            && message.attachment_kind() != Some(want.as_str())
        {
            found.push(format!(
                "attachment is {}, expected {want}",
                message.attachment_kind().unwrap_or("none")
            ));
        }
        found
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(text) = &self.text {
            parts.push(format!("text {text:?}"));
        }
        if let Some(part) = &self.text_contains {
            parts.push(format!("text containing {part:?}"));
        }
        if let Some(q) = &self.quick_replies {
            parts.push(format!("quick replies {}", list(q)));
        }
        if let Some(b) = &self.buttons {
            parts.push(format!("buttons {}", list(b)));
        }
        if let Some(c) = &self.cards {
            parts.push(format!("cards {}", list(c)));
        }
        if let Some(a) = &self.attachment {
            parts.push(format!("attachment {a}"));
        }
        if parts.is_empty() {
            f.write_str("any message")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A message described in the vocabulary of [`Expected`], for the `+` side of a diff.
pub fn describe(message: &BotMessage) -> String {
    let mut parts = Vec::new();
    if let Some(text) = &message.text {
        parts.push(format!("text {text:?}"));
    }
    if !message.quick_replies.is_empty() {
        parts.push(format!(
            "quick replies {}",
            list(&message.quick_reply_titles())
        ));
    }
    if !message.cards.is_empty() {
        parts.push(format!("cards {}", list(&message.card_titles())));
    }
    if message.all_buttons().next().is_some() {
        parts.push(format!("buttons {}", list(&message.button_titles())));
    }
    match message.attachment_kind() {
        Some("template") | None => {}
        Some(kind) => parts.push(format!("attachment {kind}")),
    }
    if parts.is_empty() {
        message.render()
    } else {
        parts.join(", ")
    }
}

/// Why the bot's replies did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The first message (from 1) that differs.
    pub first: usize,
    /// What differs about it, one sentence each.
    pub reasons: Vec<String>,
    /// The diff of both lists, one line each (`  ` same, `-` expected, `+` received).
    pub diff: Vec<String>,
    /// The received messages, rendered.
    pub received: Vec<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "message {}: {}", self.first, self.reasons.join("; "))?;
        writeln!(f, "  (- expected, + received)")?;
        for line in &self.diff {
            writeln!(f, "  {line}")?;
        }
        if self.received.is_empty() {
            write!(f, "  the bot sent nothing")
        } else {
            write!(f, "  the bot sent:")?;
            for (i, rendered) in self.received.iter().enumerate() {
                let mut lines = rendered.lines();
                write!(f, "\n    {}. {}", i + 1, lines.next().unwrap_or_default())?;
                for line in lines {
                    write!(f, "\n       {line}")?;
                }
            }
            Ok(())
        }
    }
}

/// Matches `expected` against `received`, in order; sender actions in `received` are skipped.
/// An empty `expected` means the bot must send no message.
pub fn compare(expected: &[Expected], received: &[BotMessage]) -> Result<(), Mismatch> {
    let messages: Vec<&BotMessage> = received.iter().filter(|m| !m.is_action()).collect();
    let mut first = None;
    let mut diff = Vec::new();
    for i in 0..expected.len().max(messages.len()) {
        let n = i + 1;
        match (expected.get(i), messages.get(i)) {
            (Some(want), Some(got)) => {
                let reasons = want.differences(got);
                if reasons.is_empty() {
                    diff.push(format!("  {n}. {want}"));
                } else {
                    diff.push(format!("- {n}. {want}"));
                    diff.push(format!("+ {n}. {}", describe(got)));
                    first.get_or_insert((n, reasons));
                }
            }
            (Some(want), None) => {
                diff.push(format!("- {n}. {want}"));
                first.get_or_insert((n, vec!["expected, but the bot sent nothing more".into()]));
            }
            (None, Some(got)) => {
                diff.push(format!("+ {n}. {}", describe(got)));
                first.get_or_insert((n, vec!["sent, but not expected".into()]));
            }
            (None, None) => {}
        }
    }
    match first {
        None => Ok(()),
        Some((first, reasons)) => Err(Mismatch {
            first,
            reasons,
            diff,
            received: messages.iter().map(|m| m.render()).collect(),
        }),
    }
}

fn show_text(text: Option<&str>) -> String {
    match text {
        Some(t) => format!("{t:?}"),
        None => "absent".to_owned(),
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn sent(message: Value) -> BotMessage {
        BotMessage::from_body(&json!({"recipient": {"id": "1"}, "message": message}))
    }

    fn colours() -> BotMessage {
        sent(json!({"text": "Pick a colour", "quick_replies": [
            {"content_type": "text", "title": "Red", "payload": "R"},
            {"content_type": "text", "title": "Blue", "payload": "B"}]}))
    }

    fn typing() -> BotMessage {
        BotMessage::from_body(&json!({"recipient": {"id": "1"}, "sender_action": "typing_on"}))
    }

    #[test]
    fn text_and_quick_replies_of_one_message_match_and_actions_are_skipped() {
        let expected = [Expected {
            text: Some("Pick a colour".into()),
            quick_replies: Some(vec!["Red".into(), "Blue".into()]),
            ..Expected::default()
        }];
        assert_eq!(compare(&expected, &[typing(), colours()]), Ok(()));
    }

    #[test]
    fn wrong_quick_replies_name_both_lists() {
        let expected = [Expected {
            quick_replies: Some(vec!["Red".into(), "Green".into()]),
            ..Expected::default()
        }];
        let err = compare(&expected, &[colours()]).unwrap_err();
        assert_eq!(err.first, 1);
        assert_eq!(
            err.reasons,
            [r#"quick replies are ["Red", "Blue"], expected ["Red", "Green"]"#]
        );
        let shown = err.to_string();
        assert!(
            shown.contains(r#"- 1. quick replies ["Red", "Green"]"#),
            "{shown}"
        );
        assert!(
            shown.contains(r#"+ 1. text "Pick a colour", quick replies ["Red", "Blue"]"#),
            "{shown}"
        );
        assert!(
            shown.contains("quick replies: [1] Red  [2] Blue"),
            "{shown}"
        );
    }

    #[test]
    fn buttons_and_cards_are_checked_on_templates() {
        let buttons = sent(json!({"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": "Welcome", "buttons": [
                {"type": "postback", "title": "Help", "payload": "HELP"}]}}}));
        let ok = Expected {
            text: Some("Welcome".into()),
            buttons: Some(vec!["Help".into()]),
            attachment: Some("template".into()),
            ..Expected::default()
        };
        assert!(ok.matches(&buttons));
        let cards = sent(json!({"attachment": {"type": "template", "payload": {
            "template_type": "generic", "elements": [{"title": "A"}, {"title": "B"}]}}}));
        let want_cards = Expected {
            cards: Some(vec!["A".into(), "C".into()]),
            ..Expected::default()
        };
        assert_eq!(
            want_cards.differences(&cards),
            [r#"cards are ["A", "B"], expected ["A", "C"]"#]
        );
    }

    #[test]
    fn a_missing_or_an_extra_message_is_a_mismatch() {
        let missing = compare(
            &[Expected::text("a"), Expected::text("b")],
            &[sent(json!({"text": "a"}))],
        )
        .unwrap_err();
        assert_eq!(missing.first, 2);
        assert_eq!(missing.diff, [r#"  1. text "a""#, r#"- 2. text "b""#]);
        let extra = compare(&[], &[typing(), sent(json!({"text": "surprise"}))]).unwrap_err();
        assert_eq!(extra.first, 1);
        assert_eq!(extra.reasons, ["sent, but not expected"]);
        assert_eq!(compare(&[], &[typing()]), Ok(()));
    }

    #[test]
    fn text_contains_and_exact_text_differ() {
        let hello = sent(json!({"text": "Hello Ann! Nice to meet you."}));
        assert!(!Expected::text("Hello Ann").matches(&hello));
        let part = Expected {
            text_contains: Some("Hello Ann".into()),
            ..Expected::default()
        };
        assert!(part.matches(&hello));
    }
}
