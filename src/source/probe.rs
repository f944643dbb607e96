//! One HTTP probe with true phase timings: our own DNS lookup, TCP connect and
//! TLS handshake (rustls), then HTTP/1.1 over hyper — each timed on the
//! monotonic clock — with a hard timeout, a body cap, a redirect limit, and the
//! leaf certificate's expiry. The verdict comes from the pure diagnostic ladder
//! in `core::sample`.
//!
//! Redirects are followed like curl and browsers do, and stricter: the
//! configured headers go only to the configured origin (scheme, host and
//! port) — after a hop to another origin they are not sent again in that
//! probe —, a body is never re-sent to another origin (that redirect is
//! refused), only `http` and `https` locations are followed, and https → http
//! only when the endpoint sets `follow_insecure_redirects`. The sample lists
//! where the probe was sent.

use crate::config::{Config, Endpoint};
use crate::core::sample::{
    self, Exemplar, Expectations, Observation, Phases, ProbeSample, TransportFailure,
};
use crate::core::units::format_duration;
use crate::source::tls;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

/// Default response body cap.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Default redirect limit.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

/// Why an endpoint cannot be probed as configured.
#[derive(Debug, thiserror::Error)]
#[error("endpoint `{endpoint}`: {reason}")]
pub struct ProbeSetupError {
    /// The endpoint's name.
    pub endpoint: String,
    /// What is wrong.
    pub reason: String,
}

/// Everything needed to probe one endpoint, prepared once.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// Endpoint name.
    pub name: String,
    /// URL to request, without userinfo (may carry secrets; never displayed).
    pub url: Url,
    /// URL as written in the config, its userinfo password hidden (safe to display).
    pub url_display: String,
    /// Method.
    pub method: hyper::Method,
    /// Extra request headers: the configured ones, and basic auth from the URL's
    /// userinfo (sent to the configured origin only).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Request body.
    pub body: Bytes,
    /// Probe interval.
    pub interval: Duration,
    /// Probe timeout.
    pub timeout: Duration,
    /// What a good answer looks like.
    pub expect: Expectations,
    /// TLS settings.
    pub tls: Arc<rustls::ClientConfig>,
    /// Whether certificate checks are off (flagged on screen).
    pub insecure: bool,
    /// Body cap in bytes.
    pub max_body: usize,
    /// Redirect limit.
    pub max_redirects: usize,
    /// Follow a redirect from https to http (`follow_insecure_redirects`).
    pub follow_insecure_redirects: bool,
    /// Values to redact from exemplars.
    pub secrets: Arc<Vec<String>>,
    /// Keep the connection open between probes (then connect and TLS are timed only when it is new).
    pub reuse_connections: bool,
    /// The kept connection.
    pool: ConnectionSlot,
}

impl ProbeTarget {
    /// Prepares an endpoint from the config. A config from [`Config::parse`]
    /// was validated with the same checks, so this fails only on one built or
    /// changed by hand.
    pub fn from_config(ep: &Endpoint, config: &Config) -> Result<ProbeTarget, ProbeSetupError> {
        let bad = |reason: String| ProbeSetupError {
            endpoint: ep.name.to_string(),
            reason,
        };
        let mut headers = Vec::new();
        for (k, v) in &ep.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| bad(format!("`{k}` is not a valid header name")))?;
            let mut value = HeaderValue::from_str(v.expose()).map_err(|_| {
                bad(format!(
                    "the value of header `{k}` has characters a header cannot carry"
                ))
            })?;
            // Configured values may be secrets: `Debug` shows `Sensitive`.
            value.set_sensitive(true);
            headers.push((name, value));
        }
        if let Some(basic) = ep.url.basic_auth() {
            let mut value = HeaderValue::from_str(basic)
                .map_err(|_| bad("the URL's credentials cannot be sent as basic auth".into()))?;
            value.set_sensitive(true);
            headers.push((hyper::header::AUTHORIZATION, value));
        }
        let tls = tls::client_config(ep.tls.ca_file.as_deref(), ep.tls.insecure)
            .map_err(|e| bad(e.to_string()))?;
        Ok(ProbeTarget {
            name: ep.name.to_string(),
            url: ep.url.without_userinfo(),
            url_display: ep.url.display(),
            method: hyper::Method::from_bytes(ep.method.as_str().as_bytes())
                .unwrap_or(hyper::Method::GET),
            headers,
            body: ep
                .body
                .as_ref()
                .map(|b| Bytes::from(b.expose().to_string()))
                .unwrap_or_default(),
            interval: ep.interval(&config.poll),
            timeout: ep.timeout(&config.poll),
            expect: ep.expect.expectations(),
            tls,
            insecure: ep.tls.insecure,
            max_body: DEFAULT_MAX_BODY,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            follow_insecure_redirects: ep.follow_insecure_redirects,
            secrets: Arc::new(config.secrets().to_vec()),
            reuse_connections: ep
                .reuse_connections
                .unwrap_or(config.poll.reuse_connections),
            pool: ConnectionSlot::default(),
        })
    }
}

