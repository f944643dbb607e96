//! The full-screen view's entry points: bare `ic` (the configured sources) and
//! `ic demo` in a terminal (the embedded demo API), both through `tui::run`.

use super::check::Sources;
use crate::app::State;
use crate::app::targets::{SourceKind, Target};
use crate::config::{Config, PlaybookPaths};
use crate::core::playbook::{self, Playbook};
use std::path::{Path, PathBuf};

/// Playbooks for a config: its `playbooks:` paths, else the bundled set (plus `extra` first).
pub fn playbooks(config: &Config, extra: Vec<Playbook>) -> anyhow::Result<Vec<Playbook>> {
    let mut out = extra;
    let paths: Vec<PathBuf> = match &config.playbooks {
        None => Vec::new(),
        Some(PlaybookPaths::One(p)) => vec![p.clone()],
        Some(PlaybookPaths::Many(v)) => v.clone(),
    };
    if paths.is_empty() {
        out.extend(playbook::bundled());
    }
    for p in paths {
        let p = if p.is_relative() {
            config.source.parent().unwrap_or(Path::new(".")).join(p)
        } else {
            p
        };
        if p.is_dir() {
            let (good, bad) = crate::files::load_playbook_dir(&p)?;
            if let Some(e) = bad.into_iter().next() {
                return Err(e.into());
            }
            out.extend(good);
        } else {
            out.push(crate::files::load_playbook(&p)?);
        }
    }
    if !out.iter().any(Playbook::is_generic) {
        out.extend(playbook::bundled().into_iter().filter(Playbook::is_generic));
    }
    Ok(out)
}

/// The engine's starting state for `sources`: one row per endpoint (in order),
/// the config's detection settings and incident options, timelines in `dir`.
pub fn state_for(sources: &Sources, playbooks: Vec<Playbook>, dir: PathBuf) -> State {
    let config = &sources.config;
    let mut targets: Vec<Target> = sources
        .probes
        .iter()
        .map(|p| Target::new(&p.name, SourceKind::Probe, Some(p.interval)))
        .collect();
    for (t, ep) in targets.iter_mut().zip(&config.endpoints) {
        t.insecure = ep.tls.insecure;
    }
    let mut state = State::new(
        config.service.expose(),
        &crate::responder::name(config.responder.as_ref().map(|r| r.expose())),
        config.detect,
        targets,
        playbooks,
        dir,
        crate::clock::now(),
    );
    state.auto_open = config.incidents.auto_open;
    state.stale_after = chrono::Duration::from_std(config.incidents.stale_after.get())
        .unwrap_or(chrono::Duration::hours(1));
    let probes: Vec<(String, url::Url)> = sources
        .probes
        .iter()
        .map(|p| (p.name.clone(), p.url.clone()))
        .collect();
    let scrapes: Vec<(String, String)> = sources
        .scrapes
        .iter()
        .map(|m| (m.name.clone(), m.url.clone()))
        .collect();
    state.aliases = crate::app::impact::aliases(&probes, &scrapes);
    state
}

/// Runs the view over `sources` with `playbooks`, timelines in `dir`.
pub async fn run(
    sources: Sources,
    playbooks: Vec<Playbook>,
    dir: PathBuf,
    command_env: Vec<(String, String)>,
) -> anyhow::Result<u8> {
    let mut state = state_for(&sources, playbooks, dir);
    state.interactive = true;
    let config = sources.config;
    let unsaved = crate::tui::run(crate::tui::Options {
        feeds: crate::runtime::Feeds {
            probes: sources.probes,
            concurrency: sources.concurrency,
            scrapes: sources.scrapes,
            prometheus: config.prometheus.clone(),
            alertmanager: config.alertmanager.clone(),
        },
        state,
        notify: config.notify.clone(),
        secrets: config.secrets().to_vec(),
        command_env,
    })
    .await?;
    // Exit 1 when events could not be written: the record is incomplete.
    Ok(if unsaved > 0 {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_OK
    })
}
