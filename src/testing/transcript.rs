//! Transcripts: a conversation written in YAML, replayed against the real bot.
//!
//! A team tests its routing.yaml and its texts in CI without writing Rust:
//! `pagebot simulate --script transcripts/greeting.yaml` replays each turn and exits 1 with a
//! readable diff at the first reply that differs.
//!
//! ```yaml
//! user: Ann                 # optional: who speaks when a turn does not say (default Alex)
//! locale: zh-TW             # optional: every user's chosen language from the start
//! turns:
//!   - says: hi
//!     expect:
//!       - text: Hello Ann! Nice to meet you.
//!   - says: colours
//!     expect:
//!       - text: Pick a colour
//!         quick_replies: [Red, Blue]
//!   - taps: Red             # a quick reply or postback button, by title or number
//!     expect: nothing
//!   - user: Bob             # another user
//!     postback: GET_STARTED
//!     expect:
//!       - text_contains: Welcome
//!   - sticker: like         # or a sticker id
//!     expect: nothing
//!   - location: { lat: 25.03, long: 121.56 }
//!     expect: nothing
//!   - image: https://example.com/cat.png
//!     locale: en-US         # switch this user's language before the action
//!     expect: nothing
//!   - says: order
//!     step: order_size      # after the turn, the user is at this step (`none`: at none)
//!     expect:
//!       - text: Which size would you like?
//!   - after: 2h             # the user comes back two hours later (the step has expired)
//!     says: hi
//!     step: none
//!     expect:
//!       - text_contains: Hello
//! ```
//!
//! Each turn has exactly one action (`says`, `taps`, `postback`, `sticker`, `location`,
//! `image`) and an `expect`: `nothing`, or the list of messages the bot sends, in order, each
//! checked on the fields it names ([`Expected`]: `text`, `text_contains`, `quick_replies`,
//! `buttons`, `cards`, `attachment`). Sender actions (typing) are not messages.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::conversation::{Action, Conversation, ConversationError};
use super::expect::Expected;
use super::webhook::LIKE_STICKER_ID;
use crate::policy::{error_line, yaml_message, yaml_options};

/// Who speaks when neither the turn nor the transcript names a user.
pub const DEFAULT_USER: &str = "Alex";

/// A parsed transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The file it was read from, as given.
    pub file: PathBuf,
    /// The turns, in order.
    pub turns: Vec<TranscriptTurn>,
}

/// One turn: a user's action and the bot's expected replies.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptTurn {
    /// The line the turn starts on.
    pub line: u32,
    /// Who acts.
    pub user: String,
    /// A locale to choose for this user before the action.
    pub locale: Option<String>,
    /// What they do.
    pub action: Action,
    /// The messages the bot must send, in order; empty for `expect: nothing`.
    pub expected: Vec<Expected>,
    /// Time that passes before the action (`after: 2h`).
    pub after: Option<std::time::Duration>,
    /// The step the user must be at after the turn (`Some(None)`: `step: none`).
    pub step: Option<Option<String>>,
}

/// A transcript that cannot be read: every problem found, as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct TranscriptError(pub Vec<String>);

/// Where a replayed transcript first departed from the bot.
#[derive(Debug)]
pub struct TranscriptFailure {
    /// `file:line` of the turn.
    pub location: String,
    /// The turn's number, from 1.
    pub turn: usize,
    /// `Ann says "hi"`.
    pub what: String,
    /// What went wrong.
    pub error: ConversationError,
}

impl fmt::Display for TranscriptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headline = match &self.error {
            ConversationError::Mismatch(_) => "the bot's replies differ from the transcript",
            _ => "the turn could not be checked",
        };
        write!(
            f,
            "{}: turn {}: {}: {headline}\n{}",
            self.location, self.turn, self.what, self.error
        )
    }
}

