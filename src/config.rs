//! The `ic.yaml` model: parsing with `FILE:LINE:COL` errors, `${ENV}`
//! interpolation that never prints secrets back, defaults, and where the file is found.
//!
//! Parsing is also the one place a config is validated: everything the
//! probes, TLS setup, scrapes, the timeline and the playbooks need is checked
//! here — header names and values (after `${ENV}`), CA files, the timeline
//! and playbook paths (relative to the config file, made absolute once),
//! durations and counts above zero, conflicting credentials, something to
//! watch — each error at the position of the value it is about, with a hint.
//! `ic lint`, `ic check`, `ic watch` and the view all load through
//! [`Config::parse`], so what lint accepts, they run.

use crate::core::detect::Settings;
use crate::core::sample::{Expectations, StatusPattern};
use crate::core::units::HumanDuration;
use crate::core::yaml::{self, YamlError};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name looked up in the current directory and the platform config dir.
pub const CONFIG_FILE_NAME: &str = "ic.yaml";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Service name shown in the title and the postmortem.
    pub service: Text,
    /// The environment the service runs in (`prod`, `staging`), shown in the
    /// view's header as `env: NAME` (production-like names stand out).
    #[serde(default, deserialize_with = "environment_name")]
    pub environment: Option<Text>,
    /// The view's palette; `--theme` overrides it, `NO_COLOR` forces `mono`.
    #[serde(default)]
    pub theme: Option<ThemeName>,
    /// Who is at the keyboard, as the timeline names them (default `$USER@host`).
    #[serde(default)]
    pub responder: Option<Text>,
    /// Where incident timelines are written; default: the platform data dir.
    #[serde(default, deserialize_with = "timeline_dir_path")]
    pub timeline_dir: Option<PathBuf>,
    /// Playbook directory or files; default: the bundled playbooks.
    #[serde(default)]
    pub playbooks: Option<PlaybookPaths>,
    /// Probe defaults.
    #[serde(default)]
    pub poll: Poll,
    /// HTTP endpoints to probe.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Prometheus `/metrics` targets to scrape.
    #[serde(default)]
    pub metrics: Vec<MetricsTarget>,
    /// Optional Prometheus-compatible query API.
    #[serde(default)]
    pub prometheus: Option<PrometheusSource>,
    /// Optional Alertmanager.
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerSource>,
    /// Detection settings.
    #[serde(default)]
    pub detect: Settings,
    /// Incident handling.
    #[serde(default)]
    pub incidents: Incidents,
    /// Notification settings.
    #[serde(default)]
    pub notify: Notify,
    /// Maintenance windows: the targets they cover never page while they hold.
    #[serde(default)]
    pub maintenance: Vec<crate::core::silence::Window>,
    /// One incident shared by every responder over NATS JetStream (none:
    /// everything stays on this machine).
    #[serde(default)]
    pub team: Option<Team>,
    /// Values that came from the environment, and credentials from URLs, to redact
    /// wherever output leaves `ic`.
    #[serde(skip)]
    secrets: Secrets,
    /// Variables whose values are too short to redact (see [`Config::warnings`]).
    #[serde(skip)]
    short_secrets: Vec<String>,
    /// The file this config was read from.
    #[serde(skip)]
    pub source: PathBuf,
}

/// `playbooks:` — one directory (or file), or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaybookPaths {
    /// A single directory or file.
    One(PathBuf),
    /// Several directories or files.
    Many(Vec<PathBuf>),
}

impl<'de> Deserialize<'de> for PlaybookPaths {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PlaybookPaths;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a directory, or a list of playbook files or directories")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PlaybookPaths, E> {
                playbook_path(s).map(PlaybookPaths::One)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PlaybookPaths, A::Error> {
                let mut all = Vec::new();
                while let Some(PlaybookPath(p)) = seq.next_element()? {
                    all.push(p);
                }
                Ok(PlaybookPaths::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// `poll:` — defaults for every endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Poll {
    /// How often each endpoint is probed (above 0s).
    #[serde(deserialize_with = "positive_duration")]
    pub interval: HumanDuration,
    /// How long one probe may take (above 0s).
    #[serde(deserialize_with = "positive_duration")]
    pub timeout: HumanDuration,
    /// How many probes may be in flight at once (at least 1).
    #[serde(deserialize_with = "positive_count")]
    pub concurrency: usize,
    /// Keep connections open between probes (default: a new connection per probe,
    /// so connect and TLS are measured every time).
    pub reuse_connections: bool,
}

impl Default for Poll {
    fn default() -> Self {
        Poll {
            interval: HumanDuration(Duration::from_secs(2)),
            timeout: HumanDuration(Duration::from_millis(1500)),
            concurrency: 64,
            reuse_connections: false,
        }
    }
}

/// One HTTP endpoint to probe.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Endpoint {
    /// Unique name shown on screen.
    pub name: TargetName,
    /// What to request.
    pub url: HttpUrl,
    /// HTTP method; default GET.
    #[serde(default)]
    pub method: Method,
    /// Request headers (values may use `${ENV}`); names and values checked.
    #[serde(default, deserialize_with = "headers")]
    pub headers: BTreeMap<String, Text>,
    /// Request body.
    #[serde(default)]
    pub body: Option<Text>,
    /// Overrides `poll.interval` (above 0s).
    #[serde(default, deserialize_with = "positive_duration_option")]
    pub interval: Option<HumanDuration>,
    /// Overrides `poll.timeout` (above 0s).
    #[serde(default, deserialize_with = "positive_duration_option")]
    pub timeout: Option<HumanDuration>,
    /// Overrides `poll.reuse_connections`.
    #[serde(default)]
    pub reuse_connections: Option<bool>,
    /// Follow a redirect from https to http (default false: refused, the probe
    /// fails). The configured headers and body never follow one either way,
    /// since another scheme is another origin.
    #[serde(default)]
    pub follow_insecure_redirects: bool,
    /// Core functionality: drives severity.
    #[serde(default)]
    pub critical: bool,
    /// What a good answer looks like.
    #[serde(default)]
    pub expect: Expect,
    /// TLS settings.
    #[serde(default)]
    pub tls: Tls,
}

impl Expect {
    /// The checks in the core's terms.
    pub fn expectations(&self) -> Expectations {
        Expectations {
            status: self.status.clone(),
            max_latency: self.max_latency.map(HumanDuration::get),
            body_contains: self.body_contains.as_ref().map(|t| t.expose().to_string()),
            json: self
                .json
                .iter()
                .map(|(p, v)| (p.as_str().to_string(), v.clone()))
                .collect(),
        }
    }
}

impl Endpoint {
    /// The probe interval, falling back to `poll.interval`.
    pub fn interval(&self, poll: &Poll) -> Duration {
        self.interval.unwrap_or(poll.interval).get()
    }
    /// The probe timeout, falling back to `poll.timeout`.
    pub fn timeout(&self, poll: &Poll) -> Duration {
        self.timeout.unwrap_or(poll.timeout).get()
    }
}

/// HTTP methods a probe may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET (default).
    #[default]
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

/// `expect:` — checks on the answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Acceptable statuses (`200`, `"2xx"`); empty means any 2xx or 3xx.
    #[serde(default)]
    pub status: Vec<StatusPattern>,
    /// Slower than this counts as `too_slow`.
    #[serde(default)]
    pub max_latency: Option<HumanDuration>,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Option<Text>,
    /// JSON pointer (`/status`) to the value it must have.
    #[serde(default)]
    pub json: BTreeMap<JsonPointer, serde_json::Value>,
}

