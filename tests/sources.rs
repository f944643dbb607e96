//! The metrics scrape loop, fetch limits and the Alertmanager source, against
//! real servers on 127.0.0.1 (the demo API, small purpose-built servers, and
//! Debian's Alertmanager when installed).

mod support;

use incident_commander::config::Config;
use incident_commander::core::exposition::Format;
use incident_commander::core::sample::FailureClass;
use incident_commander::demo::{self, DemoServer};
use incident_commander::source::alertmanager::AlertmanagerClient;
use incident_commander::source::scrape::{self, ScrapeEvent, ScrapeTarget};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn targets(yaml_metrics: &str) -> Vec<ScrapeTarget> {
    let config = Config::parse(
        Path::new("ic.yaml"),
        &format!("service: t\nmetrics:\n{yaml_metrics}"),
        |_| None,
    )
    .unwrap();
    config
        .metrics
        .iter()
        .map(ScrapeTarget::from_config)
        .collect()
}

/// Serves `body(n)` for the n-th request, with extra headers.
async fn serve(
    headers: &'static str,
    body: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = Arc::new(body);
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (body, count) = (body.clone(), count.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let b = body(count.fetch_add(1, Ordering::SeqCst));
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n",
                    b.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&b).await;
            });
        }
    });
    port
}

async fn collect(
    targets: Vec<ScrapeTarget>,
    want: impl Fn(&[ScrapeEvent]) -> bool,
) -> Vec<ScrapeEvent> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(scrape::run(targets, tx, stop_rx));
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !want(&events) {
        assert!(
            Instant::now() < deadline,
            "not enough scrape events: {events:?}"
        );
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            events.push(e);
        }
    }
    let _ = stop.send(true);
    task.await.unwrap();
    events
}

#[tokio::test]
async fn scrape_loop_turns_successive_scrapes_into_route_rates() {
    let server = DemoServer::start(demo::load_scenario("calm").unwrap(), 0, 200.0)
        .await
        .unwrap();
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = targets(&format!(
        "  - {{name: demo, url: \"{}/metrics\", interval: 300ms}}\n  - {{name: gone, url: \"http://127.0.0.1:{down}/metrics\", interval: 300ms}}\n",
        server.url()
    ));
    let events = collect(t, |ev| {
        ev.iter()
            .filter(|e| e.target == 0 && e.result.as_ref().is_ok_and(|o| o.routes.is_some()))
            .count()
            >= 2
            && ev.iter().any(|e| e.target == 1)
    })
    .await;
    server.shutdown().await;
    let first = events
        .iter()
        .find(|e| e.target == 0)
        .unwrap()
        .result
        .as_ref()
        .unwrap();
    assert!(
        first.routes.is_none(),
        "the first scrape has nothing to diff against"
    );
    assert!(first.samples > 50);
    let later = events
        .iter()
        .filter(|e| e.target == 0)
        .filter_map(|e| e.result.as_ref().ok()?.routes.clone())
        .next_back()
        .unwrap();
    let total_rate: f64 = later.iter().filter_map(|r| r.rate).sum();
    assert!(
        (40.0..600.0).contains(&total_rate),
        "{total_rate} req/s from a 200 req/s generator"
    );
    let down_event = events.iter().find(|e| e.target == 1).unwrap();
    let err = down_event.result.as_ref().unwrap_err();
    assert_eq!(err.class, FailureClass::Connect);
    assert!(err.message.starts_with("target `gone`"), "{}", err.message);
}

#[tokio::test]
async fn counter_reset_is_detected_and_counted_from_zero() {
    let port = serve("", |n| {
        let v = if n == 0 { 100 } else { 5 };
        format!("http_requests_total{{route=\"/a\",status=\"200\"}} {v}\n").into_bytes()
    })
    .await;
    let t = targets(&format!(
        "  - {{name: x, url: \"http://127.0.0.1:{port}/metrics\", interval: 200ms}}\n"
    ));
    let events = collect(t, |ev| {
        ev.iter()
            .filter(|e| e.result.as_ref().is_ok_and(|o| o.routes.is_some()))
            .count()
            >= 1
    })
    .await;
    let obs = events
        .iter()
        .find_map(|e| e.result.as_ref().ok().filter(|o| o.routes.is_some()))
        .unwrap();
    assert_eq!(obs.changes.resets.len(), 1, "{:?}", obs.changes);
    assert_eq!(obs.routes.as_ref().unwrap()[0].requests, 5.0);
}

