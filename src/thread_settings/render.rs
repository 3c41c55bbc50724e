//! Profiles, differences and calls as text for a person. Pure: no I/O.
//!
//! A value of an unexpected shape (Graph may add things) is shown as compact JSON rather
//! than hidden.

use std::fmt::Write;

use serde_json::Value;

use super::diff::{locale_of, same_entry};
use super::{Call, Change, Diff, Field, Profile};

/// Every managed field of `profile`, one block each, unset ones as `not set`:
///
/// ```text
/// get_started: payload "GET_STARTED"
/// greeting:
///   default: "Hi {{user_first_name}}!"
///   zh_TW: "你好 {{user_first_name}}！"
/// ```
pub fn profile(profile: &Profile) -> String {
    let mut out = String::new();
    for field in Field::ALL {
        match profile.get(field) {
            None => {
                let _ = writeln!(out, "{field}: not set");
            }
            Some(value) => match entries(field, value) {
                Some(entries) => {
                    let _ = writeln!(out, "{field}:");
                    for entry in entries {
                        let _ = writeln!(out, "  {}: {}", locale(entry), entry_text(field, entry));
                    }
                }
                None => {
                    let _ = writeln!(out, "{field}: {}", value_text(field, value));
                }
            },
        }
    }
    out
}

/// The differences, field by field and, for per-locale fields, locale by locale: `+` added,
/// `-` removed, `~` changed (`live -> desired`). Empty when there is none.
pub fn diff(diff: &Diff) -> String {
    let mut out = String::new();
    for change in &diff.changes {
        match change {
            Change::Set {
                field,
                live: None,
                desired,
            } => match entries(*field, desired) {
                Some(list) => {
                    let _ = writeln!(out, "+ {field}:");
                    for entry in list {
                        let _ = writeln!(
                            out,
                            "    + {}: {}",
                            locale(entry),
                            entry_text(*field, entry)
                        );
                    }
                }
                None => {
                    let _ = writeln!(out, "+ {field}: {}", value_text(*field, desired));
                }
            },
            Change::Set {
                field,
                live: Some(live),
                desired,
            } => match (entries(*field, live), entries(*field, desired)) {
                (Some(have), Some(want)) => {
                    let _ = writeln!(out, "~ {field}:");
                    locale_changes(&mut out, *field, have, want);
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "~ {field}: {} -> {}",
                        value_text(*field, live),
                        value_text(*field, desired)
                    );
                }
            },
            Change::Delete { field, live } => {
                let _ = writeln!(out, "- {field}: not in routing.yaml, deleted by apply");
                match entries(*field, live) {
                    Some(list) => {
                        for entry in list {
                            let _ = writeln!(
                                out,
                                "    - {}: {}",
                                locale(entry),
                                entry_text(*field, entry)
                            );
                        }
                    }
                    None => {
                        let _ = writeln!(out, "    was: {}", value_text(*field, live));
                    }
                }
            }
        }
    }
    out
}

/// The calls, numbered: `1. POST whitelisted_domains, get_started`.
pub fn calls(calls: &[Call]) -> String {
    let mut out = String::new();
    for (i, call) in calls.iter().enumerate() {
        let method = match call {
            Call::Delete(_) => "DELETE",
            Call::Set(_) => "POST",
        };
        let fields: Vec<&str> = call.fields().into_iter().map(Field::as_str).collect();
        let _ = writeln!(out, "  {}. {method} {}", i + 1, fields.join(", "));
    }
    out
}

/// The per-locale lines of a changed localized field, in locale order.
fn locale_changes(out: &mut String, field: Field, have: &[Value], want: &[Value]) {
    let mut locales: Vec<&str> = have.iter().chain(want).filter_map(locale_of).collect();
    locales.sort_unstable();
    locales.dedup();
    let find = |list: &'_ [Value], locale: &str| -> Option<Value> {
        list.iter().find(|e| locale_of(e) == Some(locale)).cloned()
    };
    for name in locales {
        match (find(have, name), find(want, name)) {
            (None, Some(w)) => {
                let _ = writeln!(out, "    + {name}: {}", entry_text(field, &w));
            }
            (Some(h), None) => {
                let _ = writeln!(out, "    - {name}: {}", entry_text(field, &h));
            }
            (Some(h), Some(w)) if !same_entry(field, &h, &w) => {
                let _ = writeln!(
                    out,
                    "    ~ {name}: {} -> {}",
                    entry_text(field, &h),
                    entry_text(field, &w)
                );
            }
            _ => {}
        }
    }
    // Entries without a locale cannot be matched up: show them whole.
    for entry in have.iter().filter(|e| locale_of(e).is_none()) {
        let _ = writeln!(out, "    - {}", compact(entry));
    }
    for entry in want.iter().filter(|e| locale_of(e).is_none()) {
        let _ = writeln!(out, "    + {}", compact(entry));
    }
}

/// The per-locale entries of a localized field's value.
fn entries(field: Field, value: &Value) -> Option<&[Value]> {
    if field.is_localized() {
        value.as_array().map(Vec::as_slice)
    } else {
        None
    }
}

fn locale(entry: &Value) -> &str {
    locale_of(entry).unwrap_or("(no locale)")
}

