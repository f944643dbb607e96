//! Notifications against a webhook receiver on 127.0.0.1: both payload
//! formats, retries, a hanging receiver that must not delay the caller, the
//! re-notify interval, a machine without a desktop notification service, and
//! redirects, which a notification never follows.

mod support;

use incident_commander::config::Config;
use incident_commander::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
use incident_commander::notify::{Decision, Notifier};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A receiver answering the n-th POST with `statuses[n]` (the last one repeats; 0 = never answer).
async fn receiver(statuses: Vec<u16>) -> (u16, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut s, _)) = listener.accept().await {
            let status = statuses.get(n).or(statuses.last()).copied().unwrap_or(200);
            n += 1;
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(k) = s.read(&mut chunk).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            if let Ok(v) = serde_json::from_str(body) {
                                seen.lock().unwrap().push(v);
                            }
                            break;
                        }
                    }
                }
                if status == 0 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (port, bodies)
}

fn notifier(yaml_notify: &str, env: &'static [(&'static str, &'static str)]) -> Notifier {
    let text = format!(
        "service: t\nnotify: {yaml_notify}\nendpoints: [{{name: e, url: \"http://127.0.0.1:1/\"}}]\n"
    );
    let config = Config::parse(Path::new("ic.yaml"), &text, move |k| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    Notifier::start(&config.notify, config.secrets())
}

fn signal(target: &str, state: SignalState) -> Signal {
    Signal {
        kind: DetectorKind::ErrorRate,
        target: target.into(),
        state,
        severity: SeverityHint::Critical,
        evidence: "15.0% 5xx over 30s (threshold 1%)".into(),
        started: "2026-11-21T03:00:03Z".parse().unwrap(),
        at: incident_commander::clock::now(),
        class: None,
        ended: None,
    }
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn webhook_gets_json_or_slack_payloads() {
    let (port, bodies) = receiver(vec![200]).await;
    let mut n = notifier(
        &format!(
            "{{desktop: false, bell: false, webhook: {{url: \"http://127.0.0.1:{port}/hook\"}}}}"
        ),
        &[],
    );
    assert_eq!(
        n.notify(&signal("payments", SignalState::Fired), Instant::now()),
        Decision::Queued
    );
    until("the JSON post", || bodies.lock().unwrap().len() == 1).await;
    let b = bodies.lock().unwrap()[0].clone();
    assert_eq!(b["kind"], "error_rate");
    assert_eq!(b["target"], "payments");
    assert_eq!(b["state"], "fired");
    assert_eq!(b["severity"], "critical");
    assert_eq!(
        b["text"],
        "ALERT error_rate payments: 15.0% 5xx over 30s (threshold 1%) (since 2026-11-21T03:00:03Z)"
    );

    let (port, bodies) = receiver(vec![200]).await;
    let mut n = notifier(
        &format!(
            "{{desktop: false, bell: false, webhook: {{url: \"http://127.0.0.1:{port}/hook\", format: slack}}}}"
        ),
        &[],
    );
    n.notify(&signal("payments", SignalState::Fired), Instant::now());
    until("the Slack post", || bodies.lock().unwrap().len() == 1).await;
    let b = bodies.lock().unwrap()[0].clone();
    assert_eq!(b.as_object().unwrap().len(), 1);
    assert!(
        b["text"]
            .as_str()
            .unwrap()
            .starts_with("ALERT error_rate payments")
    );
    assert_eq!(n.stats().webhook_sent.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn failing_webhook_is_retried_then_given_up() {
    let (port, bodies) = receiver(vec![500, 503, 200]).await;
    let mut n = notifier(
        &format!("{{desktop: false, bell: false, webhook: {{url: \"http://127.0.0.1:{port}/\"}}}}"),
        &[],
    );
    n.notify(&signal("a", SignalState::Fired), Instant::now());
    until("a delivery after two retries", || {
        n.stats().webhook_sent.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(n.stats().webhook_attempts.load(Ordering::Relaxed), 3);
    assert_eq!(bodies.lock().unwrap().len(), 3);

    let (port, _) = receiver(vec![400]).await;
    let mut n = notifier(
        &format!("{{desktop: false, bell: false, webhook: {{url: \"http://127.0.0.1:{port}/\"}}}}"),
        &[],
    );
    n.notify(&signal("a", SignalState::Fired), Instant::now());
    until("giving up on a 400", || {
        n.stats().webhook_failed.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(
        n.stats().webhook_attempts.load(Ordering::Relaxed),
        1,
        "a 4xx is not retried"
    );
}

#[tokio::test]
async fn a_hanging_webhook_never_delays_the_caller() {
    let (port, _) = receiver(vec![0]).await;
    let mut n = notifier(
        &format!(
            "{{desktop: false, bell: false, webhook: {{url: \"http://127.0.0.1:{port}/\", timeout: 300ms}}}}"
        ),
        &[],
    );
    let started = Instant::now();
    for i in 0..50 {
        let d = n.notify(
            &signal(&format!("t{i}"), SignalState::Fired),
            Instant::now(),
        );
        assert_ne!(d, Decision::TooSoon);
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    until("the first notification to time out three times", || {
        n.stats().webhook_failed.load(Ordering::Relaxed) >= 1
    })
    .await;
}

#[tokio::test]
async fn the_same_signal_is_not_repeated_within_the_interval() {
    let (port, bodies) = receiver(vec![200]).await;
    let mut n = notifier(
        &format!(
            "{{desktop: false, bell: false, min_interval: 5m, webhook: {{url: \"http://127.0.0.1:{port}/\"}}}}"
        ),
        &[],
    );
    let t0 = Instant::now();
    assert_eq!(
        n.notify(&signal("resolved-only", SignalState::Resolved), t0),
        Decision::TooSoon
    );
    assert_eq!(
        n.notify(&signal("a", SignalState::Fired), t0),
        Decision::Queued
    );
    assert_eq!(
        n.notify(
            &signal("a", SignalState::Updated),
            t0 + Duration::from_secs(60)
        ),
        Decision::TooSoon
    );
    assert_eq!(
        n.notify(
            &signal("b", SignalState::Fired),
            t0 + Duration::from_secs(60)
        ),
        Decision::Queued
    );
    assert_eq!(
        n.notify(
            &signal("a", SignalState::Updated),
            t0 + Duration::from_secs(301)
        ),
        Decision::Queued
    );
    assert_eq!(
        n.notify(
            &signal("a", SignalState::Resolved),
            t0 + Duration::from_secs(302)
        ),
        Decision::Queued
    );
    until("four posts", || bodies.lock().unwrap().len() == 4).await;
    let states: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["fired", "fired", "updated", "resolved"]);
}

#[tokio::test]
async fn secrets_stay_out_of_payloads_and_desktop_absence_is_survived() {
    let (port, bodies) = receiver(vec![200]).await;
    static ENV: [(&str, &str); 1] = [("HOOK_TOKEN", "tok-hunter2")];
    let mut n = notifier(
        &format!(
            "{{desktop: true, bell: true, webhook: {{url: \"http://127.0.0.1:{port}/${{HOOK_TOKEN}}\"}}}}"
        ),
        &ENV,
    );
    let mut s = signal("payments", SignalState::Fired);
    s.evidence = "upstream said: token tok-hunter2 rejected".into();
    n.notify(&s, Instant::now());
    n.notify(&signal("search", SignalState::Fired), Instant::now());
    until("both posts", || bodies.lock().unwrap().len() == 2).await;
    let text = bodies.lock().unwrap()[0].to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    // With or without a notification service, each notification was either shown or
    // (once) found impossible, after which desktop notifications stay off.
    let st = n.stats();
    let shown = st.desktop_sent.load(Ordering::Relaxed);
    let failed = st.desktop_failed.load(Ordering::Relaxed);
    assert!(
        shown == 2 || (failed == 1 && shown == 0),
        "shown {shown}, failed {failed}"
    );
    assert_eq!(st.bells.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_webhook_redirect_is_never_followed() {
    use support::hostile::{Hostile, redirect_path};
    let h = Hostile::start().await;
    static ENV: [(&str, &str); 1] = [("HOOK_TOKEN", "tok-hunter2-hook")];
    let cases = [
        (
            "another origin, 307",
            redirect_path(307, &h.other_url("/hook")),
        ),
        (
            "another origin, 308",
            redirect_path(308, &h.other_url("/hook")),
        ),
        (
            "another origin, 302",
            redirect_path(302, &h.other_url("/hook")),
        ),
        ("the same origin, 307", redirect_path(307, "/hook")),
    ];
    for (case, path) in cases {
        support::hostile::lock(&h.counters.heads).clear();
        let mut n = notifier(
            &format!(
                "{{desktop: false, bell: false, webhook: {{url: \"{}&t=${{HOOK_TOKEN}}\"}}}}",
                h.url(&path)
            ),
            &ENV,
        );
        n.notify(&signal("payments", SignalState::Fired), Instant::now());
        until(case, || {
            n.stats().webhook_failed.load(Ordering::Relaxed) == 1
        })
        .await;
        let st = n.stats();
        assert_eq!(st.webhook_sent.load(Ordering::Relaxed), 0, "{case}");
        assert_eq!(
            st.webhook_attempts.load(Ordering::Relaxed),
            1,
            "{case}: a redirect is not retried"
        );
        let heads = support::hostile::lock(&h.counters.heads).clone();
        assert_eq!(
            heads.len(),
            1,
            "{case}: only the webhook URL was asked: {heads:#?}"
        );
        assert_eq!(heads[0].port, h.port, "{case}");
    }
}
