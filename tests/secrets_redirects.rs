//! Secrets never leave for somewhere they were not sent: the probe follows
//! redirects, but the headers, credentials and body the config gives an
//! endpoint go to that endpoint's origin (scheme, host and port) only. A
//! hostile server redirects a probe to another port, another host name,
//! another scheme (https → http) and other protocols, in chains that mix
//! origins and with hostile `Location`s, and records every request head that
//! reached each port: no configured header, credential or body may arrive
//! anywhere but the configured origin, no probe may hang or panic, and the
//! sample says where it was sent.

mod support;

use incident_commander::config::Config;
use incident_commander::core::sample::{FailureClass, ProbeSample};
use incident_commander::source::probe::{ProbeTarget, probe};
use std::path::Path;
use std::time::{Duration, Instant};
use support::hostile::*;

/// A literal API key: configured, not from the environment, and just as secret.
const API_KEY: &str = "literal-api-key-7f3a9c";

/// The headers every endpoint here sends: a bearer token and a tenant id
/// from `${IC_HOSTILE_SECRET}`, and a literal API key.
fn secret_headers() -> String {
    format!(
        "headers: {{Authorization: \"Bearer ${{{SECRET_VAR}}}\", X-Api-Key: \"{API_KEY}\", X-Tenant: \"t-${{{SECRET_VAR}}}\"}}"
    )
}

fn config(text: &str) -> Config {
    Config::parse(Path::new("t.yaml"), text, |k| {
        (k == SECRET_VAR).then(|| SECRET.to_string())
    })
    .unwrap()
}

fn target(url: &str, extra: &str) -> ProbeTarget {
    let c = config(&format!(
        "service: t\npoll: {{interval: 5s, timeout: 2s}}\nendpoints:\n  - {{name: e, url: \"{url}\", {}{extra}}}\n",
        secret_headers()
    ));
    ProbeTarget::from_config(&c.endpoints[0], &c).unwrap()
}