/// Where a probe got to: phases so far, what came back, and the stage it is in.
#[derive(Debug, Default)]
struct Progress {
    phases: Phases,
    stage: &'static str,
    status: Option<u16>,
    headers: String,
    body: Vec<u8>,
    bytes: u64,
    cert_days_left: Option<f64>,
    retry_after: Option<Duration>,
    redirects: Vec<String>,
}

/// Aborts the connection driver when the probe ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Probes `target` once. `at` is the wall-clock start to record; latencies use the monotonic clock.
pub async fn probe(target: &ProbeTarget, at: DateTime<Utc>) -> ProbeSample {
    let started = Instant::now();
    let mut progress = Progress {
        stage: "resolving the name",
        ..Progress::default()
    };
    let result = tokio::time::timeout(target.timeout, run(target, at, &mut progress)).await;
    let latency = started.elapsed();
    let transport = match result {
        Ok(Ok(())) => None,
        Ok(Err(f)) => Some(f),
        Err(_) => Some(TransportFailure::Timeout(format!(
            "no complete answer within {} (stopped while {}{})",
            format_duration(target.timeout),
            progress.stage,
            if progress.bytes > 0 {
                format!(", {} body bytes read", progress.bytes)
            } else {
                String::new()
            }
        ))),
    };
    let obs = Observation {
        transport,
        status: progress.status,
        latency,
        body: &progress.body,
        cert_days_left: progress.cert_days_left,
    };
    let verdict = sample::judge(&obs, &target.expect);
    let exemplar = (!verdict.class.is_ok()).then(|| Exemplar {
        at,
        class: verdict.class,
        status: progress.status,
        error: verdict
            .error
            .as_ref()
            .map(|e| sample::redact(e, &target.secrets)),
        body: sample::exemplar_body(&progress.body, &target.secrets),
        headers: progress.headers.clone(),
        phases: progress.phases,
    });
    ProbeSample {
        at,
        status: progress.status,
        latency,
        phases: progress.phases,
        bytes: progress.bytes,
        cert_days_left: progress.cert_days_left,
        retry_after: progress.retry_after,
        class: verdict.class,
        error: verdict.error.map(|e| sample::redact(&e, &target.secrets)),
        warnings: verdict.warnings,
        lateness: Duration::ZERO,
        exemplar,
        redirects: progress.redirects,
    }
}

