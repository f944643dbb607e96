//! What every front end runs on, built in one place: config → sources
//! (probes, scrapes, Prometheus, Alertmanager), playbooks, the timeline
//! directory and the environment of playbook commands ([`Setup`]), then the
//! engine's starting state and the runtime's feeds ([`Setup::engine`]). The
//! view, `ic watch` and the headless demo differ only in what they show.

use super::check::Sources;
use crate::app::State;
use crate::app::targets::Target;
use crate::config::{Config, Notify, PlaybookPaths};
use crate::core::playbook::{self, Playbook};
use crate::runtime::Feeds;
use std::path::{Path, PathBuf};

/// What the engine runs on: sources, playbooks, the timeline directory and
/// the environment of playbook commands.
pub(super) struct Setup {
    /// Endpoints, metrics targets and the config they came from.
    pub sources: Sources,
    /// The playbooks incidents choose from.
    pub playbooks: Vec<Playbook>,
    /// Where incident timelines go.
    pub dir: PathBuf,
    /// Extra environment for confirmed playbook commands.
    pub env: Vec<(String, String)>,
    /// Set for a drill: its incidents are marked so.
    pub drill: Option<crate::core::payload::Drill>,
}

/// A front end's engine, ready to run: the starting state, the sources to
/// start, and what the runtime's notifier and commands need.
pub(super) struct Engine {
    /// The engine's starting state.
    pub state: State,
    /// The sources to start.
    pub feeds: Feeds,
    /// Notification settings.
    pub notify: Notify,
    /// Values to redact wherever output leaves `ic`.
    pub secrets: Vec<String>,
    /// Extra environment for confirmed playbook commands.
    pub env: Vec<(String, String)>,
}

impl Setup {
    /// The setup for `sources`: the config's playbooks (with `extra` first),
    /// timelines in `dir`, commands run with `env` added.
    pub fn new(
        sources: Sources,
        extra: Vec<Playbook>,
        dir: PathBuf,
        env: Vec<(String, String)>,
    ) -> anyhow::Result<Setup> {
        let playbooks = playbooks(&sources.config, extra)?;
        Ok(Setup {
            sources,
            playbooks,
            dir,
            env,
            drill: None,
        })
    }

    /// The engine's starting state and feeds (built once, for every front end).
    pub fn engine(self) -> Engine {
        let mut state = state_for(&self.sources, self.playbooks, self.dir);
        state.drill = self.drill;
        let Sources {
            config,
            probes,
            scrapes,
            concurrency,
        } = self.sources;
        Engine {
            state,
            feeds: Feeds {
                probes,
                concurrency,
                scrapes,
                prometheus: config.prometheus.clone(),
                alertmanager: config.alertmanager.clone(),
                team: config.team.clone(),
            },
            notify: config.notify.clone(),
            secrets: config.secrets().to_vec(),
            env: self.env,
        }
    }
}

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
fn state_for(sources: &Sources, playbooks: Vec<Playbook>, dir: PathBuf) -> State {
    let config = &sources.config;
    let mut targets: Vec<Target> = sources
        .probes
        .iter()
        .map(|p| Target::probe(&p.name, Some(p.interval)))
        .collect();
    for (t, ep) in targets.iter_mut().zip(&config.endpoints) {
        t.set_insecure(ep.tls.insecure);
    }
    let mut state = State::new(
        config.service.expose(),
        &crate::responder::name(config.responder_name()),
        config.detect,
        targets,
        playbooks,
        dir,
        crate::clock::now(),
    );
    state.environment = config
        .environment
        .as_ref()
        .map(|e| e.expose().trim().to_string());
    state.auto_open = config.incidents.auto_open;
    if let Some(team) = &config.team {
        state.location = team.location.clone();
        state.quorum_window = chrono::Duration::from_std(team.quorum_window.get())
            .unwrap_or(chrono::Duration::seconds(30));
    }
    state.maintenance = config.maintenance.clone();
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
