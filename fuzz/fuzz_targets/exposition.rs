//! Fuzz target: the exposition parser and the per-route views must never
//! panic, whatever bytes arrive from a `/metrics` endpoint.
#![no_main]

use incident_commander::core::exposition::{Format, parse};
use incident_commander::core::metrics::{Mapping, snapshot, totals};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::Text, Format::OpenMetrics] {
        let expo = parse(&text, format);
        for s in &expo.samples {
            for l in expo.labels(s) {
                let _ = l.value();
            }
        }
        let _ = totals(&snapshot(&expo, &Mapping::default()));
    }
});
