//! Telling people: desktop notification (notify-rust), terminal bell and
//! webhook POST (generic JSON or Slack-compatible `{"text": …}`) with timeout
//! and retries. Sending happens on a background task behind a bounded queue,
//! so a slow or failing webhook never delays detection; the same signal is
//! not re-sent within `notify.min_interval`.
//!
//! A webhook redirect is never followed, to another origin or the same: the
//! payload goes to the configured URL or nowhere (a 307 would re-POST it
//! wherever the receiver points; a 301/302 would turn it into a GET and lose
//! it). A 3xx answer fails the notification, is not retried, and is logged
//! with the origin it pointed to.

use crate::config::{Notify, WebhookFormat};
use crate::core::signal::{DetectorKind, Signal, SignalState};
use crate::source::tls;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Notifications waiting to be sent; beyond this, new ones are dropped (and counted).
const QUEUE: usize = 256;
/// Attempts per webhook notification.
const ATTEMPTS: u32 = 3;

/// What `Notifier::notify` did with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Queued for sending.
    Queued,
    /// The same signal went out less than `min_interval` ago.
    TooSoon,
    /// The queue was full (the sender is stuck); dropped.
    Dropped,
}

/// Counters of what the background sender did.
#[derive(Debug, Default)]
pub struct Stats {
    /// Webhook posts that succeeded.
    pub webhook_sent: AtomicU64,
    /// Webhook notifications given up after all attempts.
    pub webhook_failed: AtomicU64,
    /// Webhook attempts, retries included.
    pub webhook_attempts: AtomicU64,
    /// Desktop notifications shown.
    pub desktop_sent: AtomicU64,
    /// Desktop notifications that could not be shown.
    pub desktop_failed: AtomicU64,
    /// Terminal bells rung.
    pub bells: AtomicU64,
}

/// What the background sender sends.
enum Job {
    /// A detector signal: bell, desktop, webhook.
    Signal(Signal),
    /// A status update written by the responder: webhook only.
    Comms(String),
    /// A reminder for the responder at this screen (an update falls due): bell and desktop only.
    Reminder(String),
}

/// Sends notifications about signals, and status updates to the webhook.
pub struct Notifier {
    queue: mpsc::Sender<Job>,
    min_interval: Duration,
    last: HashMap<(DetectorKind, String), Instant>,
    stats: Arc<Stats>,
}

struct Sender {
    desktop: bool,
    bell: bool,
    webhook: Option<(reqwest::Client, String, WebhookFormat)>,
    secrets: Vec<String>,
    stats: Arc<Stats>,
    desktop_broken: bool,
}

impl Notifier {
    /// Starts the background sender (needs a tokio runtime). `secrets` are redacted from payloads.
    pub fn start(config: &Notify, secrets: &[String]) -> Notifier {
        let stats = Arc::new(Stats::default());
        let webhook = config
            .webhook
            .as_ref()
            .and_then(|w| match client(w.timeout.get()) {
                Ok(c) => Some((c, w.url.expose().to_string(), w.format)),
                Err(e) => {
                    tracing::warn!("webhook disabled: {e}");
                    None
                }
            });
        let sender = Sender {
            desktop: config.desktop,
            bell: config.bell,
            webhook,
            secrets: secrets.to_vec(),
            stats: stats.clone(),
            desktop_broken: false,
        };
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(sender.run(rx));
        Notifier {
            queue,
            min_interval: config.min_interval.get(),
            last: HashMap::new(),
            stats,
        }
    }

    /// What has been sent so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Queues a notification for `signal` unless the same one went out within the interval.
    /// Never waits. `Resolved` always goes out when its `Fired` did.
    pub fn notify(&mut self, signal: &Signal, now: Instant) -> Decision {
        let key = (signal.kind, signal.target.clone());
        match signal.state {
            SignalState::Resolved => {
                if self.last.remove(&key).is_none() {
                    return Decision::TooSoon; // nothing was announced, so nothing to close
                }
            }
            // Recorded and shown, never sent: a blip healed, a flap is the open signal going on.
            SignalState::Blip | SignalState::Flapping => return Decision::TooSoon,
            SignalState::Fired | SignalState::Updated => {
                if self
                    .last
                    .get(&key)
                    .is_some_and(|t| now.duration_since(*t) < self.min_interval)
                {
                    return Decision::TooSoon;
                }
                self.last.insert(key, now);
            }
        }
        match self.queue.try_send(Job::Signal(signal.clone())) {
            Ok(()) => Decision::Queued,
            Err(_) => {
                tracing::warn!("notification queue full; dropped: {}", signal.headline());
                Decision::Dropped
            }
        }
    }

    /// Queues a status update for the webhook (if one is configured). Never waits.
    /// Queues a reminder for the responder (bell and desktop, never the webhook:
    /// it is this screen's business, not the team channel's).
    pub fn reminder(&mut self, text: &str) -> Decision {
        match self.queue.try_send(Job::Reminder(text.to_string())) {
            Ok(()) => Decision::Queued,
            Err(_) => {
                tracing::warn!("notification queue full; reminder not shown");
                Decision::Dropped
            }
        }
    }

    pub fn comms(&mut self, text: &str) -> Decision {
        match self.queue.try_send(Job::Comms(text.to_string())) {
            Ok(()) => Decision::Queued,
            Err(_) => {
                tracing::warn!("notification queue full; status update not sent");
                Decision::Dropped
            }
        }
    }
}

