//! The engine's runtime, shared by the full-screen view and `ic watch`: starts
//! the sources (probes, `/metrics` scrapes, a Prometheus query API,
//! Alertmanager, a tick a second) feeding one bounded `Msg` channel, resumes
//! the open incident, runs `app::update` and carries out its effects —
//! timeline appends first (the state learns an event only once it is on disk),
//! then notifications, commands and postmortems. Events that cannot be written
//! stay pending, in order, and are retried every second.
//!
//! A front end (the screen, or `ic watch`'s lines) reads `state` and, for a
//! headless one, what each message wrote and notified; a [`Tap`] sees every raw
//! observation first.

use crate::app::run::RunRequest;
use crate::app::targets::TargetId;
use crate::app::{self, CommandDone, Effect, Msg, Notice, State};
use crate::config::{AlertmanagerSource, Notify, PrometheusSource};
use crate::core::event::{Draft, Event, EventId, Kind};
use crate::core::metrics::RouteView;
use crate::core::signal::Signal;
use crate::journal;
use ports::{Clock, CommandRunner, Notifications, Ports};
use timelines::{Opened, Timeline, Timelines};

pub mod ports;
mod silences;
pub mod timelines;
use crate::source::probe::ProbeTarget;
use crate::source::schedule::{self, ProbeEvent};
use crate::source::scrape::{self, ScrapeEvent, ScrapeTarget};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Messages drained from the channel before the front end gets to draw.
const BATCH: usize = 512;
/// How much of a Prometheus server's past the baselines learn at start: the
/// longest window a detector reads (the error rate's 6 h noise and burn rate).
const PROMETHEUS_HISTORY: Duration = Duration::from_secs(6 * 3600);

/// What to watch.
#[derive(Default)]
pub struct Feeds {
    /// Endpoints to probe (their order is the state's first targets).
    pub probes: Vec<ProbeTarget>,
    /// Probe concurrency.
    pub concurrency: usize,
    /// `/metrics` targets.
    pub scrapes: Vec<ScrapeTarget>,
    /// A Prometheus-compatible query API.
    pub prometheus: Option<PrometheusSource>,
    /// Alertmanager.
    pub alertmanager: Option<AlertmanagerSource>,
    /// The team server, when incidents are shared.
    pub team: Option<crate::config::Team>,
}

/// Sees every raw observation as it arrives, before the engine does (`ic watch`
/// prints from it). Called on the sources' tasks.
pub trait Tap: Send + Sync + 'static {
    /// A probe finished or overran.
    fn probe(&self, _event: &ProbeEvent) {}
    /// A scrape finished.
    fn scrape(&self, _event: &ScrapeEvent) {}
    /// The Prometheus query API answered (per-second rates) or failed.
    fn prometheus(&self, _views: &Result<Vec<RouteView>, String>) {}
}

/// A tap that looks at nothing.
pub struct NoTap;

impl Tap for NoTap {}

/// How long quitting waits for a stopped command to end and its output to drain.
const COMMAND_STOP_WAIT: Duration = Duration::from_secs(10);

/// A confirmed command in flight.
struct Running {
    /// Its step.
    step: String,
    /// The `seq` of its `command_started` event.
    run: u64,
    /// The command (for the record if the runner itself fails).
    command: String,
    /// Who confirmed it.
    confirmed_by: String,
    /// Turned on to stop it (its process group is ended).
    cancel: watch::Sender<bool>,
    /// The runner, which returns the `CommandDone` message.
    handle: JoinHandle<Msg>,
}

impl Running {
    /// The message for a runner that failed instead of returning one.
    fn failed(&self, why: String) -> Msg {
        let finished = unrecorded_end(
            self.run,
            &self.step,
            &self.command,
            &self.confirmed_by,
            format!(
                "`{}` ended unrecorded: {why}",
                self.command.lines().next().unwrap_or_default()
            ),
            &why,
        );
        Msg::CommandDone(Box::new(CommandDone {
            step: self.step.clone(),
            summary: why,
            succeeded: false,
            finished,
        }))
    }
}

/// The `command_finished` of run `run` that has no exit to record (it could
/// not start, or its runner failed): `why` in place of the outcome.
fn unrecorded_end(
    run: u64,
    step: &str,
    command: &str,
    confirmed_by: &str,
    msg: String,
    why: &str,
) -> Draft {
    Draft::typed(
        Kind::CommandFinished,
        confirmed_by,
        msg,
        &crate::core::payload::CommandFinished {
            run: Some(run),
            step: Some(step.to_string()),
            command: command.to_string(),
            confirmed_by: Some(confirmed_by.to_string()),
            why: why.to_string(),
            ..Default::default()
        },
    )
}

/// The events of the open timeline the state has learnt: by `seq`, and by
/// global `id` (a second copy of an event — a retried write, a merge — has
/// another `seq` but the same `id`, and is learnt once), with what each said.
#[derive(Default)]
struct Known {
    seqs: std::collections::HashSet<u64>,
    ids: std::collections::HashMap<EventId, u64>,
}

/// Whether an event read from the timeline is new to the state.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Not learnt yet.
    New,
    /// Learnt already (this `seq`, or a copy of the event with this `id`).
    Again,
    /// Its `id` is one learnt already, but it says something else: an edited
    /// or forged line.
    Conflicting,
}

impl Known {
    /// What `state`'s incident already holds.
    fn of(state: &State) -> Known {
        let mut k = Known::default();
        for e in state.incident.iter().flat_map(|i| i.events.iter()) {
            k.insert(e);
        }
        k
    }

    fn insert(&mut self, e: &Event) {
        self.seqs.insert(e.seq);
        if let Some(id) = &e.id {
            self.ids
                .entry(id.clone())
                .or_insert_with(|| e.fingerprint());
        }
    }

    fn seen(&self, e: &Event) -> Seen {
        match e.id.as_ref().and_then(|id| self.ids.get(id)) {
            Some(print) if *print != e.fingerprint() => Seen::Conflicting,
            Some(_) => Seen::Again,
            None if self.seqs.contains(&e.seq) => Seen::Again,
            None => Seen::New,
        }
    }
}