/// Probes once; checks it ended within the timeout and that the sample shows no secret.
async fn probe_once(t: &ProbeTarget) -> ProbeSample {
    let started = Instant::now();
    let s = probe(t, incident_commander::clock::now()).await;
    assert!(
        started.elapsed() < t.timeout + Duration::from_millis(500),
        "probe took {:?}",
        started.elapsed()
    );
    let shown = format!("{s:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    s
}

/// Whether a request's header lines carry any configured header or secret
/// (the request line is the redirecting server's choice, not ours).
fn carries_secrets(head: &str) -> bool {
    let head = head.split_once("\r\n").map_or("", |(_, h)| h);
    let lower = head.to_ascii_lowercase();
    head.contains(SECRET)
        || head.contains(API_KEY)
        || lower.contains("authorization:")
        || lower.contains("x-api-key:")
        || lower.contains("x-tenant:")
}

fn forget_heads(h: &Hostile) {
    lock(&h.counters.heads).clear();
}

#[tokio::test]
async fn configured_headers_never_follow_a_redirect_to_another_origin() {
    let h = Hostile::start().await;
    let other_final = h.other_url("/headers");
    let host_final = format!("http://localhost:{}/headers", h.port);
    let cases: Vec<(&str, String, u16, String)> = vec![
        (
            "another port (302)",
            redirect_path(302, &other_final),
            h.other_port,
            other_final.clone(),
        ),
        (
            "another port (301)",
            redirect_path(301, &other_final),
            h.other_port,
            other_final.clone(),
        ),
        (
            "another port (303)",
            redirect_path(303, &other_final),
            h.other_port,
            other_final.clone(),
        ),
        (
            "another port (307)",
            redirect_path(307, &other_final),
            h.other_port,
            other_final.clone(),
        ),
        (
            "another port (308)",
            redirect_path(308, &other_final),
            h.other_port,
            other_final.clone(),
        ),
        (
            "another host name, same port",
            redirect_path(302, &host_final),
            h.port,
            host_final.clone(),
        ),
        (
            "a scheme-relative Location",
            redirect_path(302, &format!("//localhost:{}/headers", h.port)),
            h.port,
            host_final.clone(),
        ),
        (
            "another origin, then back to ours",
            redirect_path(302, &h.other_url(&redirect_path(302, &h.url("/headers")))),
            h.port,
            h.url("/headers"),
        ),
    ];
    for (case, path, final_port, final_url) in cases {
        forget_heads(&h);
        let s = probe_once(&target(&h.url(&path), "")).await;
        assert_eq!(
            (s.class, s.status),
            (FailureClass::Ok, Some(200)),
            "{case}: {:?}",
            s.error
        );
        let heads = lock(&h.counters.heads).clone();
        // The first request went to the configured origin with every header.
        assert!(
            heads.first().is_some_and(|f| f.port == h.port
                && f.head.contains(&format!("Bearer {SECRET}"))
                && f.head.contains(API_KEY)),
            "{case}: {heads:#?}"
        );
        let last = heads.last().unwrap();
        assert_eq!(
            (last.port, last.path.as_str()),
            (final_port, "/headers"),
            "{case}"
        );
        for seen in &heads[1..] {
            assert!(
                !carries_secrets(&seen.head),
                "{case}: a configured header reached another origin:\n{}",
                seen.head
            );
        }
        assert_eq!(s.redirects.last(), Some(&final_url), "{case}");
        assert_eq!(s.redirects.len(), heads.len() - 1, "{case}");
    }
}

#[tokio::test]
async fn same_origin_redirects_keep_the_headers() {
    let h = Hostile::start().await;
    let s = probe_once(&target(&h.url(&redirect_path(302, "/headers")), "")).await;
    assert_eq!(s.class, FailureClass::Ok, "{:?}", s.error);
    let heads = h.heads_on(h.port);
    assert_eq!(heads.len(), 2, "{heads:#?}");
    assert!(heads[1].head.contains(&format!("Bearer {SECRET}")));
    assert!(heads[1].head.contains(API_KEY));
    assert_eq!(s.redirects, vec![h.url("/headers")]);
}

#[tokio::test]
async fn https_to_http_is_refused_unless_the_endpoint_opts_in() {
    let h = Hostile::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &h.ca_pem).unwrap();
    let tls = format!(", tls: {{ca_file: \"{}\"}}", ca.display());
    let down = h.tls_url(&redirect_path(302, &h.url("/headers")));

    let s = probe_once(&target(&down, &tls)).await;
    assert_eq!(s.class, FailureClass::BodyMismatch, "{:?}", s.error);
    assert_eq!(s.status, Some(302));
    let e = s.error.unwrap();
    for needle in [
        "from https to http",
        &h.url("/headers"),
        "follow_insecure_redirects: true",
    ] {
        assert!(e.contains(needle), "{needle:?} not in {e}");
    }
    assert!(h.heads_on(h.port).is_empty(), "the http URL was requested");
    // The TLS origin did get the headers: the refusal is not vacuous.
    assert!(h.heads_on(h.tls_port)[0].head.contains(SECRET));
    assert!(s.redirects.is_empty(), "{:?}", s.redirects);

    // Opted in: followed, and the headers stay behind (another scheme is another origin).
    let s = probe_once(&target(
        &down,
        &format!("{tls}, follow_insecure_redirects: true"),
    ))
    .await;
    assert_eq!(s.class, FailureClass::Ok, "{:?}", s.error);
    let heads = h.heads_on(h.port);
    assert_eq!(heads.len(), 1, "{heads:#?}");
    assert!(!carries_secrets(&heads[0].head), "{}", heads[0].head);
    assert_eq!(s.redirects, vec![h.url("/headers")]);

    // https → https on another port of the same host keeps no header either.
    forget_heads(&h);
    let cross = h.tls_url(&redirect_path(
        307,
        &format!("https://127.0.0.1:{}/headers", h.tls_port),
    ));
    let s = probe_once(&target(&cross, &tls)).await;
    assert_eq!(s.class, FailureClass::Ok, "{:?}", s.error);
    let heads = h.heads_on(h.tls_port);
    assert_eq!(heads.len(), 2, "{heads:#?}");
    assert!(!carries_secrets(&heads[1].head), "{}", heads[1].head);
}

#[tokio::test]
async fn a_configured_body_is_never_sent_to_another_origin() {
    let h = Hostile::start().await;
    let body = format!(", method: POST, body: \"{{\\\"password\\\": \\\"${{{SECRET_VAR}}}\\\"}}\"");
    for status in [307, 308] {
        forget_heads(&h);
        let url = h.url(&redirect_path(status, &h.other_url("/headers")));
        let s = probe_once(&target(&url, &body)).await;
        assert_eq!(
            s.class,
            FailureClass::BodyMismatch,
            "{status}: {:?}",
            s.error
        );
        let e = s.error.unwrap();
        assert!(e.contains("re-send the request body"), "{e}");
        assert!(e.contains(&h.other_url("/headers")), "{e}");
        assert!(h.heads_on(h.other_port).is_empty(), "{status}");
    }
    // 302 and 303 turn a POST into a GET without a body: followed, without headers.
    for status in [302, 303] {
        forget_heads(&h);
        let url = h.url(&redirect_path(status, &h.other_url("/headers")));
        let s = probe_once(&target(&url, &body)).await;
        assert_eq!(s.class, FailureClass::Ok, "{status}: {:?}", s.error);
        let heads = h.heads_on(h.other_port);
        assert_eq!(heads.len(), 1);
        assert!(heads[0].head.starts_with("GET "), "{}", heads[0].head);
        assert!(!carries_secrets(&heads[0].head), "{}", heads[0].head);
    }
    // On the same origin a 307 re-sends the body, as it should.
    forget_heads(&h);
    let s = probe_once(&target(&h.url(&redirect_path(307, "/headers")), &body)).await;
    assert_eq!(s.class, FailureClass::Ok, "{:?}", s.error);
    assert!(h.heads_on(h.port)[1].head.starts_with("POST "));
}

