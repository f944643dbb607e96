//! Fetching a `/metrics` exposition: timeout, gzip, a size cap (default 20 MiB)
//! and a series cap (default 200k: beyond it a warning and the rest dropped). A
//! failed scrape is itself an observation, classed with the probe ladder.
//!
//! Memory stays bounded however many targets turn hostile at once: an
//! exposition past 1 MiB is read and parsed only while holding the process's
//! one large-exposition slot (small ones never wait), so at most one 20 MiB
//! body and its parse are in memory, not one per target. Between scrapes a
//! target keeps at most [`MAX_ROUTES`] routes and [`MAX_SNAPSHOT_SERIES`]
//! series (the rest counted, with a warning), so each target costs a bounded
//! amount whatever it serves.
//!
//! A hostile target costs only itself: waiting for the slot never counts
//! against a target's own timeout (the scrape loop keeps its own deadline,
//! moved on by the time spent waiting), and parsing runs on a blocking thread,
//! never on the async workers that carry the other targets' scrapes.

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

/// Most routes of one target kept between scrapes (and shown as rows).
pub const MAX_ROUTES: usize = 100;
/// Most request-counter and bucket series of one target kept between scrapes.
pub const MAX_SNAPSHOT_SERIES: usize = 20_000;

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
    /// How much of it was spent waiting for the large-exposition slot.
    pub waited: Duration,
    /// The large-exposition slot, held until the text (and what is parsed from it) is dropped.
    _large: Option<std::sync::Arc<tokio::sync::SemaphorePermit<'static>>>,
}

/// An HTTP client for scrapes and query APIs (rustls with ring, gzip) whose
/// every request ends within `timeout`.
pub fn client(timeout: Duration) -> Result<reqwest::Client, ScrapeError> {
    build_client(Some(timeout), timeout, &[])
}

/// A client with an optional whole-request timeout (the scrape loop keeps its
/// own deadline instead, see [`fetch_within`]).
///
/// With `headers` (the target's configured ones, often credentials) they go
/// with every request, and a redirect is followed only within the URL's
/// origin (scheme, host and port): a redirect elsewhere is refused, so they
/// are never sent there, as the probe and curl decide.
fn build_client(
    total: Option<Duration>,
    connect: Duration,
    headers: &[(String, String)],
) -> Result<reqwest::Client, ScrapeError> {
    let tls = tls::client_config(None, false).map_err(|e| ScrapeError {
        class: FailureClass::Tls,
        message: e.to_string(),
    })?;
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        let bad = |what: &str| ScrapeError {
            class: FailureClass::Connect,
            message: format!("the configured header {what} cannot be sent; fix it in ic.yaml"),
        };
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| bad(&format!("name `{k}`")))?;
        let mut value = reqwest::header::HeaderValue::from_str(v)
            .map_err(|_| bad(&format!("`{k}`'s value")))?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    let redirects = if headers.is_empty() {
        reqwest::redirect::Policy::limited(5)
    } else {
        reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(url::Url::origin);
            if first.is_some_and(|o| o != attempt.url().origin()) {
                let to = attempt.url().origin().ascii_serialization();
                attempt.error(format!(
                    "redirected to another origin ({to}): not followed, so the configured headers never go there; scrape the final URL directly"
                ))
            } else if attempt.previous().len() > 5 {
                attempt.error("more than 5 redirects")
            } else {
                attempt.follow()
            }
        })
    };
    let builder = reqwest::Client::builder()
        .connect_timeout(connect)
        .default_headers(map);
    let builder = match total {
        Some(t) => builder.timeout(t),
        None => builder,
    };
    builder
        .tls_backend_preconfigured((*tls).clone())
        .redirect(redirects)
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

/// Fetches `url`, asking for OpenMetrics or text, reading at most `max_bytes`
/// (within the client's own timeout).
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<Fetched, ScrapeError> {
    fetch_within(client, url, max_bytes, None).await
}

