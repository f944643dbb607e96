//! `ic demo`: the embedded demo API with the full-screen view on it (in a
//! terminal), alone (`--serve`), or headless (`--headless`, or when stdout is
//! not a terminal): the same engine as the view, printing `ic watch`'s lines.
//! The view and the headless demo share one config, built by [`setup`].

use super::EXIT_OK;
use super::watch::{self, Setup};
use crate::cli::DemoArgs;
use crate::config::ThemeName;
use crate::core::scenario::{RouteSelector, Scenario};
use crate::demo::{self, DemoServer};
use crate::tui::theme::Theme;
use anyhow::Context;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

const ROUTES_LINE: &str = "routes: /api/payments /api/orders /api/search?q= /api/users/{id} /healthz  metrics: /metrics  faults: /_demo/fault  (Ctrl-C stops)";

/// `ic demo` (or, with `drill`, `ic drill`); `theme` is a `--theme` given
/// before the subcommand (`ic --theme mono demo`).
pub(super) async fn run(
    args: DemoArgs,
    theme: Option<ThemeName>,
    drill: bool,
) -> anyhow::Result<u8> {
    let scenario = demo::load_scenario(&args.scenario)?;
    if args.serve {
        if drill {
            return Err(super::UsageError(
                "--serve runs only the API: a drill needs the view (`ic drill`) or `--headless`"
                    .into(),
            )
            .into());
        }
        return serve(args, scenario).await;
    }
    let interactive = !args.headless
        && !args.json
        && args.duration.is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let answers = drill.then(|| crate::core::payload::Drill {
        scenario: scenario.name.clone(),
        playbook: scenario.drill.as_ref().and_then(|d| d.playbook.clone()),
        cause: scenario.drill.as_ref().and_then(|d| d.cause.clone()),
    });
    let started = crate::clock::now();
    let server = start(scenario, &args).await?;
    let mut dir = None;
    let code = match setup(&server.url(), args.timeline_dir.as_deref()) {
        Err(e) => Err(e),
        Ok(mut s) => {
            s.drill = answers;
            dir = Some((s.dir.clone(), s.playbooks.clone()));
            if interactive {
                let theme = Theme::from_env(args.theme.or(theme));
                super::view::run(s, super::view::ViewOptions { theme, demo: true }).await
            } else {
                headless(&args, &server, s).await
            }
        }
    };
    server.shutdown().await;
    if drill && let Some((dir, playbooks)) = dir {
        debrief(&dir, &playbooks, started);
    }
    code
}

/// After a drill: the scorecard of the drill incident this run opened (at or
/// after `started`), printed and written beside its timeline
/// (`<timeline>.scorecard.md`, 0600).
fn debrief(dir: &Path, playbooks: &[crate::core::playbook::Playbook], started: DateTime<Utc>) {
    let ours = crate::journal::incidents(dir)
        .into_iter()
        .filter_map(|(p, f)| Some((p, f.ok()?)))
        .filter(|(_, inc)| inc.drill.is_some() && inc.opened.is_some_and(|o| o >= started))
        .min_by_key(|(_, inc)| inc.opened);
    let Some((path, inc)) = ours else {
        eprintln!("this drill opened no incident: nothing to score");
        return;
    };
    let cadence = crate::core::drill::cadence(&inc, playbooks);
    let Some(card) = crate::core::drill::score(&inc, cadence) else {
        return;
    };
    let text = crate::core::drill::markdown(&card);
    super::print_lines(&text);
    let out = path.with_extension("scorecard.md");
    match crate::paths::write_private(&out, text.as_bytes()) {
        Ok(()) => eprintln!("scorecard written to {}", out.display()),
        Err(e) => eprintln!("{}: cannot write the scorecard: {e}", out.display()),
    }
}

async fn start(scenario: Scenario, args: &DemoArgs) -> anyhow::Result<DemoServer> {
    DemoServer::start(scenario, args.port, args.rps)
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{} (is the port in use? try --port 0)",
                args.port
            )
        })
}

