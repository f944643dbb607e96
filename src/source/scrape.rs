//! Fetching a `/metrics` exposition: timeout, gzip, a size cap (default 20 MiB)
//! and a series cap (default 200k: beyond it a warning and the rest dropped). A
//! failed scrape is itself an observation, classed with the probe ladder.
//!
//! Memory stays bounded however many targets turn hostile at once: an
//! exposition past 1 MiB is read and parsed only while holding the process's
//! one large-exposition slot (small ones never wait), so at most one 20 MiB
//! body and its parse are in memory, not one per target.

use crate::core::exposition::{self, Exposition, Format};
use crate::core::sample::FailureClass;
use crate::source::tls;
use std::time::{Duration, Instant};

/// Default largest exposition read.
pub const DEFAULT_MAX_BYTES: usize = 20 * 1024 * 1024;
/// Default most series kept from one exposition.
pub const DEFAULT_MAX_SERIES: usize = 200_000;

/// A failed scrape: its class on the probe ladder and what happened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct ScrapeError {
    /// Failure class.
    pub class: FailureClass,
    /// What happened, with the URL.
    pub message: String,
}

/// Bodies larger than this take the large-exposition slot.
pub const LARGE_BYTES: usize = 1024 * 1024;

/// The one large-exposition slot (see the module docs).
static LARGE_SLOT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A fetched exposition.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The text.
    pub text: String,
    /// Its format, from the `Content-Type`.
    pub format: Format,
    /// How long the scrape took.
    pub took: Duration,
    /// The large-exposition slot, held until the text (and what is parsed from it) is dropped.
    _large: Option<std::sync::Arc<tokio::sync::SemaphorePermit<'static>>>,
}

/// An HTTP client for scrapes and query APIs (rustls with ring, gzip).
pub fn client(timeout: Duration) -> Result<reqwest::Client, ScrapeError> {
    let tls = tls::client_config(None, false).map_err(|e| ScrapeError {
        class: FailureClass::Tls,
        message: e.to_string(),
    })?;
    reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!(
            "incident-commander/",
            env!("CARGO_PKG_VERSION"),
            " (scrape)"
        ))
        .build()
        .map_err(|e| ScrapeError {
            class: FailureClass::Connect,
            message: format!("cannot build an HTTP client: {e}"),
        })
}

/// Fetches `url`, asking for OpenMetrics or text, reading at most `max_bytes`.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<Fetched, ScrapeError> {
    let started = Instant::now();
    let fail = |class, message: String| ScrapeError {
        class,
        message: format!("{url}: {message}"),
    };
    let resp = client
        .get(url)
        .header(
            reqwest::header::ACCEPT,
            "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )
        .send()
        .await
        .map_err(|e| classify(&e, url))?;
    let status = resp.status().as_u16();
    let class = match status {
        200..=299 => None,
        401 | 403 => Some(FailureClass::Auth),
        429 => Some(FailureClass::RateLimited),
        400..=499 => Some(FailureClass::Http4xx),
        500..=599 => Some(FailureClass::Http5xx),
        _ => Some(FailureClass::BodyMismatch),
    };
    if let Some(class) = class {
        return Err(fail(class, format!("HTTP {status}")));
    }
    let format = Format::from_content_type(
        resp.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let too_large = || {
        fail(
            FailureClass::BodyTooLarge,
            format!(
                "exposition larger than {} MiB; stopped reading",
                max_bytes / (1024 * 1024)
            ),
        )
    };
    // The length announced for an uncompressed body: refuse it unread when past
    // the cap, else make room once.
    let announced = resp.content_length().unwrap_or(0);
    if announced > max_bytes as u64 {
        return Err(fail(
            FailureClass::BodyTooLarge,
            format!(
                "exposition of {:.1} MiB (its Content-Length), larger than the {} MiB cap; not read",
                announced as f64 / (1024.0 * 1024.0),
                max_bytes / (1024 * 1024)
            ),
        ));
    }
    let mut large = None;
    let mut waited = Duration::ZERO;
    if announced > LARGE_BYTES as u64 {
        (large, waited) = large_slot().await;
    }
    let mut body = Vec::with_capacity(announced as usize);
    let mut resp = resp;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                let mut err = classify(&e, url);
                if waited >= Duration::from_millis(100) {
                    err.message.push_str(&format!(
                        " (after waiting {} for another large exposition to be read first)",
                        crate::core::units::format_duration(waited)
                    ));
                }
                return Err(err);
            }
        };
        let need = body.len() + chunk.len();
        if need > max_bytes {
            return Err(too_large());
        }
        if need > LARGE_BYTES && large.is_none() {
            (large, waited) = large_slot().await;
        }
        if need > body.capacity() {
            // Grow by doubling, but never past the cap (not 32 MiB for a 20 MiB cap).
            body.reserve_exact(need.max(body.capacity() * 2).min(max_bytes) - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok(Fetched {
        text,
        format,
        took: started.elapsed(),
        _large: large.map(std::sync::Arc::new),
    })
}

/// Waits for the large-exposition slot; returns it and how long that took.
async fn large_slot() -> (Option<tokio::sync::SemaphorePermit<'static>>, Duration) {
    let t = Instant::now();
    // The slot is never closed, so acquiring only fails if it were; then go on without it.
    (LARGE_SLOT.acquire().await.ok(), t.elapsed())
}

fn classify(e: &reqwest::Error, url: &str) -> ScrapeError {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if !chain.is_empty() {
            chain.push_str(": ");
        }
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    let class = if e.is_timeout() {
        FailureClass::Timeout
    } else if lower.contains("dns") || lower.contains("lookup address") || lower.contains("resolve")
    {
        FailureClass::Dns
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        FailureClass::Tls
    } else {
        FailureClass::Connect
    };
    ScrapeError {
        class,
        message: format!("{url}: {chain}"),
    }
}

/// Parses an exposition, keeping at most `max_series` samples; returns warnings for what was dropped.
pub fn parse_capped(
    text: &str,
    format: Format,
    max_series: usize,
) -> (Exposition<'_>, Vec<String>) {
    // The series past the cap are counted while parsing, never held.
    let expo = exposition::parse_limited(text, format, max_series);
    let mut warnings = Vec::new();
    if expo.dropped_samples > 0 {
        warnings.push(format!(
            "{} series, more than the {max_series} kept: the rest were dropped",
            expo.samples.len() + expo.dropped_samples
        ));
    }
    (expo, warnings)
}

/// One `metrics:` target, prepared.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    /// Target name.
    pub name: String,
    /// Exposition URL (may carry secrets; never displayed).
    pub url: String,
    /// Scrape interval.
    pub interval: std::time::Duration,
    /// Scrape timeout.
    pub timeout: std::time::Duration,
    /// Which series mean what.
    pub mapping: crate::core::metrics::Mapping,
}

