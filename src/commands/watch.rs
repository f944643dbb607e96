//! `ic watch`: continuous headless probing. Prints a line whenever an
//! endpoint's class changes and a summary every 10 s, or every probe as JSON
//! Lines with `--json`; stops at `--duration` or on Ctrl-C / SIGTERM with exit 0.

use super::EXIT_OK;
use super::check::{load_targets, sample_json};
use crate::cli::WatchArgs;
use crate::core::sample::FailureClass;
use crate::core::window::EndpointWindow;
use crate::source::schedule::{self, ProbeEvent};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const SUMMARY_EVERY: Duration = Duration::from_secs(10);

pub(super) async fn run(args: WatchArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let (targets, concurrency) = load_targets(config)?;
    let targets = Arc::new(targets);
    let mut windows: Vec<EndpointWindow> = targets
        .iter()
        .map(|t| EndpointWindow::for_interval(t.interval))
        .collect();
    let mut last_class: Vec<Option<FailureClass>> = vec![None; targets.len()];
    let mut overruns = vec![0u64; targets.len()];
    let (tx, mut rx) = mpsc::channel(1024);
    let (stop_tx, stop_rx) = watch::channel(false);
    let scheduler = tokio::spawn(schedule::run(targets.clone(), concurrency, tx, stop_rx));

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
    if !args.json {
        out!("watching {} endpoints (Ctrl-C stops)", targets.len());
    }
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = &mut until_deadline => break,
            _ = summary.tick(), if !args.json => {
                let now = chrono::Utc::now();
                let parts: Vec<String> = targets.iter().zip(&windows).map(|(t, w)| {
                    let s = w.stats(Duration::from_secs(60), now);
                    let p95 = s.p95.map_or("-".into(), |d| format!("{}ms", d.as_millis()));
                    format!("{} {:.0}% err p95 {p95}", t.name, s.error_ratio * 100.0)
                }).collect();
                out!("{} summary (1m): {}", now.format("%H:%M:%S"), parts.join(" | "));
            }
            event = rx.recv() => {
                let Some(event) = event else { break };
                let now = chrono::Utc::now();
                match event {
                    ProbeEvent::Sample { endpoint, sample } => {
                        windows[endpoint].record(&sample, now);
                        let t = &targets[endpoint];
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
    Ok(EXIT_OK)
}