impl Transcript {
    /// Reads and parses `file`.
    pub fn load(file: &Path) -> Result<Self, TranscriptError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| TranscriptError(vec![format!("{}: cannot read: {e}", file.display())]))?;
        Self::parse(file, &text)
    }

    /// Parses `text`, the contents of `file`; reports every turn that is not well formed.
    pub fn parse(file: &Path, text: &str) -> Result<Self, TranscriptError> {
        let at = |line: Option<u32>, message: String| match line {
            Some(line) => format!("{}:{line}: {message}", file.display()),
            None => format!("{}: {message}", file.display()),
        };
        let raw: Option<RawTranscript> = serde_saphyr::from_str_with_options(text, yaml_options())
            .map_err(|e| TranscriptError(vec![at(error_line(&e), yaml_message(&e))]))?;
        let Some(raw) = raw else {
            return Err(TranscriptError(vec![at(
                None,
                "no turns: the file is empty".into(),
            )]));
        };
        let default_user = raw.user.unwrap_or_else(|| DEFAULT_USER.to_owned());
        let mut errors = Vec::new();
        let mut turns = Vec::new();
        if raw.turns.is_empty() {
            errors.push(at(None, "no turns: `turns:` is empty".into()));
        }
        let mut started = std::collections::HashSet::new();
        for spanned in raw.turns {
            let line = u32::try_from(spanned.referenced.line()).unwrap_or(u32::MAX);
            let turn = spanned.value;
            let user = turn.user.unwrap_or_else(|| default_user.clone());
            let mut actions = Vec::new();
            // A present action whose value is wrong (already reported) still counts as one.
            let mut invalid = false;
            if let Some(text) = turn.says {
                actions.push(("says", Action::Says(text)));
            }
            if let Some(choice) = turn.taps {
                actions.push(("taps", Action::Taps(choice.0)));
            }
            if let Some(payload) = turn.postback {
                actions.push(("postback", Action::Postback(payload)));
            }
            if let Some(sticker) = turn.sticker {
                match sticker.0.as_str() {
                    "like" => actions.push(("sticker", Action::Sticker(LIKE_STICKER_ID))),
                    other => match other.parse::<u64>() {
                        Ok(id) => actions.push(("sticker", Action::Sticker(id))),
                        Err(_) => {
                            invalid = true;
                            errors.push(at(
                                Some(line),
                                format!("sticker {other:?}: write `like` or a sticker id"),
                            ));
                        }
                    },
                }
            }
            if let Some(location) = turn.location {
                actions.push((
                    "location",
                    Action::Location {
                        lat: location.lat,
                        long: location.long,
                    },
                ));
            }
            if let Some(url) = turn.image {
                actions.push((
                    "image",
                    Action::Attachment {
                        kind: "image".into(),
                        url,
                    },
                ));
            }
            let expected = match turn.expect {
                Some(RawExpect::Nothing) => Some(Vec::new()),
                Some(RawExpect::Messages(list)) => Some(list),
                None => {
                    errors.push(at(
                        Some(line),
                        "the turn has no `expect:` (write `expect: nothing` when the bot must not answer)"
                            .into(),
                    ));
                    None
                }
            };
            let locale = turn.locale.or_else(|| {
                started
                    .insert(user.clone())
                    .then(|| raw.locale.clone())
                    .flatten()
            });
            if actions.len() + usize::from(invalid) != 1 {
                let mut found: Vec<&str> = actions.iter().map(|(name, _)| *name).collect();
                if invalid {
                    found.push("sticker");
                }
                errors.push(at(
                    Some(line),
                    format!(
                        "a turn needs exactly one action: says, taps, postback, sticker, location or image (found {})",
                        if found.is_empty() { "none".to_owned() } else { found.join(", ") }
                    ),
                ));
                continue;
            }
            let after = match turn.after.as_deref().map(parse_duration) {
                None => None,
                Some(Ok(after)) => Some(after),
                Some(Err(e)) => {
                    errors.push(at(Some(line), e));
                    continue;
                }
            };
            let step = turn.step.map(|step| (step != "none").then_some(step));
            let (Some((_, action)), Some(expected)) = (actions.pop(), expected) else {
                continue;
            };
            turns.push(TranscriptTurn {
                line,
                user,
                locale,
                action,
                expected,
                after,
                step,
            });
        }
        if errors.is_empty() {
            Ok(Self {
                file: file.to_owned(),
                turns,
            })
        } else {
            Err(TranscriptError(errors))
        }
    }

    /// Replays every turn against `conversation`; stops at the first that fails.
    pub async fn run(&self, conversation: &Conversation) -> Result<(), TranscriptFailure> {
        for (index, turn) in self.turns.iter().enumerate() {
            let user = conversation.user(&turn.user);
            let failure = |error| TranscriptFailure {
                location: format!("{}:{}", self.file.display(), turn.line),
                turn: index + 1,
                what: format!("{} {}", turn.user, turn.action),
                error,
            };
            if let Some(after) = turn.after {
                conversation.wait(after);
            }
            if let Some(locale) = &turn.locale {
                conversation
                    .set_locale(&user, locale)
                    .await
                    .map_err(|e| failure(ConversationError::Store(e)))?;
            }
            let mut step = user.does(turn.action.clone());
            for expected in &turn.expected {
                step = step.expect(expected.clone());
            }
            if turn.expected.is_empty() {
                step = step.expect_nothing();
            }
            step.run().await.map_err(failure)?;
            if let Some(expected) = &turn.step {
                let found = conversation
                    .step(&user)
                    .await
                    .map_err(|e| failure(ConversationError::Store(e)))?;
                if found != *expected {
                    return Err(failure(ConversationError::Step {
                        expected: expected.clone(),
                        found,
                    }));
                }
            }
        }
        Ok(())
    }
}

