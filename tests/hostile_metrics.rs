//! Hostile `/metrics` content through the parser and the per-route views: a
//! 1 MB single line, invalid UTF-8, pathological escapes, NaN and ±Inf
//! counters, counters going backwards and non-monotonic histogram buckets —
//! each parses or is reported, never panics, and yields sane numbers.

use incident_commander::core::exposition::{Format, parse};
use incident_commander::core::metrics::{Mapping, deltas, histogram_quantile, snapshot, totals};
use std::io::Write;
use std::process::{Command, Stdio};

fn views(text: &str) -> usize {
    let expo = parse(text, Format::Text);
    totals(&snapshot(&expo, &Mapping::default())).len()
}

#[test]
fn a_one_megabyte_line_is_reported_and_the_rest_still_parses() {
    let text = format!(
        "http_requests_total{{route=\"/a\",status=\"200\"}} 5\nhttp_requests_total{{route=\"{}\",status=\"200\"}} 1\nhttp_requests_total{{route=\"/b\",status=\"500\"}} 2\n",
        "x".repeat(1 << 20)
    );
    let expo = parse(&text, Format::Text);
    assert!(expo.samples.len() >= 2);
    assert!(views(&text) >= 2);
}

#[test]
fn escapes_nan_and_infinities_do_not_poison_the_views() {
    let text = "http_requests_total{route=\"/a\\\\\\\"\\n\\x\",status=\"200\"} NaN\n\
                http_requests_total{route=\"/b\",status=\"200\"} +Inf\n\
                http_requests_total{route=\"/c\",status=\"500\"} -Inf\n\
                http_requests_total{route=\"/d\",status=\"200\"} 7\n";
    let expo = parse(text, Format::Text);
    let snap = snapshot(&expo, &Mapping::default());
    for v in totals(&snap) {
        assert!(!v.error_ratio().is_nan(), "{v:?}");
    }
}

#[test]
fn counters_going_backwards_count_as_resets_not_negative_traffic() {
    let a = parse(
        "http_requests_total{route=\"/a\",status=\"200\"} 1000\n",
        Format::Text,
    );
    let b = parse(
        "http_requests_total{route=\"/a\",status=\"200\"} 10\n",
        Format::Text,
    );
    let (views, changes) = deltas(
        &snapshot(&a, &Mapping::default()),
        &snapshot(&b, &Mapping::default()),
        5.0,
    );
    assert_eq!(changes.resets.len(), 1);
    assert!(views.iter().all(|v| v.requests >= 0.0), "{views:?}");
}

#[test]
fn non_monotonic_buckets_give_a_bounded_quantile_or_none() {
    let weird = [(0.1, 50.0), (0.5, 20.0), (1.0, 80.0), (f64::INFINITY, 60.0)];
    if let Some(q) = histogram_quantile(0.95, &weird) {
        assert!(q.is_finite() && (0.0..=1.0).contains(&q), "{q}");
    }
    assert_eq!(histogram_quantile(0.95, &[]), None);
    let _ = histogram_quantile(f64::NAN, &weird);
}

#[test]
fn invalid_utf8_on_standard_input_is_reported_not_fatal() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["scrape", "-", "--json"])
        .env("IC_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = b"http_requests_total{route=\"/a\",status=\"200\"} 3\n".to_vec();
    input.extend_from_slice(b"http_requests_total{route=\"/\xff\xfe\",status=\"200\"} 4\n");
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // Bad bytes become U+FFFD; both series are counted.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["samples"], 2);
    assert!(
        v["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["route"].as_str().unwrap().contains('\u{fffd}'))
    );
}