impl ScrapeTarget {
    /// Prepares a target from the config.
    pub fn from_config(t: &crate::config::MetricsTarget) -> ScrapeTarget {
        ScrapeTarget {
            name: t.name.to_string(),
            url: t.url.expose().to_string(),
            interval: t.interval.get(),
            timeout: t.timeout.get(),
            mapping: crate::core::metrics::Mapping {
                requests: t.requests.clone(),
                duration: t.duration.clone(),
                route_label: t.route_label.clone(),
                status_label: t.status_label.clone(),
            },
        }
    }
}

/// What one scrape of a target found.
#[derive(Debug, Clone)]
pub struct ScrapeObservation {
    /// When the scrape started.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Per-route figures since the previous scrape (`None` on the first scrape).
    pub routes: Option<Vec<crate::core::metrics::RouteView>>,
    /// Counter resets and vanished series since the previous scrape.
    pub changes: crate::core::metrics::Changes,
    /// Samples parsed.
    pub samples: usize,
    /// Malformed lines, dropped series, missing metrics.
    pub warnings: Vec<String>,
    /// How long the scrape took.
    pub took: Duration,
}

/// A scrape result for target `target` (index into the target list).
#[derive(Debug, Clone)]
pub struct ScrapeEvent {
    /// Index of the target.
    pub target: usize,
    /// The observation, or why the target could not be scraped (target down).
    pub result: Result<Box<ScrapeObservation>, ScrapeError>,
}

/// Scrapes every target at its interval until `shutdown` turns true.
pub async fn run(
    targets: Vec<ScrapeTarget>,
    events: tokio::sync::mpsc::Sender<ScrapeEvent>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut loops = tokio::task::JoinSet::new();
    for (index, target) in targets.into_iter().enumerate() {
        loops.spawn(target_loop(index, target, events.clone(), shutdown.clone()));
    }
    // On shutdown a scrape in flight (or waiting for the large-exposition slot)
    // is abandoned, not awaited: stopping never takes a scrape timeout.
    let mut shutdown = shutdown;
    loop {
        tokio::select! {
            done = loops.join_next() => if done.is_none() { break },
            _ = shutdown.changed() => {
                loops.abort_all();
                while loops.join_next().await.is_some() {}
                break;
            }
        }
    }
}

async fn target_loop(
    index: usize,
    target: ScrapeTarget,
    events: tokio::sync::mpsc::Sender<ScrapeEvent>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let client = match client(target.timeout) {
        Ok(c) => c,
        Err(e) => {
            let _ = events
                .send(ScrapeEvent {
                    target: index,
                    result: Err(e),
                })
                .await;
            return;
        }
    };
    let mut tick = tokio::time::interval(target.interval.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut previous: Option<(crate::core::metrics::Snapshot, Instant)> = None;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        let at = crate::clock::now();
        let started = Instant::now();
        let result = match fetch(&client, &target.url, DEFAULT_MAX_BYTES).await {
            Err(mut e) => {
                e.message = format!(
                    "target `{}`: {}",
                    target.name,
                    e.message.replace(&target.url, "<url>")
                );
                Err(e)
            }
            Ok(fetched) => {
                let (expo, mut warnings) =
                    parse_capped(&fetched.text, fetched.format, DEFAULT_MAX_SERIES);
                warnings.extend(
                    expo.errors
                        .iter()
                        .take(20)
                        .map(|e| format!("line {}:{}: {}", e.line, e.column, e.message)),
                );
                if expo.malformed_lines > 20 {
                    warnings.push(format!(
                        "{} malformed lines in all (the first 20 above); check the exporter with `ic scrape <url>`",
                        expo.malformed_lines
                    ));
                }
                let snap = crate::core::metrics::snapshot(&expo, &target.mapping);
                if snap.requests.is_empty() {
                    warnings.push("no request counter series found".into());
                }
                let (routes, changes) = match &previous {
                    Some((prev, when)) => {
                        let (views, changes) = crate::core::metrics::deltas(
                            prev,
                            &snap,
                            started.duration_since(*when).as_secs_f64(),
                        );
                        (Some(views), changes)
                    }
                    None => (None, Default::default()),
                };
                let samples = expo.samples.len();
                previous = Some((snap, started));
                Ok(Box::new(ScrapeObservation {
                    at,
                    routes,
                    changes,
                    samples,
                    warnings,
                    took: fetched.took,
                }))
            }
        };
        if events
            .send(ScrapeEvent {
                target: index,
                result,
            })
            .await
            .is_err()
        {
            break;
        }
    }
}
