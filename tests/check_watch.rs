//! `ic check` and `ic watch` as real processes against servers on 127.0.0.1.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A tiny threaded HTTP server: `answer(n)` gives the status of the n-th request; `None` hangs.
fn serve(answer: impl Fn(usize) -> Option<u16> + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    let count = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answer, count) = (answer.clone(), count.clone());
            std::thread::spawn(move || handle(stream, &*answer, &count));
        }
    });
    port
}

fn handle(mut s: TcpStream, answer: &dyn Fn(usize) -> Option<u16>, count: &AtomicUsize) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
        line.clear();
    }
    match answer(count.fetch_add(1, Ordering::SeqCst)) {
        Some(status) => {
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
        None => std::thread::sleep(Duration::from_secs(20)),
    }
}

fn config(dir: &tempfile::TempDir, endpoints: &[String]) -> std::path::PathBuf {
    let path = dir.path().join("ic.yaml");
    let mut text = String::from("service: t\npoll: {interval: 200ms, timeout: 1s}\nendpoints:\n");
    for e in endpoints {
        text.push_str(&format!("  - {e}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn ic(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ic"));
    // Timelines of incidents opened by `ic watch` go to a fresh directory per run,
    // inside the target dir.
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = format!(
        "{}/xdg-data-{}-{n}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    c.args(args)
        .env("IC_LOG", "off")
        .env_remove("IC_CONFIG")
        .env("XDG_DATA_HOME", data);
    c
}

#[test]
fn check_reports_every_endpoint_and_ends_within_the_largest_timeout() {
    let ok = serve(|_| Some(200));
    let hang = serve(|_| None);
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &[
            format!("{{name: good, url: \"http://127.0.0.1:{ok}/\"}}"),
            format!(
                "{{name: stuck, url: \"http://127.0.0.1:{hang}/\", interval: 2s, timeout: 1500ms}}"
            ),
            format!("{{name: gone, url: \"http://127.0.0.1:{refused}/\"}}"),
        ],
    );
    let started = Instant::now();
    let out = ic(&["-c", cfg.to_str().unwrap(), "check", "--json"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "check took {took:?}");
    assert_eq!(out.status.code(), Some(1));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    let names: Vec<&str> = all.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["good", "stuck", "gone"]);
    assert_eq!(all[0]["class"], "ok");
    assert_eq!(all[0]["status"], 200);
    assert_eq!(all[0]["bytes"], 2);
    assert!(all[0]["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(all[0]["phases"]["connect_ms"].is_number());
    assert!(all[0]["phases"]["dns_ms"].is_null());
    assert!(all[0]["error"].is_null());
    assert_eq!(all[1]["class"], "timeout");
    assert!(all[1]["status"].is_null());
    assert_eq!(all[2]["class"], "connect");
    assert!(
        all[2]["error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    for o in all {
        for key in ["url", "cert_days_left", "retry_after_s", "warnings"] {
            assert!(o.get(key).is_some(), "{key} missing in {o}");
        }
    }

    // All healthy: exit 0 and a readable table.
    let cfg = config(
        &dir,
        &[format!("{{name: good, url: \"http://127.0.0.1:{ok}/\"}}")],
    );
    let out = ic(&["-c", cfg.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("1 endpoints, 1 ok, 0 failing"), "{text}");
}

#[test]
fn watch_prints_class_changes_and_json_lines() {
    // 200 for the first four requests, then 500.
    let port = serve(|n| Some(if n < 4 { 200 } else { 500 }));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &[format!(
            "{{name: flappy, url: \"http://127.0.0.1:{port}/\"}}"
        )],
    );
    let out = ic(&["-c", cfg.to_str().unwrap(), "watch", "--duration", "2s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("flappy  start -> ok"), "{text}");
    assert!(text.contains("flappy  ok -> http_5xx  HTTP 500"), "{text}");

    let port = serve(|_| Some(200));
    let cfg = config(
        &dir,
        &[format!(
            "{{name: steady, url: \"http://127.0.0.1:{port}/\"}}"
        )],
    );
    let started = Instant::now();
    let out = ic(&[
        "-c",
        cfg.to_str().unwrap(),
        "watch",
        "--json",
        "--duration",
        "1500ms",
    ])
    .output()
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.len() >= 4,
        "{} samples in 1.5 s at 200 ms",
        lines.len()
    );
    for l in &lines {
        assert_eq!(l["name"], "steady");
        assert_eq!(l["class"], "ok");
        assert!(l["at"].as_str().unwrap().ends_with('Z'));
    }
}

#[test]
fn watch_stops_on_sigterm_with_exit_0() {
    let port = serve(|_| Some(200));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &[format!("{{name: s, url: \"http://127.0.0.1:{port}/\"}}")],
    );
    let mut child = ic(&["-c", cfg.to_str().unwrap(), "watch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("watching 1 endpoints"), "{line}");
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("s  start -> ok"), "{line}");
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "watch ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn watch_scrapes_metrics_targets_and_reports_their_health() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(incident_commander::demo::DemoServer::start(
            incident_commander::demo::load_scenario("calm").unwrap(),
            0,
            200.0,
        ))
        .unwrap();
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: t\nmetrics:\n  - {{name: shop, url: \"{}/metrics\", interval: 300ms}}\n  - {{name: gone, url: \"http://127.0.0.1:{down}/metrics\", interval: 300ms}}\n",
            server.url()
        ),
    )
    .unwrap();
    let out = ic(&["-c", cfg.to_str().unwrap(), "watch", "--duration", "1500ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("watching 0 endpoints and 2 metrics targets"),
        "{text}"
    );
    assert!(text.contains("metrics:shop  up"), "{text}");
    assert!(
        text.contains("metrics:gone  down  connect: target `gone`"),
        "{text}"
    );

    let out = ic(&[
        "-c",
        cfg.to_str().unwrap(),
        "watch",
        "--json",
        "--duration",
        "1500ms",
    ])
    .output()
    .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shop: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["metrics_target"] == "shop")
        .collect();
    assert!(shop.len() >= 2, "{lines:?}");
    let with_routes = shop
        .iter()
        .find(|l| l["routes"].is_array())
        .expect("a scrape with rates");
    assert!(
        with_routes["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["route"] == "/api/payments")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["metrics_target"] == "gone" && l["class"] == "connect")
    );
    rt.block_on(server.shutdown());
}

#[test]
fn watch_detects_a_failing_route_and_a_down_endpoint() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let scenario = incident_commander::core::scenario::Scenario::parse(
        std::path::Path::new("t.yaml"),
        "name: t\nfaults:\n  - {name: broken-search, route: /api/search, error_rate: 60%, status: [503]}\n",
    )
    .unwrap();
    let server = rt
        .block_on(incident_commander::demo::DemoServer::start(
            scenario, 0, 200.0,
        ))
        .unwrap();
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: t\nnotify: {{desktop: false, bell: false}}\npoll: {{interval: 200ms, timeout: 150ms}}\n\
             timeline_dir: {}\n\
             endpoints:\n  - {{name: gone, url: \"http://127.0.0.1:{down}/\"}}\n\
             metrics:\n  - {{name: shop, url: \"{}/metrics\", interval: 500ms}}\n",
            dir.path().join("incidents").display(),
            server.url()
        ),
    )
    .unwrap();
    // 8 s: the signals fire 5 s after their onset (detect.min_duration), the
    // snapshot on the tick after the incident opens — with room on a loaded machine.
    let out = ic(&["-c", cfg.to_str().unwrap(), "watch", "--duration", "8s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ALERT error_rate shop /api/search:"),
        "{text}"
    );
    assert!(
        !text.contains("ALERT error_rate shop /api/payments"),
        "{text}"
    );
    assert!(
        text.contains("ALERT down gone: 2 of the last 3 probes got no answer: connect"),
        "{text}"
    );
    // The first signal opened an incident; every signal is in its timeline, written first.
    assert!(text.contains("incident opened: "), "{text}");
    let timelines = incident_commander::journal::timelines(&dir.path().join("incidents"));
    assert_eq!(timelines.len(), 1, "{text}");
    let replay = incident_commander::journal::read(&timelines[0]).unwrap();
    let inc = incident_commander::core::incident::Incident::fold(&replay.events);
    assert!(inc.is_open());
    assert!(
        inc.signals
            .contains_key(&("down".to_string(), "gone".to_string())),
        "{:?}",
        inc.signals.keys()
    );
    assert!(
        inc.signals
            .contains_key(&("error_rate".to_string(), "shop /api/search".to_string()))
    );
    assert!(
        replay
            .events
            .iter()
            .any(|e| e.kind == incident_commander::core::event::Kind::MetricSnapshot)
    );

    // A fresh directory: resuming the open incident would (rightly) not fire its signals again.
    let fresh = dir.path().join("fresh");
    let out = ic(&[
        "-c",
        cfg.to_str().unwrap(),
        "watch",
        "--json",
        "--duration",
        "6s",
        "--timeline-dir",
        fresh.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let signals: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "signal")
        .collect();
    let search = signals
        .iter()
        .find(|s| s["target"] == "shop /api/search")
        .expect("a signal for search");
    assert_eq!(search["kind"], "error_rate");
    assert_eq!(search["state"], "fired");
    assert!(search["started"].as_str().unwrap().ends_with('Z'));
    assert!(search["evidence"].as_str().unwrap().contains("errors over"));
    rt.block_on(server.shutdown());
}

#[test]
fn watch_turns_alertmanager_alerts_into_signals() {
    let Some(am) = support::start_alertmanager() else {
        return;
    };
    let port = am.port;
    let dir = tempfile::tempdir().unwrap();
    // Post one alert through the API with a plain HTTP/1.1 request.
    let body = format!(
        "[{{\"labels\": {{\"alertname\": \"CheckoutDown\", \"service\": \"checkout\", \"severity\": \"critical\"}}, \"annotations\": {{\"summary\": \"checkout returns 503\"}}, \"startsAt\": \"{}\"}}]",
        incident_commander::clock::now().to_rfc3339()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let req = format!(
                "POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let mut resp = String::new();
            if s.write_all(req.as_bytes()).is_ok()
                && std::io::Read::read_to_string(&mut s, &mut resp).is_ok()
                && resp.starts_with("HTTP/1.1 200")
            {
                break;
            }
        }
        assert!(Instant::now() < deadline, "could not post to Alertmanager");
        std::thread::sleep(Duration::from_millis(200));
    }
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!("service: t\nnotify: {{desktop: false, bell: false}}\nalertmanager: {{url: \"http://127.0.0.1:{port}\", interval: 300ms}}\n"),
    )
    .unwrap();
    let out = ic(&["-c", cfg.to_str().unwrap(), "watch", "--duration", "2s"])
        .output()
        .unwrap();
    drop(am);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ALERT alert CheckoutDown: checkout returns 503 [service=checkout]"),
        "{text}"
    );
}
