//! `ic scrape`: parse one exposition (URL, file or stdin) and print its counts
//! and a per-route table — requests, 5xx, 4xx and p50 / p95 / p99 from the
//! cumulative buckets — or the same as one JSON object.

use super::{EXIT_FINDINGS, EXIT_OK, UsageError};
use crate::cli::ScrapeArgs;
use crate::core::exposition::{Exposition, Format};
use crate::core::metrics::{self, Mapping, RouteView};
use crate::core::text;
use crate::source::scrape;
use serde_json::json;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;

/// Largest file or standard input read.
const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;

pub(super) async fn run(args: ScrapeArgs) -> anyhow::Result<u8> {
    let (text, format) = match read_source(&args).await {
        Ok(x) => x,
        Err(Failure::Usage(e)) => return Err(e.into()),
        Err(Failure::Target(e)) => {
            let said = unreachable(&args.source, &e, args.timeout);
            if args.json {
                out!(
                    "{}",
                    json!({"error": said, "class": e.class, "detail": e.message})
                );
            } else {
                eprintln!("error: {}", text::escape(&said));
            }
            return Ok(EXIT_FINDINGS);
        }
    };
    let (expo, mut warnings) = scrape::parse_capped(&text, format, args.max_series);
    if args.strict
        && let Some(first) = expo.errors.first()
    {
        return Err(UsageError(format!(
            "{}:{}:{}: {} ({} malformed lines in all; drop --strict to skip them)",
            args.source, first.line, first.column, first.message, expo.malformed_lines
        ))
        .into());
    }
    warnings.extend(
        expo.errors
            .iter()
            .take(100)
            .map(|e| format!("{}:{}: {}", e.line, e.column, e.message)),
    );
    if expo.malformed_lines > 100 {
        warnings.push(format!(
            "… and {} more malformed lines",
            expo.malformed_lines - 100
        ));
    }
    let mapping = Mapping {
        requests: args.requests.clone(),
        duration: args.duration.clone(),
        route_label: args.route_label.clone(),
        status_label: args.status_label.clone(),
    };
    let snap = metrics::snapshot(&expo, &mapping);
    if let Some(r) = &snap.resolved {
        if r.requests.is_none() {
            warnings.push(
                "no request counter found (looked for *_requests_total; set --requests)".into(),
            );
        }
        if r.duration.is_none() {
            warnings.push(
                "no latency histogram found (looked for *_duration_seconds_bucket; set --duration)"
                    .into(),
            );
        }
        if r.route_label.is_none() && r.requests.is_some() {
            warnings.push("no route label found (tried route, handler, path, uri, endpoint; set --route-label)".into());
        }
    }
    let routes = metrics::totals(&snap);
    let series = count_series(&expo);
    let families = count_families(&expo);
    if args.json {
        let out = json!({
            "samples": expo.samples.len(),
            "families": families,
            "series": series,
            "warnings": warnings,
            "routes": routes.iter().map(|r| json!({
                "route": r.route,
                "requests": r.requests,
                "errors_5xx": r.errors_5xx,
                "errors_4xx": r.errors_4xx,
                "p50": r.p50,
                "p95": r.p95,
                "p99": r.p99,
            })).collect::<Vec<_>>(),
        });
        out!("{out}");
    } else {
        print_table(&args.source, &expo, families, series, &routes, &warnings);
    }
    Ok(EXIT_OK)
}

