//! `ic watch`: continuous headless probing and scraping, on the same engine as
//! the full-screen view (`runtime.rs`): the same detectors, incidents opened
//! and written the same way, a playbook chosen, a metric snapshot a minute.
//! Prints a line whenever an endpoint's class or a metrics target's health
//! changes, every signal once it is on disk, and a summary every 10 s — or
//! every probe, scrape and signal as JSON Lines with `--json`. Stops at
//! `--duration` or on Ctrl-C / SIGTERM with exit 0. [`drive`] is that loop over
//! given sources and playbooks; the headless `ic demo` runs it too.

use super::EXIT_OK;
use super::UsageError;
use super::check::{load_sources, sample_json};
use super::setup::Engine;
pub(super) use super::setup::Setup;
use crate::app::targets::TargetId;
use crate::cli::WatchArgs;
use crate::core::event::Kind;
use crate::core::metrics::RouteView;
use crate::core::sample::FailureClass;
use crate::core::signal::Signal;
use crate::runtime::{Runtime, Tap};
use crate::source::probe::ProbeTarget;
use crate::source::schedule::ProbeEvent;
use crate::source::scrape::ScrapeEvent;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SUMMARY_EVERY: Duration = Duration::from_secs(10);

pub(super) async fn run(args: WatchArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let mut sources = load_sources(config)?;
    if let Some(location) = &args.location {
        let Some(team) = sources.config.team.as_mut() else {
            return Err(UsageError(
                "--location shares probe results with a team: configure `team:` in ic.yaml first"
                    .into(),
            )
            .into());
        };
        let plain = !location.is_empty()
            && location.len() <= 32
            && location
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain {
            return Err(UsageError(format!(
                "--location `{location}` must be 1 to 32 of A-Z a-z 0-9 - _"
            ))
            .into());
        }
        team.location = Some(location.clone());
    }
    let config = &sources.config;
    if sources.probes.is_empty()
        && sources.scrapes.is_empty()
        && config.alertmanager.is_none()
        && config.prometheus.is_none()
    {
        return Err(UsageError(
            "the config has nothing to watch: add `endpoints:`, `metrics:` targets, `prometheus:` or `alertmanager:` (see `ic init`)".into(),
        )
        .into());
    }
    let dir = match &args.timeline_dir {
        Some(d) => d.clone(),
        None => config
            .timeline_dir()
            .ok_or_else(|| UsageError("no timeline directory: set timeline_dir in ic.yaml, pass --timeline-dir, or --no-incident".into()))?,
    };
    let auto_open = !args.no_incident && config.incidents.auto_open;
    let setup = Setup::new(sources, Vec::new(), dir, Vec::new())?;
    drive(
        setup,
        Options {
            json: args.json,
            duration: args.duration,
            auto_open,
        },
    )
    .await
}

/// How [`drive`] prints and when it stops.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    /// JSON Lines instead of text.
    pub json: bool,
    /// Stop after this long; `None`: on Ctrl-C / SIGTERM only.
    pub duration: Option<Duration>,
    /// Open (or resume) an incident when a signal fires.
    pub auto_open: bool,
}