#[tokio::test]
async fn redirects_to_other_protocols_are_refused() {
    let h = Hostile::start().await;
    for to in [
        format!("ftp://127.0.0.1:{}/headers", h.other_port),
        format!("ws://127.0.0.1:{}/headers", h.other_port),
        "file:///etc/passwd".to_string(),
        "javascript:alert(1)".to_string(),
    ] {
        forget_heads(&h);
        let s = probe_once(&target(&h.url(&redirect_path(302, &to)), "")).await;
        assert_eq!(s.class, FailureClass::BodyMismatch, "{to}: {:?}", s.error);
        let e = s.error.unwrap();
        assert!(e.contains("only http and https"), "{to}: {e}");
        assert!(h.heads_on(h.other_port).is_empty(), "{to}");
    }
}

#[tokio::test]
async fn hostile_locations_cannot_hang_panic_or_leak() {
    let h = Hostile::start().await;
    let long = format!("{}?{}", h.other_url("/headers"), "a".repeat(20_000));
    let with_userinfo = format!("http://admin:pw@127.0.0.1:{}/headers", h.other_port);
    let reflecting = format!("{}?token={SECRET}", h.other_url("/headers"));
    let stall = format!("http://127.0.0.1:{}/", h.stall_port);
    let bounce = format!("/bounce?ports={},{}", h.port, h.other_port);
    let cases: Vec<(&str, String)> = vec![
        ("a 20 KB Location", long),
        ("an attacker's userinfo", with_userinfo),
        ("a Location reflecting the secret", reflecting),
        ("an invalid Location", "http://[::1".to_string()),
        ("an empty Location", String::new()),
        ("a server that never answers", stall),
        ("a loop across origins", h.other_url(&bounce)),
    ];
    for (case, to) in cases {
        forget_heads(&h);
        let t = target(&h.url(&redirect_path(302, &to)), "");
        let s = probe_once(&t).await;
        for hop in &s.redirects {
            assert!(hop.len() <= 600, "{case}: a {} byte hop", hop.len());
            assert!(!hop.contains("admin:pw"), "{case}: {hop}");
        }
        assert!(s.redirects.len() <= 5, "{case}: {:?}", s.redirects);
        for seen in &h.heads_on(h.other_port) {
            assert!(!carries_secrets(&seen.head), "{case}: {}", seen.head);
        }
        if case == "a Location reflecting the secret" {
            assert!(
                s.redirects[0].contains("token=[redacted]"),
                "{:?}",
                s.redirects
            );
        }
        if case == "a loop across origins" {
            assert!(
                s.error
                    .as_deref()
                    .unwrap_or("")
                    .contains("more than 5 redirects"),
                "{case}: {:?}",
                s.error
            );
        }
    }
}

#[tokio::test]
async fn ic_check_says_where_each_probe_was_sent() {
    let h = Hostile::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &h.ca_pem).unwrap();
    let cfg = dir.path().join("ic.yaml");
    let moved = h.url(&redirect_path(301, &h.other_url("/headers")));
    let down = h.tls_url(&redirect_path(302, &h.url("/headers")));
    std::fs::write(
        &cfg,
        format!(
            "service: t\npoll: {{interval: 5s, timeout: 2s}}\nendpoints:\n\
             \x20 - {{name: moved, url: \"{moved}\", {headers}}}\n\
             \x20 - {{name: down, url: \"{down}\", tls: {{ca_file: \"{ca}\"}}, {headers}}}\n",
            headers = secret_headers(),
            ca = ca.display()
        ),
    )
    .unwrap();
    let run = |json: bool| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ic"));
        cmd.arg("-c").arg(&cfg).arg("check").env(SECRET_VAR, SECRET);
        cmd.env("IC_LOG", "off");
        if json {
            cmd.arg("--json");
        }
        async move { cmd.output().await.unwrap() }
    };
    let out = run(true).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let all: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let moved_json = &all[0];
    assert_eq!(moved_json["class"], "ok", "{moved_json}");
    assert_eq!(moved_json["redirects"][0], h.other_url("/headers"));
    assert_eq!(moved_json["final_url"], h.other_url("/headers"));
    let down_json = &all[1];
    assert_eq!(down_json["class"], "body_mismatch", "{down_json}");
    assert_eq!(down_json["final_url"], down);
    let e = down_json["error"].as_str().unwrap();
    assert!(e.contains("from https to http"), "{e}");
    assert!(
        e.contains("follow_insecure_redirects: true on endpoint `down`"),
        "{e}"
    );

    let out = run(false).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("redirected to {}", h.other_url("/headers"))),
        "{table}"
    );
    assert!(table.contains("from https to http"), "{table}");
    for text in [
        stdout.as_ref(),
        table.as_ref(),
        &String::from_utf8_lossy(&out.stderr),
    ] {
        assert!(!text.contains(SECRET) && !text.contains(API_KEY), "{text}");
    }
    for seen in h.heads_on(h.other_port) {
        assert!(!carries_secrets(&seen.head), "{}", seen.head);
    }
}

