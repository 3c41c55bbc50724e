//! What `pagebot check` says about a policy's flows, beyond what refuses it: steps nothing
//! moves to or nothing leaves, `{memory.NAME}` variables that no earlier step remembers, and
//! validations with nothing to ask again. Each a warning with its line; a handler of a bot's
//! own may set steps and values that routing.yaml does not show, which is why none is an error.
//! (A `when` or `then` naming an undeclared step is an error when the policy is read.)

use std::collections::{BTreeMap, BTreeSet};

use super::document::{LinkSpec, PolicyDocument, SenderSpec, ThenSpec};
use super::error::{PolicyError, Severity};

/// The warnings about the flows of `document`, in line order.
pub fn flow_warnings(document: &PolicyDocument) -> Vec<PolicyError> {
    let mut warnings = Vec::new();
    let mut warn = |line: u32, message: String| {
        warnings.push(PolicyError {
            severity: Severity::Warning,
            ..PolicyError::at(&document.file, line, message)
        });
    };
    let links: Vec<&LinkSpec> = document.links().collect();
    for step in &document.steps {
        let entered = links
            .iter()
            .any(|l| matches!(&l.then, Some(ThenSpec::Step(target)) if target.value == step.name));
        if !entered {
            warn(
                step.line,
                format!(
                    "step \"{}\": no link moves to it (`then: {{ step: {} }}`), so no user \
                     reaches it unless a handler sets it",
                    step.name, step.name
                ),
            );
        }
        let at_step: Vec<&&LinkSpec> = links.iter().filter(|l| runs_at(l, &step.name)).collect();
        let leaves = at_step.iter().any(|l| match &l.then {
            Some(ThenSpec::Step(target)) => target.value != step.name,
            Some(ThenSpec::End(_)) => true,
            None => false,
        });
        if entered && !leaves {
            warn(
                step.line,
                format!(
                    "step \"{}\": nothing leaves it (no link with `when: {{ step: {} }}` has a \
                     `then` to another step or `end`): its users stay until a global link \
                     moves them or the idle time ends it",
                    step.name, step.name
                ),
            );
        }
    }

    // Which values may be remembered by the time a user is at each step: what the links that
    // move there remembered, and what was remembered before them.
    let mut before: BTreeMap<&str, BTreeSet<&str>> = document
        .steps
        .iter()
        .map(|s| (s.name.as_str(), BTreeSet::new()))
        .collect();
    loop {
        let mut grew = false;
        for link in &links {
            let Some(ThenSpec::Step(target)) = &link.then else {
                continue;
            };
            let mut carried = available_before(link, &before);
            carried.extend(link.remember.as_ref().map(|r| r.name.as_str()));
            let entry = before.entry(target.value.as_str()).or_default();
            for name in carried {
                grew |= entry.insert(name);
            }
        }
        if !grew {
            break;
        }
    }
    let anywhere: BTreeSet<&str> = links
        .iter()
        .filter_map(|l| l.remember.as_ref().map(|r| r.name.as_str()))
        .collect();
    let mut check_senders = |senders: &[SenderSpec], known: &BTreeSet<&str>, at: &str| {
        for sender in senders {
            for name in memory_variables(&sender.args) {
                if known.contains(name.as_str()) {
                    continue;
                }
                let why = if anywhere.contains(name.as_str()) {
                    format!("no earlier step of the flow {at} remembers \"{name}\"")
                } else {
                    format!("no link remembers \"{name}\"")
                };
                warn(
                    sender.line,
                    format!(
                        "{{memory.{name}}} is used here, but {why}: it is empty unless a handler remembers it"
                    ),
                );
            }
        }
    };
    for link in &links {
        let mut known = match &link.when {
            Some(_) => available_before(link, &before),
            // At no step (or any): whatever some link remembers may be there.
            None => anywhere.clone(),
        };
        known.extend(link.remember.as_ref().map(|r| r.name.as_str()));
        let at = match &link.when {
            Some(when) => format!("before step {}", when.steps.join(" or ")),
            None => "here".to_owned(),
        };
        check_senders(&link.senders, &known, &at);
    }
    for step in &document.steps {
        let known = before.get(step.name.as_str()).cloned().unwrap_or_default();
        let at = format!("before step {}", step.name);
        check_senders(&step.ask, &known, &at);
        if let Some(reask) = &step.reask {
            check_senders(reask, &known, &at);
        }
    }

    for link in &links {
        let Some(remember) = &link.remember else {
            continue;
        };
        let silent: Vec<&str> = match &link.when {
            None => vec![],
            Some(when) => when
                .steps
                .iter()
                .filter(|s| {
                    document
                        .step(s)
                        .is_some_and(|s| s.reask_senders().is_empty())
                })
                .map(String::as_str)
                .collect(),
        };
        if link.when.is_none() {
            warn(
                remember.line,
                format!(
                    "remember \"{}\" on a link without `when`: at no step, a value that does \
                     not validate (or is missing) is not asked for again",
                    remember.name
                ),
            );
        } else if !silent.is_empty() {
            warn(
                remember.line,
                format!(
                    "remember \"{}\": step {} has no `ask` or `reask` senders, so a value that \
                     does not validate gets no answer",
                    remember.name,
                    silent.join(", ")
                ),
            );
        }
    }
    warnings.sort_by_key(|w| w.line);
    warnings
}

