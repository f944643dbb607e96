//! The full-screen view: drawing (one module per pane) and the loop that owns
//! the terminal, feeds keys, mouse and paste into the engine's runtime
//! (`runtime.rs`, shared with `ic watch`) and draws at most 30 frames a second,
//! only when something changed. The terminal is restored on quit, on
//! SIGINT / SIGTERM / SIGHUP and on panic. Text from outside (route labels,
//! exemplars, notes, titles, errors) is drawn through `core::text::escape`:
//! ratatui drops control characters but would pass bidi overrides on.

pub mod detail;
pub mod endpoints;
pub mod footer;
pub mod header;
pub mod input;
pub mod layout;
pub mod overlay;
pub mod playbook;
pub mod theme;
pub mod timeline;

use crate::app::{Areas, Msg, State};
use crate::config::Notify;
use crate::runtime::{Feeds, NoTap, Runtime};
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
use std::sync::Arc;
use std::time::{Duration, Instant};
use theme::Theme;

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Notes the process start, for the "first frame after" figure in the log.
pub fn mark_start() {
    let _ = START.set(Instant::now());
}

/// Draws the whole screen and records in `s` what it showed: the panes'
/// areas (for the mouse), the screen's size, and the command dialog's rows
/// that this frame drew (only drawn rows count as read).
pub fn draw(f: &mut Frame, s: &mut State, th: Theme) {
    let size = (f.area().width, f.area().height);
    if s.size != size {
        s.size = size;
        if let crate::app::Mode::Confirm(crate::app::Confirm::Run(d)) = &mut s.mode {
            d.resized(size);
        }
    }
    let p = layout::split(f.area());
    header::draw(f, p.header, s, th);
    let body = endpoints::draw(f, p.endpoints, s, th);
    if let Some(d) = p.detail {
        detail::draw(f, d, s, th);
    }
    playbook::draw(f, p.playbook, s, th);
    timeline::draw(f, p.timeline, s, th);
    footer::draw(f, p.footer, s, th);
    // This frame shows the dialog's current page: those rows count as read.
    if let crate::app::Mode::Confirm(crate::app::Confirm::Run(d)) = &mut s.mode {
        d.drawn(size);
    }
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
    /// What to probe, scrape and query.
    pub feeds: Feeds,
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

/// A panic on the view's thread restores the terminal before it is reported;
/// one on any other thread (a background task the runtime survives) is only
/// logged, so the screen is never left half restored — the runtime's guard
/// shows it as an error the responder can read.
fn install_panic_hook(ui: std::thread::ThreadId) {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui {
            restore();
            default_hook(info);
        } else {
            tracing::error!("a background thread panicked: {info}");
        }
    }));
}

/// Runs the view until the responder quits or a stop signal arrives; the
/// count of events that could not be written (0: the record is complete).
pub async fn run(opts: Options) -> anyhow::Result<usize> {
    let Options {
        feeds,
        state,
        notify,
        secrets,
        command_env,
    } = opts;
    let th = Theme::from_env();
    let mut rt = Runtime::new(state, &notify, secrets, command_env, true);

    // Terminal.
    enable_raw_mode()?;
    let _guard = TerminalGuard;
    execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )?;
    install_panic_hook(std::thread::current().id());
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    if let Ok(size) = terminal.size() {
        rt.state.size = (size.width, size.height);
    }

    // Input on its own thread (crossterm's read blocks).
    {
        let tx = rt.sender();
        std::thread::spawn(move || {
            loop {
                let msg = match crossterm::event::read() {
                    Ok(TermEvent::Key(k)) if k.kind != crossterm::event::KeyEventKind::Release => {
                        match input::key(k) {
                            Some(k) => Msg::Key(k),
                            None => continue,
                        }
                    }
                    Ok(TermEvent::Mouse(m)) => match input::mouse(m) {
                        Some(m) => Msg::Mouse(m),
                        None => continue,
                    },
                    Ok(TermEvent::Paste(p)) => Msg::Paste(p),
                    Ok(TermEvent::Resize(w, h)) => Msg::Resize(w, h),
                    Ok(_) => continue,
                    Err(e) => {
                        // Keys no longer arrive: say so (q cannot work; Ctrl-C / SIGTERM still do).
                        tracing::error!("reading the terminal: {e}");
                        let _ = tx.blocking_send(Msg::TaskFailed(format!(
                            "terminal input stopped ({e}): keys no longer work; stop ic with Ctrl-C or kill"
                        )));
                        break;
                    }
                };
                if tx.blocking_send(msg).is_err() {
                    break;
                }
            }
        });
    }
    rt.start(feeds, Arc::new(NoTap));
    let stop = crate::signals::stop_requested();
    tokio::pin!(stop);

    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let frame = Duration::from_millis(33);
    terminal.draw(|f| draw(f, &mut rt.state, th))?;
    if let Some(t) = START.get() {
        tracing::info!("first frame after {} ms", t.elapsed().as_millis());
    }
    while !rt.state.quit {
        tokio::select! {
            _ = &mut stop => break,
            batch = rt.next_batch() => {
                let Some(batch) = batch else { break };
                rt.handle_all(batch);
            }
            _ = tokio::time::sleep(frame.saturating_sub(last_draw.elapsed())), if rt.state.dirty => {}
        }
        if rt.state.dirty && last_draw.elapsed() >= frame {
            terminal.draw(|f| draw(f, &mut rt.state, th))?;
            rt.state.dirty = false;
            last_draw = Instant::now();
        }
    }
    // A running command is stopped (its process group ended) and recorded first.
    rt.stop_command().await;
    let timeline = rt.state.timeline_path.clone();
    let unsaved = rt.stop().await;
    drop(terminal);
    restore();
    if let Some(p) = &timeline {
        println!("timeline: {}", p.display());
    }
    Ok(crate::runtime::report_unsaved(
        &unsaved,
        timeline.as_deref(),
    ))
}
