//! The full-screen view: drawing (one module per pane) and the runtime that
//! owns the terminal, feeds `app::update` from one channel (keys, mouse,
//! paste, probes, scrapes, ticks, command results), carries out its effects —
//! timeline appends first, then the screen — and draws at most 30 frames a
//! second, only when something changed. The terminal is restored on quit, on
//! SIGINT / SIGTERM / SIGHUP and on panic.

pub mod detail;
pub mod endpoints;
pub mod footer;
pub mod header;
pub mod layout;
pub mod overlay;
pub mod playbook;
pub mod theme;
pub mod timeline;

use crate::app::{self, Areas, Effect, Msg, State};
use crate::config::Notify;
use crate::core::event::Draft;
use crate::journal::{self, Journal};
use crate::notify::Notifier;
use crate::source::probe::ProbeTarget;
use crate::source::schedule::{self, ProbeEvent};
use crate::source::scrape::{self, ScrapeTarget};
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as TermEvent,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use theme::Theme;
use tokio::sync::{mpsc, watch};

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Notes the process start, for the "first frame after" figure in the log.
pub fn mark_start() {
    let _ = START.set(Instant::now());
}

/// Draws the whole screen and records the panes' areas in `s`.
pub fn draw(f: &mut Frame, s: &mut State, th: Theme) {
    let p = layout::split(f.area());
    header::draw(f, p.header, s, th);
    let body = endpoints::draw(f, p.endpoints, s, th);
    if let Some(d) = p.detail {
        detail::draw(f, d, s, th);
    }
    playbook::draw(f, p.playbook, s, th);
    timeline::draw(f, p.timeline, s, th);
    footer::draw(f, p.footer, s, th);
    overlay::draw(f, f.area(), s, th);
    let r = |a: ratatui::layout::Rect| (a.x, a.y, a.width, a.height);
    s.areas = Areas {
        endpoints: r(body),
        playbook: r(p.playbook),
        timeline: r(p.timeline),
    };
}

/// What the view watches and where it writes.
pub struct Options {
    /// Endpoints to probe.
    pub probes: Vec<ProbeTarget>,
    /// Probe concurrency.
    pub concurrency: usize,
    /// `/metrics` targets.
    pub scrapes: Vec<ScrapeTarget>,
    /// The state to start from (targets, settings, playbooks, timeline dir).
    pub state: State,
    /// Notification settings.
    pub notify: Notify,
    /// Secrets to redact.
    pub secrets: Vec<String>,
    /// Environment for playbook commands (the demo sets `IC_DEMO_URL`).
    pub command_env: Vec<(String, String)>,
}