impl Sender {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(job) = rx.recv().await {
            let mut signal = match job {
                Job::Signal(s) => s,
                Job::Comms(text) => {
                    if let Some((client, url, format)) = &self.webhook {
                        let text = crate::core::redact::redact_text(&text, &self.secrets);
                        let body = match format {
                            WebhookFormat::Slack => {
                                serde_json::json!({ "text": format!("Status update\n{text}") })
                            }
                            WebhookFormat::Json => {
                                serde_json::json!({ "text": text, "kind": "comms_update" })
                            }
                        };
                        post_with_retries(client, url, &body, &self.stats).await;
                    }
                    continue;
                }
                Job::Reminder(text) => {
                    if self.bell {
                        let mut err = std::io::stderr();
                        let _ = err.write_all(b"\x07").and_then(|()| err.flush());
                        self.stats.bells.fetch_add(1, Ordering::Relaxed);
                    }
                    if self.desktop && !self.desktop_broken {
                        self.show("incident-commander: status update due", &text)
                            .await;
                    }
                    continue;
                }
            };
            // Evidence may quote what an endpoint echoed back: keep secrets out of every payload.
            signal.evidence = crate::core::sample::redact(&signal.evidence, &self.secrets);
            signal.target = crate::core::sample::redact(&signal.target, &self.secrets);
            let line = signal.headline();
            if self.bell && signal.state == SignalState::Fired {
                let mut err = std::io::stderr();
                let _ = err.write_all(b"\x07").and_then(|()| err.flush());
                self.stats.bells.fetch_add(1, Ordering::Relaxed);
            }
            if self.desktop && !self.desktop_broken {
                self.desktop(&signal, &line).await;
            }
            if let Some((client, url, format)) = &self.webhook {
                let body = payload(&signal, &line, *format);
                post_with_retries(client, url, &body, &self.stats).await;
            }
        }
    }

    async fn desktop(&mut self, signal: &Signal, line: &str) {
        let summary = format!("{} {}", signal.kind.as_str(), signal.target);
        self.show(&summary, line).await;
    }

    /// Shows one desktop notification; the first failure turns them off.
    async fn show(&mut self, summary: &str, body: &str) {
        let shown = notify_rust::Notification::new()
            .appname("incident-commander")
            .summary(summary)
            .body(body)
            .show_async()
            .await;
        match shown {
            Ok(_) => {
                self.stats.desktop_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.desktop_failed.fetch_add(1, Ordering::Relaxed);
                self.desktop_broken = true;
                tracing::warn!(
                    "no desktop notification service ({e}); desktop notifications are off from now on"
                );
            }
        }
    }
}

/// The webhook's HTTP client: rustls with ring, the attempt timeout, and no redirects.
fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    let tls = tls::client_config(None, false).map_err(|e| e.to_string())?;
    reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "incident-commander/",
            env!("CARGO_PKG_VERSION"),
            " (notify)"
        ))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Why a 3xx answer is not followed: where it pointed (its origin only, since
/// the path and query of a webhook URL may hold a token) and what to do.
fn redirect_refused(response: &reqwest::Response) -> String {
    let status = response.status().as_u16();
    let from = response.url();
    let to = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| from.join(loc).ok());
    let whither = match to {
        Some(to) if to.origin() == from.origin() => {
            "to another path on the same origin".to_string()
        }
        Some(to) => format!("to another origin ({})", to.origin().ascii_serialization()),
        None => "without a usable Location".to_string(),
    };
    format!(
        "webhook answered HTTP {status}, a redirect {whither}: not followed, notifications never \
         follow redirects (the payload would go somewhere not configured); set notify.webhook.url \
         to the URL that accepts the POST"
    )
}

/// The webhook body: Slack's `{"text": …}`, or our JSON object.
pub fn payload(signal: &Signal, line: &str, format: WebhookFormat) -> serde_json::Value {
    match format {
        WebhookFormat::Slack => serde_json::json!({ "text": line }),
        WebhookFormat::Json => serde_json::json!({
            "text": line,
            "kind": signal.kind,
            "target": signal.target,
            "state": signal.state,
            "severity": signal.severity,
            "evidence": signal.evidence,
            "started": signal.started,
            "at": signal.at,
        }),
    }
}

async fn post_with_retries(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    stats: &Stats,
) {
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=ATTEMPTS {
        stats.webhook_attempts.fetch_add(1, Ordering::Relaxed);
        let outcome = client.post(url).json(body).send().await;
        let retry = match &outcome {
            Ok(r) if r.status().is_success() => {
                stats.webhook_sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) if r.status().is_redirection() => {
                tracing::error!("{}", redirect_refused(r));
                false
            }
            Ok(r) => {
                let s = r.status().as_u16();
                tracing::warn!("webhook answered HTTP {s} (attempt {attempt} of {ATTEMPTS})");
                s == 429 || s >= 500
            }
            Err(e) => {
                // The URL may hold a token: describe the failure without it.
                let kind = if e.is_timeout() {
                    "timed out"
                } else {
                    "could not connect"
                };
                tracing::warn!("webhook {kind} (attempt {attempt} of {ATTEMPTS})");
                true
            }
        };
        if !retry || attempt == ATTEMPTS {
            break;
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    stats.webhook_failed.fetch_add(1, Ordering::Relaxed);
}
