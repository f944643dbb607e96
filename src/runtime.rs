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

use crate::app::{self, Effect, Msg, State};
use crate::config::{AlertmanagerSource, Notify, PrometheusSource};
use crate::core::event::{Draft, Event, Kind};
use crate::core::metrics::RouteView;
use crate::core::signal::Signal;
use crate::journal::{self, Follower, Journal};
use crate::notify::Notifier;
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

/// The engine with its timeline, notifier and sources.
pub struct Runtime {
    /// The app's state.
    pub state: State,
    /// Events written while handling the last messages (drained by the front end).
    pub written: Vec<Event>,
    /// Signals notified while handling the last messages (drained by the front end).
    pub notified: Vec<Signal>,
    journal: Option<Journal>,
    /// Reads what other processes (`ic event`, another `ic`) append to the open timeline.
    follower: Option<Follower>,
    /// The `seq` of every event of the open timeline the state has learnt.
    known: std::collections::HashSet<u64>,
    pending: Vec<Draft>,
    notifier: Notifier,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    env: Vec<(String, String)>,
    secrets: Vec<String>,
}

impl Runtime {
    /// A runtime over `state`; with `resume`, it continues the newest open incident
    /// in the state's timeline directory.
    pub fn new(
        mut state: State,
        notify: &Notify,
        secrets: Vec<String>,
        env: Vec<(String, String)>,
        resume: bool,
    ) -> Runtime {
        let (mut journal, mut follower) = (None, None);
        if resume && let Some(path) = journal::newest_open(&state.timeline_dir) {
            // Read through the follower, so nothing appended meanwhile is missed.
            let mut f = Follower::new(&path, true);
            if let Ok(replay) = f.poll() {
                for e in replay.events {
                    app::update(&mut state, Msg::Appended(e), crate::clock::now());
                }
                journal = Journal::open(&path).ok();
                follower = Some(f);
                state.timeline_path = Some(path);
            }
        }
        let known = state
            .incident
            .iter()
            .flat_map(|i| i.events.iter().map(|e| e.seq))
            .collect();
        let (tx, rx) = mpsc::channel::<Msg>(4096);
        let (stop_tx, _) = watch::channel(false);
        Runtime {
            state,
            written: Vec::new(),
            notified: Vec::new(),
            journal,
            follower,
            known,
            pending: Vec::new(),
            notifier: Notifier::start(notify, &secrets),
            tx,
            rx,
            stop_tx,
            tasks: Vec::new(),
            env,
            secrets,
        }
    }

    /// A sender into the engine's channel (terminal input comes this way).
    pub fn sender(&self) -> mpsc::Sender<Msg> {
        self.tx.clone()
    }

