//! Team incidents, the pure part: the names an incident's events travel under
//! on NATS JetStream (stream, subjects, buckets), an event's wire form and
//! its checks on the way in, presence records, and what the header says of
//! the team. The I/O (connecting, publishing, following) is `crate::team`.

use crate::core::event::{Event, EventId, MAX_LINE};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a presence record stands without a heartbeat.
pub const PRESENCE_TTL: chrono::Duration = chrono::Duration::seconds(15);

/// The NATS names of one service's team incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Subject prefix (`ic`).
    prefix: String,
    /// The service as one subject token.
    service: String,
}

impl Names {
    /// The names for `service` under `prefix` (a checked token, see [`check_prefix`]).
    pub fn new(prefix: &str, service: &str) -> Names {
        Names {
            prefix: prefix.to_string(),
            service: token(service),
        }
    }

    /// The stream holding every incident of the service: `IC_<service>`.
    pub fn stream(&self) -> String {
        format!("{}_{}", self.prefix.to_uppercase(), self.service)
    }

    /// The subjects of every incident's events: `ic.<service>.events.>`.
    pub fn events(&self) -> String {
        format!("{}.{}.events.>", self.prefix, self.service)
    }

    /// The subject of one incident's events (its id is its `incident_opened`
    /// event's id); `None` for an id that cannot be a subject token.
    pub fn subject(&self, incident: &EventId) -> Option<String> {
        let id = incident.as_str();
        is_token(id).then(|| format!("{}.{}.events.{id}", self.prefix, self.service))
    }

    /// The incident a subject of [`Names::events`] is about.
    pub fn incident_of<'a>(&self, subject: &'a str) -> Option<&'a str> {
        let rest = subject
            .strip_prefix(&self.prefix)?
            .strip_prefix('.')?
            .strip_prefix(&self.service)?
            .strip_prefix(".events.")?;
        is_token(rest).then_some(rest)
    }

    /// The key-value bucket of who is in: `ic_<service>_presence`.
    pub fn presence(&self) -> String {
        format!("{}_{}_presence", self.prefix, self.service)
    }

    /// The subject a location's probe results go out on: `ic.<service>.samples.<location>`.
    pub fn samples(&self, location: &str) -> String {
        format!("{}.{}.samples.{location}", self.prefix, self.service)
    }

    /// Every location's probe results: `ic.<service>.samples.*`.
    pub fn all_samples(&self) -> String {
        format!("{}.{}.samples.*", self.prefix, self.service)
    }

    /// The key-value bucket of the paging lease: `ic_<service>_lease`.
    pub fn lease(&self) -> String {
        format!("{}_{}_lease", self.prefix, self.service)
    }
}

/// Whether `s` can stand as one NATS subject token and in stream and bucket
/// names: 1 to 64 of `A-Z a-z 0-9 - _`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why `prefix` cannot prefix the team's subjects and streams.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > 16 || !is_token(prefix) {
        return Err(format!(
            "`stream_prefix: {prefix}` must be 1 to 16 of A-Z a-z 0-9 - _ (it starts every subject and stream name)"
        ));
    }
    Ok(())
}

/// `service` as a subject token: letters, digits, `-` and `_` kept, anything
/// else `_`, at most 40 characters; when anything was changed, a short hash
/// of the name follows, so `pay ments` and `pay_ments` stay two services.
pub fn token(service: &str) -> String {
    let mut out: String = service
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out != service || out.is_empty() {
        // FNV-1a: stable across builds and machines (std's hasher is not).
        let hash = service.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        out.push_str(&format!("_{:08x}", hash as u32));
    }
    out
}

/// The wire form of an event: its timeline line.
pub fn encode(event: &Event) -> Vec<u8> {
    event.to_line().into_bytes()
}

/// Why a message from the stream is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Longer than a timeline line may be.
    #[error("a message of {0} bytes is longer than a timeline line ({MAX_LINE})")]
    TooLong(usize),
    /// Not UTF-8 or not an event.
    #[error("not a timeline event: {0}")]
    NotEvent(String),
    /// An event without a global id cannot be merged.
    #[error("an event without an `id`")]
    NoId,
    /// Dated far past this machine's clock (it would sort before every real incident).
    #[error("event {id} is dated {ts}, over an hour past this machine's clock")]
    Future {
        /// The event.
        id: String,
        /// Its time.
        ts: String,
    },
    /// Its incident is not the subject's.
    #[error(
        "event {id} says it belongs to incident {claims}, but came on the subject of {subject}"
    )]
    WrongIncident {
        /// The event.
        id: String,
        /// The incident it names.
        claims: String,
        /// The subject's incident.
        subject: String,
    },
}