/// `tls:` — certificate handling.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Extra CA certificate (PEM) to trust, relative to the config file; read
    /// and checked on parsing.
    #[serde(default, deserialize_with = "ca_file")]
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (flagged on screen).
    #[serde(default)]
    pub insecure: bool,
}

/// One `/metrics` target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsTarget {
    /// Unique name shown on screen.
    pub name: TargetName,
    /// The exposition URL.
    pub url: HttpUrl,
    /// Scrape interval; default 5s.
    #[serde(default = "default_scrape_interval")]
    pub interval: HumanDuration,
    /// Scrape timeout; default 3s.
    #[serde(default = "default_scrape_timeout")]
    pub timeout: HumanDuration,
    /// Request counter name; default: detected (`*_requests_total`).
    #[serde(default)]
    pub requests: Option<String>,
    /// Duration histogram name; default: detected (`*_duration_seconds`).
    #[serde(default)]
    pub duration: Option<String>,
    /// Label that names the route; default: first of route, handler, path, uri, endpoint.
    #[serde(default)]
    pub route_label: Option<String>,
    /// Label that carries the status code; default: first of status, code, status_code.
    #[serde(default)]
    pub status_label: Option<String>,
    /// Request headers (values may use `${ENV}`); names and values checked.
    #[serde(default, deserialize_with = "headers")]
    pub headers: BTreeMap<String, Text>,
}

fn default_scrape_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_scrape_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(3))
}

/// `prometheus:` — a Prometheus-compatible query API.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct PrometheusSource {
    /// Base URL, e.g. `http://prometheus:9090`.
    pub url: HttpUrl,
    /// Bearer token (use `${ENV}`).
    #[serde(default)]
    pub bearer_token: Option<Text>,
    /// Basic auth.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// How often to query; default 15s.
    #[serde(default = "default_query_interval")]
    pub interval: HumanDuration,
    /// Query timeout; default 10s.
    #[serde(default = "default_query_timeout")]
    pub timeout: HumanDuration,
    /// The `rate()` window of the default queries; default 1m.
    #[serde(default = "default_query_window")]
    pub window: HumanDuration,
    /// Metric and label names the default queries use.
    #[serde(default)]
    pub metrics: QueryNames,
    /// PromQL overriding any default query.
    #[serde(default)]
    pub queries: QueryOverrides,
}

fn default_query_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(15))
}
fn default_query_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_query_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

/// `prometheus.metrics:` — names the default queries are written over.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryNames {
    /// Request counter; default `http_requests_total`.
    pub requests: String,
    /// Latency histogram; default `http_request_duration_seconds`.
    pub duration: String,
    /// Route label; default `route`.
    pub route_label: String,
    /// Status label; default `status`.
    pub status_label: String,
}

impl Default for QueryNames {
    fn default() -> Self {
        QueryNames {
            requests: "http_requests_total".into(),
            duration: "http_request_duration_seconds".into(),
            route_label: "route".into(),
            status_label: "status".into(),
        }
    }
}

/// `prometheus.queries:` — PromQL for any figure, grouped by the route label.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryOverrides {
    /// Requests per second.
    #[serde(default)]
    pub rate: Option<String>,
    /// 5xx per second.
    #[serde(default)]
    pub errors_5xx: Option<String>,
    /// 4xx per second.
    #[serde(default)]
    pub errors_4xx: Option<String>,
    /// Median latency (seconds).
    #[serde(default)]
    pub p50: Option<String>,
    /// 95th percentile latency (seconds).
    #[serde(default)]
    pub p95: Option<String>,
    /// 99th percentile latency (seconds).
    #[serde(default)]
    pub p99: Option<String>,
}

/// Basic-auth credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: Text,
    /// Password (use `${ENV}`).
    pub password: Text,
}

/// `alertmanager:` — firing alerts as signals.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct AlertmanagerSource {
    /// Base URL, e.g. `http://alertmanager:9093`.
    pub url: HttpUrl,
    /// Bearer token (use `${ENV}`).
    #[serde(default)]
    pub bearer_token: Option<Text>,
    /// Only alerts whose labels have these values (e.g. `{service: checkout}`).
    #[serde(default)]
    pub matchers: BTreeMap<String, String>,
    /// How often to poll; default 15s.
    #[serde(default = "default_query_interval")]
    pub interval: HumanDuration,
    /// Request timeout; default 10s.
    #[serde(default = "default_query_timeout")]
    pub timeout: HumanDuration,
}

/// `team:` — the NATS server every responder's `ic` shares incidents through.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Team {
    /// The server, e.g. `nats://nats.internal:4222` (`tls://` to require TLS);
    /// several comma-separated for a cluster.
    pub nats: Text,
    /// User name (with `password`).
    #[serde(default)]
    pub user: Option<Text>,
    /// Password (use `${ENV}`).
    #[serde(default)]
    pub password: Option<Text>,
    /// Token (use `${ENV}`).
    #[serde(default)]
    pub token: Option<Text>,
    /// A `.creds` file (JWT and nkey seed), relative to this config file.
    #[serde(default, deserialize_with = "readable_file")]
    pub creds_file: Option<PathBuf>,
    /// An nkey seed (`SU…`; use `${ENV}`).
    #[serde(default)]
    pub nkey: Option<Text>,
    /// TLS: the CA to trust, and a client certificate.
    #[serde(default)]
    pub tls: TeamTls,
    /// This responder's name on the team (default: `responder:`, else `$USER@host`).
    #[serde(default)]
    pub responder: Option<Text>,
    /// First token of every subject, stream and bucket; default `ic`.
    #[serde(default = "default_stream_prefix")]
    pub stream_prefix: String,
    /// Where this `ic`'s probes run (`eu-west`): its probe results are shared,
    /// and an endpoint is down when most locations heard from see it down.
    #[serde(default)]
    pub location: Option<String>,
    /// Locations heard from within this long count for that majority; default 30s.
    #[serde(
        default = "default_quorum_window",
        deserialize_with = "positive_duration"
    )]
    pub quorum_window: HumanDuration,
}

fn default_quorum_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

