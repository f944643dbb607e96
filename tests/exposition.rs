//! The exposition parser and `ic scrape` on real exporters' output (golden
//! files captured from the demo API, Prometheus 2.42 and node_exporter 1.5),
//! the official Go parser (promtool) on the demo API, and property tests: no
//! input makes the parser panic, and what we print parses back the same.

use incident_commander::core::exposition::{Format, parse};
use proptest::prelude::*;
use std::process::Command;

const GOLDEN: [(&str, Format); 4] = [
    ("demo-text", Format::Text),
    ("demo-openmetrics", Format::OpenMetrics),
    ("prometheus", Format::Text),
    ("node-exporter", Format::Text),
];

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!("tests/golden/{name}.prom")).unwrap()
}

#[test]
fn golden_files_parse_completely() {
    for (name, format) in GOLDEN {
        let text = golden(name);
        let e = parse(&text, format);
        assert!(e.errors.is_empty(), "{name}: {:?}", e.errors.first());
        let sample_lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(e.samples.len(), sample_lines, "{name}");
        assert!(e.families.len() > 3, "{name}");
        assert_eq!(e.saw_eof, format == Format::OpenMetrics, "{name}");
    }
}

#[test]
fn ic_scrape_output_matches_the_golden_json() {
    for (name, _) in GOLDEN {
        let out = Command::new(env!("CARGO_BIN_EXE_ic"))
            .args(["scrape", "--json", &format!("tests/golden/{name}.prom")])
            .env("IC_LOG", "off")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}");
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let want: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("tests/golden/{name}.scrape.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            got, want,
            "{name}: rerun `ic scrape --json` and review the difference"
        );
    }
}

#[test]
fn text_and_openmetrics_of_the_same_registry_agree() {
    let a = golden("demo-text");
    let b = golden("demo-openmetrics");
    let (ea, eb) = (parse(&a, Format::Text), parse(&b, Format::OpenMetrics));
    let key = |e: &incident_commander::core::exposition::Exposition<'_>| {
        let mut v: Vec<String> = e
            .samples
            .iter()
            .filter(|s| s.name.starts_with("http_"))
            .map(|s| {
                format!(
                    "{} {:?} {}",
                    s.name,
                    e.labels(s).iter().map(|l| l.value()).collect::<Vec<_>>(),
                    s.value
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&ea), key(&eb));
}

#[test]
fn strict_mode_fails_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.prom");
    std::fs::write(&f, "ok 1\nbroken{a=\"b\" 2\nok2 3\n").unwrap();
    let run = |strict: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ic"));
        c.arg("scrape").arg("--json").arg(&f).env("IC_LOG", "off");
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let out = run(true);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:2:14: expected `,` or `}}` after a label",
            f.display()
        )),
        "{err}"
    );
    let out = run(false);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["samples"], 2);
    assert_eq!(v["warnings"][0], "2:14: expected `,` or `}` after a label");
}

#[test]
fn scrape_reads_standard_input_and_reports_unreachable_targets() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["scrape", "--json", "-"])
        .env("IC_LOG", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(golden("demo-text").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["samples"], 81);
    assert_eq!(v["routes"].as_array().unwrap().len(), 5);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args([
            "scrape",
            "--json",
            &format!("http://127.0.0.1:{port}/metrics"),
        ])
        .env("IC_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["class"], "connect", "{v}");
}

#[tokio::test]
async fn promtool_accepts_the_demo_api() {
    let Ok(probe) = Command::new("promtool").arg("--version").output() else {
        if std::env::var("IC_REQUIRE_PROMETHEUS").as_deref() == Ok("1") {
            panic!("IC_REQUIRE_PROMETHEUS=1 but promtool is missing (apt-get install prometheus)");
        }
        eprintln!("SKIPPED: promtool not installed (apt-get install prometheus)");
        return;
    };
    assert!(probe.status.success());
    let server = incident_commander::demo::DemoServer::start(
        incident_commander::demo::load_scenario("calm").unwrap(),
        0,
        200.0,
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    incident_commander::source::tls::install_default_provider();
    let text = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    server.shutdown().await;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn label_value() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 /{}=,\"\\\\\n.é-]{0,12}").unwrap()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_input(text in "\\PC{0,300}", om in any::<bool>()) {
        let format = if om { Format::OpenMetrics } else { Format::Text };
        let e = parse(&text, format);
        let lines = text.split('\n').count() as u32;
        for err in &e.errors {
            prop_assert!(err.line >= 1 && err.line <= lines);
            prop_assert!(err.column >= 1);
        }
    }

    #[test]
    fn never_panics_on_mangled_expositions(cut in 0usize..6000, junk in "[{}\"\\\\=, #\t\n]{0,8}") {
        let text = golden("demo-text");
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) { cut -= 1; }
        let mangled = format!("{}{junk}{}", &text[..cut], &text[cut..]);
        let _ = parse(&mangled, Format::Text);
    }

    #[test]
    fn printed_samples_parse_back(
        name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}",
        labels in proptest::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,10}", label_value()), 0..4),
        value in any::<f64>(),
        ws in "[ \t]{1,3}",
    ) {
        let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}{ws}={ws}\"{}\"", escape(v))).collect();
        let line = format!("{name}{{{}}}{ws}{value:?}\n", body.join(","));
        let e = parse(&line, Format::Text);
        prop_assert!(e.errors.is_empty(), "{:?} in {line:?}", e.errors);
        let s = &e.samples[0];
        prop_assert_eq!(s.name, name.as_str());
        if value.is_nan() { prop_assert!(s.value.is_nan()); } else { prop_assert_eq!(s.value, value); }
        let got: Vec<(String, String)> = e.labels(s).iter().map(|l| (l.name.to_string(), l.value().into_owned())).collect();
        prop_assert_eq!(got, labels);
    }
}