/// Reads an event from a message on the subject of `incident`: at most a
/// timeline line, an event with an id; an `incident_opened` event must be the
/// incident itself (a forged one cannot open another incident's file).
pub fn decode(payload: &[u8], incident: &str, now: DateTime<Utc>) -> Result<Event, WireError> {
    if payload.len() > MAX_LINE {
        return Err(WireError::TooLong(payload.len()));
    }
    let text = std::str::from_utf8(payload).map_err(|e| WireError::NotEvent(e.to_string()))?;
    if text.contains('\n') {
        return Err(WireError::NotEvent("more than one line".into()));
    }
    let event = Event::parse_line(text).map_err(|e| WireError::NotEvent(e.0))?;
    let Some(id) = event.id.as_ref() else {
        return Err(WireError::NoId);
    };
    if event.ts > now + chrono::Duration::hours(1) {
        return Err(WireError::Future {
            id: id.to_string(),
            ts: crate::core::event::format_ts(event.ts),
        });
    }
    if event.kind == crate::core::event::Kind::IncidentOpened && id.as_str() != incident {
        return Err(WireError::WrongIncident {
            id: id.to_string(),
            claims: id.to_string(),
            subject: incident.to_string(),
        });
    }
    Ok(event)
}

/// One responder's presence, as kept in the presence bucket and renewed by
/// heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// Who.
    pub responder: String,
    /// The incident they have open, if any (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// Whether they are writing a status update now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub typing: bool,
    /// Where their probes run, when they publish them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Their last heartbeat.
    pub at: DateTime<Utc>,
}

/// Longest presence record read.
const MAX_PRESENCE: usize = 4096;

impl Presence {
    /// Reads a record from the bucket; `None` for anything malformed or
    /// oversized, or a name that cannot be a responder's.
    pub fn decode(bytes: &[u8]) -> Option<Presence> {
        if bytes.len() > MAX_PRESENCE {
            return None;
        }
        let p: Presence = serde_json::from_slice(bytes).ok()?;
        let plain =
            |s: &str| !s.is_empty() && s.chars().count() <= 64 && !s.chars().any(char::is_control);
        (plain(&p.responder)
            && p.incident.as_deref().is_none_or(is_token)
            && p.location.as_deref().is_none_or(plain))
        .then_some(p)
    }

    /// The record as stored.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Whether its heartbeat is recent at `now` (a record from a clock far
    /// ahead does not stand for ever either).
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        now - self.at < PRESENCE_TTL && self.at - now < PRESENCE_TTL
    }
}

/// A presence bucket key for `responder`: bytes outside `A-Z a-z 0-9 - _`
/// written `=XX`, so every name has one key of its own.
pub fn presence_key(responder: &str) -> String {
    let mut key = String::new();
    for b in responder.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            key.push(char::from(b));
        } else {
            key.push_str(&format!("={b:02X}"));
        }
    }
    key
}

/// What one location's `ic` says of one endpoint after each probe: whether
/// its own `down` detector holds the endpoint down there, since when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSample {
    /// Where the probe ran (`eu-west`).
    pub location: String,
    /// The endpoint's name.
    pub endpoint: String,
    /// Down from there.
    pub down: bool,
    /// Since when, when down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// What the detector saw, when down.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence: String,
    /// When the probe ran (the sender's clock: shown, never compared).
    pub at: DateTime<Utc>,
}

/// Longest sample message read.
const MAX_SAMPLE: usize = 2048;
/// Most locations kept per endpoint, and endpoints kept.
const MAX_LOCATIONS: usize = 64;
const MAX_ENDPOINTS: usize = 1024;

impl LocationSample {
    /// Reads a sample message; `None` for anything malformed, oversized, or
    /// with a location or endpoint that is no plain name.
    pub fn decode(bytes: &[u8]) -> Option<LocationSample> {
        if bytes.len() > MAX_SAMPLE {
            return None;
        }
        let mut s: LocationSample = serde_json::from_slice(bytes).ok()?;
        let plain = |t: &str| {
            !t.is_empty()
                && t.chars().count() <= 64
                && !t.chars().any(|c| c.is_control() || is_invisible(c))
        };
        if !is_token(&s.location) || !plain(&s.endpoint) {
            return None;
        }
        s.evidence = crate::core::text::escape(&s.evidence.chars().take(300).collect::<String>())
            .into_owned();
        Some(s)
    }

