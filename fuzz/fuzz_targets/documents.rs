//! Fuzz target: every document `ic` reads from a file — config, playbook,
//! scenario, timeline lines (and the incident fold and postmortem over them),
//! `verify` expressions — must be accepted or rejected with a message, never
//! panic or hang.
#![no_main]

use incident_commander::config::Config;
use incident_commander::core::playbook::Playbook;
use incident_commander::core::scenario::Scenario;
use incident_commander::core::{postmortem, verify};
use incident_commander::journal;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let replay = journal::parse(data, incident_commander::clock::now());
    let _ = postmortem::markdown(&replay.events);
    let text = String::from_utf8_lossy(data);
    let p = Path::new("fuzz.yaml");
    let _ = Config::parse(p, &text, |_| Some("x".into()));
    let _ = Playbook::parse(p, &text);
    let _ = Scenario::parse(p, &text);
    for line in text.lines().take(16) {
        let _ = verify::parse(line);
    }
});