    /// The open incident's timeline file, if one is open.
    pub fn timeline(&self) -> Option<&Path> {
        self.journal.as_ref().map(Journal::path)
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
        } = feeds;
        if !probes.is_empty() {
            let (ptx, mut prx) = mpsc::channel(1024);
            let scheduler = tokio::spawn(schedule::run(
                Arc::new(probes),
                concurrency,
                ptx,
                stop.clone(),
            ));
            self.guard("probe scheduler", scheduler);
            let (tx, tap) = (self.tx.clone(), tap.clone());
            self.guard(
                "probe relay",
                tokio::spawn(async move {
                    while let Some(ev) = prx.recv().await {
                        tap.probe(&ev);
                        if let ProbeEvent::Sample { endpoint, sample } = ev
                            && tx.send(Msg::Probe(endpoint, sample)).await.is_err()
                        {
                            break;
                        }
                    }
                }),
            );
        }
        if !scrapes.is_empty() {
            let names: Vec<String> = scrapes.iter().map(|s| s.name.clone()).collect();
            let (stx, mut srx) = mpsc::channel(256);
            self.guard(
                "scraper",
                tokio::spawn(scrape::run(scrapes, stx, stop.clone())),
            );
            let (tx, tap) = (self.tx.clone(), tap.clone());
            self.guard(
                "scrape relay",
                tokio::spawn(async move {
                    while let Some(ev) = srx.recv().await {
                        tap.scrape(&ev);
                        let name = names.get(ev.target).cloned().unwrap_or_default();
                        let msg = match ev.result {
                            Ok(o) => match o.routes {
                                Some(views) => Msg::Views(name, views, o.at),
                                None => continue,
                            },
                            Err(e) => Msg::SourceDown(name, e.to_string()),
                        };
                        if tx.send(msg).await.is_err() {
                            break;
                        }
                    }
                }),
            );
        }
        if let Some(p) = prometheus {
            match crate::source::prometheus::PromClient::new(&p) {
                Ok(client) => {
                    let every = p.interval.get();
                    let (tx, tap, mut stop) = (self.tx.clone(), tap.clone(), stop.clone());
                    self.guard(
                        "prometheus",
                        tokio::spawn(async move {
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
        if let Some(am) = alertmanager {
            match crate::source::alertmanager::AlertmanagerClient::new(&am) {
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

    /// Waits for the next message and takes whatever else is waiting (bounded).
    pub async fn next_batch(&mut self) -> Option<Vec<Msg>> {
        let first = self.rx.recv().await?;
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
        let fx = app::update(&mut self.state, msg, crate::clock::now());
        if tick {
            if !self.pending.is_empty() {
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
    }

    /// Handles a batch for a front end that does not look at what was written
    /// and notified (the screen reads the state instead).
    pub fn handle_all(&mut self, batch: Vec<Msg>) {
        for msg in batch {
            self.handle(msg);
        }
        self.written.clear();
        self.notified.clear();
    }

    /// Stops the sources and waits (briefly) for them to wind down.
    pub async fn stop(mut self) {
        // Nothing reads the channel any more: a relay blocked on a full one returns at once.
        self.rx.close();
        let _ = self.stop_tx.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }

    /// Feeds the state the events other processes appended to the open timeline.
    fn follow(&mut self) {
        let Some(f) = self.follower.as_mut() else {
            return;
        };
        match f.poll() {
            Ok(replay) => {
                for e in replay.events {
                    if !self.known.contains(&e.seq) {
                        self.appended(e);
                    }
                }
            }
            Err(e) => tracing::warn!("following the timeline: {e}"),
        }
    }

    fn say(&mut self, text: String) {
        app::update(&mut self.state, Msg::Info(text), crate::clock::now());
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
        let now = crate::clock::now();
        match effect {
            Effect::Open(title) => {
                if self.journal.is_some() && self.state.incident_open() {
                    return;
                }
                let opened =
                    Journal::create(&self.state.timeline_dir, now, &title).and_then(|mut j| {
                        let e = j.append(Draft::opened("ic", &title, &self.state.service), now)?;
                        Ok((j, e))
                    });
                match opened {
                    Ok((j, e)) => {
                        self.state.timeline_path = Some(j.path().to_path_buf());
                        self.follower = Some(Follower::new(j.path(), true));
                        self.journal = Some(j);
                        self.state.incident = None;
                        self.known.clear();
                        self.appended(e);
                    }
                    Err(e) => {
                        app::update(&mut self.state, Msg::AppendFailed(e.to_string()), now);
                    }
                }
            }
            Effect::Append(draft) => {
                if self.journal.is_none() || !self.state.incident_open() {
                    self.apply(Effect::Open("incident".into()));
                }
                // Behind anything still unsaved, in order.
                self.pending.push(draft);
                self.flush();
            }
            Effect::Notify(sig) => {
                self.notifier.notify(&sig, std::time::Instant::now());
                self.notified.push(sig);
            }
            Effect::Run(step, command, timeout) => {
                let tx = self.tx.clone();
                let opts = crate::runner::RunOptions {
                    timeout,
                    secrets: self.secrets.clone(),
                    env: self.env.clone(),
                    ..Default::default()
                };
                let actor = self.state.actor.clone();
                tokio::spawn(async move {
                    let (_cancel_tx, cancel_rx) = watch::channel(false);
                    let msg = match crate::runner::run(
                        &command,
                        crate::runner::Confirmed::by(&actor),
                        &opts,
                        cancel_rx,
                    )
                    .await
                    {
                        Ok(o) => Msg::CommandDone(step, o.summary(), Box::new(o.to_draft())),
                        Err(e) => Msg::Info(format!("the command could not start: {e}")),
                    };
                    let _ = tx.send(msg).await;
                });
            }
            Effect::SendComms(text) => {
                self.notifier.comms(&text);
            }
            Effect::WritePostmortem => {
                let msg = match &self.state.timeline_path {
                    None => "no incident timeline yet".to_string(),
                    Some(p) => write_postmortem(p),
                };
                self.say(msg);
            }
            Effect::Quit => self.state.quit = true,
        }
    }

    /// The state learns an event that is on disk; its follow-up effects are carried out.
    fn appended(&mut self, e: Event) {
        let closed = e.kind == Kind::IncidentClosed;
        self.known.insert(e.seq);
        self.written.push(e.clone());
        let fx = app::update(&mut self.state, Msg::Appended(e), crate::clock::now());
        if closed {
            self.journal = None;
            self.follower = None;
        }
        for f in fx {
            self.apply(f);
        }
    }

    /// Appends the pending drafts in order, stopping at the first failure (they stay
    /// pending, shown as NOT SAVED, and are retried every second).
    fn flush(&mut self) {
        let had_unsaved = self.state.unsaved > 0;
        while !self.pending.is_empty() {
            let now = crate::clock::now();
            let Some(j) = self.journal.as_mut() else {
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
                    self.state.unsaved = self.pending.len();
                    self.appended(e);
                }
                Err(e) => {
                    self.state.unsaved = self.pending.len();
                    app::update(&mut self.state, Msg::AppendFailed(e.to_string()), now);
                    return;
                }
            }
        }
        self.state.unsaved = self.pending.len();
        if had_unsaved && self.pending.is_empty() {
            self.say("every event is saved to the timeline again".into());
        }
    }
}

/// A Prometheus view of per-second rates as counts over one polling interval.
fn per_interval(mut v: RouteView, every: Duration) -> RouteView {
    let secs = every.as_secs_f64();
    v.requests *= secs;
    v.errors_5xx *= secs;
    v.errors_4xx *= secs;
    v
}

fn write_postmortem(timeline: &Path) -> String {
    let out: PathBuf = timeline.with_extension("postmortem.md");
    let result = journal::read(timeline)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            let text = crate::core::postmortem::markdown(&r.events);
            crate::paths::write_private(&out, text.as_bytes()).map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => format!("postmortem written to {}", out.display()),
        Err(e) => format!("cannot write the postmortem: {e}"),
    }
}
