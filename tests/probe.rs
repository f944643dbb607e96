//! The probe engine against real servers on 127.0.0.1 that each test starts:
//! every rung of the diagnostic ladder, the key numbers, and that each probe
//! ends within its timeout.

use incident_commander::config::Config;
use incident_commander::core::sample::{FailureClass, ProbeSample};
use incident_commander::source::probe::{ProbeTarget, probe};
use incident_commander::source::schedule::{self, ProbeEvent};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts a server whose every connection is handled by `handler`; returns its port.
async fn server<F, Fut>(handler: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    port
}

/// Reads a request's head (bounded) so the client sees its request consumed.
async fn read_head<S: AsyncReadExt + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut byte).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&byte[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A server answering every request with `status`, extra header lines and `body`.
async fn answering(status: u16, headers: &'static str, body: &'static str) -> u16 {
    server(move |mut s| async move {
        read_head(&mut s).await;
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n{headers}Connection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await
}

fn target_for(endpoint: &str) -> ProbeTarget {
    let text =
        format!("service: t\npoll: {{interval: 5s, timeout: 1s}}\nendpoints:\n  - {endpoint}\n");
    let config = Config::parse(Path::new("t.yaml"), &text, |_| None).unwrap();
    ProbeTarget::from_config(&config.endpoints[0], &config).unwrap()
}

fn target(port: u16, extra: &str) -> ProbeTarget {
    target_for(&format!(
        "{{name: e, url: \"http://127.0.0.1:{port}/health\"{extra}}}"
    ))
}

/// Probes and checks it ended within the timeout (plus scheduling slack).
async fn run(t: &ProbeTarget) -> ProbeSample {
    let started = Instant::now();
    let s = probe(t, incident_commander::clock::now()).await;
    assert!(
        started.elapsed() < t.timeout + Duration::from_millis(500),
        "probe took {:?} with a {:?} timeout",
        started.elapsed(),
        t.timeout
    );
    s
}

#[tokio::test]
async fn ok_records_status_phases_and_bytes() {
    let port = answering(200, "", "{\"status\": \"ok\"}").await;
    let s = run(&target(port, ", expect: {json: {\"/status\": \"ok\"}}")).await;
    assert_eq!(s.class, FailureClass::Ok, "{:?}", s.error);
    assert_eq!(s.status, Some(200));
    assert_eq!(s.bytes, 16);
    assert!(s.phases.dns.is_none(), "an IP literal needs no lookup");
    assert!(s.phases.connect.is_some() && s.phases.ttfb.is_some() && s.phases.transfer.is_some());
    assert!(s.phases.tls.is_none());
    assert!(s.exemplar.is_none());
    let sum = s.phases.connect.unwrap() + s.phases.ttfb.unwrap() + s.phases.transfer.unwrap();
    assert!(
        sum <= s.latency,
        "phases {sum:?} exceed total {:?}",
        s.latency
    );
}

#[tokio::test]
async fn localhost_is_resolved_and_timed() {
    let port = answering(200, "", "ok").await;
    let s = run(&target_for(&format!(
        "{{name: e, url: \"http://localhost:{port}/\"}}"
    )))
    .await;
    assert_eq!(s.class, FailureClass::Ok, "{:?}", s.error);
    assert!(s.phases.dns.is_some());
}

#[tokio::test]
async fn server_errors_are_http_5xx_with_an_exemplar() {
    for status in [500, 503] {
        let port = answering(
            status,
            "X-Request-Id: abc\r\nSet-Cookie: session=hunter2\r\n",
            "{\"error\": \"db pool\"}",
        )
        .await;
        let s = run(&target(port, "")).await;
        assert_eq!((s.class, s.status), (FailureClass::Http5xx, Some(status)));
        let ex = s.exemplar.expect("failures keep an exemplar");
        assert_eq!(ex.body, "{\"error\": \"db pool\"}");
        assert!(ex.headers.contains("x-request-id: abc"), "{}", ex.headers);
        assert!(
            ex.headers.contains("set-cookie: [redacted]"),
            "{}",
            ex.headers
        );
        assert!(!ex.headers.contains("hunter2"));
    }
}

#[tokio::test]
async fn auth_and_client_errors() {
    for (status, class) in [
        (401, FailureClass::Auth),
        (403, FailureClass::Auth),
        (404, FailureClass::Http4xx),
    ] {
        let port = answering(status, "", "{}").await;
        let s = run(&target(port, "")).await;
        assert_eq!((s.class, s.status), (class, Some(status)));
    }
}

#[tokio::test]
async fn rate_limited_reads_retry_after_in_both_forms() {
    let port = answering(429, "Retry-After: 7\r\n", "{}").await;
    let s = run(&target(port, "")).await;
    assert_eq!(s.class, FailureClass::RateLimited);
    assert_eq!(s.retry_after, Some(Duration::from_secs(7)));

    let port = server(|mut s| async move {
        read_head(&mut s).await;
        #[allow(clippy::disallowed_methods)]
        // The server stands for another machine with its own clock.
        let when = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        let resp =
            format!("HTTP/1.1 429 Too Many\r\nRetry-After: {when}\r\nContent-Length: 0\r\n\r\n");
        let _ = s.write_all(resp.as_bytes()).await;
    })
    .await;
    let s = run(&target(port, "")).await;
    assert_eq!(s.class, FailureClass::RateLimited);
    let secs = s.retry_after.unwrap().as_secs();
    assert!((28..=30).contains(&secs), "{secs}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let port = server(|mut s| async move {
        read_head(&mut s).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let t = target(port, ", timeout: 400ms");
    let s = run(&t).await;
    assert_eq!(s.class, FailureClass::Timeout);
    assert!(s.latency >= Duration::from_millis(400));
    assert!(s.error.unwrap().contains("waiting for the first byte"));
}

#[tokio::test]
async fn a_dripping_body_times_out_while_reading() {
    let port = server(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            .await;
        for _ in 0..100 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    })
    .await;
    let s = run(&target(port, ", timeout: 1500ms")).await;
    assert_eq!(s.class, FailureClass::Timeout);
    assert_eq!(s.status, Some(200));
    assert!((1..=3).contains(&s.bytes), "{} bytes", s.bytes);
    assert!(s.error.unwrap().contains("reading the body"));
}

#[tokio::test]
async fn a_50_mb_body_stops_at_the_cap() {
    let port = server(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n")
            .await;
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..800 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let s = run(&target(port, ", timeout: 5s, interval: 10s")).await;
    assert_eq!(s.class, FailureClass::BodyTooLarge);
    assert!(
        s.bytes > 1024 * 1024 && s.bytes < 2 * 1024 * 1024,
        "{} bytes",
        s.bytes
    );
}

#[tokio::test]
async fn refused_connection_is_connect() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = run(&target(port, "")).await;
    assert_eq!(s.class, FailureClass::Connect);
    assert!(s.error.unwrap().contains("connection refused"));
}

#[tokio::test]
async fn unresolvable_name_is_dns() {
    let s = run(&target_for(
        "{name: e, url: \"http://no-such-host.invalid/\"}",
    ))
    .await;
    assert_eq!(s.class, FailureClass::Dns, "{:?}", s.error);
    assert!(
        s.error
            .unwrap()
            .contains("could not resolve no-such-host.invalid")
    );
}

#[tokio::test]
async fn renamed_json_field_is_schema_drift() {
    let port = answering(200, "", "{\"payment_status\": \"ok\"}").await;
    let s = run(&target(port, ", expect: {json: {\"/status\": \"ok\"}}")).await;
    assert_eq!(s.class, FailureClass::BodyMismatch);
    assert_eq!(
        s.error.as_deref(),
        Some("JSON field /status is missing (schema drift?)")
    );
}

#[tokio::test]
async fn redirect_loop_is_stopped() {
    let port = answering(302, "Location: /health\r\n", "").await;
    let s = run(&target(port, "")).await;
    assert_eq!(s.class, FailureClass::BodyMismatch);
    assert!(s.error.unwrap().contains("more than 5 redirects"));
}

#[tokio::test]
async fn redirects_are_followed() {
    let target_port = answering(200, "", "{\"status\": \"ok\"}").await;
    let port = server(move |mut s| async move {
        read_head(&mut s).await;
        let resp = format!("HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:{target_port}/x\r\nContent-Length: 0\r\n\r\n");
        let _ = s.write_all(resp.as_bytes()).await;
    })
    .await;
    let s = run(&target(port, "")).await;
    assert_eq!((s.class, s.status), (FailureClass::Ok, Some(200)));
}

#[tokio::test]
async fn too_slow_is_the_last_rung() {
    let port = server(|mut s| async move {
        read_head(&mut s).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await;
    })
    .await;
    let s = run(&target(port, ", expect: {max_latency: 100ms}")).await;
    assert_eq!(s.class, FailureClass::TooSlow);
    assert!(s.latency >= Duration::from_millis(300));
}

// ---------------------------------------------------------------------------
// TLS

struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn pki(days_valid_from: i64, days_valid_to: i64, self_signed: bool) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let now = time::OffsetDateTime::now_utc();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.not_before = now + time::Duration::days(days_valid_from);
    leaf.not_after = now + time::Duration::days(days_valid_to);
    let leaf_key = KeyPair::generate().unwrap();
    if self_signed {
        let cert = leaf.self_signed(&leaf_key).unwrap();
        return Pki {
            ca_pem: cert.pem(),
            cert: cert.der().clone(),
            key: leaf_key.serialize_der(),
        };
    }
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.not_before = now - time::Duration::days(30);
    ca.not_after = now + time::Duration::days(365);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert: cert.der().clone(),
        key: leaf_key.serialize_der(),
    }
}

async fn tls_server(pki: &Pki) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![pki.cert.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    server(move |s| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(s).await else {
                return;
            };
            read_head(&mut tls).await;
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            let _ = tls.shutdown().await;
        }
    })
    .await
}