/// Runs the engine headless over `setup`, printing `ic watch`'s lines until
/// `opts.duration` or Ctrl-C / SIGTERM; exit 0, or 1 when events could not be written.
pub(super) async fn drive(setup: Setup, opts: Options) -> anyhow::Result<u8> {
    let printer = Arc::new(Printer::new(
        opts.json,
        &setup.sources.probes,
        &setup.sources.scrapes,
    ));
    let (n_probes, n_scrapes) = (setup.sources.probes.len(), setup.sources.scrapes.len());
    let Engine {
        mut state,
        feeds,
        notify,
        secrets,
        env,
    } = setup.engine();
    state.auto_open = opts.auto_open;
    let mut rt = Runtime::new(state, &notify, secrets, env, opts.auto_open);
    if let Some((path, last)) = &rt.state.stale {
        eprintln!(
            "note: the open incident {} has had no event since {}: not resumed; a new signal opens a new incident (close it with `ic event -t {} -k close \"stale\"`)",
            path.display(),
            last.format("%Y-%m-%d %H:%M:%S UTC"),
            path.display()
        );
    }
    if let Some(p) = rt.timeline() {
        if opts.json {
            out!(
                "{}",
                serde_json::json!({"type": "incident", "state": "resumed", "timeline": p.display().to_string()})
            );
        } else {
            out!("resuming the open incident {}", p.display());
        }
    }
    if !opts.json {
        out!("watching {n_probes} endpoints and {n_scrapes} metrics targets (Ctrl-C stops)");
    }
    rt.start(feeds, printer.clone());

    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let until_deadline = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    let stop = crate::signals::stop_requested();
    tokio::pin!(stop);
    let mut summary =
        tokio::time::interval_at(tokio::time::Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    let mut said: Option<String> = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = &mut until_deadline => break,
            _ = summary.tick(), if !opts.json => printer.summary(&rt),
            batch = rt.next_batch() => {
                let Some(batch) = batch else { break };
                for msg in batch {
                    rt.handle(msg);
                    report(&mut rt, opts.json, &mut said);
                }
                if std::io::stdout().flush().is_err() {
                    break;
                }
            }
        }
    }
    let timeline = rt.state.timeline_path.clone();
    let unsaved = rt.stop().await;
    // Exit 1 when events could not be written: the record is incomplete.
    if crate::runtime::report_unsaved(&unsaved, timeline.as_deref()) > 0 {
        return Ok(super::EXIT_FINDINGS);
    }
    Ok(EXIT_OK)
}

/// Prints what the engine just wrote and notified: an incident opened, then the
/// signals (already in the timeline); and what it has to say (NOT SAVED, …) on stderr.
fn report(rt: &mut Runtime, json: bool, said: &mut Option<String>) {
    for e in rt.written.drain(..) {
        if e.kind != Kind::IncidentOpened {
            continue;
        }
        let path = rt
            .state
            .timeline_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if json {
            out!(
                "{}",
                serde_json::json!({"type": "incident", "state": "opened", "timeline": path, "title": e.str_field("title")})
            );
        } else {
            out!("{} incident opened: {path}", e.ts.format("%H:%M:%S"));
        }
    }
    for signal in rt.notified.drain(..) {
        print_signal(&signal, json);
    }
    // Signals a silence held: printed, never sent.
    for d in rt.silenced.drain(..) {
        let at = d.at.unwrap_or(rt.state.now);
        if json {
            let mut obj = d.data.clone();
            obj["type"] = serde_json::json!("silenced");
            obj["at"] = serde_json::json!(crate::core::event::format_ts(at));
            out!("{obj}");
        } else {
            out!(
                "{} SILENCED {}",
                at.format("%H:%M:%S"),
                crate::core::text::escape(&d.msg)
            );
        }
    }
    if rt.state.message != *said {
        said.clone_from(&rt.state.message);
        if let Some(m) = said {
            eprintln!("note: {}", crate::core::text::escape(m));
        }
    }
}

fn print_signal(signal: &Signal, json: bool) {
    if json {
        let mut obj = serde_json::json!(signal);
        obj["type"] = serde_json::json!("signal");
        out!("{obj}");
    } else {
        out!("{} {}", signal.at.format("%H:%M:%S"), signal.headline());
    }
}

/// Prints observations as they arrive (the engine's [`Tap`]) and keeps what the summary needs.
struct Printer {
    json: bool,
    probes: Vec<ProbeTarget>,
    scrape_names: Vec<String>,
    seen: Mutex<Seen>,
}

/// What the printer has seen so far.
#[derive(Default)]
struct Seen {
    last_class: Vec<Option<FailureClass>>,
    overruns: Vec<u64>,
    scrapes: Vec<Option<Result<Vec<RouteView>, String>>>,
    prometheus_up: Option<bool>,
}

