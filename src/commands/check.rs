//! `ic check`: one round of every endpoint in parallel, as a table or JSON;
//! also the shared formatting of a probe result for `ic watch`.

use super::{EXIT_FINDINGS, EXIT_OK, UsageError};
use crate::cli::CheckArgs;
use crate::config::Config;
use crate::core::sample::ProbeSample;
use crate::source::probe::{self, ProbeTarget};
use crate::source::scrape::ScrapeTarget;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn run(args: CheckArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let sources = load_sources(config)?;
    if sources.probes.is_empty() {
        return Err(UsageError(
            "the config has no endpoints to probe: add some under `endpoints:` (see `ic init`)"
                .into(),
        )
        .into());
    }
    let (targets, concurrency) = (sources.probes, sources.concurrency);
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (t, slots) = (t.clone(), slots.clone());
        set.spawn(async move {
            let _permit = slots.acquire_owned().await;
            (i, probe::probe(&t, crate::clock::now()).await)
        });
    }
    let mut results: Vec<Option<ProbeSample>> = vec![None; targets.len()];
    while let Some(joined) = set.join_next().await {
        let (i, sample) = joined?;
        results[i] = Some(sample);
    }
    let results: Vec<(&ProbeTarget, ProbeSample)> = targets
        .iter()
        .zip(results)
        .filter_map(|(t, s)| Some((t, s?)))
        .collect();
    if args.json {
        let all: Vec<Value> = results.iter().map(|(t, s)| sample_json(t, s)).collect();
        super::print_lines(&serde_json::to_string_pretty(&all)?);
    } else {
        print_table(&results);
    }
    let healthy = results.iter().all(|(_, s)| s.class.is_ok());
    Ok(if healthy { EXIT_OK } else { EXIT_FINDINGS })
}

/// What a config asks to watch: endpoints to probe and metrics targets to scrape.
pub(super) struct Sources {
    /// Endpoints.
    pub probes: Vec<ProbeTarget>,
    /// `poll.concurrency`.
    pub concurrency: usize,
    /// `metrics:` targets.
    pub scrapes: Vec<ScrapeTarget>,
    /// The whole config (detection and notification settings).
    pub config: Config,
}

/// Loads the config and prepares its endpoints and metrics targets.
pub(super) fn load_sources(config: Option<&Path>) -> anyhow::Result<Sources> {
    sources_from(Config::discover(config)?)
}

/// Prepares a loaded config's endpoints and metrics targets.
pub(super) fn sources_from(config: Config) -> anyhow::Result<Sources> {
    let probes = config
        .endpoints
        .iter()
        .map(|ep| ProbeTarget::from_config(ep, &config))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError(format!("{}: {e}", config.source.display())))?;
    let scrapes = config
        .metrics
        .iter()
        .map(ScrapeTarget::from_config)
        .collect();
    Ok(Sources {
        probes,
        concurrency: config.poll.concurrency,
        scrapes,
        config,
    })
}

fn ms(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| {
        json!((d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
    })
}

/// The JSON object of one probe result (the `ic check --json` schema).
pub(super) fn sample_json(t: &ProbeTarget, s: &ProbeSample) -> Value {
    json!({
        "name": t.name,
        "url": t.url_display,
        "at": s.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "class": s.class,
        "status": s.status,
        "latency_ms": ms(Some(s.latency)),
        "phases": {
            "dns_ms": ms(s.phases.dns),
            "connect_ms": ms(s.phases.connect),
            "tls_ms": ms(s.phases.tls),
            "ttfb_ms": ms(s.phases.ttfb),
            "transfer_ms": ms(s.phases.transfer),
        },
        "bytes": s.bytes,
        "cert_days_left": s.cert_days_left.map(|d| (d * 10.0).round() / 10.0),
        "retry_after_s": s.retry_after.map(|d| d.as_secs()),
        "warnings": s.warnings,
        "error": s.error,
        "redirects": s.redirects,
        "final_url": s.redirects.last().unwrap_or(&t.url_display),
    })
}

fn cell(d: Option<Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d < Duration::from_millis(10) => format!("{:.1}", d.as_secs_f64() * 1000.0),
        Some(d) => format!("{}", d.as_millis()),
    }
}

fn print_table(results: &[(&ProbeTarget, ProbeSample)]) {
    let w = results
        .iter()
        .map(|(t, _)| t.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    // Padded without a format width, which panics past 65,535 (names are
    // capped at 64 characters today; this does not depend on it).
    let pad = crate::core::text::pad_right;
    out!(
        "{}  {:<13}  {:>6}  {:>8}  {:>6} {:>6} {:>6} {:>6} {:>6}  {:>6}  DETAIL",
        pad("NAME", w),
        "CLASS",
        "STATUS",
        "LATENCY",
        "DNS",
        "CONN",
        "TLS",
        "TTFB",
        "XFER",
        "CERT"
    );
    for (t, s) in results {
        let redirected = s.redirects.last().map(|to| match s.redirects.len() {
            1 => format!("redirected to {to}"),
            n => format!("redirected {n} times, to {to}"),
        });
        let detail = s
            .error
            .iter()
            .chain(s.warnings.iter())
            .cloned()
            .chain(redirected)
            .collect::<Vec<_>>()
            .join("; ");
        let insecure = if t.insecure { " [tls.insecure]" } else { "" };
        out!(
            "{}  {:<13}  {:>6}  {:>6}ms  {:>6} {:>6} {:>6} {:>6} {:>6}  {:>6}  {}{}",
            pad(&t.name, w),
            s.class.as_str(),
            s.status.map_or("-".into(), |c| c.to_string()),
            cell(Some(s.latency)),
            cell(s.phases.dns),
            cell(s.phases.connect),
            cell(s.phases.tls),
            cell(s.phases.ttfb),
            cell(s.phases.transfer),
            s.cert_days_left.map_or("-".into(), |d| format!("{d:.0}d")),
            detail,
            insecure
        );
    }
    let bad = results.iter().filter(|(_, s)| !s.class.is_ok()).count();
    out!(
        "{} endpoints, {} ok, {} failing (phase times in ms)",
        results.len(),
        results.len() - bad,
        bad
    );
}