#[tokio::test]
async fn ic_watch_logs_a_refused_webhook_redirect_and_posts_nothing_elsewhere() {
    let h = Hostile::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, log) = (dir.path().join("ic.yaml"), dir.path().join("ic.log"));
    let hook = h.url(&redirect_path(307, &h.other_url("/hook")));
    std::fs::write(
        &cfg,
        format!(
            "service: t\ntimeline_dir: {}\npoll: {{interval: 200ms, timeout: 1s}}\n\
             notify: {{desktop: false, bell: false, webhook: {{url: \"{hook}&k=${{{SECRET_VAR}}}\"}}}}\n\
             endpoints:\n  - {{name: api, url: \"{}\"}}\n",
            dir.path().join("incidents").display(),
            h.url("/no-such-case"),
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ic"))
        .arg("-c")
        .arg(&cfg)
        .arg("--log-file")
        .arg(&log)
        .args(["watch", "--duration", "20s"])
        .env(SECRET_VAR, SECRET)
        .env("IC_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let logged = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("webhook answered HTTP 307") {
            break text;
        }
        assert!(Instant::now() < deadline, "no refusal logged:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill().await;
    let line = logged
        .lines()
        .find(|l| l.contains("webhook answered HTTP 307"))
        .unwrap();
    assert!(
        line.contains(&format!(
            "a redirect to another origin (http://127.0.0.1:{})",
            h.other_port
        )),
        "{line}"
    );
    assert!(line.contains("set notify.webhook.url"), "{line}");
    assert!(!logged.contains(SECRET), "{logged}");
    assert!(
        h.heads_on(h.other_port).is_empty(),
        "the payload went elsewhere"
    );
}

/// One scrape of a `metrics:` target configured with `extra` (its headers).
async fn scrape_once(url: &str) -> incident_commander::source::scrape::ScrapeEvent {
    use incident_commander::source::scrape::{self, ScrapeTarget};
    let c = config(&format!(
        "service: t\nmetrics:\n  - {{name: m, url: \"{url}\", interval: 5s, timeout: 2s, {}}}\n",
        secret_headers()
    ));
    let target = ScrapeTarget::from_config(&c.metrics[0]);
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(scrape::run(vec![target], tx, stop));
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a scrape within 10 s")
        .expect("an event");
    let _ = stop_tx.send(true);
    let _ = run.await;
    ev
}

/// `metrics[].headers` go with every scrape — to the target's origin only: a
/// redirect elsewhere is refused rather than followed with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_target_sends_its_headers_to_its_origin_only() {
    let h = Hostile::start().await;
    let ev = scrape_once(&h.url("/metrics/healthy")).await;
    assert!(ev.result.is_ok(), "{:?}", ev.result.err());
    let heads = h.heads_on(h.port);
    let head = &heads
        .iter()
        .find(|s| s.path == "/metrics/healthy")
        .unwrap()
        .head;
    assert_eq!(header_value(head, "x-api-key"), Some(API_KEY));
    assert_eq!(
        header_value(head, "authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // Redirected to another port: not followed, nothing sent there.
    let away = redirect_path(302, &h.other_url("/metrics/healthy"));
    let ev = scrape_once(&h.url(&away)).await;
    let err = ev.result.expect_err("a cross-origin redirect is refused");
    assert!(err.message.contains("another origin"), "{}", err.message);
    assert!(!err.message.contains(SECRET));
    for seen in h.heads_on(h.other_port) {
        assert!(!carries_secrets(&seen.head), "{}", seen.head);
    }
    assert!(
        h.heads_on(h.other_port).is_empty(),
        "the other origin was never asked"
    );
}
