//! `ic watch`: continuous headless probing and scraping. Prints a line whenever
//! an endpoint's class or a metrics target's health changes and a summary every
//! 10 s, or every probe and scrape as JSON Lines with `--json`; stops at
//! `--duration` or on Ctrl-C / SIGTERM with exit 0.

use super::EXIT_OK;
use super::UsageError;
use super::check::{load_sources, sample_json};
use crate::cli::WatchArgs;
use crate::core::detect::{CertificateDetector, Counts, DownDetector, RouteDetectors};
use crate::core::event::Kind;
use crate::core::metrics::RouteView;
use crate::core::sample::FailureClass;
use crate::core::signal::Signal;
use crate::core::window::EndpointWindow;
use crate::notify::Notifier;
use crate::recorder::{Recorder, SnapshotRow};
use crate::source::schedule::{self, ProbeEvent};
use crate::source::scrape::{self, ScrapeEvent};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const SUMMARY_EVERY: Duration = Duration::from_secs(10);

pub(super) async fn run(args: WatchArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let sources = load_sources(config)?;
    if sources.probes.is_empty()
        && sources.scrapes.is_empty()
        && sources.config.alertmanager.is_none()
        && sources.config.prometheus.is_none()
    {
        return Err(UsageError(
            "the config has nothing to watch: add `endpoints:`, `metrics:` targets, `prometheus:` or `alertmanager:` (see `ic init`)".into(),
        )
        .into());
    }
    let (targets, concurrency) = (Arc::new(sources.probes), sources.concurrency);
    let settings = sources.config.detect;
    let mut notifier = Notifier::start(&sources.config.notify, sources.config.secrets());
    let mut down: Vec<DownDetector> = vec![DownDetector::default(); targets.len()];
    let mut certs: Vec<CertificateDetector> = vec![CertificateDetector::default(); targets.len()];
    let mut routes: HashMap<String, RouteDetectors> = HashMap::new();
    let mut fresh: Vec<Signal> = Vec::new();
    let dir = match &args.timeline_dir {
        Some(d) => d.clone(),
        None => sources
            .config
            .timeline_dir()
            .ok_or_else(|| UsageError("no timeline directory: set timeline_dir in ic.yaml, pass --timeline-dir, or --no-incident".into()))?,
    };
    let mut recorder = Recorder::new(
        &dir,
        sources.config.service.expose(),
        !args.no_incident && sources.config.incidents.auto_open,
    );
    if let Some(p) = recorder.path() {
        if args.json {
            out!(
                "{}",
                serde_json::json!({"type": "incident", "state": "resumed", "timeline": p})
            );
        } else {
            out!("resuming the open incident {}", p.display());
        }
    }
    // The timeline is written first: what is printed or sent is on disk.
    let emit = |signal: Signal, json: bool, notifier: &mut Notifier, recorder: &mut Recorder| {
        match recorder.record(&signal, crate::clock::now()) {
            Ok(written) => {
                if let Some(opened) = written.iter().find(|e| e.kind == Kind::IncidentOpened) {
                    let path = recorder
                        .path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    if json {
                        out!(
                            "{}",
                            serde_json::json!({"type": "incident", "state": "opened", "timeline": path, "title": opened.str_field("title")})
                        );
                    } else {
                        out!("{} incident opened: {path}", opened.ts.format("%H:%M:%S"));
                    }
                }
            }
            Err(e) => eprintln!("warning: the signal could not be written to the timeline: {e}"),
        }
        if json {
            let mut obj = serde_json::json!(signal);
            obj["type"] = serde_json::json!("signal");
            out!("{obj}");
        } else {
            out!("{} {}", signal.at.format("%H:%M:%S"), signal.headline());
        }
        notifier.notify(&signal, std::time::Instant::now());
    };
    let scrape_names: Vec<String> = sources.scrapes.iter().map(|t| t.name.clone()).collect();
    let mut scrape_state: Vec<Option<Result<Vec<RouteView>, String>>> =
        vec![None; scrape_names.len()];
    let mut windows: Vec<EndpointWindow> = targets
        .iter()
        .map(|t| EndpointWindow::for_interval(t.interval))
        .collect();
    let mut last_class: Vec<Option<FailureClass>> = vec![None; targets.len()];
    let mut overruns = vec![0u64; targets.len()];
    let (tx, mut rx) = mpsc::channel(1024);
    let (stop_tx, stop_rx) = watch::channel(false);
    let scheduler = tokio::spawn(schedule::run(
        targets.clone(),
        concurrency,
        tx,
        stop_rx.clone(),
    ));
    let (scrape_tx, mut scrape_rx) = mpsc::channel::<ScrapeEvent>(256);
    let scraper = tokio::spawn(scrape::run(sources.scrapes, scrape_tx, stop_rx));
    let (prom_tx, mut prom_rx) = mpsc::channel::<Result<Vec<RouteView>, String>>(16);
    let prom_every = sources.config.prometheus.as_ref().map(|p| p.interval.get());
    if let Some(p) = &sources.config.prometheus {
        let client = crate::source::prometheus::PromClient::new(p)?;
        let every = p.interval.get();
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tick.tick() => {}
                }
                let views = client.route_views().await.map_err(|e| e.to_string());
                if prom_tx.send(views).await.is_err() {
                    break;
                }
            }
        });
    }
    let mut prom_up: Option<bool> = None;
    let (alert_tx, mut alert_rx) = mpsc::channel::<Vec<Signal>>(16);
    if let Some(am) = &sources.config.alertmanager {
        let client = crate::source::alertmanager::AlertmanagerClient::new(am)?;
        let every = am.interval.get();
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let mut tracker = crate::source::alertmanager::AlertTracker::default();
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tick.tick() => {}
                }
                match client.firing().await {
                    Ok(alerts) => {
                        let signals = tracker.update(alerts, crate::clock::now());
                        if !signals.is_empty() && alert_tx.send(signals).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!("alertmanager: {e}"),
                }
            }
        });
    }
    let mut probes_open = !targets.is_empty();
    let mut scrapes_open = !scrape_names.is_empty();

    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let until_deadline = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    let stop = crate::signals::stop_requested();
    tokio::pin!(stop);
    let mut summary =
        tokio::time::interval_at(tokio::time::Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    let mut snapshots = tokio::time::interval(SUMMARY_EVERY);
    if !args.json {
        out!(
            "watching {} endpoints and {} metrics targets (Ctrl-C stops)",
            targets.len(),
            scrape_names.len()
        );
    }
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = &mut until_deadline => break,
            _ = snapshots.tick(), if recorder.is_open() => {
                let now = crate::clock::now();
                if recorder.snapshot_due(now) {
                    let rows = snapshot_rows(&routes, targets.iter().map(|t| t.name.as_str()).zip(&windows), now);
                    if let Err(e) = recorder.snapshot(&rows, "ic", now) {
                        eprintln!("warning: the metric snapshot could not be written to the timeline: {e}");
                    }
                }
            }
            _ = summary.tick(), if !args.json => {
                let now = crate::clock::now();
                let mut parts: Vec<String> = targets.iter().zip(&windows).zip(&overruns).map(|((t, w), overrun)| {
                    let s = w.stats(Duration::from_secs(60), now);
                    let p95 = s.p95.map_or("-".into(), |d| format!("{}ms", d.as_millis()));
                    let late = if *overrun > 0 { format!(" ({overrun} overruns)") } else { String::new() };
                    format!("{} {:.0}% err p95 {p95}{late}", t.name, s.error_ratio * 100.0)
                }).collect();
                parts.extend(scrape_names.iter().zip(&scrape_state).map(|(name, state)| scrape_summary(name, state.as_ref())));
                out!("{} summary (1m): {}", now.format("%H:%M:%S"), parts.join(" | "));
            }
            Some(views) = prom_rx.recv() => {
                let at = crate::clock::now();
                match &views {
                    Err(e) if prom_up != Some(false) => out_health(args.json, "prometheus", Some(e)),
                    Ok(_) if prom_up != Some(true) => out_health(args.json, "prometheus", None),
                    _ => {}
                }
                prom_up = Some(views.is_ok());
                if let Ok(views) = views {
                    // Rates over the query window become counts for one polling interval.
                    let secs = prom_every.map_or(15.0, |d| d.as_secs_f64());
                    for v in &views {
                        if args.json {
                            out!("{}", serde_json::json!({
                                "prometheus_route": v.route, "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                                "rate": v.rate, "error_ratio": v.error_ratio(), "ratio_4xx": v.ratio_4xx(),
                                "p50": v.p50, "p95": v.p95, "p99": v.p99,
                            }));
                        }
                        let key = format!("prometheus {}", v.route);
                        let counts = view_counts(v, secs);
                        routes.entry(key.clone()).or_default().observe(&key, at.timestamp(), counts, settings.latency_quantile.pick(v.p50, v.p95, v.p99).map(|p| (p, counts.total)), &settings, &mut fresh);
                    }
                    for sig in fresh.drain(..) {
                        emit(sig, args.json, &mut notifier, &mut recorder);
                    }
                }
            }
            Some(signals) = alert_rx.recv() => {
                for sig in signals {
                    emit(sig, args.json, &mut notifier, &mut recorder);
                }
            }
            event = scrape_rx.recv(), if scrapes_open => {
                let Some(ScrapeEvent { target, result }) = event else {
                    scrapes_open = false;
                    continue;
                };
                let name = &scrape_names[target];
                let now_state = result.as_ref().map(|o| o.routes.clone().unwrap_or_default()).map_err(ToString::to_string);
                if args.json {
                    let obj = match &result {
                        Ok(o) => serde_json::json!({
                            "metrics_target": name,
                            "at": o.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                            "samples": o.samples,
                            "warnings": o.warnings,
                            "resets": o.changes.resets.len(),
                            "vanished": o.changes.vanished.len(),
                            "routes": o.routes.as_ref().map(|rs| rs.iter().map(|r| serde_json::json!({
                                "route": r.route, "rate": r.rate, "error_ratio": r.error_ratio(),
                                "ratio_4xx": r.ratio_4xx(), "p50": r.p50, "p95": r.p95, "p99": r.p99,
                            })).collect::<Vec<_>>()),
                        }),
                        Err(e) => serde_json::json!({"metrics_target": name, "class": e.class, "error": e.message}),
                    };
                    out!("{obj}");
                } else {
                    let was_up = scrape_state[target].as_ref().map(Result::is_ok);
                    let time = crate::clock::now().format("%H:%M:%S");
                    match (&now_state, was_up) {
                        (Err(e), None | Some(true)) => out!("{time} metrics:{name}  down  {e}"),
                        (Ok(_), None | Some(false)) => out!("{time} metrics:{name}  up"),
                        _ => {}
                    }
                }
                if let Ok(obs) = &result
                    && let Some(views) = &obs.routes
                {
                    let second = obs.at.timestamp();
                    for v in views {
                        let key = format!("{name} {}", v.route);
                        let counts = view_counts(v, 1.0);
                        routes.entry(key.clone()).or_default().observe(&key, second, counts, settings.latency_quantile.pick(v.p50, v.p95, v.p99).map(|p| (p, counts.total)), &settings, &mut fresh);
                    }
                    // A route that vanished from the exposition had no traffic at all.
                    let prefix = format!("{name} ");
                    for (key, det) in routes.iter_mut() {
                        if key.starts_with(&prefix) && !views.iter().any(|v| key[prefix.len()..] == v.route) {
                            det.observe(key, second, Counts::default(), None, &settings, &mut fresh);
                        }
                    }
                    for sig in fresh.drain(..) {
                        emit(sig, args.json, &mut notifier, &mut recorder);
                    }
                }
                scrape_state[target] = Some(now_state);
            }
            event = rx.recv(), if probes_open => {
                let Some(event) = event else {
                    probes_open = false;
                    continue;
                };
                let now = crate::clock::now();
                match event {
                    ProbeEvent::Sample { endpoint, sample } => {
                        windows[endpoint].record(&sample, now);
                        let t = &targets[endpoint];
                        let what = sample.error.clone().unwrap_or_default();
                        if let Some(sig) = down[endpoint].observe(&t.name, sample.at.timestamp(), sample.class, &format!("{}: {what}", sample.class)) {
                            emit(sig, args.json, &mut notifier, &mut recorder);
                        }
                        if let Some(days) = sample.cert_days_left
                            && let Some(sig) = certs[endpoint].observe(&t.name, sample.at.timestamp(), days)
                        {
                            emit(sig, args.json, &mut notifier, &mut recorder);
                        }
                        if args.json {
                            let mut obj = sample_json(t, &sample);
                            obj["at"] = serde_json::json!(sample.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                            obj["lateness_ms"] = serde_json::json!(sample.lateness.as_secs_f64() * 1000.0);
                            out!("{obj}");
                        } else if last_class[endpoint] != Some(sample.class) {
                            let from = last_class[endpoint].map_or("start", FailureClass::as_str);
                            let detail = sample.error.clone().unwrap_or_else(|| format!("{} ms", sample.latency.as_millis()));
                            out!("{} {}  {} -> {}  {}", sample.at.format("%H:%M:%S"), t.name, from, sample.class, detail);
                        }
                        last_class[endpoint] = Some(sample.class);
                    }
                    ProbeEvent::Overrun { endpoint, at } => {
                        overruns[endpoint] += 1;
                        if !args.json {
                            out!("{} {}  overrun: the previous probe is still running", at.format("%H:%M:%S"), targets[endpoint].name);
                        } else {
                            out!("{}", serde_json::json!({"name": targets[endpoint].name, "overrun": true, "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}));
                        }
                    }
                }
                if std::io::stdout().flush().is_err() {
                    break;
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    let _ = scheduler.await;
    let _ = scraper.await;
    Ok(EXIT_OK)
}

/// Reports a source going down (`Some(error)`) or coming up.
fn out_health(json: bool, source: &str, error: Option<&String>) {
    let time = crate::clock::now().format("%H:%M:%S");
    match (json, error) {
        (true, Some(e)) => out!(
            "{}",
            serde_json::json!({"source": source, "up": false, "error": e})
        ),
        (true, None) => out!("{}", serde_json::json!({"source": source, "up": true})),
        (false, Some(e)) => out!("{time} {source}  down  {e}"),
        (false, None) => out!("{time} {source}  up"),
    }
}

/// `name: N routes, worst /x 3% 5xx, p95 120ms` for the 10 s summary.
fn scrape_summary(name: &str, state: Option<&Result<Vec<RouteView>, String>>) -> String {
    match state {
        None => format!("metrics:{name} waiting"),
        Some(Err(_)) => format!("metrics:{name} DOWN"),
        Some(Ok(routes)) => {
            let worst = routes
                .iter()
                .max_by(|a, b| a.error_ratio().total_cmp(&b.error_ratio()));
            match worst {
                None => format!("metrics:{name} no routes yet"),
                Some(w) => {
                    let p95 = w.p95.map_or("-".into(), |p| format!("{:.0}ms", p * 1000.0));
                    format!(
                        "metrics:{name} {} routes, worst {} {:.1}% 5xx p95 {p95}",
                        routes.len(),
                        w.route,
                        w.error_ratio() * 100.0
                    )
                }
            }
        }
    }
}

/// A view's per-second rates (or counts, with `secs` = 1) as request counts over `secs` seconds.
fn view_counts(v: &RouteView, secs: f64) -> Counts {
    let count = |x: f64| (x * secs).round().max(0.0) as u64;
    Counts {
        total: count(v.requests),
        errors: count(v.errors_5xx),
        client_errors: count(v.errors_4xx),
    }
}

/// The last minute of every route and endpoint that saw traffic, for a metric snapshot.
fn snapshot_rows<'a>(
    routes: &HashMap<String, RouteDetectors>,
    endpoints: impl Iterator<Item = (&'a str, &'a EndpointWindow)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<SnapshotRow> {
    let mut rows: Vec<SnapshotRow> = routes
        .iter()
        .filter_map(|(key, det)| {
            let c = det.series().window(now.timestamp(), 60);
            (c.total > 0).then(|| SnapshotRow {
                target: key.clone(),
                rps: c.total as f64 / 60.0,
                error_ratio: c.ratio(),
                p95_ms: None,
                failed: c.errors,
            })
        })
        .collect();
    for (name, w) in endpoints {
        let s = w.stats(Duration::from_secs(60), now);
        if s.total > 0 {
            rows.push(SnapshotRow {
                target: name.to_string(),
                rps: s.rate,
                error_ratio: s.error_ratio,
                p95_ms: s.p95.map(|d| d.as_secs_f64() * 1000.0),
                failed: (s.error_ratio * s.total as f64).round() as u64,
            });
        }
    }
    rows.sort_by(|a, b| a.target.cmp(&b.target));
    rows
}
