//! The hostile HTTP server shared by the reliability tests: plain HTTP on
//! 127.0.0.1 with one path per hostile case (slowloris, header floods, huge and
//! binary bodies, gzip bombs, malformed HTTP, resets, an echo of our headers,
//! hostile `/metrics`, redirects anywhere, reflections of a secret
//! percent-encoded), a port that answers anything with a plain-HTTP 400 (for
//! `https://`), and one that reads a TLS ClientHello and never answers. A
//! second plain port serves the same cases from another origin, and a TLS port
//! (a self-signed certificate for `localhost`) serves redirects and `/headers`,
//! so tests can send a probe across origins and schemes; every request head is
//! recorded with the port it arrived on. Bodies are generated while streaming;
//! every connection task is counted until the client leaves, so a test can
//! check that nothing is left running.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One mebibyte.
pub const MIB: usize = 1024 * 1024;
/// The secret the `echo` endpoint reflects (sent in a header from `${IC_HOSTILE_SECRET}`).
pub const SECRET: &str = "hostile-s3cr3t-0123456789abcdefghij";
/// The environment variable a config reads [`SECRET`] from.
pub const SECRET_VAR: &str = "IC_HOSTILE_SECRET";
/// Where the echoed secret starts in the echo body: across the 200-byte exemplar cut.
pub const SECRET_AT: usize = 190;

/// A second secret, reflected by `/reflect-encoded` in percent- and
/// form-encoded forms: it has the characters encoding changes.
pub const ODD_SECRET: &str = "hunter/2 with:sp@ce+plus&more=yes";
/// The environment variable a config reads [`ODD_SECRET`] from.
pub const ODD_SECRET_VAR: &str = "IC_HOSTILE_ODD_SECRET";

/// What the server saw: open connections, hits and body bytes sent per path,
/// and every request head with the port it came in on.
#[derive(Default)]
pub struct Counters {
    pub open: AtomicUsize,
    pub hits: Mutex<HashMap<String, usize>>,
    pub sent: Mutex<HashMap<String, u64>>,
    pub heads: Mutex<Vec<Seen>>,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The port it arrived on ([`Hostile::port`], `other_port` or `tls_port`).
    pub port: u16,
    /// The request target (path and query).
    pub path: String,
    /// The whole request head.
    pub head: String,
}

/// Counts a connection as open until dropped.
pub struct Open(Arc<Counters>);
impl Open {
    pub fn new(c: &Arc<Counters>) -> Open {
        c.open.fetch_add(1, Ordering::SeqCst);
        Open(c.clone())
    }
}
impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The server: plain HTTP on `port` (one path per case), a port that answers
/// anything with a plain-HTTP 400 (for `https://`), and one that reads a TLS
/// ClientHello and never answers; the same cases on `other_port` (another
/// origin), and redirects and `/headers` over TLS on `tls_port`, whose
/// certificate `ca_pem` is.
pub struct Hostile {
    pub port: u16,
    pub plain_port: u16,
    pub stall_port: u16,
    pub other_port: u16,
    pub tls_port: u16,
    pub ca_pem: String,
    pub counters: Arc<Counters>,
}

/// The compressed streams, built once: one self-contained deflate block
/// repeated lazily to any length.
pub struct Bombs {
    pub zeros: GzipBomb,
    pub hashes: GzipBomb,
}