/// One sentence for a scrape that got no exposition: the URL, what happened
/// (from the failure's class and the error's own words) and what to do.
fn unreachable(url: &str, e: &scrape::ScrapeError, timeout: std::time::Duration) -> String {
    let lower = e.message.to_ascii_lowercase();
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(match u.port_or_known_default() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_else(|| url.to_string());
    let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    use crate::core::sample::FailureClass as C;
    let (what, todo) = match e.class {
        C::Dns => (
            format!("the host name `{name}` does not resolve (DNS)"),
            "check the host's spelling, or your resolver or VPN".to_string(),
        ),
        C::Connect if lower.contains("refused") => (
            format!("the connection to {host} was refused: nothing listens there"),
            "check that the exporter is running and that the port is right".to_string(),
        ),
        C::Connect if lower.contains("unreachable") || lower.contains("no route") => (
            format!("the network cannot reach {host}"),
            "check the address, your network and any firewall between".to_string(),
        ),
        C::Connect if lower.contains("reset") => (
            format!("{host} reset the connection"),
            "check that the port serves HTTP and that a proxy is not in the way".to_string(),
        ),
        C::Connect => (
            format!("could not connect to {host}"),
            "check the address, that the exporter runs, and the network between".to_string(),
        ),
        C::Timeout => (
            format!(
                "no complete answer within {}",
                crate::core::units::format_duration(timeout)
            ),
            "check that the host is reachable (a firewall that drops packets looks like this), or give it longer with --timeout".to_string(),
        ),
        C::Tls => (
            "the TLS handshake failed".to_string(),
            "check the certificate (trusted, not expired, issued for this name), or scrape over http if the exporter has no TLS".to_string(),
        ),
        C::Auth => (
            "it answered that access is denied (HTTP 401/403)".to_string(),
            "the exporter wants credentials: scrape it through a config with the right headers (`ic check`/`ic watch`), or from a file saved with curl".to_string(),
        ),
        C::BodyTooLarge => (
            "the exposition is larger than ic reads".to_string(),
            "check that this is a /metrics URL, or save it to a file and use --max-series".to_string(),
        ),
        _ => (
            "it did not answer with an exposition".to_string(),
            "check that the URL is the exporter's /metrics".to_string(),
        ),
    };
    // The error's own words after the URL, for what the sentence leaves out (the status, the certificate's complaint).
    let detail = e
        .message
        .strip_prefix(url)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(&e.message);
    let detail = detail.rsplit(": ").next().unwrap_or(detail);
    let said_enough = matches!(e.class, C::Dns | C::Connect | C::Timeout | C::BodyTooLarge);
    if said_enough || detail.is_empty() {
        format!("cannot scrape {url}: {what}; {todo}")
    } else {
        format!("cannot scrape {url}: {what} ({detail}); {todo}")
    }
}

enum Failure {
    Usage(UsageError),
    Target(scrape::ScrapeError),
}

async fn read_source(args: &ScrapeArgs) -> Result<(String, Format), Failure> {
    let src = args.source.as_str();
    if src.starts_with("http://") || src.starts_with("https://") {
        let client = scrape::client(args.timeout).map_err(Failure::Target)?;
        let fetched = scrape::fetch(&client, src, scrape::DEFAULT_MAX_BYTES)
            .await
            .map_err(Failure::Target)?;
        return Ok((fetched.text, fetched.format));
    }
    let mut bytes = Vec::new();
    let read = if src == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(src).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| Failure::Usage(UsageError(format!("{src}: cannot read: {e}"))))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Failure::Usage(UsageError(format!(
            "{src}: larger than 1 GiB; refusing to parse it"
        ))));
    }
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    // A file is OpenMetrics when it ends with `# EOF`.
    let format = if text.trim_end().ends_with("# EOF") {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    Ok((text, format))
}

/// Distinct series: name plus label set.
fn count_series(expo: &Exposition<'_>) -> usize {
    let state = rustc_hash::FxBuildHasher;
    let mut seen = HashSet::with_capacity_and_hasher(expo.samples.len(), rustc_hash::FxBuildHasher);
    for s in &expo.samples {
        let mut h = state.build_hasher();
        h.write(s.name.as_bytes());
        for l in expo.labels(s) {
            h.write_u8(0xff);
            h.write(l.name.as_bytes());
            h.write_u8(b'=');
            h.write(l.raw().as_bytes());
        }
        seen.insert(h.finish());
    }
    seen.len()
}

/// Families: the declared ones plus undeclared metric names.
fn count_families(expo: &Exposition<'_>) -> usize {
    let mut undeclared = HashSet::new();
    for s in &expo.samples {
        if expo.family_of(s).is_none() {
            undeclared.insert(s.name);
        }
    }
    expo.families.len() + undeclared.len()
}

fn secs(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s.is_infinite() => "inf".into(),
        Some(s) if s < 1.0 => format!("{:.1}ms", s * 1000.0),
        Some(s) => format!("{s:.2}s"),
    }
}

fn print_table(
    source: &str,
    expo: &Exposition<'_>,
    families: usize,
    series: usize,
    routes: &[RouteView],
    warnings: &[String],
) {
    out!(
        "{source}: {} samples, {families} families, {series} series, {} malformed lines skipped",
        expo.samples.len(),
        expo.malformed_lines
    );
    if !routes.is_empty() {
        // Labels come from the exposition: escaped, and padded without a format
        // width (which panics past 65,535).
        let labels: Vec<_> = routes.iter().map(|r| text::escape(&r.route)).collect();
        let w = labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        out!(
            "{}  {:>12}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}",
            text::pad_right("ROUTE", w),
            "REQUESTS",
            "5XX",
            "4XX",
            "P50",
            "P95",
            "P99"
        );
        for (r, label) in routes.iter().zip(&labels) {
            out!(
                "{}  {:>12}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}",
                text::pad_right(label, w),
                r.requests,
                r.errors_5xx,
                r.errors_4xx,
                secs(r.p50),
                secs(r.p95),
                secs(r.p99)
            );
        }
    }
    for w in warnings {
        out!("warning: {w}");
    }
}