    /// The message sent.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// The latest word of every location on every endpoint, with when it was
/// heard (on this machine's clock).
#[derive(Debug, Clone, Default)]
pub struct Regions {
    latest: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, (LocationSample, DateTime<Utc>)>,
    >,
}

/// How an endpoint stands across locations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// Locations heard from within the window: (location, down there).
    pub heard: Vec<(String, bool)>,
    /// Locations once heard from, silent now: unknown, never down.
    pub unknown: Vec<String>,
}

impl Regions {
    /// Keeps `sample`, heard at `now`.
    pub fn record(&mut self, sample: LocationSample, now: DateTime<Utc>) {
        if !self.latest.contains_key(&sample.endpoint) && self.latest.len() >= MAX_ENDPOINTS {
            return;
        }
        let places = self.latest.entry(sample.endpoint.clone()).or_default();
        if !places.contains_key(&sample.location) && places.len() >= MAX_LOCATIONS {
            return;
        }
        places.insert(sample.location.clone(), (sample, now));
    }

    /// The endpoints anyone spoke of.
    pub fn endpoints(&self) -> Vec<String> {
        self.latest.keys().cloned().collect()
    }

    /// Every location's latest sample of `endpoint` heard within `window` of `now`.
    pub fn samples(
        &self,
        endpoint: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Vec<&LocationSample> {
        self.latest
            .get(endpoint)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|(_, heard)| now - *heard <= window)
            .map(|(s, _)| s)
            .collect()
    }

    /// How `endpoint` stands at `now`, counting the locations heard within `window`.
    pub fn verdict(&self, endpoint: &str, now: DateTime<Utc>, window: chrono::Duration) -> Verdict {
        let mut v = Verdict::default();
        for (location, (sample, heard)) in self.latest.get(endpoint).into_iter().flatten() {
            if now - *heard <= window {
                v.heard.push((location.clone(), sample.down));
            } else {
                v.unknown.push(location.clone());
            }
        }
        v
    }
}

impl Verdict {
    /// How many of the heard locations see it down.
    pub fn failing(&self) -> usize {
        self.heard.iter().filter(|(_, d)| *d).count()
    }

    /// Down for everyone: a majority of the locations heard see it down.
    pub fn down(&self) -> bool {
        self.failing() * 2 > self.heard.len()
    }

    /// `2 of 3 locations (ap, us); eu answers; sa unknown`.
    pub fn text(&self) -> String {
        let down: Vec<&str> = self
            .heard
            .iter()
            .filter(|(_, d)| *d)
            .map(|(l, _)| l.as_str())
            .collect();
        let up: Vec<&str> = self
            .heard
            .iter()
            .filter(|(_, d)| !*d)
            .map(|(l, _)| l.as_str())
            .collect();
        let mut t = format!(
            "{} of {} location{} ({})",
            down.len(),
            self.heard.len(),
            if self.heard.len() == 1 { "" } else { "s" },
            down.join(", ")
        );
        if !up.is_empty() {
            t.push_str(&format!(
                "; {} answer{}",
                up.join(", "),
                if up.len() == 1 { "s" } else { "" }
            ));
        }
        if !self.unknown.is_empty() {
            t.push_str(&format!("; {} unknown", self.unknown.join(", ")));
        }
        t
    }