/// One value of a field that has no per-locale entries.
fn value_text(field: Field, value: &Value) -> String {
    match (field, value) {
        (Field::GetStarted, Value::Object(o)) if o.len() == 1 => match o.get("payload") {
            Some(Value::String(p)) => format!("payload {}", quote(p)),
            _ => compact(value),
        },
        (Field::WhitelistedDomains, Value::Array(list)) if list.iter().all(Value::is_string) => {
            if list.is_empty() {
                "none".to_owned()
            } else {
                list.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
        _ => compact(value),
    }
}

/// One per-locale entry without its locale: a greeting's text, a menu's items, ice breakers.
fn entry_text(field: Field, entry: &Value) -> String {
    let items = |key: &str| entry.get(key).and_then(Value::as_array);
    match field {
        Field::Greeting => match entry.get("text") {
            Some(Value::String(text)) => quote(text),
            _ => compact(entry),
        },
        Field::PersistentMenu => {
            let Some(list) = items("call_to_actions") else {
                return compact(entry);
            };
            let mut text = list.iter().map(menu_item).collect::<Vec<_>>().join(" | ");
            if list.is_empty() {
                text.push_str("no items");
            }
            if entry.get("composer_input_disabled") == Some(&Value::Bool(true)) {
                text.push_str(" (composer input disabled)");
            }
            text
        }
        Field::IceBreakers => match items("call_to_actions") {
            Some(list) => list
                .iter()
                .map(|q| match (q.get("question"), q.get("payload")) {
                    (Some(Value::String(question)), Some(Value::String(payload))) => {
                        format!("{} -> {payload}", quote(question))
                    }
                    _ => compact(q),
                })
                .collect::<Vec<_>>()
                .join(" | "),
            None => compact(entry),
        },
        Field::WhitelistedDomains | Field::GetStarted => compact(entry),
    }
}

/// `"Help" -> postback HELP`, `"Site" -> https://example.com`.
fn menu_item(item: &Value) -> String {
    let text = |key: &str| item.get(key).and_then(Value::as_str);
    match (text("type"), text("title")) {
        (Some("postback"), Some(title)) if item.get("payload").is_some() => {
            format!(
                "{} -> postback {}",
                quote(title),
                text("payload").unwrap_or("?")
            )
        }
        (Some("web_url"), Some(title)) if item.get("url").is_some() => {
            format!("{} -> {}", quote(title), text("url").unwrap_or("?"))
        }
        _ => compact(item),
    }
}

/// A string in JSON quotes, so spaces and empty texts show.
fn quote(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn compact(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn page() -> Profile {
        Profile::from_graph(&json!({
            "get_started": {"payload": "GO"},
            "greeting": [
                {"locale": "default", "text": "Hi"},
                {"locale": "zh_TW", "text": "你好"},
                {"locale": "de_DE", "text": "Hallo"},
            ],
            "persistent_menu": [{"locale": "default", "composer_input_disabled": false,
                "call_to_actions": [
                    {"type": "postback", "title": "Help", "payload": "HELP"},
                    {"type": "web_url", "title": "Site", "url": "https://example.com"},
                ]}],
        }))
    }

    #[test]
    fn a_profile_shows_every_field() {
        assert_eq!(
            profile(&page()),
            "whitelisted_domains: not set
get_started: payload \"GO\"
greeting:
  default: \"Hi\"
  zh_TW: \"你好\"
  de_DE: \"Hallo\"
persistent_menu:
  default: \"Help\" -> postback HELP | \"Site\" -> https://example.com
ice_breakers: not set
"
        );
    }

    #[test]
    fn a_diff_shows_locales_added_removed_and_changed() {
        let mut want = page();
        want.set(
            Field::Greeting,
            json!([
                {"locale": "default", "text": "Hi"},
                {"locale": "zh_TW", "text": "嗨"},
                {"locale": "fr_FR", "text": "Salut"},
            ]),
        );
        want.set(Field::GetStarted, json!({"payload": "START"}));
        want.set(Field::WhitelistedDomains, json!(["https://example.com"]));
        let mut live = page();
        live.set(
            Field::IceBreakers,
            json!([{"locale": "default", "call_to_actions": [{"question": "Open?", "payload": "HOURS"}]}]),
        );
        assert_eq!(
            super::diff(&crate::thread_settings::diff::diff(&want, &live)),
            "+ whitelisted_domains: https://example.com
~ get_started: payload \"GO\" -> payload \"START\"
~ greeting:
    - de_DE: \"Hallo\"
    + fr_FR: \"Salut\"
    ~ zh_TW: \"你好\" -> \"嗨\"
- ice_breakers: not in routing.yaml, deleted by apply
    - default: \"Open?\" -> HOURS
"
        );
    }

    #[test]
    fn calls_are_numbered_with_their_fields() {
        let calls = vec![Call::Delete(vec![Field::IceBreakers]), Call::Set(page())];
        assert_eq!(
            super::calls(&calls),
            "  1. DELETE ice_breakers\n  2. POST get_started, greeting, persistent_menu\n"
        );
    }

    #[test]
    fn odd_shapes_are_shown_as_json() {
        let odd = Profile::from_graph(&json!({
            "get_started": {"payload": "GO", "extra": 1},
            "greeting": "hello",
            "persistent_menu": [{"locale": "default", "call_to_actions": [{"type": "nested"}]}],
        }));
        let text = profile(&odd);
        assert!(
            text.contains("get_started: {\"extra\":1,\"payload\":\"GO\"}"),
            "{text}"
        );
        assert!(text.contains("greeting: \"hello\""), "{text}");
        assert!(text.contains("default: {\"type\":\"nested\"}"), "{text}");
    }
}