/// Restores the terminal when dropped (quit, error or panic unwinding).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Runs the view until the responder quits or a stop signal arrives.
pub async fn run(opts: Options) -> anyhow::Result<u8> {
    let Options {
        probes,
        concurrency,
        scrapes,
        mut state,
        notify,
        secrets,
        command_env,
    } = opts;
    let th = Theme::from_env();
    let mut notifier = Notifier::start(&notify, &secrets);
    let dir = state.timeline_dir.clone();

    // Resume the newest open incident.
    let mut journal: Option<Journal> = None;
    if let Some(path) = journal::newest_open(&dir)
        && let Ok(replay) = journal::read(&path)
    {
        for e in replay.events {
            app::update(&mut state, Msg::Appended(e), crate::clock::now());
        }
        journal = Journal::open(&path).ok();
        state.timeline_path = Some(path);
    }

    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let (stop_tx, stop_rx) = watch::channel(false);

    // Terminal.
    enable_raw_mode()?;
    let _guard = TerminalGuard;
    execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )?;
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        default_hook(info);
    }));
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;

    // Input on its own thread (crossterm's read blocks).
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            loop {
                let msg = match crossterm::event::read() {
                    Ok(TermEvent::Key(k)) if k.kind != crossterm::event::KeyEventKind::Release => {
                        Msg::Key(k)
                    }
                    Ok(TermEvent::Mouse(m)) => Msg::Mouse(m),
                    Ok(TermEvent::Paste(p)) => Msg::Paste(p),
                    Ok(TermEvent::Resize(..)) => Msg::Resize,
                    Ok(_) => continue,
                    Err(_) => break,
                };
                if tx.blocking_send(msg).is_err() {
                    break;
                }
            }
        });
    }
    // Probes.
    let targets = Arc::new(probes);
    let (ptx, mut prx) = mpsc::channel(1024);
    watch_task(
        &tx,
        "probe scheduler",
        tokio::spawn(schedule::run(
            targets.clone(),
            concurrency,
            ptx,
            stop_rx.clone(),
        )),
    );
    {
        let tx = tx.clone();
        watch_task(
            &tx.clone(),
            "probe relay",
            tokio::spawn(async move {
                while let Some(ev) = prx.recv().await {
                    if let ProbeEvent::Sample { endpoint, sample } = ev
                        && tx.send(Msg::Probe(endpoint, sample)).await.is_err()
                    {
                        break;
                    }
                }
            }),
        );
    }
    // Scrapes.
    let names: Vec<String> = scrapes.iter().map(|s| s.name.clone()).collect();
    let (stx, mut srx) = mpsc::channel(256);
    watch_task(
        &tx,
        "scraper",
        tokio::spawn(scrape::run(scrapes, stx, stop_rx.clone())),
    );
    {
        let tx = tx.clone();
        watch_task(
            &tx.clone(),
            "scrape relay",
            tokio::spawn(async move {
                while let Some(ev) = srx.recv().await {
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
    // Ticks.
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(1));
            loop {
                t.tick().await;
                if tx.send(Msg::Tick).await.is_err() {
                    break;
                }
            }
        });
    }
    let stop = crate::signals::stop_requested();
    tokio::pin!(stop);

    let mut pending: Vec<Draft> = Vec::new();
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let frame = Duration::from_millis(33);
    terminal.draw(|f| draw(f, &mut state, th))?;
    if let Some(t) = START.get() {
        tracing::info!("first frame after {} ms", t.elapsed().as_millis());
    }
    while !state.quit {
        tokio::select! {
            _ = &mut stop => break,
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                let mut queue = vec![msg];
                // Drain what is waiting, then draw once.
                while let Ok(m) = rx.try_recv() {
                    queue.push(m);
                    if queue.len() > 512 { break; }
                }
                for msg in queue {
                    let retry = matches!(msg, Msg::Tick) && !pending.is_empty();
                    let fx = app::update(&mut state, msg, crate::clock::now());
                    if retry {
                        flush(&mut state, &mut journal, &mut pending, &mut notifier, &tx, &command_env, &secrets);
                    }
                    for e in fx {
                        apply(&mut state, &mut journal, &mut pending, e, &mut notifier, &tx, &command_env, &secrets);
                    }
                }
            }
            _ = tokio::time::sleep(frame.saturating_sub(last_draw.elapsed())), if state.dirty => {}
        }
        if state.dirty && last_draw.elapsed() >= frame {
            terminal.draw(|f| draw(f, &mut state, th))?;
            state.dirty = false;
            last_draw = Instant::now();
        }
    }
    let _ = stop_tx.send(true);
    drop(terminal);
    restore();
    if let Some(p) = &state.timeline_path {
        println!("timeline: {}", p.display());
    }
    Ok(crate::commands::EXIT_OK)
}

/// Reports a background task's panic as a message instead of a garbled terminal.
fn watch_task(tx: &mpsc::Sender<Msg>, name: &'static str, handle: tokio::task::JoinHandle<()>) {
    let tx = tx.clone();
    tokio::spawn(async move {
        if let Err(e) = handle.await
            && e.is_panic()
        {
            let _ = tx
                .send(Msg::TaskFailed(format!("{name} stopped: {e}")))
                .await;
        }
    });
}