fn tls_target(port: u16, ca_file: Option<&Path>) -> ProbeTarget {
    let tls = ca_file.map_or(String::new(), |p| {
        format!(", tls: {{ca_file: \"{}\"}}", p.display())
    });
    target_for(&format!(
        "{{name: e, url: \"https://localhost:{port}/\"{tls}}}"
    ))
}

#[tokio::test]
async fn self_signed_certificate_is_untrusted() {
    let port = tls_server(&pki(-1, 90, true)).await;
    let s = run(&tls_target(port, None)).await;
    assert_eq!(s.class, FailureClass::Tls);
    assert!(s.error.unwrap().contains("not trusted"));
}

#[tokio::test]
async fn expired_certificate_is_tls() {
    let p = pki(-30, -1, false);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &p.ca_pem).unwrap();
    let port = tls_server(&p).await;
    let s = run(&tls_target(port, Some(&ca))).await;
    assert_eq!(s.class, FailureClass::Tls);
    assert!(s.error.unwrap().contains("has expired"));
}

#[tokio::test]
async fn certificate_with_five_days_left_is_ok_with_a_warning() {
    let p = pki(-1, 5, false);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &p.ca_pem).unwrap();
    let port = tls_server(&p).await;
    let s = run(&tls_target(port, Some(&ca))).await;
    assert_eq!(s.class, FailureClass::Ok, "{:?}", s.error);
    assert!(s.phases.tls.is_some());
    let days = s.cert_days_left.unwrap();
    assert!((4.9..=5.01).contains(&days), "{days}");
    assert_eq!(s.warnings.len(), 1);
    assert!(s.warnings[0].contains("under 7"), "{:?}", s.warnings);

    // Under 48 h the same check fails the probe.
    let p = pki(-1, 1, false);
    std::fs::write(&ca, &p.ca_pem).unwrap();
    let port = tls_server(&p).await;
    let s = run(&tls_target(port, Some(&ca))).await;
    assert_eq!(s.class, FailureClass::Tls);
}

