//! One probe's result and the diagnostic ladder that gives it exactly one
//! failure class: dns → connect → tls → timeout → body_too_large → http_5xx →
//! auth → rate_limited → http_4xx → body_mismatch → too_slow → ok.
//! Pure: the probe engine gathers the facts, this module judges them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The failure class of a probe, in order of precedence (first wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The name did not resolve.
    Dns,
    /// TCP connect refused, unreachable or reset.
    Connect,
    /// TLS handshake failed, certificate untrusted / expired / wrong name, or expiring within 48 h.
    Tls,
    /// Something answered, but not in HTTP: a garbage status line, a bad header, HTTP/0.9.
    Protocol,
    /// No complete answer within the timeout.
    Timeout,
    /// The body exceeded the size cap.
    BodyTooLarge,
    /// 5xx status.
    #[serde(rename = "http_5xx", alias = "http5xx")]
    Http5xx,
    /// 401 or 403.
    Auth,
    /// 429.
    RateLimited,
    /// Another 4xx.
    #[serde(rename = "http_4xx", alias = "http4xx")]
    Http4xx,
    /// An `expect` check failed: unexpected status, body text, JSON value or missing field, redirect loop.
    BodyMismatch,
    /// Slower than `expect.max_latency`.
    TooSlow,
    /// All good.
    Ok,
}

impl FailureClass {
    /// Every class, in ladder order.
    pub const ALL: [FailureClass; 13] = [
        FailureClass::Dns,
        FailureClass::Connect,
        FailureClass::Tls,
        FailureClass::Protocol,
        FailureClass::Timeout,
        FailureClass::BodyTooLarge,
        FailureClass::Http5xx,
        FailureClass::Auth,
        FailureClass::RateLimited,
        FailureClass::Http4xx,
        FailureClass::BodyMismatch,
        FailureClass::TooSlow,
        FailureClass::Ok,
    ];

