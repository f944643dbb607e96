//! Property tests (the CI counterpart of `fuzz/fuzz_targets/documents.rs`):
//! configs, playbooks, scenarios, timelines and `verify` expressions — valid
//! documents with random damage, and random text — are accepted or rejected
//! with a message that has a position, never a panic.

use incident_commander::config::Config;
use incident_commander::core::playbook::{BUNDLED, Playbook};
use incident_commander::core::scenario::Scenario;
use incident_commander::core::{postmortem, verify};
use incident_commander::journal;
use proptest::prelude::*;
use std::path::Path;

const SCENARIO: &str = include_str!("../assets/scenarios/sim-spikes.yaml");
const CONFIG: &str = include_str!("../assets/starter-config.yaml");
const TIMELINE: &str = include_str!("golden/incident.jsonl");

/// `doc` with bytes `at..at+len` replaced by `with` (on char boundaries).
fn damage(doc: &str, at: usize, len: usize, with: &str) -> String {
    let mut a = at.min(doc.len());
    while !doc.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (a + len).min(doc.len());
    while !doc.is_char_boundary(b) {
        b -= 1;
    }
    format!("{}{with}{}", &doc[..a], &doc[b..])
}

fn noise() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[ a-z0-9:{}\[\],"'&*!|>%#\-\n\t.]{0,40}"#).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn damaged_documents_never_panic(at in 0usize..4000, len in 0usize..40, with in noise(), which in 0usize..BUNDLED.len()) {
        let p = Path::new("p.yaml");
        let pb = damage(BUNDLED[which].1, at, len, &with);
        if let Err(e) = Playbook::parse(p, &pb) {
            prop_assert!(!e.message.is_empty());
        }
        let sc = damage(SCENARIO, at, len, &with);
        if let Err(e) = Scenario::parse(p, &sc) {
            prop_assert!(!e.message.is_empty());
        }
        let cf = damage(CONFIG, at, len, &with);
        let _ = Config::parse(p, &cf, |_| Some("value".into()));
        let tl = damage(TIMELINE, at, len, &with);
        let replay = journal::parse(tl.as_bytes(), incident_commander::clock::now());
        prop_assert!(replay.events.len() <= TIMELINE.lines().count() + 1);
        let _ = postmortem::markdown(&replay.events);
        let _ = postmortem::json(&replay.events);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let replay = journal::parse(&data, incident_commander::clock::now());
        let _ = postmortem::markdown(&replay.events);
        let text = String::from_utf8_lossy(&data);
        let p = Path::new("p.yaml");
        let _ = Playbook::parse(p, &text);
        let _ = Scenario::parse(p, &text);
        for line in text.lines() {
            if let Err(e) = verify::parse(line) {
                prop_assert!(e.column <= line.len());
            }
        }
    }
}
