//! Team incidents over NATS JetStream, the I/O part: connecting with the
//! configured credentials and TLS, the stream that holds a service's
//! incidents, publishing an event (idempotent: its `id` is the message id),
//! and reading incidents back. `sync` keeps a timeline directory in step with
//! the stream; `presence` says who is in. Names, the wire form and the checks
//! on what comes in are pure, in `core::team`.

pub mod lease;
pub mod presence;
pub mod samples;
pub mod sync;

use crate::config::Team as TeamConfig;
use crate::core::event::{Event, EventId, Kind};
use crate::core::team::{self, Names};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Publishes of one id within this window are stored once by the server.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(3600);
/// Most events read back from the stream in one go.
const MAX_REPLAY: usize = 1_000_000;
/// Most bytes of events read back from the stream in one go.
const MAX_REPLAY_BYTES: usize = 256 << 20;

/// What went wrong talking to the team server.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// No connection (refused, timed out, authentication or TLS failed).
    #[error("team: cannot connect to {server}: {why}")]
    Connect {
        /// The server, without credentials.
        server: String,
        /// Why, and what to do.
        why: String,
    },
    /// The server refused or did not answer a request.
    #[error("team: {what} on {server}: {why}")]
    Request {
        /// The server.
        server: String,
        /// What was asked.
        what: String,
        /// Why it failed.
        why: String,
    },
    /// The configuration cannot be used (a credentials file that does not read).
    #[error("team: {0}")]
    Config(String),
}

/// A connection to the team server for one service.
#[derive(Clone)]
pub struct Team {
    pub(crate) client: async_nats::Client,
    js: jetstream::Context,
    /// The subjects, stream and buckets of the service.
    pub names: Names,
    server: String,
}