    /// The snake_case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Dns => "dns",
            FailureClass::Connect => "connect",
            FailureClass::Tls => "tls",
            FailureClass::Protocol => "protocol",
            FailureClass::Timeout => "timeout",
            FailureClass::BodyTooLarge => "body_too_large",
            FailureClass::Http5xx => "http_5xx",
            FailureClass::Auth => "auth",
            FailureClass::RateLimited => "rate_limited",
            FailureClass::Http4xx => "http_4xx",
            FailureClass::BodyMismatch => "body_mismatch",
            FailureClass::TooSlow => "too_slow",
            FailureClass::Ok => "ok",
        }
    }

    /// Position in [`FailureClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the probe succeeded.
    pub fn is_ok(self) -> bool {
        self == FailureClass::Ok
    }

    /// Whether the class is a client-error answer (4xx of any kind).
    pub fn is_4xx(self) -> bool {
        matches!(
            self,
            FailureClass::Auth | FailureClass::RateLimited | FailureClass::Http4xx
        )
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An accepted status: an exact code (`200`) or a class (`"2xx"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    /// One exact code.
    Code(u16),
    /// Every code of a class, e.g. 2 for 2xx.
    Class(u8),
}

impl StatusPattern {
    /// Whether `status` matches.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(c) => c == status,
            StatusPattern::Class(k) => status / 100 == u16::from(k),
        }
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(k) => write!(f, "{k}xx"),
        }
    }
}

/// What a good answer looks like (from the endpoint's `expect:`).
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Accepted statuses; empty means any 2xx or 3xx.
    pub status: Vec<StatusPattern>,
    /// Slower is `too_slow`.
    pub max_latency: Option<Duration>,
    /// Text the body must contain.
    pub body_contains: Option<String>,
    /// JSON pointer → required value.
    pub json: Vec<(String, serde_json::Value)>,
}

/// A failure below HTTP, found by the probe engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportFailure {
    /// Name resolution failed.
    Dns(String),
    /// TCP connect failed or the connection was reset.
    Connect(String),
    /// TLS failed.
    Tls(String),
    /// The answer was not HTTP.
    Protocol(String),
    /// The timeout ran out.
    Timeout(String),
    /// The body went past the cap.
    BodyTooLarge(String),
    /// A redirect was not followed: past the limit, to an invalid or non-HTTP
    /// location, from https to http, or re-sending a body to another origin.
    Redirect(String),
}

/// Everything the engine saw, for [`judge`].
#[derive(Debug, Clone, Default)]
pub struct Observation<'a> {
    /// A failure below HTTP, if any.
    pub transport: Option<TransportFailure>,
    /// Final HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Total latency.
    pub latency: Duration,
    /// The body read (up to the cap).
    pub body: &'a [u8],
    /// Days until the leaf certificate's notAfter.
    pub cert_days_left: Option<f64>,
}

/// The verdict: one class, a human message when not ok, and warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The class.
    pub class: FailureClass,
    /// What went wrong, in words, when the class is not `ok`.
    pub error: Option<String>,
    /// Warnings that do not change the class (certificate expiring within 21 days).
    pub warnings: Vec<String>,
}

/// Days under which a certificate is a warning, and under which it fails the probe.
pub const CERT_WARN_DAYS: [f64; 3] = [21.0, 14.0, 7.0];
/// Under this many days the certificate is a `tls` failure.
pub const CERT_CRITICAL_DAYS: f64 = 2.0;

/// Applies the diagnostic ladder.
pub fn judge(obs: &Observation<'_>, expect: &Expectations) -> Verdict {
    let mut warnings = Vec::new();
    let fail = |class, msg: String, warnings: Vec<String>| Verdict {
        class,
        error: Some(msg),
        warnings,
    };
    if let Some(days) = obs.cert_days_left
        && let Some(limit) = CERT_WARN_DAYS.iter().rev().find(|l| days < **l)
        && days >= CERT_CRITICAL_DAYS
    {
        warnings.push(format!(
            "certificate expires in {days:.1} days (under {limit})"
        ));
    }
    if let Some(t) = &obs.transport {
        let (class, msg) = match t {
            TransportFailure::Dns(m) => (FailureClass::Dns, m),
            TransportFailure::Connect(m) => (FailureClass::Connect, m),
            TransportFailure::Tls(m) => (FailureClass::Tls, m),
            TransportFailure::Protocol(m) => (FailureClass::Protocol, m),
            TransportFailure::Timeout(m) => (FailureClass::Timeout, m),
            TransportFailure::BodyTooLarge(m) => (FailureClass::BodyTooLarge, m),
            TransportFailure::Redirect(m) => (FailureClass::BodyMismatch, m),
        };
        // A redirect loop sits low on the ladder: a certificate problem outranks it.
        if class != FailureClass::BodyMismatch || !cert_critical(obs) {
            return fail(class, msg.clone(), warnings);
        }
    }
    if cert_critical(obs) {
        let days = obs.cert_days_left.unwrap_or(0.0);
        return fail(
            FailureClass::Tls,
            format!("certificate expires in {:.1} hours", (days * 24.0).max(0.0)),
            warnings,
        );
    }
    let Some(status) = obs.status else {
        return fail(FailureClass::Connect, "no HTTP answer".into(), warnings);
    };
    match status {
        500..=599 => return fail(FailureClass::Http5xx, format!("HTTP {status}"), warnings),
        401 | 403 => {
            return fail(
                FailureClass::Auth,
                format!("HTTP {status}: credentials refused"),
                warnings,
            );
        }
        429 => {
            return fail(
                FailureClass::RateLimited,
                "HTTP 429: rate limited".into(),
                warnings,
            );
        }
        400..=499 => return fail(FailureClass::Http4xx, format!("HTTP {status}"), warnings),
        _ => {}
    }
    let status_ok = if expect.status.is_empty() {
        (200..400).contains(&status)
    } else {
        expect.status.iter().any(|p| p.matches(status))
    };
    if !status_ok {
        let wanted = if expect.status.is_empty() {
            "2xx or 3xx".to_string()
        } else {
            expect
                .status
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return fail(
            FailureClass::BodyMismatch,
            format!("HTTP {status}, expected {wanted}"),
            warnings,
        );
    }
    if let Some(msg) = body_mismatch(obs.body, expect) {
        return fail(FailureClass::BodyMismatch, msg, warnings);
    }
    if let Some(max) = expect.max_latency
        && obs.latency > max
    {
        return fail(
            FailureClass::TooSlow,
            format!(
                "took {} ms, limit {} ms",
                obs.latency.as_millis(),
                max.as_millis()
            ),
            warnings,
        );
    }
    Verdict {
        class: FailureClass::Ok,
        error: None,
        warnings,
    }
}

fn cert_critical(obs: &Observation<'_>) -> bool {
    obs.cert_days_left.is_some_and(|d| d < CERT_CRITICAL_DAYS)
}

fn body_mismatch(body: &[u8], expect: &Expectations) -> Option<String> {
    if let Some(needle) = &expect.body_contains
        && !String::from_utf8_lossy(body).contains(needle.as_str())
    {
        return Some(format!("body does not contain {needle:?}"));
    }
    if expect.json.is_empty() {
        return None;
    }
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("body is not JSON ({e})")),
    };
    for (pointer, want) in &expect.json {
        match value.pointer(pointer) {
            None => return Some(format!("JSON field {pointer} is missing (schema drift?)")),
            Some(got) if got != want => {
                return Some(format!("JSON {pointer} is {got}, expected {want}"));
            }
            Some(_) => {}
        }
    }
    None
}

/// Per-phase timings of one probe; `None` where the phase did not happen or is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Phases {
    /// Name resolution.
    pub dns: Option<Duration>,
    /// TCP connect.
    pub connect: Option<Duration>,
    /// TLS handshake.
    pub tls: Option<Duration>,
    /// From request sent to response headers.
    pub ttfb: Option<Duration>,
    /// From response headers to the end of the body.
    pub transfer: Option<Duration>,
}

/// An error kept for the responder: what failed, when, and a little of the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exemplar {
    /// When the probe ran.
    pub at: DateTime<Utc>,
    /// Its class.
    pub class: FailureClass,
    /// Its status, if an answer came.
    pub status: Option<u16>,
    /// What went wrong.
    pub error: Option<String>,
    /// The first 200 bytes of the body (lossy UTF-8, secrets redacted).
    pub body: String,
    /// Response headers as `name: value` lines (secret values redacted, at most 512 bytes).
    pub headers: String,
    /// Phase timings.
    pub phases: Phases,
}

/// One probe's full record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeSample {
    /// When the probe started (wall clock, UTC).
    pub at: DateTime<Utc>,
    /// Final HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Total latency (monotonic clock).
    pub latency: Duration,
    /// Phase timings of the final request.
    pub phases: Phases,
    /// Body bytes read.
    pub bytes: u64,
    /// Days until the leaf certificate expires.
    pub cert_days_left: Option<f64>,
    /// `Retry-After` of a 429, in seconds.
    pub retry_after: Option<Duration>,
    /// The class and its explanation.
    pub class: FailureClass,
    /// Human message when not ok.
    pub error: Option<String>,
    /// Warnings (certificate expiry).
    pub warnings: Vec<String>,
    /// How late the probe started against its schedule.
    pub lateness: Duration,
    /// Evidence kept when the probe failed.
    pub exemplar: Option<Exemplar>,
    /// The URLs redirects sent the probe to, in order (the last is where the
    /// final answer came from); empty when the first answer was final. Without
    /// userinfo, secrets redacted, each at most [`REDIRECT_URL_BYTES`].
    pub redirects: Vec<String>,
}

/// Longest redirect URL kept in a sample (a longer one is cut, marked with `…`).
pub const REDIRECT_URL_BYTES: usize = 512;

/// Parses `Retry-After`: delay seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when: DateTime<Utc> = httpdate::parse_http_date(v).ok()?.into();
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

/// Header names whose values are secrets.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || [
        "token", "secret", "api-key", "apikey", "password", "session", "auth",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Most bytes of response headers kept in an exemplar.
pub const EXEMPLAR_HEADER_BYTES: usize = 512;
/// Most bytes of body kept in an exemplar.
pub const EXEMPLAR_BODY_BYTES: usize = 200;

/// Formats response headers for an exemplar: secret values redacted, capped in size.
pub fn exemplar_headers<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    secrets: &[String],
) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        let value = if is_secret_header(name) {
            "[redacted]".to_string()
        } else {
            redact(&String::from_utf8_lossy(value), secrets)
        };
        let line = format!("{name}: {value}\n");
        if out.len() + line.len() > EXEMPLAR_HEADER_BYTES {
            out.push_str("…\n");
            break;
        }
        out.push_str(&line);
    }
    out
}

/// The first bytes of a body for an exemplar: lossy UTF-8, secrets redacted
/// (also percent- or form-encoded, see [`redact`]), control characters other than newline and tab (a terminal's escapes,
/// NUL, a lone CR) shown as U+FFFD. A secret that starts before the cut is
/// redacted whole, so no first part of it is kept.
pub fn exemplar_body(body: &[u8], secrets: &[String]) -> String {
    let secrets = usable(secrets);
    let mut out = String::new();
    let mut plain = 0..0;
    let mut i = 0;
    while i < body.len().min(EXEMPLAR_BODY_BYTES) {
        match secret_at(body, i, &secrets) {
            Some(end) => {
                push_printable(&mut out, &body[plain]);
                out.push_str("[redacted]");
                i = end;
                plain = i..i;
            }
            None => {
                i += 1;
                plain.end = i;
            }
        }
    }
    push_printable(&mut out, &body[plain]);
    out
}

fn push_printable(out: &mut String, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Replaces every occurrence of each secret in `text` with `[redacted]`: as it
/// is, and as it comes back from URLs and forms — any of its bytes
/// percent-encoded with either case of hex (`hunter%2F2`, `hunter%2f2`, every
/// byte as `%XX`) and a space as `+`. Secrets under 4 bytes are left alone
/// (hiding every `ab` would destroy the text; `ic lint` warns about them).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let secrets = usable(secrets);
    if secrets.is_empty() {
        return text.to_string();
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut i) = (0, 0);
    while i < b.len() {
        match secret_at(b, i, &secrets) {
            Some(end) if text.is_char_boundary(i) && text.is_char_boundary(end) => {
                out.push_str(&text[copied..i]);
                out.push_str("[redacted]");
                (copied, i) = (end, end);
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Shortest secret [`redact`] hides, in bytes.
pub const MIN_SECRET_BYTES: usize = 4;

fn usable(secrets: &[String]) -> Vec<&[u8]> {
    secrets
        .iter()
        .filter(|s| s.len() >= MIN_SECRET_BYTES)
        .map(|s| s.as_bytes())
        .collect()
}

/// Where the longest of `secrets` written at `at` in `text` ends, if one is.
fn secret_at(text: &[u8], at: usize, secrets: &[&[u8]]) -> Option<usize> {
    let first = *text.get(at)?;
    secrets
        .iter()
        .filter(|s| s[0] == first || first == b'%' || (first == b'+' && s[0] == b' '))
        .filter_map(|s| secret_end(text, at, s))
        .max()
}

/// Where `secret` written at `at` in `text` ends: each of its bytes either as
/// it is, as `%XX` (hex in either case), or — a space — as `+`. A `%` in the
/// secret can be both itself and the start of an escape, so every position
/// reachable so far is kept (a handful: only a `%` adds one); the longest match wins.
fn secret_end(text: &[u8], at: usize, secret: &[u8]) -> Option<usize> {
    let mut reach = vec![at];
    let mut next = Vec::new();
    for &want in secret {
        next.clear();
        for &pos in &reach {
            let Some(&got) = text.get(pos) else { continue };
            let mut add = |p: usize| {
                if !next.contains(&p) {
                    next.push(p);
                }
            };
            if got == want || (want == b' ' && got == b'+') {
                add(pos + 1);
            }
            if got == b'%' && escaped_byte(text, pos) == Some(want) {
                add(pos + 3);
            }
        }
        if next.is_empty() {
            return None;
        }
        std::mem::swap(&mut reach, &mut next);
    }
    reach.into_iter().max()
}

/// The byte a `%XX` escape at `pos` stands for.
fn escaped_byte(text: &[u8], pos: usize) -> Option<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let (hi, lo) = (hex(*text.get(pos + 1)?)?, hex(*text.get(pos + 2)?)?);
    u8::try_from(hi * 16 + lo).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(status: u16, body: &[u8]) -> Observation<'_> {
        Observation {
            status: Some(status),
            latency: Duration::from_millis(20),
            body,
            ..Default::default()
        }
    }

    #[test]
    fn statuses_map_onto_the_ladder() {
        let e = Expectations::default();
        assert_eq!(judge(&obs(200, b""), &e).class, FailureClass::Ok);
        assert_eq!(judge(&obs(302, b""), &e).class, FailureClass::Ok);
        assert_eq!(judge(&obs(503, b""), &e).class, FailureClass::Http5xx);
        assert_eq!(judge(&obs(401, b""), &e).class, FailureClass::Auth);
        assert_eq!(judge(&obs(403, b""), &e).class, FailureClass::Auth);
        assert_eq!(judge(&obs(429, b""), &e).class, FailureClass::RateLimited);
        assert_eq!(judge(&obs(404, b""), &e).class, FailureClass::Http4xx);
        assert_eq!(judge(&obs(101, b""), &e).class, FailureClass::BodyMismatch);
    }

    #[test]
    fn transport_failures_outrank_everything() {
        let mut o = obs(500, b"");
        o.transport = Some(TransportFailure::Timeout("no answer in 1.5s".into()));
        let v = judge(&o, &Expectations::default());
        assert_eq!(
            (v.class, v.error.as_deref()),
            (FailureClass::Timeout, Some("no answer in 1.5s"))
        );
    }

    #[test]
    fn expectations_check_status_body_json_and_latency() {
        let e = Expectations {
            status: vec![StatusPattern::Code(200)],
            max_latency: Some(Duration::from_millis(10)),
            body_contains: Some("ok".into()),
            json: vec![("/status".into(), serde_json::json!("ok"))],
        };
        let v = judge(&obs(201, b"{}"), &e);
        assert_eq!(v.class, FailureClass::BodyMismatch);
        assert_eq!(v.error.as_deref(), Some("HTTP 201, expected 200"));
        let v = judge(&obs(200, br#"{"state": "ok"}"#), &e);
        assert_eq!(
            v.error.as_deref(),
            Some("JSON field /status is missing (schema drift?)")
        );
        let v = judge(&obs(200, br#"{"status": "okay"}"#), &e);
        assert_eq!(
            v.error.as_deref(),
            Some("JSON /status is \"okay\", expected \"ok\"")
        );
        let v = judge(&obs(200, b"<html>ok"), &e);
        assert!(v.error.unwrap().starts_with("body is not JSON"));
        let v = judge(&obs(200, br#"{"status": "ok"}"#), &e);
        assert_eq!(v.class, FailureClass::TooSlow);
        let mut fast = obs(200, br#"{"status": "ok"}"#);
        fast.latency = Duration::from_millis(5);
        assert_eq!(judge(&fast, &e).class, FailureClass::Ok);
    }

    #[test]
    fn certificates_warn_then_fail() {
        let e = Expectations::default();
        let mut o = obs(200, b"");
        o.cert_days_left = Some(30.0);
        assert!(judge(&o, &e).warnings.is_empty());
        o.cert_days_left = Some(20.0);
        assert_eq!(
            judge(&o, &e).warnings,
            vec!["certificate expires in 20.0 days (under 21)".to_string()]
        );
        o.cert_days_left = Some(5.0);
        let v = judge(&o, &e);
        assert_eq!((v.class, v.warnings.len()), (FailureClass::Ok, 1));
        assert!(v.warnings[0].contains("under 7"));
        o.cert_days_left = Some(1.5);
        let v = judge(&o, &e);
        assert_eq!(v.class, FailureClass::Tls);
        assert_eq!(
            v.error.as_deref(),
            Some("certificate expires in 36.0 hours")
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 00:00:30 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn secrets_are_redacted() {
        assert!(
            is_secret_header("Authorization")
                && is_secret_header("X-Api-Key")
                && is_secret_header("x-auth-token")
        );
        assert!(!is_secret_header("content-type"));
        assert_eq!(
            redact("echo Bearer abc123xyz", &["abc123xyz".into()]),
            "echo Bearer [redacted]"
        );
    }

    #[test]
    fn exemplar_bodies_are_printable_and_never_keep_part_of_a_secret() {
        let secret = "s3cret-value-0123456789".to_string();
        // The secret straddles the 200-byte cut: none of it is kept.
        let mut body = vec![b'.'; 195];
        body.extend_from_slice(secret.as_bytes());
        let ex = exemplar_body(&body, std::slice::from_ref(&secret));
        assert_eq!(ex, format!("{}[redacted]", ".".repeat(195)));
        // Terminal escapes, NUL and a lone CR become U+FFFD; CRLF becomes LF.
        let ex = exemplar_body(b"\x1b[2J\0a\rb\r\nc\td\xff", &[]);
        assert_eq!(ex, "\u{fffd}[2J\u{fffd}a\u{fffd}b\nc\td\u{fffd}");
        assert_eq!(exemplar_body(&[b'x'; 500], &[]).len(), EXEMPLAR_BODY_BYTES);
    }

    #[test]
    fn encoded_secrets_are_redacted_in_every_form() {
        let secrets = vec!["hunter/2 x+y@z".to_string()];
        for text in [
            "hunter/2 x+y@z",
            "hunter%2F2%20x%2By%40z",
            "hunter%2f2%20x%2by%40z",
            "hunter%2F2+x%2By@z",
            "%68%75%6E%74%65%72%2F%32%20%78%2B%79%40%7A",
            "hunter/2+x+y@z",
        ] {
            assert_eq!(
                redact(&format!("<{text}>"), &secrets),
                "<[redacted]>",
                "{text}"
            );
        }
        // Near misses stay: another byte, a broken escape, a `+` that was a `+`.
        for text in ["hunter/2 x+y@Z", "hunter%2G2 x+y@z", "hunter/2 x y@z"] {
            assert_eq!(redact(text, &secrets), text, "{text}");
        }
        // A secret holding `%` matches itself and its escaped form.
        let pct = vec!["50%25off".to_string()];
        assert_eq!(redact("a 50%25off b", &pct), "a [redacted] b");
        assert_eq!(redact("a 50%2525off b", &pct), "a [redacted] b");
        // Short secrets are never redacted; non-ASCII text is cut on boundaries.
        assert_eq!(redact("ab%61b", &["ab".into()]), "ab%61b");
        assert_eq!(
            redact("é%C3%A9-secret é", &["é-secret".into()]),
            "é[redacted] é"
        );
    }

    #[test]
    fn an_encoded_secret_across_the_exemplar_cut_is_redacted_whole() {
        let secret = "hunter/2-0123456789".to_string();
        let mut body = vec![b'.'; 190];
        body.extend_from_slice(b"hunter%2F2-0123456789 tail");
        let ex = exemplar_body(&body, std::slice::from_ref(&secret));
        assert_eq!(ex, format!("{}[redacted]", ".".repeat(190)));
    }
}