fn default_stream_prefix() -> String {
    "ic".into()
}

/// `team.tls:` — files relative to the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamTls {
    /// CA certificates (PEM) that sign the server's certificate.
    #[serde(default, deserialize_with = "ca_file")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), with `key`.
    #[serde(default, deserialize_with = "readable_file")]
    pub cert: Option<PathBuf>,
    /// Client key (PEM), with `cert`.
    #[serde(default, deserialize_with = "readable_file")]
    pub key: Option<PathBuf>,
}

impl Team {
    /// `team.nats` as shown: any credentials in the URLs written `[redacted]`.
    pub fn servers_shown(&self) -> String {
        self.nats
            .to_string()
            .split(',')
            .map(|part| {
                let part = part.trim();
                match (part.find("://"), part.rfind('@')) {
                    (Some(i), Some(at)) if at > i => {
                        format!("{}[redacted]{}", &part[..i + 3], &part[at..])
                    }
                    _ => part.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn check(&self) -> Result<(), String> {
        // Credentials written in the file are secrets too: redacted wherever output leaves ic.
        let mut secrets: Vec<String> = [&self.password, &self.token, &self.nkey]
            .into_iter()
            .flatten()
            .map(|t| t.expose().to_string())
            .collect();
        for server in self.nats.expose().split(',') {
            if let Ok(u) = url::Url::parse(server.trim()) {
                secrets.extend(u.password().map(str::to_string));
                if u.password().is_none() && !u.username().is_empty() {
                    // `nats://TOKEN@host`: the user part is a token.
                    secrets.push(u.username().to_string());
                }
            }
        }
        add_secrets(secrets.into_iter().filter(|s| s.len() >= 4));
        let servers = self.nats.expose();
        for server in servers.split(',').map(str::trim) {
            let scheme_ok = ["nats://", "tls://"].iter().any(|s| server.starts_with(s));
            if !scheme_ok || url::Url::parse(server).map_or(true, |u| u.host_str().is_none()) {
                return Err(hinted(
                    format!(
                        "team.nats `{}` is not a NATS server URL",
                        self.servers_shown()
                    ),
                    "write nats://HOST:4222 (or tls://HOST:4222 to require TLS)",
                ));
            }
        }
        let ways = [
            self.user.is_some() || self.password.is_some(),
            self.token.is_some(),
            self.creds_file.is_some(),
            self.nkey.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() > 1 {
            return Err(hinted(
                "team has more than one credential (user/password, token, creds_file, nkey): which one is meant?",
                "keep one",
            ));
        }
        if self.user.is_some() != self.password.is_some() {
            return Err(hinted(
                "team.user and team.password go together",
                "give both, or neither",
            ));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(hinted(
                "team.tls.cert and team.tls.key go together",
                "give the client certificate and its key, or neither",
            ));
        }
        crate::core::team::check_prefix(&self.stream_prefix)?;
        if let Some(name) = &self.responder {
            crate::responder::check(name.expose())?;
        }
        if let Some(loc) = &self.location
            && (loc.is_empty()
                || loc.len() > 32
                || !loc
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(hinted(
                format!("team.location `{loc}` must be 1 to 32 of A-Z a-z 0-9 - _"),
                "name the region or site, e.g. `location: eu-west`",
            ));
        }
        Ok(())
    }
}

/// `incidents:` — how incidents start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Incidents {
    /// Open an incident when a signal fires and none is open; default true.
    pub auto_open: bool,
    /// An open incident with no event for this long is stale: not resumed
    /// silently, and no new signal joins it; default 1h.
    pub stale_after: HumanDuration,
}

impl Default for Incidents {
    fn default() -> Self {
        Incidents {
            auto_open: true,
            stale_after: HumanDuration(std::time::Duration::from_secs(3600)),
        }
    }
}

/// `notify:` — where alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notify {
    /// Desktop notification.
    pub desktop: bool,
    /// Terminal bell.
    pub bell: bool,
    /// Webhook POST.
    pub webhook: Option<Webhook>,
    /// Least time between two notifications about the same signal; default 5m.
    pub min_interval: HumanDuration,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            desktop: true,
            bell: true,
            webhook: None,
            min_interval: HumanDuration(Duration::from_secs(300)),
        }
    }
}

/// A webhook destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where to POST (use `${ENV}` for secret URLs).
    pub url: HttpUrl,
    /// Payload format.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Timeout of one attempt; default 5s.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: HumanDuration,
}

fn default_webhook_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

/// Webhook payload formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Our own JSON object.
    #[default]
    Json,
    /// Slack-compatible `{"text": ...}`.
    Slack,
}

/// The view's palettes (`theme:` in the config, `--theme` on the command line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ThemeName {
    /// The terminal's own colours (the 16 named ANSI colours).
    #[default]
    Default,
    /// Bright colours, bold, no dimmed text.
    HighContrast,
    /// Blue and orange instead of green and red; bad also bold and underlined.
    Colorblind,
    /// No colour at all (what `NO_COLOR` forces).
    Mono,
}

impl ThemeName {
    /// Every theme, in the order they are listed to the user.
    pub const ALL: [ThemeName; 4] = [
        ThemeName::Default,
        ThemeName::HighContrast,
        ThemeName::Colorblind,
        ThemeName::Mono,
    ];