/// Carries out one effect; appends feed `Msg::Appended` back before anything is drawn.
#[allow(clippy::too_many_arguments)]
fn apply(
    state: &mut State,
    journal: &mut Option<Journal>,
    pending: &mut Vec<Draft>,
    effect: Effect,
    notifier: &mut Notifier,
    tx: &mpsc::Sender<Msg>,
    env: &[(String, String)],
    secrets: &[String],
) {
    let now = crate::clock::now();
    match effect {
        Effect::Open(title) => {
            if journal.is_some() && state.incident_open() {
                return;
            }
            match Journal::create(&state.timeline_dir, now, &title) {
                Ok(mut j) => {
                    let service = state.service.clone();
                    match j.append(Draft::opened("ic", &title, &service), now) {
                        Ok(e) => {
                            state.timeline_path = Some(j.path().to_path_buf());
                            *journal = Some(j);
                            state.incident = None;
                            let fx = app::update(state, Msg::Appended(e), now);
                            for f in fx {
                                apply(state, journal, pending, f, notifier, tx, env, secrets);
                            }
                        }
                        Err(e) => {
                            app::update(state, Msg::AppendFailed(e.to_string()), now);
                        }
                    }
                }
                Err(e) => {
                    app::update(state, Msg::AppendFailed(e.to_string()), now);
                }
            }
        }
        Effect::Append(draft) => {
            if journal.is_none() || !state.incident_open() {
                apply(
                    state,
                    journal,
                    pending,
                    Effect::Open("incident".into()),
                    notifier,
                    tx,
                    env,
                    secrets,
                );
            }
            // Behind anything still unsaved, in order.
            pending.push(draft);
            flush(state, journal, pending, notifier, tx, env, secrets);
        }
        Effect::Notify(sig) => {
            notifier.notify(&sig, std::time::Instant::now());
        }
        Effect::Run(step, command, timeout) => {
            let tx = tx.clone();
            let opts = crate::runner::RunOptions {
                timeout,
                secrets: secrets.to_vec(),
                env: env.to_vec(),
                ..Default::default()
            };
            let actor = state.actor.clone();
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
            notifier.comms(&text);
        }
        Effect::WritePostmortem => {
            let msg = match &state.timeline_path {
                None => "no incident timeline yet".to_string(),
                Some(p) => write_postmortem(p),
            };
            app::update(state, Msg::Info(msg), now);
        }
        Effect::Quit => state.quit = true,
    }
}

/// Appends the pending drafts in order, stopping at the first failure (they stay
/// pending, shown as NOT SAVED, and are retried every second).
#[allow(clippy::too_many_arguments)]
fn flush(
    state: &mut State,
    journal: &mut Option<Journal>,
    pending: &mut Vec<Draft>,
    notifier: &mut Notifier,
    tx: &mpsc::Sender<Msg>,
    env: &[(String, String)],
    secrets: &[String],
) {
    let had_unsaved = state.unsaved > 0;
    while !pending.is_empty() {
        let now = crate::clock::now();
        let Some(j) = journal.as_mut() else {
            break;
        };
        let moved_before = j.moved();
        let result = j.append(pending[0].clone(), now);
        if j.moved() > moved_before {
            let path = j.path().display().to_string();
            app::update(
                state,
                Msg::Info(format!(
                    "the timeline file was moved or deleted: continuing in a new {path}"
                )),
                now,
            );
        }
        match result {
            Ok(e) => {
                pending.remove(0);
                state.unsaved = pending.len();
                let closed = e.kind == crate::core::event::Kind::IncidentClosed;
                let fx = app::update(state, Msg::Appended(e), now);
                if closed {
                    *journal = None;
                }
                for f in fx {
                    apply(state, journal, pending, f, notifier, tx, env, secrets);
                }
            }
            Err(e) => {
                state.unsaved = pending.len();
                app::update(state, Msg::AppendFailed(e.to_string()), now);
                return;
            }
        }
    }
    state.unsaved = pending.len();
    if had_unsaved && pending.is_empty() {
        app::update(
            state,
            Msg::Info("every event is saved to the timeline again".into()),
            crate::clock::now(),
        );
    }
}

fn write_postmortem(timeline: &std::path::Path) -> String {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let out: PathBuf = timeline.with_extension("postmortem.md");
    let result = journal::read(timeline)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            let text = crate::core::postmortem::markdown(&r.events);
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&out)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => format!("postmortem written to {}", out.display()),
        Err(e) => format!("cannot write the postmortem: {e}"),
    }
}