/// [`fetch`] that must end within `timeout` (when given) of its own time: the
/// time spent waiting for the large-exposition slot is not counted.
pub async fn fetch_within(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
    timeout: Option<Duration>,
) -> Result<Fetched, ScrapeError> {
    let started = Instant::now();
    let fail = |class, message: String| ScrapeError {
        class,
        message: format!("{url}: {message}"),
    };
    // The deadline, moved on by every wait for the slot.
    let mut deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let timed_out = |waited: Duration| {
        let mut message = format!(
            "no complete answer within {}",
            crate::core::units::format_duration(timeout.unwrap_or_default())
        );
        if !waited.is_zero() {
            message.push_str(&format!(
                " (not counting {} waiting for another large exposition to be read first)",
                crate::core::units::format_duration(waited)
            ));
        }
        fail(FailureClass::Timeout, message)
    };
    let request = client
        .get(url)
        .header(
            reqwest::header::ACCEPT,
            "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )
        .send();
    let resp = match deadline {
        Some(d) => tokio::time::timeout_at(d, request)
            .await
            .map_err(|_| timed_out(Duration::ZERO))?,
        None => request.await,
    }
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
        let w;
        (large, w) = large_slot().await;
        waited += w;
        deadline = deadline.map(|d| d + w);
    }
    let mut body = Vec::with_capacity(announced as usize);
    let mut resp = resp;
    loop {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, resp.chunk()).await {
                Ok(next) => next,
                Err(_) => return Err(timed_out(waited)),
            },
            None => resp.chunk().await,
        };
        let chunk = match next {
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
            let w;
            (large, w) = large_slot().await;
            waited += w;
            deadline = deadline.map(|d| d + w);
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
        waited,
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
    /// Headers sent with every scrape (values may be secrets; never displayed).
    pub headers: Vec<(String, String)>,
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
            headers: t
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
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
    /// On the first scrape only: each route's figures over the counters'
    /// lifetime (since the exporter started), the baselines a cold start has;
    /// `rate` is set when the exposition has `process_start_time_seconds`.
    pub lifetime: Option<Vec<crate::core::metrics::RouteView>>,
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
    // No whole-request timeout in the client: `fetch_within` keeps the deadline,
    // without the time spent waiting for the large-exposition slot.
    let client = match build_client(None, target.timeout, &target.headers) {
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
        let fetched = fetch_within(
            &client,
            &target.url,
            DEFAULT_MAX_BYTES,
            Some(target.timeout),
        )
        .await;
        let result = match fetched {
            Err(e) => Err(e),
            Ok(fetched) => {
                // Parsing a large exposition takes a while: on a blocking thread, so
                // the other targets' scrapes and the probes are never held up.
                let prev = previous.take();
                let mapping = target.mapping.clone();
                let job = tokio::task::spawn_blocking(move || {
                    observe(fetched, &mapping, prev, started, at)
                });
                match job.await {
                    Ok((obs, snap)) => {
                        previous = Some((snap, started));
                        Ok(obs)
                    }
                    Err(e) => Err(ScrapeError {
                        class: FailureClass::BodyMismatch,
                        message: format!("the exposition could not be read: {e}"),
                    }),
                }
            }
        };
        let result = result.map_err(|mut e| {
            e.message = format!(
                "target `{}`: {}",
                target.name,
                e.message.replace(&target.url, "<url>")
            );
            e
        });
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

/// Parses one fetched exposition against the previous snapshot: the
/// observation, and the (capped) snapshot to keep for the next scrape. The
/// fetched text (and the large-exposition slot with it) is dropped on return.
fn observe(
    fetched: Fetched,
    mapping: &crate::core::metrics::Mapping,
    previous: Option<(crate::core::metrics::Snapshot, Instant)>,
    started: Instant,
    at: chrono::DateTime<chrono::Utc>,
) -> (Box<ScrapeObservation>, crate::core::metrics::Snapshot) {
    let previous = previous
        .as_ref()
        .map(|(snap, when)| (snap, started.duration_since(*when).as_secs_f64()));
    let (mut obs, snap) = read(&fetched.text, fetched.format, mapping, previous, at);
    if fetched.waited >= Duration::from_secs(1) {
        obs.warnings.push(format!(
            "waited {} for another large exposition to be read first (not counted against the timeout)",
            crate::core::units::format_duration(fetched.waited)
        ));
    }
    obs.took = fetched.took;
    (obs, snap)
}

/// Reads one exposition scraped at `at` against the previous scrape's snapshot
/// (taken `seconds` before): the observation (`took` zero) and the capped
/// snapshot to keep for the next one. Pure, so `ic simulate` reads its
/// simulated exporter exactly as `ic watch` reads a real one.
pub fn read(
    text: &str,
    format: Format,
    mapping: &crate::core::metrics::Mapping,
    previous: Option<(&crate::core::metrics::Snapshot, f64)>,
    at: chrono::DateTime<chrono::Utc>,
) -> (Box<ScrapeObservation>, crate::core::metrics::Snapshot) {
    let (expo, mut warnings) = parse_capped(text, format, DEFAULT_MAX_SERIES);
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
    let (snap, dropped) =
        crate::core::metrics::snapshot_capped(&expo, mapping, MAX_ROUTES, MAX_SNAPSHOT_SERIES);
    if snap.requests.is_empty() {
        warnings.push("no request counter series found".into());
    }
    if dropped.routes > 0 {
        warnings.push(format!(
            "{} routes, more than the {MAX_ROUTES} kept per target: the rest were dropped",
            MAX_ROUTES + dropped.routes
        ));
    }
    if dropped.series > 0 {
        warnings.push(format!(
            "{} request and latency series past the {MAX_SNAPSHOT_SERIES} kept per target were dropped",
            dropped.series
        ));
    }
    // The exporter's age — when it has one start time (several processes
    // behind one exposition have several).
    let mut starts = expo
        .samples
        .iter()
        .filter(|s| s.name == "process_start_time_seconds");
    let age = match (starts.next(), starts.next()) {
        (Some(s), None) => Some(at.timestamp() as f64 - s.value),
        _ => None,
    }
    .filter(|age| age.is_finite() && *age >= 0.0);
    let (routes, changes) = match previous {
        Some((prev, seconds)) => {
            let (mut views, changes) = crate::core::metrics::deltas(prev, &snap, seconds);
            // Restarted since the previous scrape: the counts cover its age only
            // (what it counted before is lost), not the whole time since.
            if let Some(age) = age.filter(|a| *a < seconds).map(|a| a.max(1.0)) {
                for v in views.iter_mut() {
                    v.span = Some(age);
                    v.rate = Some(v.requests / age);
                }
            }
            (Some(views), changes)
        }
        None => (None, Default::default()),
    };
    let lifetime = previous.is_none().then(|| {
        let mut views = crate::core::metrics::totals(&snap);
        // Its age (a second at least) turns lifetime totals into rates.
        for v in views.iter_mut() {
            v.rate = age.filter(|a| *a >= 1.0).map(|age| v.requests / age);
        }
        views
    });
    let obs = Box::new(ScrapeObservation {
        at,
        routes,
        lifetime,
        changes,
        samples: expo.samples.len(),
        warnings,
        took: Duration::ZERO,
    });
    (obs, snap)
}