/// The engine with its timeline, notifier and sources.
pub struct Runtime {
    /// The app's state.
    pub state: State,
    /// Events written while handling the last messages (drained by the front end).
    pub written: Vec<Event>,
    /// Signals reported while handling the last messages (drained by the front end;
    /// not all were sent to the notifiers: see `Effect::Notify`).
    pub notified: Vec<Signal>,
    /// Signals a silence held, as recorded in the silence log while handling
    /// the last messages (drained by the front end).
    pub silenced: Vec<Draft>,
    /// The timeline directory's silence log.
    silence_log: silences::SilenceLog,
    /// The open incident's timeline: appended to, and followed for what other
    /// processes (`ic event`, another `ic`) append.
    timeline: Option<Box<dyn Timeline>>,
    /// Where timelines live.
    timelines: Box<dyn Timelines>,
    /// Every event of the open timeline the state has learnt.
    known: Known,
    pending: Vec<Draft>,
    notifier: Box<dyn Notifications>,
    clock: Arc<dyn Clock>,
    runner: Arc<dyn CommandRunner>,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    env: Vec<(String, String)>,
    secrets: Vec<String>,
    /// The confirmed command running now, if any.
    command: Option<Running>,
    /// An incident whose timeline could not be created yet (its title); its
    /// `incident_opened` waits first in `pending`.
    open_later: Option<String>,
    /// The timeline the running (or just ended) command's start is in.
    command_timeline: Option<PathBuf>,
    /// `command_finished` events whose incident is no longer the open one and
    /// that could not be written to it yet (its file, the draft).
    stray: Vec<(PathBuf, Draft)>,
    /// Set on joining another process's incident: its opener chooses the
    /// playbook (maybe a moment later), so ours is not written.
    joined: bool,
    /// What the engine told the view since the view last looked (kept only
    /// for an interactive state: nothing drains them otherwise).
    notices: Vec<Notice>,
    /// Our presence on the team (what we have open), when `team:` is set.
    doing: Option<watch::Sender<crate::team::presence::Doing>>,
    /// Where this location's probe results go out (`team.location`).
    samples: Option<mpsc::Sender<crate::core::team::LocationSample>>,
}

impl Runtime {
    /// A runtime over `state`; with `resume`, it continues the newest open incident
    /// in the state's timeline directory.
    pub fn new(
        state: State,
        notify: &Notify,
        secrets: Vec<String>,
        env: Vec<(String, String)>,
        resume: bool,
    ) -> Runtime {
        let ports = Ports::real(notify, &secrets, state.timeline_dir.clone());
        Runtime::with_ports(state, ports, secrets, env, resume)
    }

    /// A runtime over `state` reaching the world through `ports` (tests give
    /// a manual clock, a recording notifier and a scripted runner).
    pub fn with_ports(
        mut state: State,
        ports: Ports,
        secrets: Vec<String>,
        env: Vec<(String, String)>,
        resume: bool,
    ) -> Runtime {
        let mut timeline = None;
        let mut notices = Vec::new();
        let found = ports
            .timelines
            .newest_open(&state.service, ports.clock.now());
        if resume && let Some((path, last)) = found {
            if ports.clock.now() - last >= state.stale_after {
                // Quiet too long to take over silently: the responder decides.
                tracing::info!(timeline = %path.display(), "the open incident is stale");
                state.stale = Some((path, last));
                if state.interactive {
                    notices.push(Notice::Stale);
                }
            } else {
                match replay(
                    &mut state,
                    ports.timelines.as_ref(),
                    &path,
                    ports.clock.now(),
                ) {
                    Ok(t) => timeline = Some(t),
                    Err(why) => {
                        // Not silent: the open incident was not taken over.
                        let text = format!(
                            "cannot resume the open incident in {}: {why}; new signals open a new incident",
                            path.display()
                        );
                        tracing::error!("{text}");
                        app::update(&mut state, Msg::TaskFailed(text), ports.clock.now());
                    }
                }
            }
        }
        let known = Known::of(&state);
        state.mark_resumed();
        // A command that started before ic stopped (killed, power lost) has no recorded end.
        let unfinished: Vec<String> = state
            .incident
            .iter()
            .flat_map(|i| i.state.commands.iter().filter(|c| c.unfinished()))
            .map(|c| {
                format!(
                    "`{}` (step {}, started {})",
                    c.command.lines().next().unwrap_or_default(),
                    c.step.as_deref().unwrap_or("?"),
                    c.started
                        .map_or("?".into(), |t| t.format("%H:%M:%S UTC").to_string())
                )
            })
            .collect();
        if !unfinished.is_empty() {
            let text = format!(
                "no recorded end for {}: ic stopped while it ran — check whether it finished",
                unfinished.join(", ")
            );
            tracing::warn!("{text}");
            app::update(&mut state, Msg::Info(text), ports.clock.now());
        }
        let (tx, rx) = mpsc::channel::<Msg>(4096);
        let (stop_tx, _) = watch::channel(false);
        // The silences in force before the first signal can fire.
        let mut silence_log = silences::SilenceLog::default();
        learn_silences(
            &mut state,
            &mut silence_log,
            ports.timelines.as_ref(),
            ports.clock.now(),
        );
        Runtime {
            state,
            written: Vec::new(),
            notified: Vec::new(),
            silenced: Vec::new(),
            silence_log,
            timeline,
            timelines: ports.timelines,
            known,
            pending: Vec::new(),
            notifier: ports.notifier,
            clock: ports.clock,
            runner: ports.runner,
            tx,
            rx,
            stop_tx,
            tasks: Vec::new(),
            env,
            secrets,
            command: None,
            open_later: None,
            command_timeline: None,
            stray: Vec::new(),
            joined: false,
            notices,
            doing: None,
            samples: None,
        }
    }

