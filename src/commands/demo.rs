//! `ic demo`: the embedded demo API, alone (`--serve`) or with a live one-line summary per second.

use super::EXIT_OK;
use crate::cli::DemoArgs;
use crate::demo::{self, DemoServer};
use anyhow::Context;
use std::io::Write;
use std::time::{Duration, Instant};

pub(super) async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let scenario = demo::load_scenario(&args.scenario)?;
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
