//! `ic demo`: the embedded demo API with the full-screen view on it (in a
//! terminal), alone (`--serve`), or with a live one-line summary per second
//! (`--headless`, or when stdout is not a terminal).

use super::EXIT_OK;
use crate::cli::DemoArgs;
use crate::demo::{self, DemoServer};
use anyhow::Context;
use std::io::Write;
use std::time::{Duration, Instant};

pub(super) async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let scenario = demo::load_scenario(&args.scenario)?;
    let interactive =
        !args.serve && !args.headless && std::io::IsTerminal::is_terminal(&std::io::stdout());
    if interactive {
        return view(args, scenario).await;
    }
    let name = scenario.name.clone();
    let description = scenario.description.clone();
    let server = DemoServer::start(scenario, args.port, args.rps)
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{} (is the port in use? try --port 0)",
                args.port
            )
        })?;
    let blurb = if description.is_empty() {
        String::new()
    } else {
        format!(": {description}")
    };
    let banner = format!(
        "listening on {}\nscenario `{name}`{blurb}\nroutes: /api/payments /api/orders /api/search?q= /api/users/{{id}} /healthz  metrics: /metrics  faults: /_demo/fault  (Ctrl-C stops)\n",
        server.url()
    );
    // A reader that has gone away (it only wanted the port) must not stop the server.
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(banner.as_bytes()).and_then(|()| out.flush()) {
        tracing::info!("demo banner not fully written ({e}); serving on");
    }
    drop(out);

    let stopped = if args.serve {
        crate::signals::stop_requested().await
    } else {
        tokio::select! {
            s = crate::signals::stop_requested() => s,
            () = print_summaries(&server) => "end",
        }
    };
    tracing::info!("demo stopping on {stopped}");
    server.shutdown().await;
    Ok(EXIT_OK)
}

async fn print_summaries(server: &DemoServer) {
    let api = server.api();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut prev = api.metrics.snapshot();
    let mut prev_at = Instant::now();
    loop {
        tick.tick().await;
        let now = api.metrics.snapshot();
        let mut faults: Vec<String> = demo::routes::ROUTES
            .iter()
            .flat_map(|r| api.effects(r.template).active)
            .collect();
        faults.sort();
        faults.dedup();
        let line = demo::summary_line(
            &prev,
            &now,
            prev_at.elapsed().as_secs_f64(),
            api.elapsed().as_secs(),
            &faults,
        );
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return; // stdout closed: nobody is reading any more
        }
        prev = now;
        prev_at = Instant::now();
    }
}

/// The demo in the full-screen view: the API, probes of its routes, a scrape
/// of its `/metrics`, the bundled playbooks plus the demo's own.
async fn view(args: DemoArgs, scenario: crate::core::scenario::Scenario) -> anyhow::Result<u8> {
    let server = DemoServer::start(scenario, args.port, args.rps)
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{} (try --port 0)", args.port))?;
    let base = server.url();
    let dir = match &args.timeline_dir {
        Some(d) => d.clone(),
        None => tempfile_dir()?,
    };
    let text = format!(
        "service: shop\ntimeline_dir: \"{dir}\"\npoll: {{interval: 2s, timeout: 1500ms}}\n\
         notify: {{desktop: false, bell: true}}\n\
         endpoints:\n\
         \x20 - {{name: payments, url: \"{base}/api/payments\"}}\n\
         \x20 - {{name: orders, url: \"{base}/api/orders\", method: POST}}\n\
         \x20 - {{name: search, url: \"{base}/api/search?q=demo\"}}\n\
         \x20 - {{name: users, url: \"{base}/api/users/7\"}}\n\
         \x20 - {{name: health, url: \"{base}/healthz\"}}\n\
         metrics:\n\
         \x20 - {{name: shop, url: \"{base}/metrics\", interval: 2s}}\n",
        dir = dir.display()
    );
    let config = crate::config::Config::parse(std::path::Path::new("<demo>"), &text, |k| {
        std::env::var(k).ok()
    })?;
    let sources = super::check::sources_from(config)?;
    let demo_playbook = crate::core::playbook::Playbook::parse(
        std::path::Path::new("assets/demo-playbook.yaml"),
        include_str!("../../assets/demo-playbook.yaml"),
    )?;
    let playbooks = super::view::playbooks(&sources.config, vec![demo_playbook])?;
    let env = vec![("IC_DEMO_URL".to_string(), base.to_string())];
    let code = super::view::run(sources, playbooks, dir.clone(), env).await;
    server.shutdown().await;
    println!("demo timelines kept in {}", dir.display());
    code
}

/// A new private directory for the demo's timelines (kept after exit so the postmortem can be read).
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "ic-demo-{}-{}",
        std::process::id(),
        crate::clock::now().format("%Y%m%dT%H%M%S")
    ));
    crate::journal::ensure_dir(&base)?;
    Ok(base)
}
