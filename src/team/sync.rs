//! Keeps a timeline directory in step with the team stream, offline first.
//!
//! Every local timeline of the service that is open (or had news in the last
//! day) is a team incident: its events are published, each with its `id` as
//! the message id, once the stream has been read (so only what the stream
//! lacks is sent). Every event in the stream is merged into the local file of
//! its incident by `id` (`Journal::merge`: never twice, under the file's
//! lock); an incident opened elsewhere gets a local file of its own. While
//! the server is unreachable everything stays local and the status says
//! since when and how much is waiting; on reconnect the stream is read on
//! from where it was and what is waiting is sent. Nothing here decides
//! anything about the incident: the runtime learns merged events by following
//! the file, as it learns what `ic event` appends.

use super::{Team, TeamError};
use crate::app::Msg;
use crate::config::Team as TeamConfig;
use crate::core::event::{Event, EventId, Kind};
use crate::core::team::{self, TeamStatus};
use crate::journal::{self, Follower, Journal};
use chrono::{DateTime, Utc};
use futures_util::{FutureExt, StreamExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often local files are looked at (new events to send).
const POLL: Duration = Duration::from_millis(100);
/// How often the directory is listed for new timelines.
const SCAN: Duration = Duration::from_secs(1);
/// How long one connection attempt may take.
const CONNECT_WAIT: Duration = Duration::from_secs(3);
/// A local incident closed longer ago than this is not published.
const RECENT: chrono::Duration = chrono::Duration::hours(24);
/// Most stream messages merged in one batch.
const BATCH: usize = 512;
/// How long a refused event waits before it is tried again.
const RETRY_REFUSED: Duration = Duration::from_secs(60);
/// Refusals after which an event stays local.
const REFUSALS: u32 = 5;
/// Most team incidents followed in one directory.
const MAX_INCIDENTS: usize = 256;

/// One local timeline that is a team incident.
struct Local {
    journal: Journal,
    follower: Follower,
    /// Its events the stream is not known to hold, oldest first.
    unsent: Vec<Event>,
    /// How many events it held when first read (until the stream has been
    /// read, those may well be in it: not counted as waiting).
    before: Option<usize>,
}

/// The directory's side of the team stream.
struct Mirror {
    dir: PathBuf,
    service: String,
    names: team::Names,
    /// Team incidents with a local file, by incident id.
    files: HashMap<String, Local>,
    /// Timelines looked at (synced or not the team's).
    looked: HashSet<PathBuf>,
    /// Ids the stream holds, by incident.
    in_stream: HashMap<String, HashSet<EventId>>,
    /// Whether the stream has been read to its end once.
    caught_up: bool,
    /// Stream events read before that, by incident.
    early: BTreeMap<String, Vec<Event>>,
    /// Stream events waiting to be merged, by incident.
    to_merge: BTreeMap<String, Vec<Event>>,
    /// The next stream sequence to read.
    next_seq: u64,
    /// Where the stream ended when reading began.
    last_at_start: u64,
    /// Files made by the catch-up, for the engine to hear of.
    made: Vec<PathBuf>,
    /// Incidents read closed during the catch-up that have no file here.
    closed: HashSet<String>,
    /// Events the server refused: how often, and when last.
    refused: HashMap<Option<EventId>, (u32, std::time::Instant)>,
}

impl Mirror {
    fn new(dir: PathBuf, service: String, names: team::Names) -> Mirror {
        Mirror {
            dir,
            service,
            names,
            files: HashMap::new(),
            looked: HashSet::new(),
            in_stream: HashMap::new(),
            caught_up: false,
            early: BTreeMap::new(),
            to_merge: BTreeMap::new(),
            next_seq: 1,
            last_at_start: 0,
            made: Vec::new(),
            refused: HashMap::new(),
            closed: HashSet::new(),
        }
    }

    /// Takes up timelines that appeared in the directory since the last look.
    fn scan(&mut self, now: DateTime<Utc>) {
        for path in journal::timelines(&self.dir) {
            if self.looked.contains(&path) {
                continue;
            }
            let Ok(replay) = journal::read(&path) else {
                continue;
            };
            let Some(opened) = replay.events.first() else {
                // Being created: its opening is written under the directory lock.
                continue;
            };
            self.looked.insert(path.clone());
            let Some(id) = opened
                .id
                .as_ref()
                .filter(|_| opened.kind == Kind::IncidentOpened)
            else {
                continue;
            };
            if self.files.contains_key(id.as_str()) || self.names.subject(id).is_none() {
                continue;
            }
            // The service's incidents that are open or had news lately.
            let of_service = service_of(opened).is_none_or(|s| s == self.service);
            let open = replay.events.iter().all(|e| e.kind != Kind::IncidentClosed);
            let last = replay
                .events
                .iter()
                .map(|e| e.ts)
                .max()
                .unwrap_or(opened.ts);
            if !of_service || !(open || now - last < RECENT) {
                continue;
            }
            self.adopt(id.as_str().to_string(), &path);
        }
    }

    /// Follows `path` as the local file of `incident`.
    fn adopt(&mut self, incident: String, path: &Path) {
        match Journal::open(path) {
            Ok(journal) => {
                self.looked.insert(path.to_path_buf());
                self.files.insert(
                    incident,
                    Local {
                        journal,
                        follower: Follower::new(path, true),
                        unsent: Vec::new(),
                        before: None,
                    },
                );
            }
            Err(e) => tracing::warn!("team: cannot follow {}: {e}", path.display()),
        }
    }

    /// Reads what was appended to the local files.
    fn poll(&mut self) {
        for (incident, local) in &mut self.files {
            let fresh = match local.follower.poll() {
                Ok(r) => r.events,
                Err(e) => {
                    tracing::warn!("team: {e}");
                    continue;
                }
            };
            let held = self.in_stream.get(incident);
            local.before.get_or_insert(fresh.len());
            local.unsent.extend(fresh.into_iter().filter(|e| {
                e.id.as_ref()
                    .is_some_and(|id| held.is_none_or(|h| !h.contains(id)))
            }));
        }
    }

    /// How many local events the stream is not known to hold.
    fn unsent(&self) -> usize {
        self.files
            .values()
            .map(|l| {
                if self.caught_up {
                    l.unsent.len()
                } else {
                    l.unsent.len().saturating_sub(l.before.unwrap_or(0))
                }
            })
            .sum()
    }

    /// One event read from the stream.
    fn receive(&mut self, incident: &str, event: Event) {
        let Some(id) = event.id.clone() else { return };
        if let Some(local) = self.files.get_mut(incident) {
            local.unsent.retain(|e| e.id.as_ref() != Some(&id));
        }
        self.in_stream
            .entry(incident.to_string())
            .or_default()
            .insert(id);
        if !self.caught_up && !self.files.contains_key(incident) {
            // Closed incidents are not copied here: their events need not wait in memory.
            if self.closed.contains(incident) {
                return;
            }
            if event.kind == Kind::IncidentClosed {
                self.early.remove(incident);
                self.closed.insert(incident.to_string());
                return;
            }
        }
        let queue = if self.caught_up {
            &mut self.to_merge
        } else {
            &mut self.early
        };
        queue.entry(incident.to_string()).or_default().push(event);
    }

    /// The stream has been read to its end: incidents the directory lacks
    /// that are still open get a file; then everything read is merged.
    fn catch_up(&mut self, tx: &mpsc::Sender<Msg>) {
        if self.caught_up {
            return;
        }
        self.caught_up = true;
        let early = std::mem::take(&mut self.early);
        for (incident, events) in early {
            self.to_merge.insert(incident, events);
        }
        // Local events published while offline, which the stream now proves it holds.
        for (incident, local) in &mut self.files {
            if let Some(held) = self.in_stream.get(incident) {
                local
                    .unsent
                    .retain(|e| e.id.as_ref().is_none_or(|id| !held.contains(id)));
            }
        }
        self.made = self.merge(tx);
    }

    /// Writes the stream's events into their local files; returns the files
    /// made for incidents opened elsewhere, newest first.
    fn merge(&mut self, tx: &mpsc::Sender<Msg>) -> Vec<PathBuf> {
        let mut made: Vec<(DateTime<Utc>, PathBuf)> = Vec::new();
        let batches = std::mem::take(&mut self.to_merge);
        let now = crate::clock::now();
        for (incident, events) in batches {
            let mut created = None;
            if !self.files.contains_key(&incident) {
                // An incident opened elsewhere: its file starts with its opening.
                let Some(opened) = events.iter().find(|e| {
                    e.kind == Kind::IncidentOpened
                        && e.id.as_ref().is_some_and(|id| id.as_str() == incident)
                }) else {
                    tracing::debug!(
                        "team: events of incident {incident} without its opening: not copied"
                    );
                    continue;
                };
                if service_of(opened).is_some_and(|s| s != self.service) {
                    continue;
                }
                if self.files.len() >= MAX_INCIDENTS {
                    tracing::warn!(
                        "team: {MAX_INCIDENTS} team incidents are followed here already: incident {incident} is not copied"
                    );
                    continue;
                }
                match journal::team_timeline(&self.dir, opened) {
                    Ok(j) => {
                        let path = j.path().to_path_buf();
                        self.adopt(incident.clone(), &path);
                        created = Some((opened.ts, path));
                    }
                    Err(e) => {
                        tracing::warn!("team: cannot copy incident {incident}: {e}");
                        continue;
                    }
                }
            }
            let Some(local) = self.files.get_mut(&incident) else {
                continue;
            };
            match local.journal.merge(events, now) {
                Ok(written) => {
                    if !written.is_empty() {
                        tracing::debug!(
                            "team: {} events from the team into {}",
                            written.len(),
                            local.journal.path().display()
                        );
                        let _ = tx.try_send(Msg::TeamMerged);
                    }
                }
                Err(e) => tracing::warn!(
                    "team: cannot merge into {}: {e}",
                    local.journal.path().display()
                ),
            }
            if let Some(c) = created {
                made.push(c);
            }
        }
        made.sort_by_key(|m| std::cmp::Reverse(m.0));
        made.into_iter().map(|(_, p)| p).collect()
    }

    /// Sends what the stream lacks, oldest first per incident; stops at the
    /// first failure (the connection is down: it is retried later).
    /// Forgets what the stream was known to hold and reads every local file
    /// again (the stream was made anew).
    fn restart(&mut self) {
        self.next_seq = 1;
        self.caught_up = false;
        self.in_stream.clear();
        self.early.clear();
        self.closed.clear();
        for local in self.files.values_mut() {
            local.unsent.clear();
            local.before = None;
            local.follower = Follower::new(local.journal.path(), true);
        }
    }

    async fn publish(&mut self, team: &Team) -> Result<(), TeamError> {
        for (incident, local) in &mut self.files {
            let Ok(id) = EventId::parse(incident) else {
                continue;
            };
            while let Some(event) = local.unsent.first() {
                // A refused event is tried again every RETRY_REFUSED, not every tick.
                let key = event.id.clone();
                if self
                    .refused
                    .get(&key)
                    .is_some_and(|(_, last)| last.elapsed() < RETRY_REFUSED)
                {
                    break;
                }
                if let Err(e) = team.publish(&id, event).await {
                    if !team.online() {
                        return Err(e);
                    }
                    // The server answers but refuses this one: after a few tries
                    // minutes apart it stays local, and the others go on.
                    let (tries, last) = self
                        .refused
                        .entry(key)
                        .or_insert((0, std::time::Instant::now()));
                    *tries += 1;
                    *last = std::time::Instant::now();
                    if *tries >= REFUSALS {
                        tracing::error!(
                            "{e}: event #{} of {} stays in the local file only",
                            event.seq,
                            local.journal.path().display()
                        );
                        local.unsent.remove(0);
                    }
                    break;
                }
                let sent = local.unsent.remove(0);
                if let Some(sent_id) = sent.id {
                    self.in_stream
                        .entry(incident.clone())
                        .or_default()
                        .insert(sent_id);
                }
            }
        }
        Ok(())
    }
}

/// The service an `incident_opened` event names, when it names one.
fn service_of(opened: &Event) -> Option<String> {
    match opened.payload() {
        Ok(crate::core::payload::Payload::Opened(p)) if !p.service.is_empty() => Some(p.service),
        _ => None,
    }
}

/// Runs until `stop`: connects (and reconnects), reads the stream, merges
/// and publishes, and tells the engine how the connection stands.
pub async fn run(
    config: TeamConfig,
    service: String,
    responder: String,
    dir: PathBuf,
    tx: mpsc::Sender<Msg>,
    mut stop: watch::Receiver<bool>,
) {
    let names = team::Names::new(&config.stream_prefix, &service);
    let mut mirror = Mirror::new(dir, service.clone(), names);
    let started = crate::clock::now();
    let mut status = TeamStatus {
        offline_since: Some(started),
        ..TeamStatus::default()
    };
    let mut told: Option<TeamStatus> = None;
    let mut link: Option<Team> = None;
    let mut messages: Option<async_nats::jetstream::consumer::pull::Ordered> = None;
    let mut retry_at = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(500);
    let mut scanned_at: Option<tokio::time::Instant> = None;
    let mut was_up = false;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = async {
            match messages.as_mut() {
                Some(m) => m.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => break,
            m = next => {
                let mut batch = vec![m];
                while batch.len() < BATCH {
                    match messages.as_mut().and_then(|m| m.next().now_or_never()) {
                        Some(m) => batch.push(m),
                        None => break,
                    }
                }
                for m in batch {
                    match m {
                        Some(Ok(message)) => {
                            let seq = message.info().map(|i| (i.stream_sequence, i.pending)).ok();
                            if let Some(incident) = mirror.names.incident_of(message.subject.as_str()) {
                                let incident = incident.to_string();
                                match team::decode(&message.payload, &incident, crate::clock::now()) {
                                    Ok(event) => mirror.receive(&incident, event),
                                    Err(why) => tracing::warn!(subject = %message.subject, "team: {why}: not copied"),
                                }
                            }
                            if let Some((s, pending)) = seq {
                                mirror.next_seq = s + 1;
                                if pending == 0 || s >= mirror.last_at_start {
                                    mirror.catch_up(&tx);
                                }
                            }
                        }
                        Some(Err(e)) => {
                            // A consumer lost with a restarted server: read on from where it was.
                            tracing::debug!("team: reading the stream: {e}; starting again from {}", mirror.next_seq);
                            messages = None;
                            break;
                        }
                        None => {
                            // The consumer gave up: read on from where it was.
                            messages = None;
                            break;
                        }
                    }
                }
                let mut made = std::mem::take(&mut mirror.made);
                made.extend(mirror.merge(&tx));
                for path in made {
                    if tx.send(Msg::TeamIncident(path)).await.is_err() {
                        return;
                    }
                }
            }
            _ = tick.tick() => {
                let now = tokio::time::Instant::now();
                if link.is_none() && now >= retry_at {
                    match Team::connect(&config, &service, &responder, CONNECT_WAIT).await {
                        Ok(t) => {
                            tracing::info!("team: connected to {}", t.server());
                            status.error = None;
                            backoff = Duration::from_millis(500);
                            link = Some(t);
                        }
                        Err(e) => {
                            tracing::warn!("{e}");
                            status.error = Some(e.to_string());
                            retry_at = now + backoff;
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                        }
                    }
                }
                // Back from an outage: the server's consumer may be gone without a
                // word (a restarted server): read on from where we were at once.
                let up = link.as_ref().is_some_and(Team::online);
                if up && !was_up {
                    messages = None;
                }
                was_up = up;
                if let Some(t) = &link && messages.is_none() && t.online() {
                    match start_reading(t, &mut mirror, &tx).await {
                        Ok(m) => messages = Some(m),
                        Err(e) => tracing::warn!("{e}"),
                    }
                }
                if scanned_at.is_none_or(|at| now - at >= SCAN) {
                    mirror.scan(crate::clock::now());
                    scanned_at = Some(now);
                }
                mirror.poll();
                let online = link.as_ref().is_some_and(Team::online);
                if online
                    && mirror.caught_up
                    && messages.is_some()
                    && mirror.unsent() > 0
                    && let Some(t) = &link
                    && let Err(e) = mirror.publish(t).await
                {
                    tracing::warn!("{e}");
                }
                if online != status.online {
                    status.online = online;
                    status.offline_since = (!online).then(crate::clock::now);
                    status.online_since = online.then(crate::clock::now);
                }
                for path in std::mem::take(&mut mirror.made) {
                    if tx.send(Msg::TeamIncident(path)).await.is_err() {
                        return;
                    }
                }
                status.unsent = mirror.unsent();
                if told.as_ref() != Some(&status) {
                    if tx.send(Msg::Team(status.clone())).await.is_err() {
                        break;
                    }
                    told = Some(status.clone());
                }
            }
        }
    }
}

/// Starts reading the stream from where the mirror is; an empty stream is
/// read to its end at once.
async fn start_reading(
    team: &Team,
    mirror: &mut Mirror,
    tx: &mpsc::Sender<Msg>,
) -> Result<async_nats::jetstream::consumer::pull::Ordered, TeamError> {
    let mut stream = team.stream().await?;
    let last = stream
        .info()
        .await
        .map_err(|e| team.failed("read the stream", e))?
        .state
        .last_sequence;
    if last.saturating_add(1) < mirror.next_seq {
        // The stream is shorter than what was read from it: it was deleted and
        // made anew (its store lost). Read it from the start, and send again
        // whatever of ours it no longer holds.
        tracing::warn!(
            "team: stream {} ends at {last}, before {} already read: it was made anew; reading it again",
            team.names.stream(),
            mirror.next_seq - 1
        );
        mirror.restart();
    }
    if !mirror.caught_up {
        mirror.last_at_start = last;
        if last < mirror.next_seq {
            mirror.catch_up(tx);
        }
    }
    team.follow(mirror.next_seq).await
}