impl Team {
    /// Connects as `responder` and makes sure the service's stream exists;
    /// gives up after `wait`.
    pub async fn connect(
        config: &TeamConfig,
        service: &str,
        responder: &str,
        wait: Duration,
    ) -> Result<Team, TeamError> {
        let server = display_servers(config.nats.expose());
        let options = options(config, responder, wait).await?;
        let connect = options.connect(config.nats.expose());
        let client = match tokio::time::timeout(wait, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                // Whatever the client says, no credential of ours is in it.
                let said = crate::core::redact::redact_text(&e.to_string(), &credentials(config));
                return Err(TeamError::Connect {
                    why: connect_hint(&said),
                    server,
                });
            }
            Err(_) => {
                return Err(TeamError::Connect {
                    server,
                    why: format!(
                        "no answer within {} s: check the address and that nats-server runs (`nats-server -js`)",
                        wait.as_secs()
                    ),
                });
            }
        };
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        let team = Team {
            client,
            js,
            names: Names::new(&config.stream_prefix, service),
            server,
        };
        team.stream().await?;
        Ok(team)
    }

    /// The server, as shown (no credentials).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the connection stands now (the client reconnects by itself).
    pub fn online(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn failed(&self, what: &str, e: impl std::fmt::Display) -> TeamError {
        TeamError::Request {
            server: self.server.clone(),
            what: what.to_string(),
            why: request_hint(&e.to_string()),
        }
    }

    /// The service's stream, created when missing: every incident's events,
    /// kept on disk, never deleted or purged by a client, a publish of an id
    /// already stored within the hour dropped.
    pub async fn stream(&self) -> Result<stream::Stream, TeamError> {
        let config = stream::Config {
            name: self.names.stream(),
            subjects: vec![self.names.events()],
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            max_message_size: i32::try_from(crate::core::event::MAX_LINE).unwrap_or(i32::MAX),
            deny_delete: true,
            deny_purge: true,
            description: Some("incident-commander: the service's incident timelines".into()),
            ..stream::Config::default()
        };
        self.js
            .get_or_create_stream(config)
            .await
            .map_err(|e| self.failed(&format!("open stream {}", self.names.stream()), e))
    }

    /// Publishes `event` on its incident's subject and waits for the server to
    /// store it; `Ok(true)` when it was stored before (a duplicate).
    pub async fn publish(&self, incident: &EventId, event: &Event) -> Result<bool, TeamError> {
        let Some(subject) = self.names.subject(incident) else {
            return Err(TeamError::Config(format!(
                "incident id `{incident}` cannot be a NATS subject: this incident stays local"
            )));
        };
        let Some(id) = event.id.as_ref() else {
            return Err(TeamError::Config(format!(
                "event {} has no id: it stays local",
                event.seq
            )));
        };
        let message = jetstream::message::PublishMessage::build()
            .payload(team::encode(event).into())
            .message_id(id.as_str());
        let ack = self
            .js
            .send_publish(subject, message)
            .await
            .map_err(|e| self.failed("publish an event", e))?;
        let ack = tokio::time::timeout(REQUEST_TIMEOUT, ack)
            .await
            .map_err(|_| self.failed("publish an event", "no acknowledgement within 5 s"))?
            .map_err(|e| self.failed("publish an event", e))?;
        Ok(ack.duplicate)
    }

    /// A consumer of every incident's events from stream sequence `from`
    /// (1: from the start), in order.
    pub async fn follow(&self, from: u64) -> Result<consumer::pull::Ordered, TeamError> {
        let stream = self.stream().await?;
        let deliver_policy = if from <= 1 {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: from,
            }
        };
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: self.names.events(),
                deliver_policy,
                ..consumer::pull::OrderedConfig::default()
            })
            .await
            .map_err(|e| self.failed("follow the incidents", e))?;
        consumer
            .messages()
            .await
            .map_err(|e| self.failed("follow the incidents", e))
    }

    /// Every incident's events now in the stream, by incident id, in stream
    /// order; messages that are not events are logged and skipped.
    pub async fn incidents(&self) -> Result<BTreeMap<String, Vec<Event>>, TeamError> {
        let mut stream = self.stream().await?;
        let last = stream
            .info()
            .await
            .map_err(|e| self.failed("read the stream", e))?
            .state
            .last_sequence;
        let mut out: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        if last == 0 {
            return Ok(out);
        }
        let mut messages = self.follow(1).await?;
        let mut count = 0;
        let mut bytes = 0usize;
        loop {
            let next = tokio::time::timeout(REQUEST_TIMEOUT, messages.next())
                .await
                .map_err(|_| self.failed("read the stream", "no message within 5 s"))?;
            let Some(message) = next else { break };
            let message = message.map_err(|e| self.failed("read the stream", e))?;
            let (seq, pending) = message
                .info()
                .map(|i| (i.stream_sequence, i.pending))
                .unwrap_or((last, 0));
            bytes = bytes.saturating_add(message.payload.len());
            if bytes > MAX_REPLAY_BYTES {
                return Err(self.failed(
                    "read the stream",
                    format!(
                        "it holds over {} MiB of events: more than ic reads at once",
                        MAX_REPLAY_BYTES >> 20
                    ),
                ));
            }
            if let Some(incident) = self.names.incident_of(message.subject.as_str()) {
                match team::decode(&message.payload, incident, crate::clock::now()) {
                    Ok(e) => out.entry(incident.to_string()).or_default().push(e),
                    Err(why) => tracing::warn!(subject = %message.subject, "team: {why}: skipped"),
                }
            }
            count += 1;
            if seq >= last || pending == 0 || count >= MAX_REPLAY {
                break;
            }
        }
        Ok(out)
    }

    /// The NATS client (for the presence bucket).
    pub(crate) fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// The key-value bucket `name`, created when missing. Its stream is made
    /// here, as the key-value conventions lay it out, because the client's own
    /// bucket creation asks for account details a 2.9 server does not give.
    pub(crate) async fn bucket(
        &self,
        name: &str,
        description: &str,
        max_age: Duration,
    ) -> Result<jetstream::kv::Store, TeamError> {
        if let Ok(store) = self.js.get_key_value(name).await {
            return Ok(store);
        }
        let config = stream::Config {
            name: format!("KV_{name}"),
            description: Some(description.to_string()),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_age,
            max_message_size: 4096,
            // Kept in the server's memory: bounded, whatever anyone writes.
            max_bytes: 4 << 20,
            storage: stream::StorageType::Memory,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: 1,
            ..stream::Config::default()
        };
        if let Err(e) = self.js.get_or_create_stream(config).await {
            return Err(self.failed(&format!("create bucket {name}"), e));
        }
        self.js
            .get_key_value(name)
            .await
            .map_err(|e| self.failed(&format!("open bucket {name}"), e))
    }
}

/// The first wait between connection attempts of the background tasks.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(500);

/// Waits `wait` (then doubles it, to 10 s) unless `stop` changes first;
/// `true` when stopped.
pub(crate) async fn pause(
    stop: &mut tokio::sync::watch::Receiver<bool>,
    wait: &mut Duration,
) -> bool {
    let stopped = tokio::select! {
        _ = stop.changed() => true,
        _ = tokio::time::sleep(*wait) => false,
    };
    *wait = (*wait * 2).min(Duration::from_secs(10));
    stopped
}