    /// What the engine told the view since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Takes over the stale incident the responder chose to resume.
    fn resume_stale(&mut self, path: PathBuf) {
        if self.timeline.is_some() || self.opening() {
            self.say("an incident is already open: the stale one stays as it is".into());
            return;
        }
        match replay(
            &mut self.state,
            self.timelines.as_ref(),
            &path,
            self.clock.now(),
        ) {
            Ok(t) => {
                self.known = Known::of(&self.state);
                self.timeline = Some(t);
                self.state.mark_resumed();
                if let Some(p) = self.state.incident.as_ref().and_then(|i| i.state.phase)
                    && self.state.interactive
                {
                    self.notices.push(Notice::Phase(p));
                }
                self.say(format!("resumed the incident in {}", path.display()));
            }
            Err(why) => {
                let text = format!("cannot resume {}: {why}", path.display());
                app::update(&mut self.state, Msg::TaskFailed(text), self.clock.now());
            }
        }
    }

    /// Closes the stale incident the responder chose to close, in its own file.
    fn close_stale(&mut self, path: PathBuf, last: chrono::DateTime<chrono::Utc>) {
        let now = self.clock.now();
        let draft = Draft::typed(
            Kind::IncidentClosed,
            &self.state.actor,
            format!(
                "closed: stale, no activity since {}",
                last.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            &crate::core::payload::Closed {
                forced: Some(true),
                missing: None,
                stale: Some(true),
            },
        );
        match self
            .timelines
            .open(&path)
            .and_then(|mut t| t.append(draft, now))
        {
            Ok(_) => self.say(format!("closed the stale incident {}", path.display())),
            Err(e) => self.say(format!("could not close {}: {e}", path.display())),
        }
    }

    /// A sender into the engine's channel (terminal input comes this way).
    pub fn sender(&self) -> mpsc::Sender<Msg> {
        self.tx.clone()
    }

    /// The open incident's timeline file, if one is open.
    pub fn timeline(&self) -> Option<&Path> {
        self.timeline.as_deref().map(Timeline::path)
    }

    /// Starts the sources and the tick.
    pub fn start(&mut self, feeds: Feeds, tap: Arc<dyn Tap>) {
        let stop = self.stop_tx.subscribe();
        let Feeds {
            probes,
            concurrency,
            scrapes,
            prometheus,
            alertmanager,
            team,
        } = feeds;
        if !probes.is_empty() {
            self.start_probes(probes, concurrency, &tap, &stop);
        }
        if !scrapes.is_empty() {
            self.start_scrapes(scrapes, &tap, &stop);
        }
        if let Some(p) = prometheus {
            self.start_prometheus(&p, &tap, &stop);
        }
        if let Some(am) = alertmanager {
            self.start_alertmanager(&am, &stop);
        }
        if let Some(team) = team {
            self.start_team(team, &stop);
        }
        self.start_overdue_actions(&stop);
        self.start_ticks(stop);
    }

    /// The team: the timeline directory kept in step with the team stream,
    /// and our presence (what we have open) kept fresh.
    fn start_team(&mut self, config: crate::config::Team, stop: &watch::Receiver<bool>) {
        let service = self.state.service.clone();
        let responder = self.state.actor.clone();
        let dir = self.state.timeline_dir.clone();
        self.guard(
            "team sync",
            tokio::spawn(crate::team::sync::run(
                config.clone(),
                service.clone(),
                responder.clone(),
                dir,
                self.tx.clone(),
                stop.clone(),
            )),
        );
        self.guard(
            "team lease",
            tokio::spawn(crate::team::lease::run(
                config.clone(),
                service.clone(),
                responder.clone(),
                self.tx.clone(),
                stop.clone(),
            )),
        );
        if let Some(location) = config.location.clone() {
            let (out_tx, out_rx) = mpsc::channel(1024);
            self.samples = Some(out_tx);
            self.guard(
                "team samples",
                tokio::spawn(crate::team::samples::run(
                    config.clone(),
                    service.clone(),
                    responder.clone(),
                    location,
                    out_rx,
                    self.tx.clone(),
                    stop.clone(),
                )),
            );
        }
        let (doing_tx, doing_rx) = watch::channel(self.doing());
        self.doing = Some(doing_tx);
        self.guard(
            "team presence",
            tokio::spawn(crate::team::presence::run(
                config,
                service,
                responder,
                doing_rx,
                self.tx.clone(),
                stop.clone(),
            )),
        );
    }

    /// What our presence record says: the open incident.
    fn doing(&self) -> crate::team::presence::Doing {
        crate::team::presence::Doing {
            incident: self
                .state
                .incident
                .as_ref()
                .and_then(|i| i.state.id.as_ref())
                .map(|id| id.to_string()),
            typing: self.state.typing,
        }
    }

    /// Lists the open incidents of the service in the timeline directory for
    /// the picker, newest first.
    fn list_incidents(&mut self) {
        let dir = self.state.timeline_dir.clone();
        let service = self.state.service.clone();
        let mut rows: Vec<app::IncidentRow> = crate::journal::incidents(&dir)
            .into_iter()
            .filter_map(|(path, folded)| {
                let i = folded.ok()?;
                let ours = i.service.is_empty() || i.service == service;
                (ours && i.is_open()).then(|| app::IncidentRow {
                    short_id: i
                        .id
                        .as_ref()
                        .and_then(|id| crate::core::incident::short_id(id.as_str()))
                        .unwrap_or_default(),
                    title: i.title.clone(),
                    severity: i.current_severity(),
                    lead: i.roles.get("incident-lead").cloned(),
                    opened: i.opened,
                    path,
                })
            })
            .take(50)
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.opened));
        for e in app::update(&mut self.state, Msg::IncidentList(rows), self.clock.now()) {
            self.apply(e);
        }
    }

    /// Makes the incident in `path` the one on screen (and appended to),
    /// unless something of the current one is unfinished here.
    fn switch_to(&mut self, path: PathBuf) {
        if self.command.is_some() {
            self.say("a confirmed command is running in this incident: switch once it ends".into());
            return;
        }
        if !self.pending.is_empty() || self.open_later.is_some() {
            self.say("events of this incident are not saved yet: switch once they are".into());
            return;
        }
        self.state.incident = None;
        self.state.forget_incident();
        self.timeline = None;
        match self.take_up(&path) {
            Ok(()) => self.say(format!("switched to the incident in {}", path.display())),
            Err(why) => self.say(format!("cannot switch to {}: {why}", path.display())),
        }
    }

    /// Makes the incident in `path`, another process's, the open one here:
    /// learnt as a resumed incident is (its past read, never acted on again;
    /// what it records as firing goes on silently).
    fn take_up(&mut self, path: &Path) -> Result<(), String> {
        let t = replay(
            &mut self.state,
            self.timelines.as_ref(),
            path,
            self.clock.now(),
        )?;
        self.known = Known::of(&self.state);
        self.timeline = Some(t);
        self.joined = true;
        self.state.mark_resumed();
        Ok(())
    }

    /// Joins the team incident another responder opened, when none is open
    /// here and it had news within `incidents.stale_after`.
    fn join_team_incident(&mut self, path: PathBuf) {
        if self.timeline.is_some() || self.opening() {
            return;
        }
        let now = self.clock.now();
        let events = self
            .timelines
            .open(&path)
            .and_then(|mut t| t.poll())
            .unwrap_or_default();
        let last = events.iter().map(|e| e.ts).filter(|ts| *ts <= now).max();
        let closed = events.iter().any(|e| e.kind == Kind::IncidentClosed);
        if closed || last.is_none_or(|t| now - t >= self.state.stale_after) {
            tracing::info!(timeline = %path.display(), "a closed or quiet team incident is not joined by itself");
            return;
        }
        match self.take_up(&path) {
            Ok(()) => self.say(format!("joined the team's incident ({})", path.display())),
            Err(why) => {
                let text = format!(
                    "cannot join the team's incident in {}: {why}",
                    path.display()
                );
                app::update(&mut self.state, Msg::TaskFailed(text), self.clock.now());
            }
        }
    }

    /// Counts the overdue action items of the timeline dir's incidents now and
    /// every [`OVERDUE_EVERY`], off the engine's thread, for the header.
    fn start_overdue_actions(&mut self, stop: &watch::Receiver<bool>) {
        let (tx, mut stop) = (self.tx.clone(), stop.clone());
        let dir = self.state.timeline_dir.clone();
        self.guard(
            "overdue action items",
            tokio::spawn(async move {
                let mut t = tokio::time::interval(OVERDUE_EVERY);
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        _ = t.tick() => {}
                    }
                    let dir = dir.clone();
                    let today = crate::clock::local_date(crate::clock::now());
                    let Ok(n) =
                        tokio::task::spawn_blocking(move || overdue_actions(&dir, today)).await
                    else {
                        break;
                    };
                    if tx.send(Msg::OverdueActions(n)).await.is_err() {
                        break;
                    }
                }
            }),
        );
    }

    /// The probe scheduler and its relay.
    fn start_probes(
        &mut self,
        probes: Vec<ProbeTarget>,
        concurrency: usize,
        tap: &Arc<dyn Tap>,
        stop: &watch::Receiver<bool>,
    ) {
        // The scheduler numbers endpoints by position; the engine knows them by identity.
        let ids: Vec<TargetId> = probes
            .iter()
            .map(|p| TargetId::Probe(p.name.clone()))
            .collect();
        let (ptx, prx) = mpsc::channel(1024);
        let scheduler = tokio::spawn(schedule::run(
            Arc::new(probes),
            concurrency,
            ptx,
            stop.clone(),
        ));
        self.guard("probe scheduler", scheduler);
        let tap = tap.clone();
        self.relay("probe relay", prx, move |ev: ProbeEvent| {
            tap.probe(&ev);
            match ev {
                ProbeEvent::Sample { endpoint, sample } => match ids.get(endpoint) {
                    Some(id) => vec![Msg::Probe(id.clone(), sample)],
                    None => Vec::new(),
                },
                _ => Vec::new(),
            }
        });
    }

    /// The `/metrics` scraper and its relay.
    fn start_scrapes(
        &mut self,
        scrapes: Vec<ScrapeTarget>,
        tap: &Arc<dyn Tap>,
        stop: &watch::Receiver<bool>,
    ) {
        let names: Vec<String> = scrapes.iter().map(|s| s.name.clone()).collect();
        let (stx, srx) = mpsc::channel(256);
        self.guard(
            "scraper",
            tokio::spawn(scrape::run(scrapes, stx, stop.clone())),
        );
        let tap = tap.clone();
        self.relay("scrape relay", srx, move |ev: ScrapeEvent| {
            tap.scrape(&ev);
            let name = names.get(ev.target).cloned().unwrap_or_default();
            match ev.result {
                Ok(o) => {
                    let lifetime = o.lifetime.map(|views| Msg::Lifetime(name.clone(), views));
                    let views = o.routes.map(|views| Msg::Views(name, views, o.at));
                    lifetime.into_iter().chain(views).collect()
                }
                Err(e) => vec![Msg::SourceDown(name, e.to_string())],
            }
        });
    }

    /// The Prometheus query API, polled every `p.interval` after its last
    /// [`PROMETHEUS_HISTORY`] is learnt.
    fn start_prometheus(
        &mut self,
        p: &PrometheusSource,
        tap: &Arc<dyn Tap>,
        stop: &watch::Receiver<bool>,
    ) {
        match crate::source::prometheus::PromClient::new(p) {
            Ok(client) => {
                let every = p.interval.get();
                let (tx, tap, mut stop) = (self.tx.clone(), tap.clone(), stop.clone());
                self.guard(
                    "prometheus",
                    tokio::spawn(async move {
                        // The baselines learn the server's last hours first.
                        let now = crate::clock::now().timestamp() as f64;
                        match client.history(now, PROMETHEUS_HISTORY).await {
                            Ok(minutes) => {
                                tracing::info!(
                                    "prometheus: learnt {} minutes of history",
                                    minutes.len()
                                );
                                let minutes = minutes
                                    .into_iter()
                                    .filter_map(|(t, v)| {
                                        Some((chrono::DateTime::from_timestamp(t, 0)?, v))
                                    })
                                    .collect();
                                if tx
                                    .send(Msg::History("prometheus".into(), minutes))
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                            }
                            Err(e) => tracing::warn!(
                                "prometheus: no history for the baselines, they learn from now: {e}"
                            ),
                        }
                        let mut tick = tokio::time::interval(every);
                        loop {
                            tokio::select! {
                                _ = stop.changed() => break,
                                _ = tick.tick() => {}
                            }
                            let views = client.route_views().await.map_err(|e| e.to_string());
                            tap.prometheus(&views);
                            let msg = match views {
                                // Rates over the query window become counts for one interval.
                                Ok(views) => Msg::Views(
                                    "prometheus".into(),
                                    views.into_iter().map(|v| per_interval(v, every)).collect(),
                                    crate::clock::now(),
                                ),
                                Err(e) => Msg::SourceDown("prometheus".into(), e),
                            };
                            if tx.send(msg).await.is_err() {
                                break;
                            }
                        }
                    }),
                );
            }
            Err(e) => self.say(format!("prometheus: {e}")),
        }
    }

    /// Alertmanager, polled every `am.interval`.
    fn start_alertmanager(&mut self, am: &AlertmanagerSource, stop: &watch::Receiver<bool>) {
        match crate::source::alertmanager::AlertmanagerClient::new(am) {
            Ok(client) => {
                let every = am.interval.get();
                let (tx, mut stop) = (self.tx.clone(), stop.clone());
                self.guard(
                    "alertmanager",
                    tokio::spawn(async move {
                        let mut tracker = crate::source::alertmanager::AlertTracker::default();
                        let mut tick = tokio::time::interval(every);
                        loop {
                            tokio::select! {
                                _ = stop.changed() => break,
                                _ = tick.tick() => {}
                            }
                            let msgs = match client.firing().await {
                                Ok(alerts) => {
                                    let signals = tracker.update(alerts, crate::clock::now());
                                    let mut m: Vec<Msg> =
                                        signals.into_iter().map(Msg::Signal).collect();
                                    m.push(Msg::SourceUp("alertmanager".into()));
                                    m
                                }
                                Err(e) => {
                                    tracing::warn!("alertmanager: {e}");
                                    vec![Msg::SourceDown("alertmanager".into(), e.to_string())]
                                }
                            };
                            for m in msgs {
                                if tx.send(m).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }),
                );
            }
            Err(e) => self.say(format!("alertmanager: {e}")),
        }
    }

    /// A tick a second.
    fn start_ticks(&mut self, stop: watch::Receiver<bool>) {
        let (tx, mut stop) = (self.tx.clone(), stop);
        self.tasks.push(tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = t.tick() => {}
                }
                if tx.send(Msg::Tick).await.is_err() {
                    break;
                }
            }
        }));
    }

    /// Waits for the next message (or the running command's end) and takes
    /// whatever else is waiting (bounded).
    pub async fn next_batch(&mut self) -> Option<Vec<Msg>> {
        let first = match self.command.as_mut() {
            Some(running) => tokio::select! {
                m = self.rx.recv() => m?,
                done = &mut running.handle => {
                    let msg = match done {
                        Ok(msg) => msg,
                        Err(e) => running.failed(format!("the command runner failed: {e}")),
                    };
                    self.command = None;
                    msg
                }
            },
            None => self.rx.recv().await?,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH
            && let Ok(m) = self.rx.try_recv()
        {
            batch.push(m);
        }
        Some(batch)
    }

    /// Handles one message: `update`, then its effects. Each tick also retries
    /// unsaved events and picks up what other processes appended.
    pub fn handle(&mut self, msg: Msg) {
        let tick = matches!(msg, Msg::Tick);
        match &msg {
            Msg::TeamMerged => self.follow(),
            Msg::TeamIncident(path) => self.join_team_incident(path.clone()),
            _ => {}
        }
        if tick {
            learn_silences(
                &mut self.state,
                &mut self.silence_log,
                self.timelines.as_ref(),
                self.clock.now(),
            );
        }
        let fx = app::update(&mut self.state, msg, self.clock.now());
        if tick {
            if !self.pending.is_empty() || !self.stray.is_empty() {
                self.flush();
            }
            self.follow();
            if let Some(step) = crate::clock::take_step() {
                self.say(format!(
                    "the wall clock stepped {:+.0} s; ic keeps its own time (windows and durations stay right), restart it to adopt the new time",
                    step.num_milliseconds() as f64 / 1000.0
                ));
            }
        }
        for e in fx {
            self.apply(e);
        }
        if let Some(doing) = &self.doing {
            let now = self.doing();
            doing.send_if_modified(|d| {
                let changed = *d != now;
                *d = now;
                changed
            });
        }
    }

    /// Handles a batch for a front end that does not look at what was written
    /// and notified (the screen reads the state instead).
    pub fn handle_all(&mut self, batch: Vec<Msg>) {
        for msg in batch {
            self.handle(msg);
        }
        self.written.clear();
        self.notified.clear();
        self.silenced.clear();
    }

    /// Stops a running command (its whole process group) and records how it
    /// ended; called on quit and on SIGTERM / SIGINT / SIGHUP.
    pub async fn stop_command(&mut self) {
        let Some(mut running) = self.command.take() else {
            return;
        };
        tracing::info!(step = %running.step, "stopping the running command before exit");
        let _ = running.cancel.send(true);
        let msg = match tokio::time::timeout(COMMAND_STOP_WAIT, &mut running.handle).await {
            Ok(Ok(msg)) => msg,
            Ok(Err(e)) => running.failed(format!("the command runner failed: {e}")),
            Err(_) => {
                running.handle.abort();
                running.failed(format!(
                    "still running {} s after ic asked it to stop; ic exited without its end",
                    COMMAND_STOP_WAIT.as_secs()
                ))
            }
        };
        self.handle(msg);
    }

    /// Stops the sources and waits (briefly) for them to wind down; a running
    /// command is stopped and recorded first. Returns the events that could
    /// still not be written (after one last try), for the front end to report.
    pub async fn stop(mut self) -> Vec<Draft> {
        self.stop_command().await;
        // What was still being decided (the new incident's playbook) is decided now.
        for f in app::settle(&mut self.state) {
            self.apply(f);
        }
        if !self.pending.is_empty() || !self.stray.is_empty() {
            self.flush();
        }
        // Nothing reads the channel any more: a relay blocked on a full one returns at once.
        self.rx.close();
        let _ = self.stop_tx.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        let mut unsaved = std::mem::take(&mut self.pending);
        unsaved.extend(self.stray.drain(..).map(|(_, d)| d));
        unsaved
    }

    /// Feeds the state the events other processes appended to the open timeline.
    fn follow(&mut self) {
        let Some(t) = self.timeline.as_mut() else {
            return;
        };
        match t.poll() {
            Ok(events) => {
                for e in events {
                    match self.known.seen(&e) {
                        Seen::New => self.appended(e),
                        Seen::Again => {}
                        Seen::Conflicting => {
                            let text = format!(
                                "{}: event {} (seq {}) has the id of an event already read but says something else — edited or forged; the first copy is kept",
                                self.state
                                    .timeline_path
                                    .as_deref()
                                    .map_or_else(String::new, |p| p.display().to_string()),
                                e.id.as_ref().map_or("?", |id| id.as_str()),
                                e.seq
                            );
                            tracing::warn!("{text}");
                            app::update(&mut self.state, Msg::TaskFailed(text), self.clock.now());
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("following the timeline: {e}"),
        }
    }

    fn say(&mut self, text: String) {
        app::update(&mut self.state, Msg::Info(text), self.clock.now());
    }

    /// The one relay every source's events go through: each event from `rx`
    /// becomes the messages `to_msgs` makes of it, sent in order on the engine's
    /// channel (bounded: a slow engine slows the source, never drops a message).
    fn relay<E: Send + 'static>(
        &mut self,
        name: &'static str,
        mut rx: mpsc::Receiver<E>,
        mut to_msgs: impl FnMut(E) -> Vec<Msg> + Send + 'static,
    ) {
        let tx = self.tx.clone();
        self.guard(
            name,
            tokio::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    for msg in to_msgs(ev) {
                        if tx.send(msg).await.is_err() {
                            return;
                        }
                    }
                }
            }),
        );
    }

    /// Spawns a watcher that turns `handle`'s panic into a message instead of a garbled terminal.
    fn guard(&mut self, name: &'static str, handle: JoinHandle<()>) {
        let tx = self.tx.clone();
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = handle.await
                && e.is_panic()
            {
                let _ = tx
                    .send(Msg::TaskFailed(format!("{name} stopped: {e}")))
                    .await;
            }
        }));
    }

    /// Carries out one effect; appends feed `Msg::Appended` back before anything is drawn.
    fn apply(&mut self, effect: Effect) {
        let now = self.clock.now();
        match effect {
            Effect::Open(title) => {
                if self.state.incident_open() || self.opening() {
                    return;
                }
                let mut draft = match &self.state.drill {
                    Some(d) => Draft::opened_drill("ic", &title, &self.state.service, d),
                    None => Draft::opened("ic", &title, &self.state.service),
                };
                draft.at = Some(now);
                self.open_incident(title, draft, now);
            }
            Effect::Append(mut draft) => {
                // The tool's own playbook choice never overrides the one of an incident
                // it joined (another process chose first).
                if draft.kind == Kind::PlaybookSelected
                    && crate::core::incident::TOOL_ACTORS.contains(&draft.actor.as_str())
                    && (std::mem::take(&mut self.joined)
                        || self
                            .state
                            .incident
                            .as_ref()
                            .is_some_and(|i| i.state.playbook.is_some()))
                {
                    return;
                }
                draft.at.get_or_insert(now);
                if let Err(e) = journal::check_size(&draft) {
                    self.say(format!("not written: {e}"));
                    return;
                }
                if !self.state.incident_open() && !self.opening() {
                    self.apply(Effect::Open("incident".into()));
                }
                // Its identity now, so a retry after a write that landed but reported
                // failure (fsync) is the same event, recognised and skipped by readers.
                draft
                    .id
                    .get_or_insert_with(|| EventId::v7(now, rand::random()));
                // Behind anything still unsaved, in order.
                self.pending.push(draft);
                self.flush();
            }
            Effect::Remind(text) => self.notifier.reminder(&text),
            // The engine decided: a page is only made by an ic that pages it.
            Effect::Page(sig) => self.notifier.signal(&sig),
            Effect::RecordSilenced(mut draft) => {
                draft.at.get_or_insert(now);
                crate::core::redact::redact_json(&mut draft.data, &self.secrets);
                draft.msg = crate::core::redact::redact_text(&draft.msg, &self.secrets);
                if let Err(why) =
                    self.silence_log
                        .record(self.timelines.as_ref(), draft.clone(), now)
                {
                    self.say(why);
                }
                self.silenced.push(draft);
            }
            Effect::Notify(sig, send) => {
                if send {
                    self.notifier.signal(&sig);
                }
                self.notified.push(sig);
            }
            Effect::ListIncidents => self.list_incidents(),
            Effect::Switch(path) => self.switch_to(path),
            Effect::ShareSample(sample) => {
                // Only the latest word matters: a full queue drops this one.
                if let Some(out) = &self.samples {
                    let _ = out.try_send(sample);
                }
            }
            Effect::Run(req) => self.run_command(*req),
            Effect::ResumeStale(path) => self.resume_stale(path),
            Effect::CloseStale(path, last) => self.close_stale(path, last),
            Effect::CommandEnded(mut draft) => {
                let theirs = self.command_timeline.take();
                let ours = self.timeline().map(Path::to_path_buf);
                match theirs {
                    Some(path) if Some(&path) != ours.as_ref() => {
                        // Its incident was closed (or another opened) while it ran: the end
                        // goes where its start is, never into a new incident.
                        draft.at.get_or_insert(now);
                        self.write_stray(path, draft);
                    }
                    _ => self.apply(Effect::Append(draft)),
                }
            }
            Effect::SendComms(text) => {
                self.notifier.comms(&text);
            }
            Effect::WritePostmortem => {
                let msg = match &self.state.timeline_path {
                    None => "no incident timeline yet".to_string(),
                    Some(p) => match self.timelines.write_postmortem(p) {
                        Ok(out) => format!("postmortem written to {}", out.display()),
                        Err(e) => format!("cannot write the postmortem: {e}"),
                    },
                };
                self.say(msg);
            }
            Effect::Ui(n) => {
                if self.state.interactive {
                    self.notices.push(n);
                }
            }
            Effect::Quit => self.state.quit = true,
        }
    }

    /// Records `command_started`, then starts the command. A command whose
    /// start cannot be recorded is not run: it would leave no trace.
    fn run_command(&mut self, req: RunRequest) {
        let now = self.clock.now();
        let not_run = |rt: &mut Runtime, why: String| {
            tracing::warn!(step = %req.step, "command not run: {why}");
            app::update(
                &mut rt.state,
                Msg::CommandNotRun(req.step.clone(), why),
                now,
            );
        };
        if self.command.is_some() {
            return not_run(self, "another command is still running".into());
        }
        if !self.pending.is_empty() {
            return not_run(
                self,
                format!(
                    "{} earlier event(s) are not saved yet (NOT SAVED); the command would have no record — free space, or run it by hand",
                    self.pending.len()
                ),
            );
        }
        let Some(timeline) = self.timeline.as_mut() else {
            return not_run(self, "no incident timeline is open to record it in".into());
        };
        let mut started = req.started.clone();
        crate::core::redact::redact_json(&mut started.data, &self.secrets);
        started.msg = crate::core::redact::redact_text(&started.msg, &self.secrets);
        let event = match timeline.append(started, now) {
            Ok(e) => e,
            Err(e) => {
                return not_run(
                    self,
                    format!(
                        "the timeline cannot be written ({e}): a command that leaves no record is not run — free space, or run it by hand"
                    ),
                );
            }
        };
        let run = event.seq;
        self.command_timeline = Some(timeline.path().to_path_buf());
        self.appended(event);
        let mut env = self.env.clone();
        env.retain(|(k, _)| !req.env.iter().any(|(r, _)| r == k));
        env.extend(req.env.iter().cloned());
        let opts = crate::runner::RunOptions {
            timeout: req.timeout,
            secrets: self.secrets.clone(),
            env,
            ..Default::default()
        };
        let (cancel, cancel_rx) = watch::channel(false);
        let (step, command, actor) = (
            req.step.clone(),
            req.command.clone(),
            req.confirmed_by.clone(),
        );
        let runner = self.runner.clone();
        let handle = tokio::spawn(async move {
            let secrets = opts.secrets.clone();
            match runner
                .run(command.clone(), actor.clone(), opts, cancel_rx)
                .await
            {
                Ok(o) => Msg::CommandDone(Box::new(CommandDone {
                    summary: o.summary(),
                    succeeded: o.succeeded(),
                    finished: o.finished_draft(&step, run),
                    step,
                })),
                Err(e) => {
                    let why = format!("could not start: {e}");
                    let shown = crate::core::redact::redact_text(&command, &secrets);
                    Msg::CommandDone(Box::new(CommandDone {
                        finished: unrecorded_end(
                            run,
                            &step,
                            &shown,
                            &actor,
                            format!("`{}` {why}", shown.lines().next().unwrap_or_default()),
                            &why,
                        ),
                        summary: why,
                        succeeded: false,
                        step,
                    }))
                }
            }
        });
        self.command = Some(Running {
            step: req.step,
            run,
            command: crate::core::redact::redact_text(&req.command, &self.secrets),
            confirmed_by: req.confirmed_by,
            cancel,
            handle,
        });
    }

    /// The state learns an event that is on disk; its follow-up effects are carried out.
    fn appended(&mut self, e: Event) {
        let closed = e.kind == Kind::IncidentClosed;
        self.known.insert(&e);
        self.written.push(e.clone());
        let fx = app::update(&mut self.state, Msg::Appended(e), self.clock.now());
        if closed {
            self.timeline = None;
        }
        for f in fx {
            self.apply(f);
        }
    }

    /// Whether an incident is being opened: its `incident_opened` is pending, or
    /// its file could not be created yet.
    fn opening(&self) -> bool {
        self.open_later.is_some() || self.pending.iter().any(|d| d.kind == Kind::IncidentOpened)
    }

    /// Opens the incident for the service — joining one another process has open
    /// for it in the directory, or creating its timeline with `draft` first. When
    /// the disk refuses, the draft waits in memory, first in line, and the open
    /// is tried again (join or create, under the directory's lock) with each flush.
    fn open_incident(&mut self, title: String, draft: Draft, now: chrono::DateTime<chrono::Utc>) {
        let service = self.state.service.clone();
        let started = draft.at.unwrap_or(now);
        let stale_before = now - self.state.stale_after;
        match self
            .timelines
            .open_or_join(&service, started, stale_before, &title, draft.clone())
        {
            Ok(Opened::Created(t, e)) => {
                self.adopt(t);
                self.joined = false;
                self.appended(e);
            }
            Ok(Opened::Joined(t)) => {
                let path = t.path().display().to_string();
                self.adopt(t);
                self.joined = true;
                // Learn the other process's incident from its file; what it records as
                // firing goes on silently when our detectors see it too.
                self.follow();
                self.state.mark_resumed();
                self.say(format!(
                    "joined the incident already open for {service} in {path} (another ic opened it)"
                ));
            }
            Err(e) => {
                self.open_later = Some(title);
                self.pending.insert(0, draft);
                self.state.unsaved = self.pending.len();
                app::update(&mut self.state, Msg::AppendFailed(e.to_string()), now);
            }
        }
    }

    /// Makes `t` the open incident's timeline.
    fn adopt(&mut self, t: Box<dyn Timeline>) {
        self.state.timeline_path = Some(t.path().to_path_buf());
        self.timeline = Some(t);
        self.state.incident = None;
        self.known = Known::default();
    }

    /// Appends the pending drafts in order, stopping at the first failure (they stay
    /// pending, shown as NOT SAVED, and are retried every second). An incident whose
    /// file could not be created is opened first.
    fn flush(&mut self) {
        for (path, draft) in std::mem::take(&mut self.stray) {
            self.write_stray(path, draft);
        }
        let had_unsaved = self.state.unsaved > 0;
        if let Some(title) = self.open_later.take() {
            let now = self.clock.now();
            if self
                .pending
                .first()
                .is_some_and(|d| d.kind == Kind::IncidentOpened)
            {
                let draft = self.pending.remove(0);
                self.open_incident(title, draft, now);
                if self.timeline.is_none() {
                    return;
                }
            }
        }
        while !self.pending.is_empty() {
            let now = self.clock.now();
            let Some(j) = self.timeline.as_mut() else {
                break;
            };
            let moved_before = j.moved();
            let result = j.append(self.pending[0].clone(), now);
            if j.moved() > moved_before {
                let path = j.path().display().to_string();
                self.say(format!(
                    "the timeline file was moved or deleted: continuing in a new {path}"
                ));
            }
            match result {
                Ok(e) => {
                    self.pending.remove(0);
                    self.state.unsaved = self.pending.len() + self.stray.len();
                    self.appended(e);
                }
                Err(e) => {
                    self.state.unsaved = self.pending.len() + self.stray.len();
                    app::update(&mut self.state, Msg::AppendFailed(e.to_string()), now);
                    return;
                }
            }
        }
        self.state.unsaved = self.pending.len() + self.stray.len();
        if had_unsaved && self.pending.is_empty() && self.stray.is_empty() {
            self.say("every event is saved to the timeline again".into());
        }
    }

    /// Writes a command's end into the timeline of its start, which is not the
    /// open incident's; kept and retried every second when it cannot be written.
    fn write_stray(&mut self, path: PathBuf, draft: Draft) {
        let now = self.clock.now();
        match self
            .timelines
            .open(&path)
            .and_then(|mut t| t.append(draft.clone(), now))
        {
            Ok(_) => self.say(format!(
                "the command's end is recorded in its incident's timeline {}",
                path.display()
            )),
            Err(e) => {
                self.state.unsaved = self.pending.len() + self.stray.len() + 1;
                app::update(&mut self.state, Msg::AppendFailed(e.to_string()), now);
                self.stray.push((path, draft));
            }
        }
    }

    /// Events that are still not on disk, oldest first.
    pub fn unsaved(&self) -> &[Draft] {
        &self.pending
    }
}