    /// Per-location marks for the endpoints pane: `eu ✔ us ✘ ap ?`.
    pub fn marks(&self) -> String {
        let mut all: Vec<(&str, &str)> = self
            .heard
            .iter()
            .map(|(l, d)| (l.as_str(), if *d { "✘" } else { "✔" }))
            .chain(self.unknown.iter().map(|l| (l.as_str(), "?")))
            .collect();
        all.sort();
        all.iter()
            .map(|(l, m)| format!("{l} {m}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Who holds the service's paging lease (see `team::lease`), as the engine
/// learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder's name, when anyone holds it.
    pub holder: Option<String>,
    /// Whether it is this `ic`.
    pub ours: bool,
}

/// How the team connection stands, for the header and `ic incidents`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TeamStatus {
    /// Connected to the server now.
    pub online: bool,
    /// When it was lost (or, never connected, when trying began).
    pub offline_since: Option<DateTime<Utc>>,
    /// When it was (last) made.
    pub online_since: Option<DateTime<Utc>>,
    /// Local events not yet confirmed in the stream.
    pub unsent: usize,
    /// Why it is offline, when known (an auth or TLS error says what to fix).
    pub error: Option<String>,
}

/// Who of `present` is in on `incident` with their roles (`alice (lead) ·
/// bob (comms) · carol`), those typing marked `✎`; people with a role who
/// are not in are not listed.
pub fn who(
    present: &[Presence],
    incident: Option<&str>,
    roles: &[(String, String)],
    now: DateTime<Utc>,
) -> String {
    {
        let mut people: Vec<&Presence> = present
            .iter()
            .filter(|p| p.live(now) && (incident.is_none() || p.incident.as_deref() == incident))
            .collect();
        people.sort_by(|a, b| a.responder.cmp(&b.responder));
        people.dedup_by(|a, b| a.responder == b.responder);
        people
            .iter()
            .map(|p| {
                let held: Vec<&str> = roles
                    .iter()
                    .filter(|(_, who)| *who == p.responder)
                    .map(|(role, _)| short_role(role))
                    .collect();
                let mut s = p.responder.clone();
                if !held.is_empty() {
                    s.push_str(&format!(" ({})", held.join(", ")));
                }
                if p.typing {
                    s.push_str(" ✎");
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

impl TeamStatus {
    /// The connection in a few words: `team: online`, or `team: offline since
    /// 12:03, 4 events to send`.
    pub fn line(&self) -> String {
        if self.online {
            if self.unsent == 0 {
                "team: online".into()
            } else {
                format!("team: online, sending {}", plural(self.unsent))
            }
        } else {
            let since = self
                .offline_since
                .map(|t| format!(" since {}", t.format("%H:%M")))
                .unwrap_or_default();
            let to_send = if self.unsent == 0 {
                String::new()
            } else {
                format!(", {} to send", plural(self.unsent))
            };
            format!("team: offline{since}{to_send}")
        }
    }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 event".into()
    } else {
        format!("{n} events")
    }
}

/// A role's short name in the header (`incident-lead` → `lead`).
fn short_role(role: &str) -> &str {
    match role {
        "incident-lead" | "incident-commander" => "lead",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Draft;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn names_are_tokens_and_odd_service_names_stay_apart() {
        let n = Names::new("ic", "payments");
        assert_eq!(n.stream(), "IC_payments");
        assert_eq!(n.events(), "ic.payments.events.>");
        let id = EventId::v7(t(0), [1; 10]);
        let subject = n.subject(&id).unwrap();
        assert_eq!(n.incident_of(&subject), Some(id.as_str()));
        assert_eq!(n.incident_of("ic.payments.events.a.b"), None);
        assert_eq!(n.incident_of("ic.other.events.x"), None);
        // Wildcards, dots and spaces never reach a subject.
        let odd = Names::new("ic", "pay.ments >*");
        assert!(
            odd.events().starts_with("ic.pay_ments___"),
            "{}",
            odd.events()
        );
        assert_ne!(token("pay ments"), token("pay_ments"));
        assert_ne!(token("a.b"), token("a_b"));
        assert_eq!(n.subject(&EventId::parse("a.b").unwrap()), None);
        assert_eq!(n.subject(&EventId::parse("*").unwrap()), None);
        assert!(check_prefix("ic").is_ok());
        assert!(check_prefix("i.c").is_err());
        assert!(check_prefix("").is_err());
    }

    #[test]
    fn the_wire_takes_one_event_with_an_id_and_no_forged_opening() {
        let mut e = Draft::note("alice", "pool at 100%", &[]).into_event(7, t(1));
        e.id = Some(EventId::v7(t(1), [2; 10]));
        let back = decode(&encode(&e), "whatever", t(1)).unwrap();
        assert_eq!(back, e);
        // No id, two lines, too long, not UTF-8: refused.
        let mut no_id = e.clone();
        no_id.id = None;
        assert_eq!(decode(&encode(&no_id), "x", t(1)), Err(WireError::NoId));
        let two = [encode(&e), b"\n".to_vec(), encode(&e)].concat();
        assert!(matches!(
            decode(&two, "x", t(1)),
            Err(WireError::NotEvent(_))
        ));
        assert!(matches!(
            decode(&vec![b' '; MAX_LINE + 1], "x", t(1)),
            Err(WireError::TooLong(_))
        ));
        assert!(matches!(
            decode(&[0xff, 0xfe], "x", t(1)),
            Err(WireError::NotEvent(_))
        ));
        // Dated far ahead (to sort before every real incident): refused.
        let mut ahead = e.clone();
        ahead.ts = t(7200);
        assert!(matches!(
            decode(&encode(&ahead), "x", t(1)),
            Err(WireError::Future { .. })
        ));
        // An opening published on another incident's subject is not that incident.
        let mut opened = Draft::opened("ic", "pool", "payments").into_event(1, t(0));
        opened.id = Some(EventId::v7(t(0), [3; 10]));
        let own = opened.id.clone().unwrap();
        assert!(decode(&encode(&opened), own.as_str(), t(1)).is_ok());
        assert!(matches!(
            decode(&encode(&opened), "another-incident", t(1)),
            Err(WireError::WrongIncident { .. })
        ));
    }

    #[test]
    fn down_needs_a_majority_of_the_locations_heard_and_silence_is_unknown() {
        let window = chrono::Duration::seconds(30);
        let sample = |loc: &str, down: bool| LocationSample {
            location: loc.into(),
            endpoint: "api".into(),
            down,
            since: None,
            evidence: String::new(),
            at: t(0),
        };
        let mut r = Regions::default();
        r.record(sample("eu", false), t(0));
        r.record(sample("us", false), t(0));
        r.record(sample("ap", true), t(0));
        let v = r.verdict("api", t(1), window);
        assert!(!v.down(), "one region's trouble is regional");
        assert_eq!(v.text(), "1 of 3 locations (ap); eu, us answer");
        assert_eq!(v.marks(), "ap ✘ eu ✔ us ✔");
        r.record(sample("us", true), t(2));
        let v = r.verdict("api", t(3), window);
        assert!(v.down());
        assert_eq!(v.text(), "2 of 3 locations (ap, us); eu answers");
        // ap and us fall silent (partitioned): unknown, never down.
        r.record(sample("eu", false), t(40));
        let v = r.verdict("api", t(41), window);
        assert!(!v.down());
        assert_eq!(v.unknown, vec!["ap".to_string(), "us".to_string()]);
        assert_eq!(v.marks(), "ap ? eu ✔ us ?");
        // One location alone is its own majority (as without locations).
        let mut alone = Regions::default();
        alone.record(sample("eu", true), t(0));
        assert!(alone.verdict("api", t(1), window).down());
        // Hostile messages: oversized, odd names, escapes in the evidence.
        assert_eq!(LocationSample::decode(&vec![b' '; 3000]), None);
        let mut odd = sample("a.b", true);
        assert_eq!(LocationSample::decode(&odd.encode()), None);
        odd.location = "ap".into();
        odd.endpoint = "x\u{1b}[2J".into();
        assert_eq!(LocationSample::decode(&odd.encode()), None);
        odd.endpoint = "api".into();
        odd.evidence = "\u{1b}[31mred".into();
        let back = LocationSample::decode(&odd.encode()).unwrap();
        assert!(!back.evidence.contains('\u{1b}'), "{}", back.evidence);
    }

    #[test]
    fn presence_keys_are_distinct_and_records_expire() {
        assert_eq!(presence_key("alice"), "alice");
        assert_eq!(presence_key("bob@host"), "bob=40host");
        assert_ne!(presence_key("a=40b"), presence_key("a@b"));
        let p = Presence {
            responder: "alice".into(),
            incident: Some("abc".into()),
            typing: true,
            location: None,
            at: t(0),
        };
        assert_eq!(Presence::decode(&p.encode()), Some(p.clone()));
        assert!(p.live(t(14)));
        assert!(!p.live(t(15)));
        assert!(!p.live(t(-15)), "a heartbeat from a clock far ahead");
        assert_eq!(
            Presence::decode(b"{\"responder\":\"\",\"at\":\"2027-01-15T08:00:00Z\"}"),
            None
        );
        assert_eq!(
            Presence::decode(b"{\"responder\":\"x\\u0007\",\"at\":\"2027-01-15T08:00:00Z\"}"),
            None
        );
        assert_eq!(Presence::decode(&vec![b' '; 5000]), None);
    }

    #[test]
    fn the_header_names_who_is_in_with_roles_and_the_connection() {
        let me = |name: &str, typing: bool, at: i64| Presence {
            responder: name.into(),
            incident: Some("inc".into()),
            typing,
            location: None,
            at: t(at),
        };
        let present = vec![
            me("carol", false, 0),
            me("alice", false, 0),
            me("bob", true, 0),
            me("gone", false, -60),
        ];
        let status = TeamStatus {
            online: true,
            ..TeamStatus::default()
        };
        let roles = vec![
            ("incident-lead".to_string(), "alice".to_string()),
            ("comms".to_string(), "bob".to_string()),
        ];
        assert_eq!(
            who(&present, Some("inc"), &roles, t(1)),
            "alice (lead) · bob (comms) ✎ · carol"
        );
        assert_eq!(status.line(), "team: online");
        let offline = TeamStatus {
            online: false,
            offline_since: Some(Utc.with_ymd_and_hms(2026, 12, 6, 12, 3, 0).unwrap()),
            unsent: 4,
            ..TeamStatus::default()
        };
        assert_eq!(
            offline.line(),
            "team: offline since 12:03, 4 events to send"
        );
    }
}