async fn run(
    target: &ProbeTarget,
    at: DateTime<Utc>,
    p: &mut Progress,
) -> Result<(), TransportFailure> {
    let mut url = target.url.clone();
    let mut method = target.method.clone();
    let mut body = target.body.clone();
    let origin = target.url.origin();
    // Whether every hop so far stayed on the configured origin: only then are
    // the configured headers sent.
    let mut at_home = true;
    for hop in 0..=target.max_redirects {
        *p = Progress {
            stage: "resolving the name",
            cert_days_left: p.cert_days_left,
            redirects: std::mem::take(&mut p.redirects),
            ..Progress::default()
        };
        let exchange = request_once(target, &url, &method, body.clone(), at_home, at, p).await?;
        let status = exchange.response.status();
        let location = exchange
            .response
            .headers()
            .get(hyper::header::LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if let (true, Some(loc)) = (status.is_redirection(), location) {
            if hop == target.max_redirects {
                return Err(TransportFailure::Redirect(format!(
                    "more than {} redirects (redirect loop?); the last pointed to {}",
                    target.max_redirects,
                    shown(&loc, target)
                )));
            }
            let next = url.join(&loc).map_err(|e| {
                TransportFailure::Redirect(format!(
                    "redirected ({}) to an invalid location {}: {e}",
                    status.as_u16(),
                    shown(&loc, target)
                ))
            })?;
            if status == hyper::StatusCode::SEE_OTHER
                || (matches!(status.as_u16(), 301 | 302) && method == hyper::Method::POST)
            {
                method = hyper::Method::GET;
                body = Bytes::new();
            }
            follow_or_refuse(target, &url, &next, status, !body.is_empty())?;
            at_home &= next.origin() == origin;
            p.redirects.push(shown_url(&next, target));
            url = next;
            continue;
        }
        return read_body(exchange, target, p).await;
    }
    Ok(())
}

/// Refuses a redirect from `from` to `to` that would leave http(s), go from
/// https to http without `follow_insecure_redirects`, or re-send a body
/// (`with_body`) to another origin than the configured one.
fn follow_or_refuse(
    target: &ProbeTarget,
    from: &Url,
    to: &Url,
    status: hyper::StatusCode,
    with_body: bool,
) -> Result<(), TransportFailure> {
    let (code, to_shown) = (status.as_u16(), shown_url(to, target));
    let refuse = |why: String| Err(TransportFailure::Redirect(why));
    if !matches!(to.scheme(), "http" | "https") {
        return refuse(format!(
            "redirected ({code}) to {to_shown}: not followed, only http and https locations are"
        ));
    }
    if from.scheme() == "https" && to.scheme() == "http" && !target.follow_insecure_redirects {
        return refuse(format!(
            "redirected ({code}) from https to http ({to_shown}): not followed, the request would \
             leave TLS; probe that URL directly, or set follow_insecure_redirects: true on endpoint \
             `{}` (headers and body are still never sent to another origin)",
            target.name
        ));
    }
    if with_body && to.origin() != target.url.origin() {
        return refuse(format!(
            "redirected ({code}) to another origin ({to_shown}), which would re-send the request \
             body: not followed, an endpoint's body goes to its own origin only; probe that URL directly"
        ));
    }
    Ok(())
}

/// A URL from a redirect as a sample shows it: without userinfo, secrets
/// redacted, at most [`sample::REDIRECT_URL_BYTES`].
fn shown_url(url: &Url, target: &ProbeTarget) -> String {
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    shown(bare.as_str(), target)
}

/// Text from a `Location` as a sample shows it: secrets redacted, cut to
/// [`sample::REDIRECT_URL_BYTES`] (after redacting, so no part of a secret survives the cut).
fn shown(text: &str, target: &ProbeTarget) -> String {
    let mut out = sample::redact(text, &target.secrets);
    if out.len() > sample::REDIRECT_URL_BYTES {
        let mut cut = sample::REDIRECT_URL_BYTES - '…'.len_utf8();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Sends one request to `url`; the configured headers only when `at_home`
/// (every hop so far stayed on the configured origin).
async fn request_once(
    target: &ProbeTarget,
    url: &Url,
    method: &hyper::Method,
    body: Bytes,
    at_home: bool,
    at: DateTime<Utc>,
    p: &mut Progress,
) -> Result<Exchange, TransportFailure> {
    let host = url.host_str().unwrap_or_default().to_string();
    let https = url.scheme() == "https";
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });

    let key = format!("{}://{host}:{port}", url.scheme());
    let pooled = target
        .reuse_connections
        .then(|| lock(&target.pool).take())
        .flatten()
        .filter(|c| c.key == key && c.sender.is_ready());
    let mut conn = match pooled {
        Some(c) => {
            p.cert_days_left = c.cert_days_left;
            c
        }
        None => open(target, url, &host, port, key, at, p).await?,
    };

    p.stage = "waiting for the first byte";
    let mut req = hyper::Request::builder()
        .method(method.clone())
        .uri(path_and_query(url));
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    req = req
        .header(hyper::header::HOST, host_header)
        .header(
            hyper::header::USER_AGENT,
            concat!("incident-commander/", env!("CARGO_PKG_VERSION"), " (probe)"),
        )
        .header(hyper::header::ACCEPT_ENCODING, "identity")
        .header(
            hyper::header::CONNECTION,
            if target.reuse_connections {
                "keep-alive"
            } else {
                "close"
            },
        );
    if at_home {
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| TransportFailure::Connect(format!("could not build the request: {e}")))?;
    let t = Instant::now();
    let response = conn.sender.send_request(req).await.map_err(|e| {
        if e.is_parse() || e.is_parse_status() {
            TransportFailure::Protocol(format!(
                "the answer is not HTTP/1.1 (a proxy, a TLS port, or not an HTTP server?): {}",
                hyper_message(&e)
            ))
        } else {
            TransportFailure::Connect(format!(
                "connection failed before an answer arrived: {}",
                hyper_message(&e)
            ))
        }
    })?;
    p.phases.ttfb = Some(t.elapsed());
    p.status = Some(response.status().as_u16());
    p.headers = sample::exemplar_headers(
        response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes())),
        &target.secrets,
    );
    if response.status() == hyper::StatusCode::TOO_MANY_REQUESTS {
        p.retry_after = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| sample::parse_retry_after(v, crate::clock::wall()));
    }
    Ok(Exchange { response, conn })
}