impl Hostile {
    pub async fn start() -> Hostile {
        let counters = Arc::new(Counters::default());
        let bombs = Arc::new(Bombs {
            zeros: GzipBomb::new(0, 100), // 100 MiB of zeros, ~100 KB on the wire
            hashes: GzipBomb::new(b'#', 1024), // 1 GiB of '#', ~1 MB on the wire
        });
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stall = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (acceptor, ca_pem) = tls_acceptor();
        let h = Hostile {
            port: http.local_addr().unwrap().port(),
            plain_port: plain.local_addr().unwrap().port(),
            stall_port: stall.local_addr().unwrap().port(),
            other_port: other.local_addr().unwrap().port(),
            tls_port: tls.local_addr().unwrap().port(),
            ca_pem,
            counters: counters.clone(),
        };
        for listener in [http, other] {
            let (c, bombs) = (counters.clone(), bombs.clone());
            tokio::spawn(async move {
                while let Ok((s, _)) = listener.accept().await {
                    tokio::spawn(handle(s, c.clone(), bombs.clone()));
                }
            });
        }
        let c = counters.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = tls.accept().await {
                tokio::spawn(handle_tls(s, acceptor.clone(), c.clone()));
            }
        });
        let c = counters.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = plain.accept().await {
                let open = Open::new(&c);
                tokio::spawn(async move {
                    let _open = open;
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        let c = counters;
        tokio::spawn(async move {
            while let Ok((mut s, _)) = stall.accept().await {
                let open = Open::new(&c);
                tokio::spawn(async move {
                    let _open = open;
                    until_client_leaves(&mut s, Duration::from_secs(120)).await;
                });
            }
        });
        h
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `path` on the second plain port: another origin.
    pub fn other_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.other_port)
    }

    /// `path` on the TLS port (the certificate is for `localhost`).
    pub fn tls_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.tls_port)
    }

    /// The request heads that arrived on `port`.
    pub fn heads_on(&self, port: u16) -> Vec<Seen> {
        lock(&self.counters.heads)
            .iter()
            .filter(|s| s.port == port)
            .cloned()
            .collect()
    }

    pub fn hits(&self, path: &str) -> usize {
        lock(&self.counters.hits).get(path).copied().unwrap_or(0)
    }

    pub fn sent(&self, path: &str) -> u64 {
        lock(&self.counters.sent).get(path).copied().unwrap_or(0)
    }

    /// Waits (polling, with a deadline) until every connection task has ended.
    pub async fn assert_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.counters.open.load(Ordering::SeqCst) > 0 {
            assert!(
                Instant::now() < deadline,
                "{} server tasks still running 10 s after their clients went away",
                self.counters.open.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads until the client closes (or `limit`), discarding what it sends.
pub async fn until_client_leaves(s: &mut TcpStream, limit: Duration) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(limit, async {
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Reads a request head (bounded); `None` when the client left first.
pub async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 64 * 1024 {
            return None;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A socket writer that counts the bytes that went out and says when the client is gone.
pub struct Out {
    pub s: TcpStream,
    pub sent: u64,
}

impl Out {
    pub async fn put(&mut self, bytes: &[u8]) -> bool {
        let ok = self.s.write_all(bytes).await.is_ok();
        if ok {
            self.sent += bytes.len() as u64;
        }
        ok
    }

    pub async fn respond(&mut self, status: &str, headers: &str, body: &[u8]) -> bool {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n",
            body.len()
        );
        self.put(head.as_bytes()).await && self.put(body).await
    }
}

pub static A_CHUNK: [u8; 64 * 1024] = [b'a'; 64 * 1024];

pub async fn handle(mut s: TcpStream, counters: Arc<Counters>, bombs: Arc<Bombs>) {
    let _open = Open::new(&counters);
    let Some(head) = read_head(&mut s).await else {
        return;
    };
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    *lock(&counters.hits).entry(path.clone()).or_default() += 1;
    record(&counters, &s, &path, &head);
    let mut out = Out { s, sent: 0 };
    serve(&path, &head, &mut out, &counters, &bombs).await;
    *lock(&counters.sent).entry(path).or_default() += out.sent;
}

fn record(counters: &Counters, s: &TcpStream, path: &str, head: &str) {
    let port = s.local_addr().map(|a| a.port()).unwrap_or(0);
    lock(&counters.heads).push(Seen {
        port,
        path: path.to_string(),
        head: head.to_string(),
    });
}

/// `/redirect?status=N&to=URL` (URL percent-encoded): the status (default 302)
/// and the `Location` header it answers with.
pub fn redirect_of(path: &str) -> Option<(String, String)> {
    let query = path.strip_prefix("/redirect?")?;
    let mut status = "302".to_string();
    let mut to = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "status" => status = v.into_owned(),
            "to" => to = Some(v.into_owned()),
            _ => {}
        }
    }
    Some((status, to?))
}

/// `/redirect?…` with `to` as the raw `Location`.
pub fn redirect_path(status: u16, to: &str) -> String {
    let to: String = url::form_urlencoded::byte_serialize(to.as_bytes()).collect();
    format!("/redirect?status={status}&to={to}")
}

/// The value of request header `name` (lowercase) in `head`.
pub fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// How `/reflect-encoded` and `/reflect-redirect` encode a value.
pub const ENCODINGS: [&str; 5] = ["upper", "lower", "mixed", "every", "form"];

/// `s` percent-encoded with upper-, lower- or mixed-case hex, every byte
/// encoded, or form-encoded (space as `+`).
pub fn encoded_as(s: &str, how: &str) -> String {
    match how {
        "lower" => percent_encoded(s, false),
        "mixed" => percent_encoded(s, true)
            .char_indices()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect(),
        "every" => s.bytes().map(|b| format!("%{b:02X}")).collect(),
        "form" => url::form_urlencoded::byte_serialize(s.as_bytes()).collect(),
        _ => percent_encoded(s, true),
    }
}

/// Every byte of `s` outside `A-Za-z0-9` as `%XX`, in upper- or lowercase hex.
pub fn percent_encoded(s: &str, upper: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ if upper => format!("%{b:02X}"),
            _ => format!("%{b:02x}"),
        })
        .collect()
}