/// `90s`, `30m`, `2h` or `1d` (a whole number and its unit).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if seconds > 0 => Ok(std::time::Duration::from_secs(n.saturating_mul(seconds))),
        _ => Err(format!(
            "duration {text:?}: write a whole number and s, m, h or d (`90s`, `2h`)"
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTranscript {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    turns: Vec<Spanned<RawTurn>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurn {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    says: Option<String>,
    #[serde(default)]
    taps: Option<Scalar>,
    #[serde(default)]
    postback: Option<String>,
    #[serde(default)]
    sticker: Option<Scalar>,
    #[serde(default)]
    location: Option<RawLocation>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    expect: Option<RawExpect>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    step: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocation {
    lat: f64,
    long: f64,
}

/// A scalar read as text, whether YAML saw a word or a number (`taps: 2`, `sticker: like`).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a title or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// `expect: nothing`, or a list of messages.
enum RawExpect {
    Nothing,
    Messages(Vec<Expected>),
}

impl<'de> Deserialize<'de> for RawExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExpectVisitor;
        impl<'de> Visitor<'de> for ExpectVisitor {
            type Value = RawExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`nothing` or a list of messages like `- text: Hello`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawExpect, E> {
                if v == "nothing" {
                    Ok(RawExpect::Nothing)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawExpect, A::Error> {
                let mut messages = Vec::new();
                while let Some(message) = seq.next_element::<Expected>()? {
                    messages.push(message);
                }
                Ok(RawExpect::Messages(messages))
            }
        }
        deserializer.deserialize_any(ExpectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Transcript, TranscriptError> {
        Transcript::parse(Path::new("t.yaml"), text)
    }

    #[test]
    fn every_action_and_expectation_is_read_with_its_line() {
        let transcript = parse(
            "user: Ann\nlocale: zh-TW\nturns:\n  - says: hi\n    expect:\n      - text: Hello\n        quick_replies: [Red, Blue]\n  - taps: 2\n    expect: nothing\n  - user: Bob\n    postback: HELP\n    expect:\n      - buttons: [Help]\n  - sticker: like\n    locale: en-US\n    expect: []\n  - location: { lat: 25.03, long: 121.5 }\n    expect: nothing\n  - image: https://x/a.png\n    expect:\n      - text_contains: nice\n",
        )
        .unwrap();
        let lines: Vec<u32> = transcript.turns.iter().map(|t| t.line).collect();
        assert_eq!(lines, [4, 8, 10, 14, 17, 19]);
        let t = &transcript.turns;
        assert_eq!(t[0].action, Action::Says("hi".into()));
        assert_eq!(t[0].user, "Ann");
        assert_eq!(t[0].locale.as_deref(), Some("zh-TW"));
        assert_eq!(
            t[0].expected[0].quick_replies,
            Some(vec!["Red".to_owned(), "Blue".to_owned()])
        );
        assert_eq!(t[1].action, Action::Taps("2".into()));
        assert_eq!(
            t[1].locale, None,
            "the transcript locale applies once per user"
        );
        assert!(t[1].expected.is_empty());
        assert_eq!(t[2].user, "Bob");
        assert_eq!(t[2].locale.as_deref(), Some("zh-TW"));
        assert_eq!(t[3].action, Action::Sticker(LIKE_STICKER_ID));
        assert_eq!(t[3].locale.as_deref(), Some("en-US"));
        assert_eq!(
            t[4].action,
            Action::Location {
                lat: 25.03,
                long: 121.5
            }
        );
        assert_eq!(t[5].expected[0].text_contains.as_deref(), Some("nice"));
    }

    #[test]
    fn turn_mistakes_are_all_reported_with_file_and_line() {
        let err = parse(
            "turns:\n  - says: hi\n  - says: a\n    taps: b\n    expect: nothing\n  - expect: nothing\n  - sticker: heart\n    expect: nothing\n",
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            [
                "t.yaml:2: the turn has no `expect:` (write `expect: nothing` when the bot must not answer)",
                "t.yaml:3: a turn needs exactly one action: says, taps, postback, sticker, location or image (found says, taps)",
                "t.yaml:6: a turn needs exactly one action: says, taps, postback, sticker, location or image (found none)",
                "t.yaml:7: sticker \"heart\": write `like` or a sticker id",
            ]
        );
    }

    #[test]
    fn a_turn_may_let_time_pass_and_check_the_step() {
        let transcript = parse(
            "turns:\n  - says: order\n    step: ask_size\n    expect: nothing\n  - after: 2h\n    says: hi\n    step: none\n    expect: nothing\n",
        )
        .unwrap();
        let t = &transcript.turns;
        assert_eq!(
            (t[0].after, t[0].step.clone()),
            (None, Some(Some("ask_size".into())))
        );
        assert_eq!(t[1].after, Some(std::time::Duration::from_secs(7200)));
        assert_eq!(t[1].step, Some(None));
        let err =
            parse("turns:\n  - after: later\n    says: hi\n    expect: nothing\n").unwrap_err();
        assert_eq!(
            err.0,
            ["t.yaml:2: duration \"later\": write a whole number and s, m, h or d (`90s`, `2h`)"]
        );
        assert_eq!(
            parse_duration("90s"),
            Ok(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("1d"),
            Ok(std::time::Duration::from_secs(86_400))
        );
    }

    #[test]
    fn yaml_mistakes_name_the_line() {
        let err = parse("turns:\n  - says: hi\n    expect:\n      - txt: Hello\n").unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(err.0[0].starts_with("t.yaml:4: "), "{err}");
        assert!(err.0[0].contains("txt"), "{err}");
        let err = parse("turns:\n  - says: hi\n    expect: everything\n").unwrap_err();
        assert!(err.0[0].starts_with("t.yaml:3: "), "{err}");
        assert!(err.0[0].contains("nothing"), "{err}");
        assert!(parse("").unwrap_err().0[0].contains("no turns"));
    }
}