/// Resolves, connects and (for https) shakes hands: a fresh connection, every phase timed.
async fn open(
    target: &ProbeTarget,
    url: &Url,
    host: &str,
    port: u16,
    key: String,
    at: DateTime<Utc>,
    p: &mut Progress,
) -> Result<Conn, TransportFailure> {
    let https = url.scheme() == "https";
    p.stage = "resolving the name";
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::from((ip, port))],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::from((ip, port))],
        _ => {
            let t = Instant::now();
            let found = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| TransportFailure::Dns(format!("could not resolve {host}: {e}")))?
                .collect::<Vec<_>>();
            p.phases.dns = Some(t.elapsed());
            if found.is_empty() {
                return Err(TransportFailure::Dns(format!("{host} has no addresses")));
            }
            found
        }
    };

    p.stage = "connecting";
    let t = Instant::now();
    let mut last_err = None;
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = Some((addr, e)),
        }
    }
    let stream = match (stream, last_err) {
        (Some(s), _) => s,
        (None, Some((addr, e))) => {
            return Err(TransportFailure::Connect(connect_message(*addr, &e)));
        }
        (None, None) => {
            return Err(TransportFailure::Connect(format!(
                "no address to connect to for {host}"
            )));
        }
    };
    p.phases.connect = Some(t.elapsed());
    let _ = stream.set_nodelay(true);

    let (sender, driver) = if https {
        p.stage = "in the TLS handshake";
        let t = Instant::now();
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| {
            TransportFailure::Tls(format!("`{host}` is not a valid TLS server name"))
        })?;
        let tls_stream = TlsConnector::from(target.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| TransportFailure::Tls(tls_message(&e, host)))?;
        p.phases.tls = Some(t.elapsed());
        let (_, session) = tls_stream.get_ref();
        p.cert_days_left = session
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|leaf| tls::days_left(leaf, at.timestamp()));
        handshake(tls_stream).await?
    } else {
        handshake(stream).await?
    };
    Ok(Conn {
        key,
        sender,
        _driver: driver,
        cert_days_left: p.cert_days_left,
    })
}

/// A response with what keeps its connection alive; dropping it (for example on
/// timeout) stops the connection driver.
struct Exchange {
    response: hyper::Response<hyper::body::Incoming>,
    conn: Conn,
}

/// An open HTTP/1.1 connection and the task driving it (aborted when dropped).
struct Conn {
    /// `scheme://host:port`, to reuse it only for the same origin.
    key: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    _driver: AbortOnDrop,
    cert_days_left: Option<f64>,
}

/// The connection kept between probes when `reuse_connections` is on.
type ConnectionSlot = Arc<Mutex<Option<Conn>>>;

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Conn({})", self.key)
    }
}

fn lock(slot: &ConnectionSlot) -> std::sync::MutexGuard<'_, Option<Conn>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

async fn handshake<S>(
    io: S,
) -> Result<
    (
        hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        AbortOnDrop,
    ),
    TransportFailure,
>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(|e| {
            TransportFailure::Connect(format!("HTTP handshake failed: {}", hyper_message(&e)))
        })?;
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, AbortOnDrop(task)))
}

async fn read_body(
    exchange: Exchange,
    target: &ProbeTarget,
    p: &mut Progress,
) -> Result<(), TransportFailure> {
    p.stage = "reading the body";
    let t = Instant::now();
    let Exchange { response, conn } = exchange;
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            TransportFailure::Connect(format!(
                "connection failed while reading the body after {} bytes: {}",
                p.bytes,
                hyper_message(&e)
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            p.bytes += data.len() as u64;
            let room = target.max_body.saturating_sub(p.body.len());
            p.body.extend_from_slice(&data[..data.len().min(room)]);
            if p.bytes > target.max_body as u64 {
                p.phases.transfer = Some(t.elapsed());
                return Err(TransportFailure::BodyTooLarge(format!(
                    "body larger than the {} KiB cap; stopped reading",
                    target.max_body / 1024
                )));
            }
        }
    }
    p.phases.transfer = Some(t.elapsed());
    if target.reuse_connections {
        *lock(&target.pool) = Some(conn);
    }
    Ok(())
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn connect_message(addr: SocketAddr, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => format!("connection refused by {addr} (nothing listening?)"),
        K::ConnectionReset => format!("connection reset by {addr}"),
        K::HostUnreachable | K::NetworkUnreachable => format!("{addr} is unreachable: {e}"),
        _ => format!("could not connect to {addr}: {e}"),
    }
}

fn tls_message(e: &std::io::Error, host: &str) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(r) => tls::explain(r, host),
        None => format!("TLS handshake with {host} failed: {e}"),
    }
}

fn hyper_message(e: &hyper::Error) -> String {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
