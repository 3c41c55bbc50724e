//! What differs between the desired and the live profile, and the calls that fix it.
//!
//! [`diff`] compares field by field, ignoring what Graph may change without changing the
//! meaning: the order of per-locale entries, the order of whitelisted domains and a trailing
//! `/` on them, and an omitted `composer_input_disabled` (false). [`Diff::calls`] turns the
//! differences into as few calls as the order Facebook needs allows: the Messenger Profile API
//! takes 10 calls per 10 minutes per Page.

use serde_json::{Map, Value, json};

use super::{Field, Profile};

/// One field that differs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// routing.yaml asks for a value the Page does not have (`live` is `None` when unset).
    Set {
        /// The property.
        field: Field,
        /// What the Page has now.
        live: Option<Value>,
        /// What routing.yaml asks for.
        desired: Value,
    },
    /// The Page has a value routing.yaml no longer asks for: it is deleted.
    Delete {
        /// The property.
        field: Field,
        /// What the Page has now.
        live: Value,
    },
}

impl Change {
    /// The property that differs.
    #[cfg(test)]
    pub fn field(&self) -> Field {
        match self {
            Self::Set { field, .. } | Self::Delete { field, .. } => *field,
        }
    }
}

/// The fields that differ, in [`Field`] order; empty when the Page is in sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// One change per differing field.
    pub changes: Vec<Change>,
}

/// One Messenger Profile API call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Call {
    /// `DELETE /me/messenger_profile` with `{"fields":[...]}`.
    Delete(Vec<Field>),
    /// `POST /me/messenger_profile` with these properties (Graph overwrites only them).
    Set(Profile),
}

impl Call {
    /// The fields the call touches, in [`Field`] order.
    pub fn fields(&self) -> Vec<Field> {
        match self {
            Self::Delete(fields) => fields.clone(),
            Self::Set(profile) => profile.iter().map(|(f, _)| f).collect(),
        }
    }

    /// The request body.
    pub fn body(&self) -> Value {
        match self {
            Self::Delete(fields) => {
                json!({ "fields": fields.iter().map(|f| f.as_str()).collect::<Vec<_>>() })
            }
            Self::Set(profile) => profile.to_json(),
        }
    }
}

/// Compares `desired` with `live`, field by field. A field `desired` lacks and `live` has is
/// a [`Change::Delete`]: routing.yaml is the whole truth about the managed fields.
pub fn diff(desired: &Profile, live: &Profile) -> Diff {
    let mut changes = Vec::new();
    for field in Field::ALL {
        match (desired.get(field), live.get(field)) {
            (Some(want), have) => {
                let same = have.is_some_and(|have| same(field, want, have));
                if !same {
                    changes.push(Change::Set {
                        field,
                        live: have.cloned(),
                        desired: want.clone(),
                    });
                }
            }
            (None, Some(have)) => changes.push(Change::Delete {
                field,
                live: have.clone(),
            }),
            (None, None) => {}
        }
    }
    Diff { changes }
}

impl Diff {
    /// Whether the Page is in sync.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The fields that differ.
    #[cfg(test)]
    pub fn fields(&self) -> Vec<Field> {
        self.changes.iter().map(Change::field).collect()
    }

    /// The calls that bring the Page in sync, in order: one `DELETE` for every field to
    /// remove, then the `POST`s. Everything to set goes in one `POST`, except when the
    /// persistent menu changes together with `whitelisted_domains` or `get_started`: those
    /// two go in a `POST` of their own first, because Facebook needs them set before the menu.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = Vec::new();
        let deletes: Vec<Field> = self
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Delete { field, .. } => Some(*field),
                Change::Set { .. } => None,
            })
            .collect();
        if !deletes.is_empty() {
            calls.push(Call::Delete(deletes));
        }
        let mut first = Profile::new();
        let mut rest = Profile::new();
        for change in &self.changes {
            if let Change::Set { field, desired, .. } = change {
                match field {
                    Field::WhitelistedDomains | Field::GetStarted => {
                        first.set(*field, desired.clone())
                    }
                    _ => rest.set(*field, desired.clone()),
                }
            }
        }
        let menu_changes = rest.get(Field::PersistentMenu).is_some();
        if !menu_changes {
            for (field, value) in first.iter() {
                rest.set(field, value.clone());
            }
            first = Profile::new();
        }
        for profile in [first, rest] {
            if !profile.is_empty() {
                calls.push(Call::Set(profile));
            }
        }
        calls
    }
}

/// Whether two values of `field` mean the same.
fn same(field: Field, a: &Value, b: &Value) -> bool {
    canonical(field, a) == canonical(field, b)
}

/// A form of a value in which what Graph may reorder or fill in does not count.
fn canonical(field: Field, value: &Value) -> Value {
    match (field, value) {
        (Field::WhitelistedDomains, Value::Array(domains)) => {
            let mut domains: Vec<Value> = domains
                .iter()
                .map(|d| match d.as_str() {
                    Some(s) => Value::String(s.trim_end_matches('/').to_owned()),
                    None => d.clone(),
                })
                .collect();
            domains.sort_by_key(Value::to_string);
            domains.dedup();
            Value::Array(domains)
        }
        (field, Value::Array(entries)) if field.is_localized() => {
            let mut entries: Vec<Value> = entries
                .iter()
                .map(|entry| match (field, entry) {
                    (Field::PersistentMenu, Value::Object(menu))
                        if !menu.contains_key("composer_input_disabled") =>
                    {
                        let mut menu: Map<String, Value> = menu.clone();
                        menu.insert("composer_input_disabled".into(), Value::Bool(false));
                        Value::Object(menu)
                    }
                    _ => entry.clone(),
                })
                .collect();
            entries.sort_by_key(|e| locale_of(e).map(str::to_owned));
            Value::Array(entries)
        }
        _ => value.clone(),
    }
}