impl Printer {
    fn new(
        json: bool,
        probes: &[ProbeTarget],
        scrapes: &[crate::source::scrape::ScrapeTarget],
    ) -> Printer {
        Printer {
            json,
            probes: probes.to_vec(),
            scrape_names: scrapes.iter().map(|t| t.name.clone()).collect(),
            seen: Mutex::new(Seen {
                last_class: vec![None; probes.len()],
                overruns: vec![0; probes.len()],
                scrapes: vec![None; scrapes.len()],
                prometheus_up: None,
            }),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The 10 s summary: each endpoint's last minute (or the seconds of it
    /// there are so far) and each metrics target's state.
    fn summary(&self, rt: &Runtime) {
        let now = crate::clock::now();
        let seen = self.seen();
        let mut parts: Vec<String> = self
            .probes
            .iter()
            .zip(&seen.overruns)
            .filter_map(|(t, overrun)| {
                // The engine's row for this endpoint, by identity (not by position).
                let id = TargetId::Probe(t.name.clone());
                let target = rt.state.targets.iter().find(|r| r.id == id)?;
                let row = target.row(now);
                let p95 = row
                    .p95
                    .map_or("-".into(), |s| format!("{}ms", (s * 1000.0) as u64));
                let late = if *overrun > 0 {
                    format!(" ({overrun} overruns)")
                } else {
                    String::new()
                };
                Some(format!(
                    "{} {:.0}% err p95 {p95}{late}",
                    t.name,
                    row.err * 100.0
                ))
            })
            .collect();
        parts.extend(
            self.scrape_names
                .iter()
                .zip(&seen.scrapes)
                .map(|(name, state)| scrape_summary(name, state.as_ref())),
        );
        // The rows cover the last minute, or what there is of it so far.
        let have = rt
            .state
            .targets
            .iter()
            .filter_map(|t| t.first_seen)
            .min()
            .map_or(60, |first| (now.timestamp() - first + 1).clamp(1, 60));
        let window = if have >= 60 {
            "1m".to_string()
        } else {
            format!("first {have}s")
        };
        out!(
            "{} summary ({window}): {}",
            now.format("%H:%M:%S"),
            parts.join(" | ")
        );
    }
}

impl Tap for Printer {
    fn probe(&self, event: &ProbeEvent) {
        let mut seen = self.seen();
        match event {
            ProbeEvent::Sample { endpoint, sample } => {
                let Some(t) = self.probes.get(*endpoint) else {
                    return;
                };
                if self.json {
                    let mut obj = sample_json(t, sample);
                    obj["lateness_ms"] = serde_json::json!(sample.lateness.as_secs_f64() * 1000.0);
                    out!("{obj}");
                } else if seen.last_class[*endpoint] != Some(sample.class) {
                    let from = seen.last_class[*endpoint].map_or("start", FailureClass::as_str);
                    let detail = sample
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("{} ms", sample.latency.as_millis()));
                    out!(
                        "{} {}  {} -> {}  {}",
                        sample.at.format("%H:%M:%S"),
                        t.name,
                        from,
                        sample.class,
                        detail
                    );
                }
                seen.last_class[*endpoint] = Some(sample.class);
            }
            ProbeEvent::Overrun { endpoint, at } => {
                let Some(t) = self.probes.get(*endpoint) else {
                    return;
                };
                seen.overruns[*endpoint] += 1;
                if self.json {
                    out!(
                        "{}",
                        serde_json::json!({"name": t.name, "overrun": true, "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
                    );
                } else {
                    out!(
                        "{} {}  overrun: the previous probe is still running",
                        at.format("%H:%M:%S"),
                        t.name
                    );
                }
            }
        }
    }

    fn scrape(&self, event: &ScrapeEvent) {
        let Some(name) = self.scrape_names.get(event.target) else {
            return;
        };
        let mut seen = self.seen();
        let now_state = event
            .result
            .as_ref()
            .map(|o| o.routes.clone().unwrap_or_default())
            .map_err(ToString::to_string);
        if self.json {
            let obj = match &event.result {
                Ok(o) => serde_json::json!({
                    "metrics_target": name,
                    "at": o.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "samples": o.samples,
                    "warnings": o.warnings,
                    "resets": o.changes.resets.len(),
                    "vanished": o.changes.vanished.len(),
                    "routes": o.routes.as_ref().map(|rs| rs.iter().map(|r| serde_json::json!({
                        "route": r.route, "rate": r.rate, "error_ratio": r.error_ratio(),
                        "ratio_4xx": r.ratio_4xx(), "p50": r.p50, "p95": r.p95, "p99": r.p99,
                    })).collect::<Vec<_>>()),
                }),
                Err(e) => {
                    serde_json::json!({"metrics_target": name, "class": e.class, "error": e.message})
                }
            };
            out!("{obj}");
        } else {
            let was_up = seen.scrapes[event.target].as_ref().map(Result::is_ok);
            let time = crate::clock::now().format("%H:%M:%S");
            match (&now_state, was_up) {
                (Err(e), None | Some(true)) => out!("{time} metrics:{name}  down  {e}"),
                (Ok(_), None | Some(false)) => out!("{time} metrics:{name}  up"),
                _ => {}
            }
        }
        seen.scrapes[event.target] = Some(now_state);
    }

    fn prometheus(&self, views: &Result<Vec<RouteView>, String>) {
        let mut seen = self.seen();
        match views {
            Err(e) if seen.prometheus_up != Some(false) => {
                out_health(self.json, "prometheus", Some(e))
            }
            Ok(_) if seen.prometheus_up != Some(true) => out_health(self.json, "prometheus", None),
            _ => {}
        }
        seen.prometheus_up = Some(views.is_ok());
        if self.json
            && let Ok(views) = views
        {
            let at = crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            for v in views {
                out!(
                    "{}",
                    serde_json::json!({
                        "prometheus_route": v.route, "at": at,
                        "rate": v.rate, "error_ratio": v.error_ratio(), "ratio_4xx": v.ratio_4xx(),
                        "p50": v.p50, "p95": v.p95, "p99": v.p99,
                    })
                );
            }
        }
    }
}

/// Reports a source going down (`Some(error)`) or coming up.
fn out_health(json: bool, source: &str, error: Option<&String>) {
    let time = crate::clock::now().format("%H:%M:%S");
    match (json, error) {
        (true, Some(e)) => out!(
            "{}",
            serde_json::json!({"source": source, "up": false, "error": e})
        ),
        (true, None) => out!("{}", serde_json::json!({"source": source, "up": true})),
        (false, Some(e)) => out!("{time} {source}  down  {e}"),
        (false, None) => out!("{time} {source}  up"),
    }
}

/// `name: N routes, worst /x 3% 5xx, p95 120ms` for the 10 s summary.
fn scrape_summary(name: &str, state: Option<&Result<Vec<RouteView>, String>>) -> String {
    match state {
        None => format!("metrics:{name} waiting"),
        Some(Err(_)) => format!("metrics:{name} DOWN"),
        Some(Ok(routes)) => {
            let worst = routes
                .iter()
                .max_by(|a, b| a.error_ratio().total_cmp(&b.error_ratio()));
            match worst {
                None => format!("metrics:{name} no routes yet"),
                Some(w) => {
                    let p95 = w.p95.map_or("-".into(), |p| format!("{:.0}ms", p * 1000.0));
                    format!(
                        "metrics:{name} {} routes, worst {} {:.1}% 5xx p95 {p95}",
                        routes.len(),
                        w.route,
                        w.error_ratio() * 100.0
                    )
                }
            }
        }
    }
}