    /// The name as written in the config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ThemeName::Default => "default",
            ThemeName::HighContrast => "high-contrast",
            ThemeName::Colorblind => "colorblind",
            ThemeName::Mono => "mono",
        }
    }

    /// The choices, for messages: `default, high-contrast, colorblind, mono`.
    pub fn choices() -> String {
        ThemeName::ALL.map(ThemeName::as_str).join(", ")
    }

    /// The theme called `s` (exactly as [`ThemeName::as_str`] writes it);
    /// `Err` names the value and lists the choices.
    pub fn parse(s: &str) -> Result<ThemeName, String> {
        ThemeName::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{}` is not a theme: choose one of {}",
                    s.escape_debug(),
                    ThemeName::choices()
                )
            })
    }
}

impl fmt::Display for ThemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ThemeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ThemeName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a theme: one of {}", ThemeName::choices())
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ThemeName, E> {
                ThemeName::parse(s).map_err(|why| {
                    E::custom(hinted(
                        why,
                        "e.g. `theme: high-contrast`; leave it out for the terminal's own colours",
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// The longest `environment:` shown (it sits in the header next to the service).
pub const MAX_ENVIRONMENT_CHARS: usize = 24;

/// `environment:` — one short line of text (after `${ENV}`), not empty;
/// checked in the value's visitor, so an error points at the value.
fn environment_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Text>, D::Error> {
    struct Env(Text);
    impl<'de> Deserialize<'de> for Env {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Env;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an environment name like prod or staging")
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Env, E> {
                    let text = interpolate_in_context(s).map_err(E::custom)?;
                    let value = text.expose();
                    let hint = "name the environment in a few characters, e.g. `environment: prod` or `environment: staging`";
                    if value.trim().is_empty() {
                        return Err(E::custom(hinted(
                            "environment is empty: leave the key out, or name the environment",
                            hint,
                        )));
                    }
                    if value.chars().count() > MAX_ENVIRONMENT_CHARS
                        || value.chars().any(char::is_control)
                    {
                        return Err(E::custom(hinted(
                            format!(
                                "environment `{}` is not one short line: at most {MAX_ENVIRONMENT_CHARS} characters, no line breaks or control characters",
                                text.to_string().escape_debug()
                            ),
                            hint,
                        )));
                    }
                    Ok(Env(text))
                }
            }
            d.deserialize_str(V)
        }
    }
    Option::<Env>::deserialize(d).map(|e| e.map(|e| e.0))
}

// ---------------------------------------------------------------------------
// Value types

/// Values substituted from the environment and credentials from URLs; `Debug` shows only how many.
#[derive(Clone, Default)]
struct Secrets(Vec<String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} redacted>", self.0.len())
    }
}

/// A string from the config after `${ENV}` interpolation. `Debug` and
/// `Display` show the template (`Bearer ${TOKEN}`), never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Text {
    value: String,
    template: Option<String>,
}

impl Text {
    /// A literal text (no interpolation).
    pub fn literal(s: impl Into<String>) -> Self {
        Text {
            value: s.into(),
            template: None,
        }
    }
    /// The interpolated value: for use on the wire only, never for display.
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// Whether the value contains text from the environment.
    pub fn is_interpolated(&self) -> bool {
        self.template.is_some()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.template.as_deref().unwrap_or(&self.value), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.template.as_deref().unwrap_or(&self.value))
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                interpolate_in_context(s).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text, E> {
                Ok(Text::literal(n.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text, E> {
                Ok(Text::literal(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text, E> {
                Ok(Text::literal(n.to_string()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Text, E> {
                Ok(Text::literal(b.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// An `http(s)` URL, possibly interpolated; displays its template, with the
/// password of any userinfo (`https://user:pass@host/`) hidden. Credentials in
/// the userinfo are secrets (redacted wherever output leaves `ic`) and are sent
/// as HTTP basic auth.
#[derive(Clone)]
pub struct HttpUrl {
    url: url::Url,
    /// The template with the userinfo's password hidden.
    shown: String,
    /// `Basic …` from the userinfo, when it has credentials.
    basic_auth: Option<String>,
}

impl HttpUrl {
    /// The URL to request, userinfo included (may contain secrets: do not display).
    pub fn expose(&self) -> &url::Url {
        &self.url
    }
    /// The URL to request without its userinfo (send [`HttpUrl::basic_auth`] instead).
    pub fn without_userinfo(&self) -> url::Url {
        let mut bare = self.url.clone();
        // Cannot fail: an http(s) URL with a host can have userinfo.
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        bare
    }
    /// The `Authorization` value (`Basic …`) for the URL's userinfo, if it has any
    /// (a secret: do not display).
    pub fn basic_auth(&self) -> Option<&str> {
        self.basic_auth.as_deref()
    }
    /// The URL as written in the config, its userinfo password hidden: safe to show.
    pub fn display(&self) -> String {
        self.shown.clone()
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shown, f)
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HttpUrl;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an http:// or https:// URL")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HttpUrl, E> {
                let text = interpolate_in_context(s).map_err(E::custom)?;
                let shown = hide_password(&text.to_string());
                let url = url::Url::parse(text.expose()).map_err(|e| {
                    E::custom(format!(
                        "`{shown}` is not a valid URL ({e}): write it like https://api.example.com/health"
                    ))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(E::custom(format!(
                        "`{shown}` uses scheme `{}`: only http:// and https:// URLs can be probed",
                        url.scheme()
                    )));
                }
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(E::custom(format!("`{shown}` has no host")));
                }
                let basic_auth =
                    (!url.username().is_empty() || url.password().is_some()).then(|| {
                        let user = percent_decode(url.username());
                        let password = percent_decode(url.password().unwrap_or(""));
                        let mut pair = user;
                        pair.push(b':');
                        pair.extend_from_slice(&password);
                        let encoded = base64(&pair);
                        add_secrets([
                            String::from_utf8_lossy(&password).into_owned(),
                            encoded.clone(),
                        ]);
                        format!("Basic {encoded}")
                    });
                Ok(HttpUrl {
                    url,
                    shown,
                    basic_auth,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// `url` (a URL as written, maybe with `${VAR}`s) with the password of its
/// userinfo replaced by `[redacted]`, unless it is a single `${VAR}` reference.
fn hide_password(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_string();
    };
    let password = &authority[colon + 1..at];
    let reference = password
        .strip_prefix("${")
        .and_then(|p| p.strip_suffix('}'))
        .is_some_and(|inner| !inner.contains(['$', '{', '}']));
    if password.is_empty() || reference {
        return url.to_string();
    }
    format!(
        "{}[redacted]{}",
        &url[..start + colon + 1],
        &url[start + at..]
    )
}

/// The bytes `%XX` escapes in `s` stand for (a `%` not followed by two hex digits stays).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), for basic auth.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A name of an endpoint or metrics target, unique within one config.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetName(String);

impl TargetName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TargetName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TargetName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TargetName, E> {
                let name = s.trim();
                if name.is_empty() {
                    return Err(E::custom("a name cannot be empty"));
                }
                if name.chars().count() > 64 || name.chars().any(char::is_control) {
                    return Err(E::custom(format!(
                        "`{}` is not a usable name: at most 64 characters, no control characters",
                        name.escape_debug()
                    )));
                }
                let fresh = CONTEXT.with(|c| {
                    c.borrow_mut()
                        .as_mut()
                        .is_none_or(|ctx| ctx.names.insert(name.to_string()))
                });
                if !fresh {
                    return Err(E::custom(format!(
                        "the name `{name}` is used twice: endpoint and metrics target names must be unique"
                    )));
                }
                Ok(TargetName(name.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for StatusPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusPattern;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status like 200 or \"2xx\"")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<StatusPattern, E> {
                match u16::try_from(n) {
                    Ok(c) if (100..=599).contains(&c) => Ok(StatusPattern::Code(c)),
                    _ => Err(E::custom(format!(
                        "`{n}` is not an HTTP status: use 100 to 599, or a class like \"2xx\""
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<StatusPattern, E> {
                Err(E::custom(format!("`{n}` is not an HTTP status")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StatusPattern, E> {
                let t = s.trim().to_ascii_lowercase();
                if let Ok(n) = t.parse::<u64>() {
                    return self.visit_u64(n);
                }
                match t.as_bytes() {
                    [k @ b'1'..=b'5', b'x', b'x'] => Ok(StatusPattern::Class(k - b'0')),
                    _ => Err(E::custom(format!(
                        "`{s}` is not an HTTP status: use a code like 200 or a class like \"2xx\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON pointer (`/status`, `/data/0/id`) as used in `expect.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JsonPointer(String);

impl JsonPointer {
    /// The pointer text, for `serde_json::Value::pointer`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for JsonPointer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JsonPointer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON pointer like \"/status\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<JsonPointer, E> {
                if s.is_empty() || s.starts_with('/') {
                    Ok(JsonPointer(s.to_string()))
                } else {
                    Err(E::custom(format!(
                        "`{s}` is not a JSON pointer: start it with a slash, like \"/{s}\""
                    )))
                }
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------
// Validation while parsing: each check runs inside the visitor of the value it
// is about, so the parser gives its error that value's position (a check on a
// whole section runs in its map visitor and gets the section's position).

/// What separates a message from its hint in an error raised while parsing
/// (`Config::parse` splits it off into the hint).
const HINT: &str = "\n  hint: ";

fn hinted(message: impl Into<String>, hint: &str) -> String {
    format!("{}{HINT}{hint}", message.into())
}

/// Moves a hint raised with [`hinted`] from the message to the hint.
fn split_hint(mut e: YamlError) -> YamlError {
    if let Some((message, hint)) = e.message.split_once(HINT) {
        e.hint = Some(hint.to_string());
        e.message = message.to_string();
    }
    e
}

/// The absolute directory of `file`, against which relative paths resolve
/// (absolute, so a path is never joined twice: `dir/ic.yaml` gives
/// `$PWD/dir/playbooks`, never `dir/dir/playbooks`).
fn base_dir(file: &Path) -> PathBuf {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// `path` from the config, resolved against the config file's directory;
/// `None` when not parsing through [`Config::parse`] (then nothing on disk is checked).
fn resolve(path: &str) -> Option<PathBuf> {
    // `./x` is `x`: no `/./` in the paths shown.
    let path: PathBuf = Path::new(path)
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect();
    CONTEXT.with(|c| c.borrow().as_ref().map(|ctx| ctx.base.join(&path)))
}

/// 1-based (line, column) of top-level `key:` in `text`; (1, 1) when it is not written.
fn top_level_key(text: &str, key: &str) -> (usize, usize) {
    let needle = format!("{key}:");
    text.lines()
        .position(|l| l.starts_with(&needle))
        .map_or((1, 1), |n| (n + 1, 1))
}

/// Implements `Deserialize` for a struct derived with `remote = "Self"`: its
/// fields as derived, then its `check()`, whose error gets the struct's position.
macro_rules! checked_struct {
    ($ty:ident, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        let value = $ty::deserialize(de::value::MapAccessDeserializer::new(map))?;
                        value.check().map_err(de::Error::custom)?;
                        Ok(value)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

checked_struct!(Endpoint, "an endpoint: {name: ..., url: ...}");
checked_struct!(PrometheusSource, "a Prometheus source: {url: ...}");
checked_struct!(AlertmanagerSource, "an Alertmanager source: {url: ...}");
checked_struct!(Team, "a team server: {nats: nats://HOST:4222, ...}");

/// A file the config names (a key, a credentials file): resolved against the
/// config file's directory, and it must be a readable regular file.
fn readable_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let Some(path) = resolve(&s) else {
        return Ok(Some(PathBuf::from(s)));
    };
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => match std::fs::File::open(&path) {
            Ok(_) => Ok(Some(path)),
            Err(e) => Err(de::Error::custom(hinted(
                format!("cannot read `{}`: {e}", path.display()),
                "check the file's permissions (relative paths are relative to this config file)",
            ))),
        },
        Ok(_) => Err(de::Error::custom(hinted(
            format!("`{}` is not a regular file", path.display()),
            "give the path of the file itself (relative paths are relative to this config file)",
        ))),
        Err(e) => Err(de::Error::custom(hinted(
            format!("cannot use `{}`: {e}", path.display()),
            "give a readable file (relative paths are relative to this config file)",
        ))),
    }
}

/// A duration above 0s (an interval or timeout of 0s could never run).
fn positive_duration<'de, D: Deserializer<'de>>(d: D) -> Result<HumanDuration, D::Error> {
    PositiveDuration::deserialize(d).map(|p| p.0)
}

fn positive_duration_option<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<HumanDuration>, D::Error> {
    Option::<PositiveDuration>::deserialize(d).map(|p| p.map(|p| p.0))
}

struct PositiveDuration(HumanDuration);

impl<'de> Deserialize<'de> for PositiveDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PositiveDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration above 0s, like 500ms, 2s, 5m or 1h")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PositiveDuration, E> {
                let d = HumanDuration::deserialize(de::value::StrDeserializer::<E>::new(s))?;
                if d.get().is_zero() {
                    return Err(E::custom(hinted(
                        "interval and timeout must be above 0s: a probe could never run",
                        "e.g. interval: 2s, timeout: 1500ms",
                    )));
                }
                Ok(PositiveDuration(d))
            }
            // Numbers get the duration's own explanation (they lack a unit).
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PositiveDuration, E> {
                HumanDuration::deserialize(de::value::U64Deserializer::<E>::new(n))
                    .map(PositiveDuration)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PositiveDuration, E> {
                HumanDuration::deserialize(de::value::I64Deserializer::<E>::new(n))
                    .map(PositiveDuration)
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<PositiveDuration, E> {
                HumanDuration::deserialize(de::value::F64Deserializer::<E>::new(n))
                    .map(PositiveDuration)
            }
        }
        d.deserialize_any(V)
    }
}

/// A count of at least 1 (`poll.concurrency`: with 0 no probe could ever run).
fn positive_count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number of at least 1")
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<usize, E> {
            match usize::try_from(n) {
                Ok(0) => Err(E::custom(hinted(
                    "poll.concurrency is 0: no probe could ever run",
                    "use at least 1 (default 64)",
                ))),
                Ok(n) => Ok(n),
                Err(_) => Err(E::custom(format!("`{n}` is too large"))),
            }
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<usize, E> {
            match u64::try_from(n) {
                Ok(n) => self.visit_u64(n),
                Err(_) => Err(E::custom(hinted(
                    format!("poll.concurrency is {n}: it must be at least 1"),
                    "use at least 1 (default 64)",
                ))),
            }
        }
    }
    d.deserialize_any(V)
}

/// `headers:` — each name a valid header name, each value (after `${ENV}`)
/// one a header can carry, no name twice (names ignore case): refused here,
/// at the name or value, rather than by every probe.
fn headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Text>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, Text>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of header names to values, like {X-Api-Key: \"${API_KEY}\"}")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(HeaderKey(name)) = map.next_key()? {
                let HeaderText(value) = map.next_value()?;
                if let Some(other) = out.keys().find(|k: &&String| k.eq_ignore_ascii_case(&name)) {
                    return Err(de::Error::custom(hinted(
                        format!("header `{name}` is given twice (also as `{other}`)"),
                        "header names ignore case: keep one",
                    )));
                }
                out.insert(name, value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

/// A header name, as the probe's HTTP library accepts it.
struct HeaderKey(String);

impl<'de> Deserialize<'de> for HeaderKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HeaderKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a header name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HeaderKey, E> {
                match hyper::header::HeaderName::from_bytes(s.as_bytes()) {
                    Ok(_) => Ok(HeaderKey(s.to_string())),
                    Err(_) => Err(E::custom(hinted(
                        format!("`{}` is not a valid header name", s.escape_debug()),
                        "a header name is letters, digits and !#$%&'*+-.^_`|~, without spaces or a colon, e.g. X-Api-Key",
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A header value (maybe from `${ENV}`) that a header can carry: no line
/// break or other control character, ASCII only. The error never shows the value.
struct HeaderText(Text);

impl<'de> Deserialize<'de> for HeaderText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HeaderText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a header value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HeaderText, E> {
                let text = interpolate_in_context(s).map_err(E::custom)?;
                if hyper::header::HeaderValue::from_str(text.expose()).is_err() {
                    let whence = if text.is_interpolated() {
                        format!(" once `{text}` is substituted")
                    } else {
                        String::new()
                    };
                    return Err(E::custom(hinted(
                        format!(
                            "the value has a character a header cannot carry{whence} (a line break, another control character, or non-ASCII text)"
                        ),
                        "a header value is one line of printable ASCII: remove the line break, or check the variable's value",
                    )));
                }
                Ok(HeaderText(text))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<HeaderText, E> {
                Ok(HeaderText(Text::literal(n.to_string())))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<HeaderText, E> {
                Ok(HeaderText(Text::literal(n.to_string())))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<HeaderText, E> {
                Ok(HeaderText(Text::literal(n.to_string())))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<HeaderText, E> {
                Ok(HeaderText(Text::literal(b.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

/// `tls.ca_file`: resolved, then read and parsed the way TLS setup will.
fn ca_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    struct CaFile(PathBuf);
    impl<'de> Deserialize<'de> for CaFile {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = CaFile;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("the path of a PEM file of CA certificates")
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<CaFile, E> {
                    let Some(path) = resolve(s) else {
                        return Ok(CaFile(PathBuf::from(s)));
                    };
                    match crate::files::read_ca_file(&path) {
                        Ok(_) => Ok(CaFile(path)),
                        Err(e) => Err(E::custom(hinted(
                            format!("cannot use `{}`: {}", e.path, e.reason),
                            "give a readable PEM file of CA certificates (relative paths are relative to this config file)",
                        ))),
                    }
                }
            }
            d.deserialize_str(V)
        }
    }
    Option::<CaFile>::deserialize(d).map(|c| c.map(|c| c.0))
}

/// `timeline_dir`: resolved; it, or the nearest part of it that exists, must be a directory.
fn timeline_dir_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    struct Dir(PathBuf);
    impl<'de> Deserialize<'de> for Dir {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Dir;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a directory")
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Dir, E> {
                    let Some(path) = resolve(s) else {
                        return Ok(Dir(PathBuf::from(s)));
                    };
                    let existing = path.ancestors().find(|a| a.exists());
                    match existing {
                        Some(a) if !a.is_dir() => Err(E::custom(hinted(
                            if a == path {
                                format!("`{}` is a file, not a directory", a.display())
                            } else {
                                format!(
                                    "`{}` is a file, not a directory, so `{}` cannot be created",
                                    a.display(),
                                    path.display()
                                )
                            },
                            "timelines go in a directory: point timeline_dir at one (it is created if missing)",
                        ))),
                        Some(a) if a == path => match crate::journal::dir_problem(&path) {
                            Some(why) => Err(E::custom(hinted(
                                format!("`{}`: {why}", path.display()),
                                "timelines are the incident's only record: keep them in a directory only you can write",
                            ))),
                            None => Ok(Dir(path)),
                        },
                        _ => Ok(Dir(path)),
                    }
                }
            }
            d.deserialize_str(V)
        }
    }
    Option::<Dir>::deserialize(d).map(|p| p.map(|p| p.0))
}

/// One `playbooks:` entry: resolved, and it must exist.
fn playbook_path<E: de::Error>(s: &str) -> Result<PathBuf, E> {
    let Some(path) = resolve(s) else {
        return Ok(PathBuf::from(s));
    };
    if path.exists() {
        Ok(path)
    } else {
        Err(E::custom(hinted(
            format!("`{}` does not exist", path.display()),
            "playbooks: is a directory of playbooks, a playbook file, or a list of either (relative to this config file); leave it out for the bundled ones",
        )))
    }
}

struct PlaybookPath(PathBuf);

impl<'de> Deserialize<'de> for PlaybookPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PlaybookPath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a playbook file or directory")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PlaybookPath, E> {
                playbook_path(s).map(PlaybookPath)
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------
// Interpolation

/// A function that looks up an environment variable.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

type OwnedEnvLookup = Box<dyn Fn(&str) -> Option<String>>;

struct ParseContext {
    env: OwnedEnvLookup,
    /// The config file's directory, absolute: relative paths are resolved against it.
    base: PathBuf,
    secrets: Vec<String>,
    /// Variables whose values are shorter than redaction's minimum.
    short: Vec<String>,
    names: HashSet<String>,
}

thread_local! {
    static CONTEXT: RefCell<Option<ParseContext>> = const { RefCell::new(None) };
}

/// Records `values` (not from `${ENV}`, e.g. a URL's password) as secrets of the config being parsed.
fn add_secrets(values: impl IntoIterator<Item = String>) {
    CONTEXT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.secrets
                .extend(values.into_iter().filter(|v| !v.is_empty()));
        }
    });
}

fn interpolate_in_context(s: &str) -> Result<Text, String> {
    CONTEXT.with(|c| {
        let mut guard = c.borrow_mut();
        match guard.as_mut() {
            Some(ctx) => {
                let (text, found) = interpolate_named(s, &*ctx.env)?;
                for (name, value) in found {
                    if value.len() < crate::core::sample::MIN_SECRET_BYTES
                        && !ctx.short.contains(&name)
                    {
                        ctx.short.push(name);
                    }
                    ctx.secrets.push(value);
                }
                Ok(text)
            }
            None => interpolate(s, &|k| std::env::var(k).ok()).map(|(t, _)| t),
        }
    })
}

/// Replaces `${VAR}` (or `${VAR:-default}`) with the environment's value; `$$` is a `$`.
/// Returns the text and the substituted values (secrets to redact).
pub fn interpolate(s: &str, env: EnvLookup<'_>) -> Result<(Text, Vec<String>), String> {
    interpolate_named(s, env)
        .map(|(text, found)| (text, found.into_iter().map(|(_, v)| v).collect()))
}

/// [`interpolate`], with each substituted value's variable name.
fn interpolate_named(s: &str, env: EnvLookup<'_>) -> Result<(Text, Vec<(String, String)>), String> {
    if !s.contains('$') {
        return Ok((Text::literal(s), Vec::new()));
    }
    let mut out = String::with_capacity(s.len());
    let mut secrets = Vec::new();
    let mut substituted = false;
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(
                    "unclosed `${` in a string: write `${NAME}`, or `$$` for a literal dollar"
                        .into(),
                );
            };
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!(
                    "`${{{inner}}}` is not a valid variable reference: names use letters, digits and _"
                ));
            }
            match env(name).or_else(|| default.map(str::to_string)) {
                Some(v) => {
                    out.push_str(&v);
                    if !v.is_empty() {
                        secrets.push((name.to_string(), v));
                    }
                }
                None => {
                    return Err(format!(
                        "environment variable {name} is not set: export {name}=... before starting ic, or write ${{{name}:-default}}"
                    ));
                }
            }
            substituted = true;
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    let template = substituted.then(|| s.to_string());
    Ok((
        Text {
            value: out,
            template,
        },
        secrets,
    ))
}

// ---------------------------------------------------------------------------
// Loading

/// How a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The document is invalid; the error carries `file:line:col`.
    #[error(transparent)]
    Invalid(#[from] YamlError),
    /// No config file was found anywhere we looked.
    #[error(
        "no config found (looked at {looked}): pass --config FILE, set IC_CONFIG, or run `ic init` to create ./ic.yaml"
    )]
    NotFound {
        /// The places searched, in order.
        looked: String,
    },
}

impl Config {
    /// Parses a config from text, interpolating `${ENV}` through `env`.
    pub fn parse(
        file: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String> + 'static,
    ) -> Result<Config, YamlError> {
        let config = Config::parse_unchecked(file, text, env)?;
        config.check(file, text)?;
        Ok(config)
    }

    /// The document read into a config, before the checks that span sections.
    fn parse_unchecked(
        file: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String> + 'static,
    ) -> Result<Config, YamlError> {
        let previous = CONTEXT.with(|c| {
            c.borrow_mut().replace(ParseContext {
                env: Box::new(env),
                base: base_dir(file),
                secrets: Vec::new(),
                short: Vec::new(),
                names: HashSet::new(),
            })
        });
        let parsed = yaml::parse::<Config>(file, text);
        let ctx = CONTEXT.with(|c| std::mem::replace(&mut *c.borrow_mut(), previous));
        let mut config = parsed.map_err(split_hint)?;
        if let Some(ctx) = ctx {
            config.secrets = Secrets(ctx.secrets);
            config.short_secrets = ctx.short;
        }
        config.source = file.to_path_buf();
        Ok(config)
    }

    /// [`Config::parse`] that reports every failed cross-section check, not
    /// the first (for `ic lint`); a document that does not read stops at its
    /// first error.
    pub fn parse_all(
        file: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String> + 'static,
    ) -> Result<Config, yaml::Invalid> {
        let config = match Config::parse_unchecked(file, text, env) {
            Ok(c) => c,
            Err(e) => return Err(yaml::Invalid::Unread(e)),
        };
        let problems = config.problems(file, text);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(yaml::Invalid::Checks(problems))
        }
    }

    /// Reads and parses a config file with the process environment.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = crate::files::read_yaml_text(file)?;
        Ok(Config::parse(file, &text, |k| std::env::var(k).ok())?)
    }

    /// Finds the config (`--config`, `IC_CONFIG`, `./ic.yaml`, platform config dir) and loads it.
    pub fn discover(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = locate(explicit, std::env::var_os("IC_CONFIG").map(PathBuf::from))?;
        Config::load(&path)
    }

    /// Who is at the keyboard as configured: `team.responder`, else `responder:`.
    pub fn responder_name(&self) -> Option<&str> {
        self.team
            .as_ref()
            .and_then(|t| t.responder.as_ref())
            .or(self.responder.as_ref())
            .map(Text::expose)
    }

    /// Values substituted from the environment and credentials from URLs (a
    /// password, its basic-auth encoding): redact these from anything shown or sent.
    pub fn secrets(&self) -> &[String] {
        &self.secrets.0
    }

    /// What `ic lint` warns about in a valid config (`text` is the file it was
    /// parsed from, for positions): each variable whose value is too short to
    /// be redacted, named at its first `${NAME}` — never its value.
    pub fn warnings(&self, text: &str) -> Vec<YamlError> {
        self.short_secrets
            .iter()
            .map(|name| {
                let (line, column) = locate_reference(text, name).unwrap_or((1, 1));
                YamlError {
                    file: self.source.clone(),
                    line: Some(line),
                    column: Some(column),
                    message: format!(
                        "the value of ${{{name}}} is under {} characters, too short to redact: it \
                         will show wherever it comes back (errors, exemplars, notifications, logs), \
                         since hiding every occurrence of so short a text would wreck the output",
                        crate::core::sample::MIN_SECRET_BYTES
                    ),
                    hint: Some(format!(
                        "if {name} is a secret, make it longer; if it is not, write the value in the config instead of ${{{name}}}"
                    )),
                }
            })
            .collect()
    }

    /// The timeline directory, defaulting to the platform data dir.
    pub fn timeline_dir(&self) -> Option<PathBuf> {
        self.timeline_dir
            .clone()
            .or_else(|| crate::paths::data_dir().map(|d| d.join("incidents")))
    }

    /// Checks that span sections (an error is placed at the section's key).
    fn check(&self, file: &Path, text: &str) -> Result<(), YamlError> {
        match self.problems(file, text).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every cross-section check the config fails, in order.
    fn problems(&self, file: &Path, text: &str) -> Vec<YamlError> {
        let mut found = Vec::new();
        let mut at = |key: &str, message: String, hint: &str| {
            let (line, column) = top_level_key(text, key);
            found.push(YamlError {
                file: file.to_path_buf(),
                line: Some(line),
                column: Some(column),
                message,
                hint: Some(hint.to_string()),
            });
        };
        if self.endpoints.is_empty()
            && self.metrics.is_empty()
            && self.prometheus.is_none()
            && self.alertmanager.is_none()
        {
            at(
                "endpoints",
                "nothing to watch: no endpoints, metrics targets, prometheus or alertmanager"
                    .into(),
                "add an endpoint to probe under `endpoints:` (`ic init` writes a starter)",
            );
        }
        if let Some((message, hint)) = self.detect.problem() {
            at("detect", message, hint);
        }
        if let Some(name) = &self.responder
            && let Err(why) = crate::responder::check(name.expose())
        {
            at(
                "responder",
                why,
                "write a person's name, e.g. `responder: ann` (or leave it out for $USER@host)",
            );
        }
        found
    }
}

impl Endpoint {
    fn check(&self) -> Result<(), String> {
        if self.url.basic_auth().is_some()
            && self
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("authorization"))
        {
            return Err(hinted(
                format!(
                    "endpoint `{}` has credentials in its URL and an Authorization header: which one is meant?",
                    self.name
                ),
                "keep one: user:password@ in the URL is sent as basic auth",
            ));
        }
        Ok(())
    }
}

impl PrometheusSource {
    fn check(&self) -> Result<(), String> {
        let in_url = self.url.basic_auth().is_some();
        if self.bearer_token.is_some() && self.basic_auth.is_some()
            || in_url && (self.bearer_token.is_some() || self.basic_auth.is_some())
        {
            return Err(hinted(
                "prometheus has more than one credential (bearer_token, basic_auth, user:password@ in the url): which one is meant?",
                "keep one",
            ));
        }
        bearer_problem(self.bearer_token.as_ref())
    }
}

impl AlertmanagerSource {
    fn check(&self) -> Result<(), String> {
        if self.url.basic_auth().is_some() && self.bearer_token.is_some() {
            return Err(hinted(
                "alertmanager has both a bearer_token and user:password@ in its url: which one is meant?",
                "keep one",
            ));
        }
        bearer_problem(self.bearer_token.as_ref())
    }
}

/// Why `Authorization: Bearer TOKEN` cannot be sent, if it cannot.
fn bearer_problem(token: Option<&Text>) -> Result<(), String> {
    match token {
        Some(t)
            if hyper::header::HeaderValue::from_str(&format!("Bearer {}", t.expose())).is_err() =>
        {
            Err(hinted(
                format!(
                    "bearer_token `{t}` has a character a header cannot carry (a line break, another control character, or non-ASCII text)"
                ),
                "a token is one line of printable ASCII: check the value of the variable",
            ))
        }
        _ => Ok(()),
    }
}

/// 1-based (line, column) of the first `${name}` or `${name:-…}` in `text`
/// on a line that is not a comment.
fn locate_reference(text: &str, name: &str) -> Option<(usize, usize)> {
    let needles = [format!("${{{name}}}"), format!("${{{name}:-")];
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with('#'))
        .find_map(|(n, line)| {
            needles
                .iter()
                .filter_map(|needle| line.find(needle.as_str()))
                .min()
                .map(|i| (n + 1, line[..i].chars().count() + 1))
        })
}

/// Picks the config file: `explicit`, then `env_path` (IC_CONFIG), `./ic.yaml`, the platform config dir.
pub fn locate(explicit: Option<&Path>, env_path: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = env_path.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(p);
    }
    let mut looked = vec![format!("./{CONFIG_FILE_NAME}")];
    let local = PathBuf::from(CONFIG_FILE_NAME);
    if local.is_file() {
        return Ok(local);
    }
    if let Some(dir) = crate::paths::config_dir() {
        let p = dir.join(CONFIG_FILE_NAME);
        if p.is_file() {
            return Ok(p);
        }
        looked.push(p.display().to_string());
    }
    Err(ConfigError::NotFound {
        looked: looked.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_percent_decoding_match_the_rfcs() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
            (
                "ic-probe:p@ss:w0rd-9f2c",
                "aWMtcHJvYmU6cEBzczp3MHJkLTlmMmM=",
            ),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(percent_decode("p%40ss%3aw%2"), b"p@ss:w%2");
        assert_eq!(percent_decode("%C3%A9"), "é".as_bytes());
    }

    #[test]
    fn a_team_needs_one_credential_a_nats_url_and_paired_tls_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ic.yaml");
        std::fs::write(dir.path().join("client.pem"), "x").unwrap();
        let parse = |team: &str| {
            let text = format!(
                "service: shop\nendpoints: [{{name: a, url: 'http://127.0.0.1:1/'}}]\nteam:\n{team}"
            );
            Config::parse(&file, &text, |k| {
                (k == "NATS_PW").then(|| "s3cret-horse".into())
            })
        };
        let ok = parse("  nats: nats://127.0.0.1:4222\n  user: ops\n  password: ${NATS_PW}\n  responder: ann\n").unwrap();
        let team = ok.team.as_ref().unwrap();
        assert_eq!(team.stream_prefix, "ic");
        assert_eq!(ok.responder_name(), Some("ann"));
        assert!(
            ok.secrets().iter().any(|s| s == "s3cret-horse"),
            "the password is redacted everywhere"
        );
        assert!(
            !format!("{team:?}").contains("s3cret"),
            "Debug shows the template"
        );
        let leaky = parse("  nats: 'nats://ops:hunter22@h1:4222, http://h2:1'\n")
            .unwrap_err()
            .to_string();
        assert!(
            !leaky.contains("hunter22") && leaky.contains("[redacted]@h1"),
            "{leaky}"
        );
        let literal = parse("  nats: nats://h:1\n  token: plain-token-value\n").unwrap();
        assert!(literal.secrets().iter().any(|s| s == "plain-token-value"));
        for (bad, says) in [
            ("  nats: http://127.0.0.1:4222\n", "not a NATS server URL"),
            (
                "  nats: nats://h:1\n  token: t\n  nkey: SUAX\n",
                "more than one credential",
            ),
            ("  nats: nats://h:1\n  user: ops\n", "go together"),
            (
                "  nats: nats://h:1\n  tls: {cert: client.pem}\n",
                "go together",
            ),
            (
                "  nats: nats://h:1\n  tls: {cert: client.pem, key: missing.pem}\n",
                "missing.pem",
            ),
            (
                "  nats: nats://h:1\n  stream_prefix: a.b\n",
                "stream_prefix",
            ),
            ("  nats: nats://h:1\n  location: eu west\n", "location"),
            ("  nats: nats://h:1\n  responder: ic\n", "automation"),
            ("  nats: nats://h:1\n  servers: x\n", "unknown field"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
            assert!(err.contains("ic.yaml:"), "says where: {err}");
        }
    }

    #[test]
    fn url_passwords_are_hidden_unless_a_reference() {
        for (url, shown) in [
            ("https://u:pw@h/x", "https://u:[redacted]@h/x"),
            (
                "https://u:p%40w@h:8/x?y@z",
                "https://u:[redacted]@h:8/x?y@z",
            ),
            ("https://u:${PW}@h/", "https://u:${PW}@h/"),
            ("https://u:a${PW}@h/", "https://u:[redacted]@h/"),
            ("https://u@h/", "https://u@h/"),
            ("https://h/a:b@c", "https://h/a:b@c"),
            ("${URL}", "${URL}"),
        ] {
            assert_eq!(hide_password(url), shown, "{url}");
        }
    }
}