/// Whether two per-locale entries of `field` mean the same.
pub(crate) fn same_entry(field: Field, a: &Value, b: &Value) -> bool {
    same(field, &json!([a]), &json!([b]))
}

/// The `locale` of a per-locale entry.
pub(crate) fn locale_of(entry: &Value) -> Option<&str> {
    entry.get("locale").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn profile(value: Value) -> Profile {
        Profile::from_graph(&value)
    }

    fn desired() -> Profile {
        profile(json!({
            "whitelisted_domains": ["https://a.example", "https://b.example"],
            "get_started": {"payload": "GO"},
            "greeting": [
                {"locale": "default", "text": "Hi"},
                {"locale": "zh_TW", "text": "你好"},
            ],
            "persistent_menu": [{"locale": "default", "composer_input_disabled": false,
                "call_to_actions": [{"type": "postback", "title": "Help", "payload": "HELP"}]}],
        }))
    }

    fn set_fields(call: &Call) -> Vec<Field> {
        match call {
            Call::Set(_) => call.fields(),
            Call::Delete(_) => panic!("expected a set, got {call:?}"),
        }
    }

    #[test]
    fn an_empty_page_gets_everything_domains_and_get_started_first() {
        let d = diff(&desired(), &Profile::new());
        assert_eq!(d.fields(), Field::ALL[..4].to_vec());
        assert!(
            d.changes
                .iter()
                .all(|c| matches!(c, Change::Set { live: None, .. }))
        );
        let calls = d.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            set_fields(&calls[0]),
            [Field::WhitelistedDomains, Field::GetStarted]
        );
        assert_eq!(
            set_fields(&calls[1]),
            [Field::Greeting, Field::PersistentMenu]
        );
        assert_eq!(
            calls[0].body(),
            json!({
                "whitelisted_domains": ["https://a.example", "https://b.example"],
                "get_started": {"payload": "GO"},
            })
        );
    }

    #[test]
    fn the_same_profile_in_another_order_is_in_sync() {
        let live = profile(json!({
            "whitelisted_domains": ["https://b.example/", "https://a.example"],
            "get_started": {"payload": "GO"},
            "greeting": [
                {"locale": "zh_TW", "text": "你好"},
                {"locale": "default", "text": "Hi"},
            ],
            "persistent_menu": [{"locale": "default",
                "call_to_actions": [{"type": "postback", "title": "Help", "payload": "HELP"}]}],
        }));
        let d = diff(&desired(), &live);
        assert!(d.is_empty(), "{d:?}");
        assert!(d.calls().is_empty());
    }

    #[test]
    fn one_changed_greeting_is_one_call_with_only_the_greeting() {
        let mut live = desired();
        live.set(
            Field::Greeting,
            json!([{"locale": "default", "text": "Hi"}, {"locale": "zh_TW", "text": "嗨"}]),
        );
        let d = diff(&desired(), &live);
        assert_eq!(d.fields(), [Field::Greeting]);
        let calls = d.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].body(),
            json!({"greeting": desired().get(Field::Greeting)})
        );
    }

    #[test]
    fn a_new_get_started_without_a_menu_change_rides_in_the_same_call() {
        let mut live = desired();
        live.set(Field::GetStarted, json!({"payload": "OLD"}));
        live.set(
            Field::Greeting,
            json!([{"locale": "default", "text": "old"}]),
        );
        let calls = diff(&desired(), &live).calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(set_fields(&calls[0]), [Field::GetStarted, Field::Greeting]);
    }

    #[test]
    fn fields_the_file_no_longer_has_are_deleted_first_in_one_call() {
        let mut live = desired();
        live.set(
            Field::IceBreakers,
            json!([{"locale": "default", "call_to_actions": []}]),
        );
        live.set(
            Field::Greeting,
            json!([{"locale": "default", "text": "old"}]),
        );
        let mut want = Profile::new();
        for (field, value) in desired().iter() {
            if field != Field::WhitelistedDomains {
                want.set(field, value.clone());
            }
        }
        let d = diff(&want, &live);
        assert_eq!(
            d.fields(),
            [
                Field::WhitelistedDomains,
                Field::Greeting,
                Field::IceBreakers
            ]
        );
        let calls = d.calls();
        assert_eq!(
            calls,
            vec![
                Call::Delete(vec![Field::WhitelistedDomains, Field::IceBreakers]),
                Call::Set(profile(json!({"greeting": desired().get(Field::Greeting)}))),
            ]
        );
        assert_eq!(
            calls[0].body(),
            json!({"fields": ["whitelisted_domains", "ice_breakers"]})
        );
    }

    #[test]
    fn a_changed_menu_entry_or_title_is_drift() {
        let mut live = desired();
        live.set(
            Field::PersistentMenu,
            json!([{"locale": "default", "composer_input_disabled": false,
                "call_to_actions": [{"type": "postback", "title": "Aide", "payload": "HELP"}]}]),
        );
        assert_eq!(diff(&desired(), &live).fields(), [Field::PersistentMenu]);
        live.set(
            Field::PersistentMenu,
            json!([{"locale": "default", "composer_input_disabled": true,
                "call_to_actions": [{"type": "postback", "title": "Help", "payload": "HELP"}]}]),
        );
        assert_eq!(diff(&desired(), &live).fields(), [Field::PersistentMenu]);
    }
}
