//! Fetching a `/metrics` exposition: timeout, gzip, a size cap (default 20 MiB)
//! and a series cap (default 200k: beyond it a warning and the rest dropped). A
//! failed scrape is itself an observation, classed with the probe ladder.

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

/// A fetched exposition.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The text.
    pub text: String,
    /// Its format, from the `Content-Type`.
    pub format: Format,
    /// How long the scrape took.
    pub took: Duration,
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
    let mut body = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e, url))? {
        if body.len() + chunk.len() > max_bytes {
            return Err(fail(
                FailureClass::BodyTooLarge,
                format!(
                    "exposition larger than {} MiB; stopped reading",
                    max_bytes / (1024 * 1024)
                ),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok(Fetched {
        text,
        format,
        took: started.elapsed(),
    })
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
    let mut expo = exposition::parse(text, format);
    let mut warnings = Vec::new();
    if expo.samples.len() > max_series {
        warnings.push(format!(
            "{} series, more than the {max_series} kept: the rest were dropped",
            expo.samples.len()
        ));
        expo.samples.truncate(max_series);
    }
    (expo, warnings)
}