#[tokio::test]
async fn fetch_decodes_gzip_and_stops_at_the_size_cap() {
    let text = std::fs::read_to_string("tests/golden/demo-text.prom").unwrap();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let port = serve(
        "Content-Encoding: gzip\r\nContent-Type: text/plain; version=0.0.4\r\n",
        move |_| gz.clone(),
    )
    .await;
    let client = scrape::client(Duration::from_secs(5)).unwrap();
    let got = scrape::fetch(
        &client,
        &format!("http://127.0.0.1:{port}/metrics"),
        scrape::DEFAULT_MAX_BYTES,
    )
    .await
    .unwrap();
    assert_eq!(got.text, text);
    assert_eq!(got.format, Format::Text);

    let port = serve("", |_| vec![b'#'; 3 * 1024 * 1024]).await;
    let err = scrape::fetch(
        &client,
        &format!("http://127.0.0.1:{port}/metrics"),
        1024 * 1024,
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::BodyTooLarge);

    let many: String = (0..1000).map(|i| format!("m{{i=\"{i}\"}} 1\n")).collect();
    let (expo, warnings) = scrape::parse_capped(&many, Format::Text, 100);
    assert_eq!(expo.samples.len(), 100);
    assert!(warnings[0].contains("1000 series, more than the 100 kept"));
}

#[tokio::test]
async fn alertmanager_firing_alerts_are_read_with_matchers() {
    let Some(am_server) = support::start_alertmanager() else {
        return;
    };
    let port = am_server.port;
    let base = format!("http://127.0.0.1:{port}");
    let http = scrape::client(Duration::from_secs(2)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http
        .get(format!("{base}/-/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "Alertmanager did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let now = incident_commander::clock::now().to_rfc3339();
    let alerts = serde_json::json!([
        {"labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "page"},
         "annotations": {"summary": "5xx above 5% on /api/payments"}, "startsAt": now},
        {"labels": {"alertname": "DiskFull", "service": "batch"}, "startsAt": now}
    ]);
    let posted = http
        .post(format!("{base}/api/v2/alerts"))
        .header("content-type", "application/json")
        .body(alerts.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let config = Config::parse(
        Path::new("ic.yaml"),
        &format!(
            "service: t\nalertmanager: {{url: \"{base}\", matchers: {{service: checkout}}}}\n"
        ),
        |_| None,
    )
    .unwrap();
    let am = AlertmanagerClient::new(config.alertmanager.as_ref().unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let firing = loop {
        let firing = am.firing().await.unwrap();
        if !firing.is_empty() {
            break firing;
        }
        assert!(Instant::now() < deadline, "the alert never showed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(am_server);
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0].name, "HighErrorRate");
    assert_eq!(
        firing[0].summary.as_deref(),
        Some("5xx above 5% on /api/payments")
    );
    assert_eq!(firing[0].labels["severity"], "page");
    assert!(firing[0].starts_at.is_some() && !firing[0].fingerprint.is_empty());
}

#[tokio::test]
async fn query_source_sends_credentials_and_reports_refusals() {
    // A stand-in API that answers only with the right bearer token or basic credentials.
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                    let ok = req.contains("authorization: bearer s3cret-token")
                        || req.contains(&"authorization: basic aWM6cGFzcw==".to_ascii_lowercase()); // ic:pass
                    let (status, body) = if ok {
                        (
                            "200 OK",
                            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"route":"/a"},"value":[1700000000,"2.5"]}]}}"#,
                        )
                    } else {
                        (
                            "401 Unauthorized",
                            r#"{"status":"error","errorType":"unauthorized","error":"bad credentials"}"#,
                        )
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        port
    };
    let client_for = |auth: &str| {
        let yaml = format!("service: t\nprometheus: {{url: \"http://127.0.0.1:{port}\"{auth}}}\n");
        let config = Config::parse(Path::new("ic.yaml"), &yaml, |k| {
            (k == "PROM_TOKEN").then(|| "s3cret-token".to_string())
        })
        .unwrap();
        incident_commander::source::prometheus::PromClient::new(config.prometheus.as_ref().unwrap())
            .unwrap()
    };
    for auth in [
        ", bearer_token: \"${PROM_TOKEN}\"",
        ", basic_auth: {username: ic, password: pass}",
    ] {
        let rows = client_for(auth).query("x").await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1, 2.5);
    }
    let err = client_for("").query("x").await.unwrap_err();
    assert_eq!(err.class, FailureClass::Auth);
    assert!(
        err.message.contains("unauthorized error: bad credentials"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("s3cret"));
}

