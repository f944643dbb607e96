//! The full-screen view: its own state (`view`), key handling (`keys`, over
//! the `keymap` table), drawing (one module per pane) and the loop that owns
//! the terminal, turns keys, mouse and paste into the engine's intents for
//! the runtime (`runtime`, shared with `ic watch`) and draws at most 30 frames a second,
//! only when something changed. The terminal is restored on quit, on
//! SIGINT / SIGTERM / SIGHUP and on panic. Text from outside (route labels,
//! exemplars, notes, titles, errors) is drawn through `core::text::escape`:
//! ratatui drops control characters but would pass bidi overrides on.

pub mod confirm;
pub mod detail;
pub mod editor;
pub mod endpoints;
pub mod footer;
pub mod fuzzy;
pub mod header;
pub mod input;
pub mod keymap;
pub mod keys;
pub mod layout;
pub mod overlay;
pub mod playbook;
pub mod scroll;
pub mod theme;
pub mod timeline;
pub mod view;

use crate::app::{Msg, State};
use crate::config::Notify;
use crate::runtime::{Feeds, NoTap, Runtime};
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use theme::Theme;
use view::{Areas, Confirm, Mode, View};

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Notes the process start, for the "first frame after" figure in the log.
pub fn mark_start() {
    let _ = START.set(Instant::now());
}

