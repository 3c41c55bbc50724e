//! Every webhook fixture is split and classified as `tests/fixtures/webhooks/index.json` expects,
//! and its items get stable, distinct deduplication keys.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use pagebot::event::{ClassifyConfig, ReceivingType, classify_value, parse_envelope};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhooks")
}

fn index() -> Value {
    let text = fs::read_to_string(fixtures_dir().join("index.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn config(index: &Value) -> ClassifyConfig {
    ClassifyConfig {
        get_started_payload: index["get_started_payload"].as_str().map(str::to_owned),
        persistent_menu_payloads: index["persistent_menu_payloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect(),
    }
}

/// The fixture names (file stems) in the directory, index.json excepted.
fn fixture_names() -> BTreeSet<String> {
    let names: BTreeSet<String> = fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .filter(|n| n != "index")
        .collect();
    assert!(
        !names.is_empty(),
        "no fixtures found in {:?}",
        fixtures_dir()
    );
    names
}

fn read_fixture(name: &str) -> Vec<u8> {
    fs::read(fixtures_dir().join(format!("{name}.json"))).unwrap()
}

#[test]
fn every_fixture_classifies_as_index_json_expects() {
    let index = index();
    let cfg = config(&index);
    let expected: BTreeMap<String, Vec<ReceivingType>> = index["expected"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, types)| {
            let types = types
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().parse().unwrap())
                .collect();
            (name.clone(), types)
        })
        .collect();

    let mut covered = BTreeSet::new();
    for (name, want) in &expected {
        let env =
            parse_envelope(&read_fixture(name)).unwrap_or_else(|e| panic!("{name}.json: {e}"));
        assert_eq!(env.object, "page", "{name}.json");
        let got: Vec<ReceivingType> = env
            .items
            .iter()
            .map(|item| classify_value(&item.raw, &cfg).unwrap().1)
            .collect();
        assert_eq!(&got, want, "{name}.json");
        covered.insert(name.clone());
    }
    assert_eq!(
        covered,
        fixture_names(),
        "every fixture needs an expectation in index.json, and every expectation a fixture"
    );
}

#[test]
fn every_fixture_item_has_a_distinct_and_stable_dedupe_key() {
    for name in fixture_names() {
        let body = read_fixture(&name);
        let first = parse_envelope(&body).unwrap();
        let second = parse_envelope(&body).unwrap();
        assert!(!first.items.is_empty(), "{name}.json has no items");

        let keys: Vec<&str> = first.items.iter().map(|i| i.dedupe_key.as_str()).collect();
        let again: Vec<&str> = second.items.iter().map(|i| i.dedupe_key.as_str()).collect();
        assert_eq!(keys, again, "{name}.json: keys differ between two parses");

        let distinct: HashSet<&str> = keys.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            keys.len(),
            "{name}.json: duplicate keys {keys:?}"
        );
        for key in keys {
            assert!(
                !key.is_empty() && key.len() <= 255,
                "{name}.json: bad key {key:?}"
            );
        }
    }
}

#[test]
fn fixture_items_carry_page_sender_and_standby() {
    let index = index();
    let page_id = index["page_id"].as_str().unwrap();

    let standby = parse_envelope(&read_fixture("standby")).unwrap();
    assert!(standby.items.iter().all(|i| i.standby));
    assert!(
        standby
            .items
            .iter()
            .all(|i| i.page_id.as_deref() == Some(page_id))
    );

    let guest = parse_envelope(&read_fixture("chat_plugin_guest")).unwrap();
    assert_eq!(guest.items[0].sender.as_deref(), Some("guest_ref_42"));
    assert!(!guest.items[0].standby);

    let checkbox = parse_envelope(&read_fixture("optin_checkbox")).unwrap();
    assert_eq!(checkbox.items[0].sender, None);
    assert_eq!(checkbox.items[0].timestamp, Some(1_700_000_000_300));

    let text = parse_envelope(&read_fixture("text")).unwrap();
    assert_eq!(text.items[0].dedupe_key, "mid:m_text_1");
    assert_eq!(text.items[0].sender.as_deref(), Some("7000000000000001"));
}

#[test]
fn thumbs_up_sticker_ids_survive_as_strings() {
    let index = index();
    let like = index["thumbs_up_sticker_ids"][0]
        .as_u64()
        .unwrap()
        .to_string();
    let cfg = config(&index);
    for name in ["sticker_legacy", "sticker_current", "sticker_transition"] {
        let env = parse_envelope(&read_fixture(name)).unwrap();
        let (m, t) = classify_value(&env.items[0].raw, &cfg).unwrap();
        assert_eq!(t, ReceivingType::Sticker, "{name}");
        let message = m.message.unwrap();
        let ids: Vec<&str> = message
            .sticker_id
            .iter()
            .chain(
                message
                    .attachments
                    .iter()
                    .filter_map(|a| a.payload.as_ref()?.sticker_id.as_ref()),
            )
            .map(String::as_str)
            .collect();
        assert!(!ids.is_empty(), "{name}");
        assert!(ids.iter().all(|id| *id == like), "{name}: {ids:?}");
    }
}