/// A query-API client of the server on 127.0.0.1:`port`.
fn prom_client(port: u16) -> incident_commander::source::prometheus::PromClient {
    let yaml = format!("service: t\nprometheus: {{url: \"http://127.0.0.1:{port}\"}}\n");
    let config = Config::parse(Path::new("ic.yaml"), &yaml, |_| None).unwrap();
    incident_commander::source::prometheus::PromClient::new(config.prometheus.as_ref().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_hostile_query_range_answer_is_filtered_not_trusted() {
    // Every range query gets the same matrix: points far outside the asked span
    // (years away, at the end of time, before the epoch), NaN, negative and
    // infinite values, a string that is no number, and one good point.
    let now = 1_800_000_000.0_f64;
    let good = now - 600.0;
    let body = format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"route":"/a"}},"values":[[1e300,"5"],[-1e300,"5"],[0,"5"],[{far},"5"],[{good},"NaN"],[{good},"-3"],[{good},"+Inf"],[{good},"x"],[{good},"2"]]}}]}}}}"#,
        far = now + 86_400.0 * 365.0,
    );
    let port = serve("Content-Type: application/json\r\n", move |_| {
        body.clone().into_bytes()
    })
    .await;
    let client = prom_client(port);
    let minutes = client
        .history(now, Duration::from_secs(3600))
        .await
        .unwrap();
    // Only the good point is left: one minute, 2/s × 60 requests, all of them 5xx
    // and 4xx at most (the same matrix answered every query, clipped to the total).
    assert_eq!(minutes.len(), 1, "{minutes:?}");
    let (at, views) = &minutes[0];
    assert_eq!(*at, (good as i64 / 60 - 1) * 60);
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].requests, 120.0);
    assert!(views[0].errors_5xx <= views[0].requests);
    assert_eq!(views[0].p95, Some(2.0));
    // A server answering garbage is an error that says where, not a panic.
    let port = serve("Content-Type: application/json\r\n", |_| {
        b"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"values\":7}]}}"
            .to_vec()
    })
    .await;
    let client = prom_client(port);
    let err = client
        .history(now, Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(err.message.contains("query_range"), "{}", err.message);
}

#[tokio::test]
async fn a_lifetime_rate_needs_one_sane_process_start_time() {
    // The exporter's start time turns lifetime totals into a rate — unless it
    // is in the future, missing, not a number, or one of several.
    let now = incident_commander::clock::now().timestamp();
    let counters = "http_requests_total{route=\"/a\",status=\"200\"} 20000\n";
    let cases = [
        (format!("process_start_time_seconds {}\n", now - 100), true),
        (
            format!("process_start_time_seconds {}\n", now + 3600),
            false,
        ),
        ("process_start_time_seconds NaN\n".to_string(), false),
        (String::new(), false),
        (
            format!(
                "process_start_time_seconds{{pid=\"1\"}} {}\nprocess_start_time_seconds{{pid=\"2\"}} {}\n",
                now - 100,
                now - 5
            ),
            false,
        ),
    ];
    for (start, sane) in cases {
        let body = format!("{counters}{start}");
        let port = serve("", move |_| body.clone().into_bytes()).await;
        let t = targets(&format!(
            "  - {{name: t, url: \"http://127.0.0.1:{port}/metrics\", interval: 1s}}\n"
        ));
        let events = collect(t, |ev| !ev.is_empty()).await;
        let first = events[0].result.as_ref().unwrap();
        let life = first.lifetime.as_ref().unwrap();
        let rate = life.iter().find(|v| v.route == "/a").unwrap().rate;
        if sane {
            // 20,000 requests in about 100 s.
            assert!(
                rate.is_some_and(|r| (150.0..=205.0).contains(&r)),
                "{rate:?}"
            );
        } else {
            assert_eq!(rate, None, "{start}");
        }
    }
}