/// Draws the whole screen of engine state `s` and records in the view `v`
/// what it showed: the panes' areas (for the mouse), the screen's size, and
/// the command dialog's rows that this frame drew (only drawn rows count as read).
pub fn draw(f: &mut Frame, s: &State, v: &mut View, th: Theme) {
    let size = (f.area().width, f.area().height);
    if v.size != size {
        v.size = size;
        if let Mode::Confirm(Confirm::Run(d)) = &mut v.mode {
            d.resized(size);
        }
    }
    let p = layout::split(f.area());
    header::draw(f, p.header, s, th);
    let body = endpoints::draw(f, p.endpoints, s, v, th);
    if let Some(d) = p.detail {
        detail::draw(f, d, s, v, th);
    }
    playbook::draw(f, p.playbook, s, v, th);
    timeline::draw(f, p.timeline, s, v, th);
    footer::draw(f, p.footer, s, th);
    // This frame shows the dialog's current page: those rows count as read.
    if let Mode::Confirm(Confirm::Run(d)) = &mut v.mode {
        d.drawn(size);
    }
    overlay::draw(f, f.area(), s, v, th);
    let r = |a: ratatui::layout::Rect| (a.x, a.y, a.width, a.height);
    v.areas = Areas {
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
    /// The palette (`--theme`, the config's `theme:`, `NO_COLOR`).
    pub theme: Theme,
}

/// Restores the terminal when dropped (quit, error or panic unwinding).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Whether the view holds the terminal (raw mode, alternate screen): set on
/// entering, cleared by the one [`restore`] that gives it back.
static HELD: AtomicBool = AtomicBool::new(false);

/// Gives the terminal back, once: leaving the alternate screen a second time
/// restores the cursor saved on entering it, so lines printed after the first
/// restore would be overwritten by whatever follows (the garbled exit line).
fn restore() {
    if !HELD.swap(false, Ordering::SeqCst) {
        return;
    }
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

/// The view over a runtime: what the full-screen loop drives — and tests
/// drive the same way, with a `TestBackend` for the terminal.
pub struct Screen {
    /// The engine with its timeline, notifier and sources.
    pub rt: Runtime,
    /// The view's own state.
    pub view: View,
}

impl Screen {
    /// The view of `rt`'s engine as it is now (an incident it resumed included).
    pub fn new(rt: Runtime) -> Screen {
        let view = View::of(&rt.state);
        let mut s = Screen { rt, view };
        s.follow();
        s
    }

    /// Hands one input to the view, what it asks of the engine to the
    /// runtime, and what the engine answered back to the view.
    pub fn input(&mut self, input: input::Input) {
        let msgs = keys::handle(&mut self.view, &self.rt.state, input);
        self.rt.handle_all(msgs);
        self.follow();
    }

    /// A key press (see [`Screen::input`]).
    pub fn key(&mut self, key: input::Key) {
        self.input(input::Input::Key(key));
    }

    /// Messages from the sources, ticks and tasks, then what they changed on screen.
    pub fn handle_all(&mut self, batch: Vec<Msg>) {
        self.rt.handle_all(batch);
        self.follow();
    }

    /// Draws a frame.
    pub fn draw(&mut self, f: &mut Frame, th: Theme) {
        draw(f, &self.rt.state, &mut self.view, th);
    }

    /// Whether something changed since the last frame.
    pub fn dirty(&self) -> bool {
        self.rt.state.dirty || self.view.dirty
    }

    /// Notes that a frame shows everything.
    pub fn drawn(&mut self) {
        self.rt.state.dirty = false;
        self.view.dirty = false;
    }

    /// Shows the engine's notices and tells it of a selection that re-sorting
    /// moved, and whether a status update is being written (the team sees it).
    fn follow(&mut self) {
        let typing = matches!(&self.view.mode, view::Mode::Input(e) if e.kind == crate::core::grammar::InputKind::Comms);
        if typing != self.rt.state.typing {
            self.rt.handle(Msg::Do(crate::app::Intent::Typing(typing)));
        }
        for n in self.rt.take_notices() {
            self.view.notice(&self.rt.state, n);
        }
        if let Some(sel) = self.view.selection_changed(&self.rt.state) {
            self.rt.handle(Msg::Do(crate::app::Intent::Select(sel)));
        }
    }
}

/// What the view leaves behind once the terminal is restored, for the lines
/// its command prints after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Events that could not be written (0: the record is complete); already
    /// reported on stderr.
    pub unsaved: usize,
    /// The timeline the view wrote or resumed, if any.
    pub timeline: Option<PathBuf>,
}

/// Runs the view until the responder quits or a stop signal arrives. Nothing
/// is printed while the view holds the terminal; the caller prints its lines
/// after this returns (the terminal is then restored).
pub async fn run(opts: Options) -> anyhow::Result<Exit> {
    let Options {
        feeds,
        state,
        notify,
        secrets,
        command_env,
        theme: th,
    } = opts;
    let mut sc = Screen::new(Runtime::new(state, &notify, secrets, command_env, true));

    // Terminal.
    enable_raw_mode()?;
    HELD.store(true, Ordering::SeqCst);
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
        sc.view.size = (size.width, size.height);
    }

    // Input on its own thread (crossterm's read blocks).
    let (input_tx, mut inputs) = tokio::sync::mpsc::channel::<input::Input>(256);
    {
        let tx = sc.rt.sender();
        std::thread::spawn(move || {
            loop {
                let got = match crossterm::event::read() {
                    Ok(e) => match input::event(e) {
                        Some(i) => i,
                        None => continue,
                    },
                    Err(e) => {
                        // Keys no longer arrive: say so (q cannot work; Ctrl-C / SIGTERM still do).
                        tracing::error!("reading the terminal: {e}");
                        let _ = tx.blocking_send(Msg::TaskFailed(format!(
                            "terminal input stopped ({e}): keys no longer work; stop ic with Ctrl-C or kill"
                        )));
                        break;
                    }
                };
                if input_tx.blocking_send(got).is_err() {
                    break;
                }
            }
        });
    }
    sc.rt.start(feeds, Arc::new(NoTap));
    let stop = crate::signals::stop_requested();
    tokio::pin!(stop);

    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let frame = Duration::from_millis(33);
    terminal.draw(|f| sc.draw(f, th))?;
    if let Some(t) = START.get() {
        tracing::info!("first frame after {} ms", t.elapsed().as_millis());
    }
    while !sc.rt.state.quit {
        let dirty = sc.dirty();
        tokio::select! {
            _ = &mut stop => break,
            Some(got) = inputs.recv() => sc.input(got),
            batch = sc.rt.next_batch() => {
                let Some(batch) = batch else { break };
                sc.handle_all(batch);
            }
            _ = tokio::time::sleep(frame.saturating_sub(last_draw.elapsed())), if dirty => {}
        }
        if sc.dirty() && last_draw.elapsed() >= frame {
            terminal.draw(|f| sc.draw(f, th))?;
            sc.drawn();
            last_draw = Instant::now();
        }
    }
    // A running command is stopped (its process group ended) and recorded first.
    let mut rt = sc.rt;
    rt.stop_command().await;
    let timeline = rt.state.timeline_path.clone();
    let unsaved = rt.stop().await;
    drop(terminal);
    restore();
    Ok(Exit {
        unsaved: crate::runtime::report_unsaved(&unsaved, timeline.as_deref()),
        timeline,
    })
}