/// Tells on stderr which events could not be written to `timeline` — each as a
/// JSON line with its own time, so the record survives in the terminal's
/// scrollback or a redirect — and returns how many there were.
pub fn report_unsaved(unsaved: &[Draft], timeline: Option<&Path>) -> usize {
    if unsaved.is_empty() {
        return 0;
    }
    let place = timeline.map_or("the timeline".to_string(), |p| p.display().to_string());
    eprintln!(
        "NOT SAVED: {} event(s) could not be written to {place} (see the log for why); they follow as JSON lines — append them with `ic event` or by hand once there is room:",
        unsaved.len()
    );
    for d in unsaved {
        let at = d.at.unwrap_or_else(crate::clock::now);
        eprintln!("{}", d.clone().into_event(0, at).to_line());
    }
    unsaved.len()
}

/// A Prometheus view of per-second rates as counts over one polling interval.
fn per_interval(mut v: RouteView, every: Duration) -> RouteView {
    let secs = every.as_secs_f64();
    v.requests *= secs;
    v.errors_5xx *= secs;
    v.errors_4xx *= secs;
    v.span = Some(secs);
    v
}

/// How often the header's count of overdue action items is taken again.
const OVERDUE_EVERY: Duration = Duration::from_secs(600);

/// How many open action items of the incidents in `dir` were due before `today`
/// (a timeline that cannot be read counts none).
fn overdue_actions(dir: &Path, today: chrono::NaiveDate) -> usize {
    let incidents: Vec<_> = crate::journal::incidents(dir)
        .into_iter()
        .filter_map(|(p, folded)| Some((p, folded.ok()?)))
        .collect();
    let filter = crate::core::actions::Filter {
        overdue: true,
        ..Default::default()
    };
    crate::core::actions::rows(&incidents, today, &filter).len()
}

/// Replays the timeline at `path` into `state` (through the timeline's own
/// following, so nothing appended meanwhile is missed), open for appending.
/// `Err` says why it could not be read or opened for appending.
fn replay(
    state: &mut State,
    timelines: &dyn Timelines,
    path: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Box<dyn Timeline>, String> {
    let mut t = timelines.open(path).map_err(|e| e.to_string())?;
    for e in t.poll().map_err(|e| e.to_string())? {
        app::update(state, Msg::Appended(e), now);
    }
    state.timeline_path = Some(path.to_path_buf());
    Ok(t)
}

/// Gives the engine the silence log's silences when they changed (or says why
/// the log cannot be read, once).
fn learn_silences(
    state: &mut State,
    log: &mut silences::SilenceLog,
    timelines: &dyn Timelines,
    now: chrono::DateTime<chrono::Utc>,
) {
    let msg = match log.poll(timelines) {
        silences::Found::Nothing => return,
        silences::Found::Silences(list) => Msg::Silences(list),
        silences::Found::Problem(text) => Msg::TaskFailed(text),
    };
    app::update(state, msg, now);
}