/// The three banner lines: address (always first), scenario, routes.
fn banner(server: &DemoServer) -> String {
    let scenario = server.api().scenario();
    let blurb = if scenario.description.is_empty() {
        String::new()
    } else {
        format!(": {}", scenario.description)
    };
    format!(
        "listening on {}\nscenario `{}`{blurb}\n{ROUTES_LINE}\n",
        server.url(),
        scenario.name
    )
}

/// `--serve`: only the API, until Ctrl-C / SIGTERM.
async fn serve(args: DemoArgs, scenario: Scenario) -> anyhow::Result<u8> {
    let server = start(scenario, &args).await?;
    // A reader that has gone away (it only wanted the port) must not stop the server.
    let mut out = std::io::stdout().lock();
    if let Err(e) = out
        .write_all(banner(&server).as_bytes())
        .and_then(|()| out.flush())
    {
        tracing::info!("demo banner not fully written ({e}); serving on");
    }
    drop(out);
    let stopped = crate::signals::stop_requested().await;
    tracing::info!("demo stopping on {stopped}");
    server.shutdown().await;
    Ok(EXIT_OK)
}

/// The headless demo: the banner and the ground-truth line, then `ic watch`'s
/// lines from the same engine as the view, until `--duration` or a stop signal.
async fn headless(args: &DemoArgs, server: &DemoServer, setup: Setup) -> anyhow::Result<u8> {
    let truth = ground_truth(server, &setup.dir);
    if args.json {
        out!("{truth}");
    } else {
        super::print_lines(banner(server).trim_end());
        out!("timelines in {}", setup.dir.display());
        out!("{}", truth_line(&truth));
    }
    let auto_open = setup.sources.config.incidents.auto_open;
    watch::drive(
        setup,
        watch::Options {
            json: args.json,
            duration: args.duration,
            auto_open,
        },
    )
    .await
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `{"type": "demo"}` object: where the API listens, the scenario, the
/// timeline dir, the API's start instant and each fault's absolute start and
/// end (the scenario's `start:` / `end:` from the API's start, on `ic`'s clock).
fn ground_truth(server: &DemoServer, dir: &Path) -> Value {
    let api = server.api();
    let elapsed = TimeDelta::from_std(api.elapsed()).unwrap_or(TimeDelta::zero());
    let now = crate::clock::now();
    let started = now.checked_sub_signed(elapsed).unwrap_or(now);
    // A scenario file can name any start: out of chrono's range is `null`, not a panic.
    let at = |d: std::time::Duration| {
        TimeDelta::from_std(d)
            .ok()
            .and_then(|d| started.checked_add_signed(d))
            .map(rfc3339)
    };
    let faults: Vec<Value> = api
        .scenario()
        .faults
        .iter()
        .map(|f| {
            let route = match &f.route {
                RouteSelector::All => "*".to_string(),
                RouteSelector::Route(r) => r.clone(),
            };
            json!({
                "name": f.name,
                "route": route,
                "start": at(f.start.get()),
                "start_s": f.start.get().as_secs_f64(),
                "ramp_s": f.ramp.get().as_secs_f64(),
                "end": f.end.map(|e| at(e.get())),
            })
        })
        .collect();
    let scenario = api.scenario();
    json!({
        "type": "demo",
        "url": server.url(),
        "scenario": scenario.name,
        "description": scenario.description,
        "timeline_dir": dir.display().to_string(),
        "started": rfc3339(started),
        "faults": faults,
    })
}

/// The ground truth in words: `demo started T; fault NAME on ROUTE starts T (+10s, ramp 3m)`.
fn truth_line(truth: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut line = format!("demo started {}", s(&truth["started"]));
    let faults = truth["faults"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if faults.is_empty() {
        line.push_str("; no faults");
    }
    for f in faults {
        line.push_str(&format!(
            "; fault {} on {} starts {} (+{}s, ramp {}s)",
            s(&f["name"]),
            s(&f["route"]),
            s(&f["start"]),
            f["start_s"],
            f["ramp_s"]
        ));
        if let Some(end) = f["end"].as_str() {
            line.push_str(&format!(", ends {end}"));
        }
    }
    line
}

/// The demo's config text: five probed endpoints with the body checks a team
/// would write for each route's answer, the `/metrics` target, timelines in `dir`.
fn config_text(base: &str, dir: &Path) -> String {
    format!(
        "service: shop\ntimeline_dir: \"{dir}\"\npoll: {{interval: 2s, timeout: 1500ms}}\n\
         notify: {{desktop: false, bell: true}}\n\
         endpoints:\n\
         \x20 - {{name: payments, url: \"{base}/api/payments\", expect: {{status: [200], json: {{/status: ok, /currency: EUR}}}}}}\n\
         \x20 - {{name: orders, url: \"{base}/api/orders\", method: POST, expect: {{status: [201], json: {{/status: created}}}}}}\n\
         \x20 - {{name: search, url: \"{base}/api/search?q=demo\", expect: {{status: [200], json: {{/status: ok, /query: demo}}}}}}\n\
         \x20 - {{name: users, url: \"{base}/api/users/7\", expect: {{status: [200], json: {{/status: ok, /id: 7}}}}}}\n\
         \x20 - {{name: health, url: \"{base}/healthz\", expect: {{status: [200], json: {{/status: ok}}}}}}\n\
         metrics:\n\
         \x20 - {{name: shop, url: \"{base}/metrics\", interval: 2s}}\n",
        dir = dir.display()
    )
}

/// The demo's engine setup, shared by the view and the headless demo: the
/// config for the API at `base`, the bundled playbooks plus the demo's own,
/// timelines in `timeline_dir` (default: a new private temporary directory),
/// and `IC_DEMO_URL` for the playbook's mitigation command.
pub(super) fn setup(base: &str, timeline_dir: Option<&Path>) -> anyhow::Result<Setup> {
    let dir = match timeline_dir {
        Some(d) => d.to_path_buf(),
        None => tempfile_dir()?,
    };
    let text = config_text(base, &dir);
    let config =
        crate::config::Config::parse(Path::new("<demo>"), &text, |k| std::env::var(k).ok())?;
    let sources = super::check::sources_from(config)?;
    let demo_playbook = crate::core::playbook::demo()?;
    let env = vec![("IC_DEMO_URL".to_string(), base.to_string())];
    Setup::new(sources, vec![demo_playbook], dir, env)
}

/// A new private directory for the demo's timelines (kept after exit so the postmortem can be read).
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "ic-demo-{}-{}",
        std::process::id(),
        crate::clock::now().format("%Y%m%dT%H%M%S")
    ));
    crate::journal::ensure_dir(&base)?;
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_checks_every_body_and_scrapes_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let s = setup("http://127.0.0.1:9", Some(dir.path())).unwrap();
        let c = &s.sources.config;
        assert_eq!(c.endpoints.len(), 5);
        assert!(
            c.endpoints.iter().all(|e| !e.expect.json.is_empty()),
            "every demo probe checks its JSON body"
        );
        let payments = &c.endpoints[0];
        assert_eq!(payments.name.to_string(), "payments");
        assert!(
            payments
                .expect
                .json
                .iter()
                .any(|(k, v)| k.as_str() == "/status" && v == "ok"),
            "{:?}",
            payments.expect.json
        );
        assert_eq!(s.sources.scrapes.len(), 1);
        assert!(s.playbooks.iter().any(|p| p.id == "demo-payments-pool"));
        assert!(s.playbooks.iter().any(|p| p.id == "schema-drift"));
        assert_eq!(
            s.env,
            vec![("IC_DEMO_URL".to_string(), "http://127.0.0.1:9".to_string())]
        );
        assert_eq!(s.dir, dir.path());
    }

    #[test]
    fn the_truth_line_names_each_fault_start() {
        let truth = json!({"started": "2025-01-01T00:00:00.000Z", "faults": [
            {"name": "f", "route": "/api/payments", "start": "2025-01-01T00:00:10.000Z", "start_s": 10.0, "ramp_s": 0.0, "end": null}]});
        assert_eq!(
            truth_line(&truth),
            "demo started 2025-01-01T00:00:00.000Z; fault f on /api/payments starts 2025-01-01T00:00:10.000Z (+10.0s, ramp 0.0s)"
        );
        assert!(truth_line(&json!({"started": "x", "faults": []})).ends_with("; no faults"));
    }
}