pub async fn serve(path: &str, head: &str, out: &mut Out, counters: &Counters, bombs: &Bombs) {
    pub const JSON: &str = "Content-Type: application/json\r\n";
    pub const PROM: &str = "Content-Type: text/plain; version=0.0.4\r\n";
    if let Some((status, to)) = redirect_of(path) {
        let headers = format!("Location: {to}\r\n");
        out.respond(&format!("{status} Redirect"), &headers, b"")
            .await;
        return;
    }
    // `/bounce?ports=P,Q`: a redirect to the same path on the other of the two
    // ports, for ever (a loop across two origins).
    if let Some(ports) = path.strip_prefix("/bounce?ports=") {
        let here = header_value(head, "host").and_then(|h| h.rsplit(':').next());
        let other = ports.split(',').find(|p| Some(*p) != here).unwrap_or(ports);
        let headers = format!("Location: http://127.0.0.1:{other}{path}\r\n");
        out.respond("302 Found", &headers, b"").await;
        return;
    }
    // `/reflect-redirect?as=upper|lower|mixed|every|form`: a redirect to a
    // missing page whose query is the `X-Reflect` request header, encoded so.
    if let Some(how) = path.strip_prefix("/reflect-redirect?as=") {
        let value = header_value(head, "x-reflect").unwrap_or("");
        let headers = format!("Location: /gone?next={}\r\n", encoded_as(value, how));
        out.respond("302 Found", &headers, b"").await;
        return;
    }
    match path {
        // Answers 200; the head is recorded like every other.
        "/headers" => {
            out.respond("200 OK", JSON, b"{\"status\": \"ok\"}").await;
        }
        // The `X-Reflect` request header reflected in a `Location` and a body,
        // percent-encoded in upper, lower and mixed case, every byte encoded,
        // and form-encoded (space as `+`): a 500, so the probe keeps an exemplar.
        "/reflect-encoded" => {
            let value = header_value(head, "x-reflect").unwrap_or("");
            let mut body = String::new();
            let mut headers = format!(
                "Content-Type: text/plain\r\nLocation: /login?next={}\r\n",
                encoded_as(value, "upper")
            );
            for how in ENCODINGS {
                body.push_str(&format!("{how}={}\n", encoded_as(value, how)));
                headers.push_str(&format!("X-{how}: {}\r\n", encoded_as(value, how)));
            }
            out.respond("500 Internal Server Error", &headers, body.as_bytes())
                .await;
        }
        "/healthy" => {
            out.respond("200 OK", JSON, b"{\"status\": \"ok\"}").await;
        }
        // The status line, then one header byte every 50 ms, forever.
        "/slowloris" => {
            if !out.put(b"HTTP/1.1 200 OK\r\nX-Slow: ").await {
                return;
            }
            for _ in 0..20 * 600 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if !out.put(b"a").await {
                    return;
                }
            }
        }
        // Header lines as fast as the client takes them (up to 64 MiB).
        "/header-flood" => {
            if !out.put(b"HTTP/1.1 200 OK\r\n").await {
                return;
            }
            let line = format!("X-Flood: {}\r\n", "f".repeat(100));
            let batch = line.repeat(100);
            for _ in 0..(64 * MIB / batch.len()) {
                if !out.put(batch.as_bytes()).await {
                    return;
                }
            }
        }
        // 1 GiB, generated 64 KiB at a time.
        "/gigabyte" => {
            let len = 1024 * MIB;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            if !out.put(head.as_bytes()).await {
                return;
            }
            for _ in 0..len / A_CHUNK.len() {
                if !out.put(&A_CHUNK).await {
                    return;
                }
            }
        }
        "/binary" => {
            out.respond("200 OK", JSON, &binary_body()).await;
        }
        "/invalid-utf8" => {
            out.respond(
                "200 OK",
                JSON,
                b"{\"status\": \"ok\xff\xfe\", \"note\": \"caf\xc3\"}",
            )
            .await;
        }
        "/gzip-bomb" => {
            let headers = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bombs.zeros.len()
            );
            if out.put(headers.as_bytes()).await {
                bombs.zeros.stream(out).await;
            }
        }
        // Content-Length promises 1000 bytes; 100 come, then the server closes.
        "/truncated" => {
            let _ = out
                .put(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                .await
                && out.put(&[b't'; 100]).await;
            let _ = out.s.shutdown().await;
        }
        "/garbage-status" => {
            out.put(b"HTTP/1.1 OK 200 fine thanks\r\nContent-Length: 2\r\n\r\nok")
                .await;
        }
        "/bad-header" => {
            out.put(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nthis is not a header\r\n\r\nok")
                .await;
        }
        // No status line at all: raw bytes, then close (HTTP/0.9 style).
        "/http09" => {
            out.put(b"<html>hello from 1991</html>\n").await;
        }
        // Headers and half the body, a pause, then an abortive close (RST).
        "/reset" => {
            let sent = out
                .put(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                .await
                && out.put(&A_CHUNK[..50_000]).await;
            if sent {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = out.s.set_zero_linger();
            }
        }
        // The request head echoed back, padded so our secret straddles byte 200,
        // and the secret header reflected in a response header.
        "/echo" => {
            let line = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("x-tenant:"))
                .unwrap_or("");
            let value = line.split_once(':').map_or("", |(_, v)| v.trim());
            let intro = "you sent x-tenant: ";
            let pad = SECRET_AT.saturating_sub(intro.len());
            let body = format!("{}{intro}{value}\n{head}", ".".repeat(pad));
            let headers = format!("Content-Type: text/plain\r\nX-Echo-Tenant: {value}\r\n");
            out.respond("200 OK", &headers, body.as_bytes()).await;
        }
        "/metrics/healthy" => {
            let n = lock(&counters.hits)
                .get("/metrics/healthy")
                .copied()
                .unwrap_or(0);
            let body = format!(
                "# TYPE http_requests_total counter\nhttp_requests_total{{route=\"/a\",status=\"200\"}} {}\n",
                n * 10
            );
            out.respond("200 OK", PROM, body.as_bytes()).await;
        }
        // A route label that tries to forge a line of `ic watch`'s output and
        // reorder it (a newline, then U+202E), half its requests failing.
        "/metrics/forged" => {
            let n = lock(&counters.hits)
                .get("/metrics/forged")
                .copied()
                .unwrap_or(0);
            let route = FORGED_ROUTE.replace('\n', "\\n");
            let body = format!(
                "# TYPE http_requests_total counter\nhttp_requests_total{{route=\"{route}\",status=\"200\"}} {}\nhttp_requests_total{{route=\"{route}\",status=\"500\"}} {}\n",
                n * 10,
                n * 10
            );
            out.respond("200 OK", PROM, body.as_bytes()).await;
        }
        // A legitimately large exposition, 18 MB and 340,000 series, generated
        // while streaming (no Content-Length): 1,000 routes × 10 instances of a
        // request counter (3 statuses) and a 12-bucket latency histogram, and
        // 190,000 gauges beside them. Counters grow with each scrape.
        "/metrics/large" => {
            if !out
                .put(format!("HTTP/1.1 200 OK\r\n{PROM}Connection: close\r\n\r\n").as_bytes())
                .await
            {
                return;
            }
            let n = lock(&counters.hits).get(path).copied().unwrap_or(0) as u64;
            let mut batch = String::from("# TYPE http_requests_total counter\n");
            for r in 0..LARGE_ROUTES {
                for i in 0..10 {
                    for status in [200, 404, 500] {
                        let v = n * (r as u64 + 1) * if status == 200 { 20 } else { 1 };
                        batch.push_str(&format!(
                            "http_requests_total{{route=\"/r{r}\",status=\"{status}\",instance=\"i{i}\"}} {v}\n"
                        ));
                    }
                }
                if batch.len() > 256 * 1024 {
                    if !out.put(batch.as_bytes()).await {
                        return;
                    }
                    batch.clear();
                }
            }
            batch.push_str("# TYPE http_request_duration_seconds histogram\n");
            let les = [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                "+Inf",
            ];
            for r in 0..LARGE_ROUTES {
                for i in 0..10 {
                    for (k, le) in les.iter().enumerate() {
                        let v = n * 10 * (k as u64 + 1);
                        batch.push_str(&format!(
                            "http_request_duration_seconds_bucket{{route=\"/r{r}\",instance=\"i{i}\",le=\"{le}\"}} {v}\n"
                        ));
                    }
                }
                if batch.len() > 256 * 1024 {
                    if !out.put(batch.as_bytes()).await {
                        return;
                    }
                    batch.clear();
                }
            }
            for k in 0..LARGE_SERIES - LARGE_ROUTES * 10 * 15 {
                batch.push_str(&format!("process_open_thing{{id=\"{k:06}\"}} 1\n"));
                if batch.len() > 256 * 1024 {
                    if !out.put(batch.as_bytes()).await {
                        return;
                    }
                    batch.clear();
                }
            }
            out.put(batch.as_bytes()).await;
        }
        // 1,000,000 series, 10,000 lines at a time, to the end of the connection.
        "/metrics/million" => {
            if !out
                .put(format!("HTTP/1.1 200 OK\r\n{PROM}Connection: close\r\n\r\n").as_bytes())
                .await
            {
                return;
            }
            let mut batch = String::new();
            for start in (0..1_000_000).step_by(10_000) {
                batch.clear();
                for i in start..start + 10_000 {
                    batch.push_str(&format!("m{i} 1\n"));
                }
                if !out.put(batch.as_bytes()).await {
                    return;
                }
            }
        }
        // 100 MiB of well-formed comment lines, 64 KiB at a time, announced
        // with a Content-Length or not.
        "/metrics/100mb" | "/metrics/100mb-unannounced" => {
            let len = 100 * MIB;
            let line = format!("# {}\n", "c".repeat(61));
            let chunk = line.repeat(1024);
            let head = if path.ends_with("unannounced") {
                format!("HTTP/1.1 200 OK\r\n{PROM}Connection: close\r\n\r\n")
            } else {
                format!("HTTP/1.1 200 OK\r\n{PROM}Content-Length: {len}\r\n\r\n")
            };
            if !out.put(head.as_bytes()).await {
                return;
            }
            for _ in 0..len / chunk.len() {
                if !out.put(chunk.as_bytes()).await {
                    return;
                }
            }
        }
        "/metrics/gzip-bomb" => {
            let headers = format!(
                "HTTP/1.1 200 OK\r\n{PROM}Content-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bombs.hashes.len()
            );
            if out.put(headers.as_bytes()).await {
                bombs.hashes.stream(out).await;
            }
        }
        "/metrics/invalid-utf8" => {
            out.respond("200 OK", PROM, INVALID_UTF8_METRICS).await;
        }
        // 8,000,000 malformed lines (16 MB, under the 20 MiB cap).
        "/metrics/garbage" => {
            let chunk = "!\n".repeat(32 * 1024);
            let lines = 8_000_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\n{PROM}Content-Length: {}\r\n\r\n",
                lines * 2
            );
            if !out.put(head.as_bytes()).await {
                return;
            }
            for _ in 0..lines / (32 * 1024) {
                if !out.put(chunk.as_bytes()).await {
                    return;
                }
            }
            let rest = lines % (32 * 1024);
            out.put(&chunk.as_bytes()[..rest * 2]).await;
        }
        // 300,000 families, each declared with its own `# TYPE`, each named like a
        // request counter but declared a gauge (so none is picked as one).
        "/metrics/families" => {
            if !out
                .put(format!("HTTP/1.1 200 OK\r\n{PROM}Connection: close\r\n\r\n").as_bytes())
                .await
            {
                return;
            }
            let mut batch = String::new();
            for start in (0..300_000).step_by(10_000) {
                batch.clear();
                for i in start..start + 10_000 {
                    batch.push_str(&format!(
                        "# TYPE f{i}_requests_total gauge\nf{i}_requests_total 1\n"
                    ));
                }
                if !out.put(batch.as_bytes()).await {
                    return;
                }
            }
        }
        _ => {
            out.respond("404 Not Found", "", b"no such case").await;
        }
    }
}