// ---------------------------------------------------------------------------
// Scheduler

#[tokio::test]
async fn scheduler_never_piles_up_probes_on_a_slow_endpoint() {
    let (hits_tx, mut hits_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let port = server(move |mut s| {
        let hits = hits_tx.clone();
        async move {
            read_head(&mut s).await;
            let _ = hits.send(());
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    // Interval 200 ms, but each probe hangs until its 1 s timeout.
    let mut t = target(port, ", interval: 200ms, timeout: 1s");
    t.timeout = Duration::from_millis(1000);
    let fast_port = answering(200, "", "ok").await;
    let fast = target(fast_port, ", interval: 100ms, timeout: 100ms");
    let targets = Arc::new(vec![t, fast]);
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let sched = tokio::spawn(schedule::run(targets, 8, tx, stop_rx));
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut overruns, mut slow_samples, mut fast_samples) = (0, 0, 0);
    while (slow_samples < 2 || overruns < 4 || fast_samples < 10) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
            Ok(Some(ProbeEvent::Overrun { endpoint: 0, .. })) => overruns += 1,
            Ok(Some(ProbeEvent::Sample {
                endpoint: 0,
                sample,
            })) => {
                assert_eq!(sample.class, FailureClass::Timeout);
                slow_samples += 1;
            }
            Ok(Some(ProbeEvent::Sample {
                endpoint: 1,
                sample,
            })) => {
                assert_eq!(sample.class, FailureClass::Ok);
                assert!(
                    sample.lateness < Duration::from_millis(200),
                    "{:?}",
                    sample.lateness
                );
                fast_samples += 1;
            }
            _ => {}
        }
    }
    let _ = stop.send(true);
    sched.await.unwrap();
    assert!(
        slow_samples >= 2 && overruns >= 4 && fast_samples >= 10,
        "{slow_samples} {overruns} {fast_samples}"
    );
    // One request per probe that ran: overruns never reached the server.
    let mut hits = 0;
    while hits_rx.try_recv().is_ok() {
        hits += 1;
    }
    assert!(
        hits <= slow_samples + 1,
        "{hits} requests for {slow_samples} probes"
    );
}

#[tokio::test]
async fn connections_are_new_per_probe_unless_reuse_is_on() {
    for reuse in [false, true] {
        let (conn_tx, mut conn_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let port = server(move |mut s| {
            let conns = conn_tx.clone();
            async move {
                let _ = conns.send(());
                loop {
                    let head = read_head(&mut s).await;
                    if head.is_empty() {
                        return;
                    }
                    if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        })
        .await;
        let t = target(port, &format!(", reuse_connections: {reuse}"));
        let mut samples = Vec::new();
        for _ in 0..3 {
            samples.push(run(&t).await);
        }
        assert!(samples.iter().all(|s| s.class == FailureClass::Ok));
        let mut conns = 0;
        while conn_rx.try_recv().is_ok() {
            conns += 1;
        }
        if reuse {
            assert_eq!(conns, 1, "one kept-alive connection");
            assert!(samples[0].phases.connect.is_some());
            assert!(samples[1].phases.connect.is_none() && samples[2].phases.connect.is_none());
        } else {
            assert_eq!(conns, 3, "a new connection per probe");
            assert!(samples.iter().all(|s| s.phases.connect.is_some()));
        }
    }
}
