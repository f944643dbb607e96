//! The query source against a real Prometheus (Debian's `prometheus`, started
//! here on 127.0.0.1 with a temp dir) scraping the demo API: its per-route
//! numbers must match `ic`'s own scrape of the same API.

mod support;

use incident_commander::config::Config;
use incident_commander::core::exposition;
use incident_commander::core::metrics::{self, Mapping};
use incident_commander::demo::{self, DemoServer};
use incident_commander::source::prometheus::PromClient;
use incident_commander::source::scrape;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use support::prometheus::Prometheus;

/// Starts Prometheus scraping `target` (host:port) every second; `None` when not installed.
fn start_prometheus(target: &str) -> Option<Prometheus> {
    Prometheus::start(
        &format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: demo\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
        &[],
    )
}

// Multi-threaded: starting Prometheus blocks this thread while the demo API serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_source_agrees_with_our_own_scrape() {
    let server = DemoServer::start(demo::load_scenario("calm").unwrap(), 0, 0.0)
        .await
        .unwrap();
    let Some(prom) = start_prometheus(&server.addr().to_string()) else {
        return;
    };
    let http = scrape::client(Duration::from_secs(10)).unwrap();
    let base = server.url();

    // A known burst of traffic, with users answering 503.
    http.post(format!("{base}/_demo/fault"))
        .body(r#"{"route": "/api/users/{id}", "error_rate": 1.0, "status": 503}"#)
        .send()
        .await
        .unwrap();
    let mut sends = Vec::new();
    for (path, n) in [
        ("/api/payments", 40),
        ("/api/search?q=x", 30),
        ("/api/users/7", 10),
    ] {
        for _ in 0..n {
            sends.push(http.get(format!("{base}{path}")).send());
        }
    }
    for s in sends {
        s.await.unwrap();
    }

    // Our own view of the same API.
    let fetched = scrape::fetch(&http, &format!("{base}/metrics"), scrape::DEFAULT_MAX_BYTES)
        .await
        .unwrap();
    let expo = exposition::parse(&fetched.text, fetched.format);
    let ours = metrics::totals(&metrics::snapshot(&expo, &Mapping::default()));
    let ours: BTreeMap<String, _> = ours
        .into_iter()
        .filter(|r| r.requests > 0.0)
        .map(|r| (r.route.clone(), r))
        .collect();
    assert_eq!(ours.len(), 3);
    assert_eq!(ours["/api/users/{id}"].errors_5xx, 10.0);

    let config = Config::parse(
        Path::new("ic.yaml"),
        &format!(
            "service: t\nprometheus: {{url: \"{}\", window: 1m}}\n",
            prom.url
        ),
        |_| None,
    )
    .unwrap();
    let source = PromClient::new(config.prometheus.as_ref().unwrap()).unwrap();

    // Wait until Prometheus has scraped the final counts.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = source
            .query("sum by (route) (http_requests_total)")
            .await
            .unwrap();
        let theirs: BTreeMap<String, f64> = rows
            .into_iter()
            .map(|(m, v)| (m["route"].clone(), v))
            .collect();
        if ours.iter().all(|(r, v)| theirs.get(r) == Some(&v.requests)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw our counts: {theirs:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Same buckets, same quantile: Prometheus's histogram_quantile and ours agree.
    let rows = source
        .query(
            "histogram_quantile(0.95, sum by (le, route) (http_request_duration_seconds_bucket))",
        )
        .await
        .unwrap();
    let mut compared = 0;
    for (m, v) in rows {
        if let Some(r) = ours.get(&m["route"]) {
            let p95 = r.p95.unwrap();
            assert!(
                (p95 - v).abs() <= 1e-9 * p95.max(1.0),
                "{}: ours {p95}, Prometheus {v}",
                m["route"]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 3);
    let rows = source
        .query("sum by (route) (http_requests_total{status=~\"5..\"})")
        .await
        .unwrap();
    let users = rows
        .iter()
        .find(|(m, _)| m["route"] == "/api/users/{id}")
        .unwrap();
    assert_eq!(users.1, 10.0);

    // The default queries (rates over 1m) give the same routes once traffic flows
    // across two scrapes, with the 503s as a 5xx rate.
    let traffic = {
        let (http, base) = (http.clone(), base.clone());
        tokio::spawn(async move {
            loop {
                for path in ["/api/payments", "/api/search?q=x", "/api/users/7"] {
                    let _ = http.get(format!("{base}{path}")).send().await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let views = loop {
        let views = source.route_views().await.unwrap();
        if views.len() == 3
            && views
                .iter()
                .all(|v| v.rate.unwrap_or(0.0) > 0.0 && v.p95.is_some())
        {
            break views;
        }
        assert!(
            Instant::now() < deadline,
            "default queries never covered the routes: {views:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // `ic watch` reads the same views through the query API (and feeds them to detection).
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!("service: t\nnotify: {{desktop: false, bell: false}}\nprometheus: {{url: \"{}\", interval: 1s}}\n", prom.url),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
            .args([
                "-c",
                cfg.to_str().unwrap(),
                "watch",
                "--json",
                "--duration",
                "4s",
                "--no-incident",
            ])
            .env("IC_LOG", "off")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    traffic.abort();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["source"] == "prometheus" && l["up"] == true),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["prometheus_route"] == "/api/payments" && l["rate"].as_f64().unwrap() > 0.0)
    );
    // The latest reading: the first ones may cover the time before the 503s began.
    let users = lines
        .iter()
        .rev()
        .find(|l| l["prometheus_route"] == "/api/users/{id}")
        .unwrap();
    assert!(
        (users["error_ratio"].as_f64().unwrap() - 1.0).abs() < 0.01,
        "{users}"
    );
    let routes: Vec<&str> = views.iter().map(|v| v.route.as_str()).collect();
    assert_eq!(routes, ours.keys().map(String::as_str).collect::<Vec<_>>());
    let users = views.iter().find(|v| v.route == "/api/users/{id}").unwrap();
    assert!((users.error_ratio() - 1.0).abs() < 0.01, "{users:?}");
    let pay = views.iter().find(|v| v.route == "/api/payments").unwrap();
    assert!(pay.error_ratio() < 0.5, "{pay:?}");

    // A range query returns points; a bad query is a clear error.
    let now = incident_commander::clock::now().timestamp() as f64;
    let series = source
        .query_range(
            "sum(http_requests_total)",
            now - 10.0,
            now,
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    assert!(!series.is_empty() && !series[0].1.is_empty());
    let err = source.query("sum(").await.unwrap_err();
    assert!(err.message.contains("bad_data"), "{err}");
    server.shutdown().await;
}