/// A TLS acceptor with a fresh self-signed certificate for `localhost` and
/// 127.0.0.1, and that certificate as PEM (for `tls.ca_file`).
fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        )),
    )
    .unwrap();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        cert.pem(),
    )
}

/// The TLS port: `/redirect?…` and `/headers` only (anything else is a 404).
async fn handle_tls(s: TcpStream, acceptor: tokio_rustls::TlsAcceptor, counters: Arc<Counters>) {
    let _open = Open::new(&counters);
    let port = s.local_addr().map(|a| a.port()).unwrap_or(0);
    let Ok(Ok(mut tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(s)).await
    else {
        return;
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match tls.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    lock(&counters.heads).push(Seen {
        port,
        path: path.clone(),
        head,
    });
    let answer = match (redirect_of(&path), path.as_str()) {
        (Some((status, to)), _) => {
            format!(
                "HTTP/1.1 {status} Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        }
        (None, "/headers") => {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_string()
        }
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
    };
    let _ = tls.write_all(answer.as_bytes()).await;
    let _ = tls.shutdown().await;
}

/// Routes of `/metrics/large`.
pub const LARGE_ROUTES: usize = 1_000;
/// Series of `/metrics/large`.
pub const LARGE_SERIES: usize = 340_000;

/// The route label `/metrics/forged` serves: a newline and a forged line of
/// `ic watch` output, then a bidi override.
pub const FORGED_ROUTE: &str = "/a\nRESOLVED 12:00:00 all clear \u{202e}gnp.exe";

/// Terminal escapes, NUL, CR, then every byte value.
pub fn binary_body() -> Vec<u8> {
    let mut b = b"\x1b[2J\x1b]0;pwned\x07\x00\r\x08".to_vec();
    b.extend((0..4096u32).map(|i| (i.wrapping_mul(7919) % 256) as u8));
    b
}

/// Three good samples, one with an invalid byte in a label value (kept, as
/// U+FFFD), one with an invalid byte in the metric name and a lone lead byte
/// (both malformed lines).
pub const INVALID_UTF8_METRICS: &[u8] = b"# TYPE http_requests_total counter\n\
http_requests_total{route=\"/caf\xc3\xa9\",status=\"200\"} 3\n\
http_requests_total{route=\"/\xff\xfe\",status=\"200\"} 4\n\
http_requests_\xffbad{route=\"/x\"} 1\n\
\xc3\n\
http_requests_total{route=\"/z\",status=\"500\"} 1\n";

/// A gzip stream of `blocks` MiB of one byte, built from one self-contained,
/// byte-aligned deflate block (compressed with a sync flush from a fresh
/// state, so it never refers to bytes before it) repeated while streaming:
/// about 1 KB on the wire per MiB inflated, never held whole in memory.
pub struct GzipBomb {
    pub block: Vec<u8>,
    pub blocks: usize,
    pub trailer: Vec<u8>,
}

impl GzipBomb {
    pub const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    /// An empty final stored block.
    pub const END: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

    pub fn new(byte: u8, blocks: usize) -> GzipBomb {
        let input = vec![byte; MIB];
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        let mut block = Vec::with_capacity(64 * 1024);
        loop {
            let from = c.total_in() as usize;
            c.compress_vec(&input[from..], &mut block, flate2::FlushCompress::Sync)
                .unwrap();
            if c.total_in() as usize == input.len() && block.len() < block.capacity() {
                break;
            }
            block.reserve(64 * 1024);
        }
        let mut one = flate2::Crc::new();
        one.update(&input);
        let mut crc = flate2::Crc::new();
        for _ in 0..blocks {
            crc.combine(&one);
        }
        let mut trailer = crc.sum().to_le_bytes().to_vec();
        trailer.extend_from_slice(&((blocks * MIB) as u32).to_le_bytes());
        GzipBomb {
            block,
            blocks,
            trailer,
        }
    }

    pub fn len(&self) -> usize {
        Self::HEADER.len() + self.block.len() * self.blocks + Self::END.len() + self.trailer.len()
    }

    pub fn inflated(&self) -> usize {
        self.blocks * MIB
    }

    pub async fn stream(&self, out: &mut Out) {
        if !out.put(&Self::HEADER).await {
            return;
        }
        for _ in 0..self.blocks {
            if !out.put(&self.block).await {
                return;
            }
        }
        let _ = out.put(&Self::END).await && out.put(&self.trailer).await;
    }

    /// The whole stream in memory (for the self-check of small bombs only).
    pub fn bytes(&self) -> Vec<u8> {
        let mut v = Self::HEADER.to_vec();
        for _ in 0..self.blocks {
            v.extend_from_slice(&self.block);
        }
        v.extend_from_slice(&Self::END);
        v.extend_from_slice(&self.trailer);
        v
    }
}