/// Whether `link` runs at `step`.
fn runs_at(link: &LinkSpec, step: &str) -> bool {
    link.when
        .as_ref()
        .is_some_and(|w| w.steps.iter().any(|s| s == step))
}

/// What may be remembered when `link` runs: for a link of some steps, what may be remembered at
/// them; for a link of no step, nothing yet.
fn available_before<'a>(
    link: &LinkSpec,
    before: &BTreeMap<&str, BTreeSet<&'a str>>,
) -> BTreeSet<&'a str> {
    let mut known = BTreeSet::new();
    if let Some(when) = &link.when {
        for step in &when.steps {
            if let Some(names) = before.get(step.as_str()) {
                known.extend(names.iter().copied());
            }
        }
    }
    known
}

/// The `NAME`s of every `{memory.NAME}` (or `{memory.NAME|fallback}`) in the strings of `args`.
pub fn memory_variables(args: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut visit = vec![args];
    while let Some(value) = visit.pop() {
        match value {
            serde_json::Value::String(text) => {
                let mut rest = text.as_str();
                while let Some(open) = rest.find("{memory.") {
                    let inside = &rest[open + "{memory.".len()..];
                    let Some(close) = inside.find('}') else {
                        break;
                    };
                    let name = inside[..close].split('|').next().unwrap_or_default();
                    if !name.is_empty() && !found.iter().any(|f| f == name) {
                        found.push(name.to_owned());
                    }
                    rest = &inside[close..];
                }
            }
            serde_json::Value::Array(items) => visit.extend(items.iter().rev()),
            serde_json::Value::Object(map) => visit.extend(map.values().rev()),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn warnings(yaml: &str) -> Vec<String> {
        let document = PolicyDocument::parse(Path::new("routing.yaml"), yaml).unwrap();
        flow_warnings(&document)
            .into_iter()
            .map(|w| w.to_string())
            .collect()
    }

    #[test]
    fn memory_variables_are_found_in_every_string() {
        let args = serde_json::json!({
            "message": "x",
            "args": { "a": "{memory.email} and {memory.size|none}", "b": ["{memory.email}"] },
            "other": "{match.1} {memory.}"
        });
        assert_eq!(memory_variables(&args), ["email", "size"]);
    }

    #[test]
    fn a_clean_flow_has_no_warnings() {
        assert_eq!(
            warnings(
                r#"steps:
  ask:
    ask: [ { text: { message: q } } ]
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      then: { step: ask }
    - handler: simple_text
      when: { step: ask }
      remember: { name: email, validate: email }
      then: end
      senders:
        - text: { message: thanks, args: { email: "{memory.email}" } }
"#
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_flow_mistake_is_a_warning_at_its_line() {
        assert_eq!(
            warnings(
                r#"steps:
  lonely:                 # 2: nothing moves here
    ask: [ { text: { message: q } } ]
  stuck:                  # 4: nothing leaves
  ask_size:
    ask: [ { text: { message: q, args: { s: "{memory.size}" } } } ]   # 6: not yet
routes:
  SIMPLE_TEXT:
    - handler: simple_text
      then: { step: ask_size }
    - handler: simple_text
      when: { step: ask_size }
      remember: { name: size, regex: "^[SML]$" }   # 13: stuck has no reask, but this is ask_size
      then: { step: stuck }
    - handler: simple_text
      when: { step: stuck }
      remember: { name: zip, validate: number }    # 17: stuck asks nothing
      senders:
        - text: { message: q, args: { a: "{memory.size}", b: "{memory.email}" } }   # 19
    - handler: simple_text
      remember: note                               # 21: at no step
"#
            ),
            [
                "routing.yaml:2: warning: step \"lonely\": no link moves to it (`then: { step: \
                 lonely }`), so no user reaches it unless a handler sets it",
                "routing.yaml:4: warning: step \"stuck\": nothing leaves it (no link with `when: \
                 { step: stuck }` has a `then` to another step or `end`): its users stay until a \
                 global link moves them or the idle time ends it",
                "routing.yaml:6: warning: {memory.size} is used here, but no earlier step of the \
                 flow before step ask_size remembers \"size\": it is empty unless a handler \
                 remembers it",
                "routing.yaml:17: warning: remember \"zip\": step stuck has no `ask` or `reask` \
                 senders, so a value that does not validate gets no answer",
                "routing.yaml:19: warning: {memory.email} is used here, but no link remembers \
                 \"email\": it is empty unless a handler remembers it",
                "routing.yaml:21: warning: remember \"note\" on a link without `when`: at no \
                 step, a value that does not validate (or is missing) is not asked for again",
            ]
        );
    }
}