/// Connects for a background task, again and again with [`pause`] between,
/// until it works (the wait starts over) or `stop` changes (`None`).
pub(crate) async fn connect_until(
    config: &TeamConfig,
    service: &str,
    responder: &str,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    wait: &mut Duration,
) -> Option<Team> {
    loop {
        let team = tokio::select! {
            _ = stop.changed() => return None,
            t = Team::connect(config, service, responder, Duration::from_secs(3)) => t,
        };
        match team {
            Ok(t) => {
                *wait = FIRST_RETRY;
                return Some(t);
            }
            // The sync task reports the connection; the others only retry.
            Err(_) => {
                if pause(stop, wait).await {
                    return None;
                }
            }
        }
    }
}

/// The incident a team incident's events belong to: the id of its
/// `incident_opened` event.
pub fn incident_of(events: &[Event]) -> Option<&EventId> {
    events
        .iter()
        .find(|e| e.kind == Kind::IncidentOpened)
        .and_then(|e| e.id.as_ref())
}

async fn options(
    config: &TeamConfig,
    responder: &str,
    wait: Duration,
) -> Result<async_nats::ConnectOptions, TeamError> {
    let mut o = async_nats::ConnectOptions::new()
        .name(format!("incident-commander {responder}"))
        .connection_timeout(wait)
        .request_timeout(Some(REQUEST_TIMEOUT))
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            // 0.25 s, doubling to 2 s: a restarted server is found within seconds.
            Duration::from_millis((250u64 << attempts.min(5)).min(2_000))
        })
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("team: connected"),
                async_nats::Event::Disconnected => tracing::warn!("team: disconnected"),
                other => tracing::warn!("team: {other}"),
            }
        });
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        o = o.user_and_password(user.expose().to_string(), password.expose().to_string());
    }
    if let Some(token) = &config.token {
        o = o.token(token.expose().to_string());
    }
    if let Some(seed) = &config.nkey {
        o = o.nkey(seed.expose().trim().to_string());
    }
    if let Some(creds) = &config.creds_file {
        o = o.credentials_file(creds).await.map_err(|e| {
            TeamError::Config(format!(
                "{}: not a NATS credentials file: {e}; give the .creds file `nsc` wrote",
                creds.display()
            ))
        })?;
    }
    let tls = config.nats.expose().contains("tls://");
    if let Some(ca) = &config.tls.ca_file {
        o = o.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        o = o
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true);
    }
    if tls {
        o = o.require_tls(true);
    }
    Ok(o)
}

/// Every credential the team config holds (for redaction).
fn credentials(config: &TeamConfig) -> Vec<String> {
    let mut out: Vec<String> = [&config.password, &config.token, &config.nkey]
        .into_iter()
        .flatten()
        .map(|t| t.expose().to_string())
        .collect();
    for server in config.nats.expose().split(',') {
        if let Ok(u) = url::Url::parse(server.trim()) {
            out.extend(u.password().map(str::to_string));
            if !u.username().is_empty() {
                out.push(u.username().to_string());
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The configured servers without any credentials in them.
fn display_servers(servers: &str) -> String {
    servers
        .split(',')
        .map(|s| match url::Url::parse(s.trim()) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string().trim_end_matches('/').to_string()
            }
            Err(_) => "the configured server".to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A connection error with what to do about it.
fn connect_hint(why: &str) -> String {
    let lower = why.to_lowercase();
    let hint = if lower.contains("authorization") || lower.contains("authentication") {
        "the server refused the credentials: check team.user/password, token, nkey or creds_file"
    } else if lower.contains("certificate") || lower.contains("tls") {
        "TLS failed: check team.tls.ca_file (the CA that signed the server's certificate) and the host name"
    } else if lower.contains("refused") || lower.contains("timed out") || lower.contains("io error")
    {
        "is nats-server running there with JetStream (`nats-server -js`)? ic keeps working locally meanwhile"
    } else {
        "ic keeps working locally meanwhile"
    };
    format!("{why} — {hint}")
}

/// A request error with what to do about it.
fn request_hint(why: &str) -> String {
    let lower = why.to_lowercase();
    if lower.contains("jetstream not enabled") || lower.contains("no responders") {
        format!("{why} — the server has no JetStream: start it with `nats-server -js`")
    } else if lower.contains("permission") {
        format!("{why} — the server's permissions do not let this user use the team's subjects")
    } else {
        why.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_shown_without_credentials() {
        assert_eq!(
            display_servers("nats://ann:s3cret@127.0.0.1:4222, tls://tok@nats.example:4443"),
            "nats://127.0.0.1:4222,tls://nats.example:4443"
        );
        assert!(!display_servers("nats://u:p@h:1").contains('p'));
        assert_eq!(display_servers("::"), "the configured server");
    }
}
