//! `ic incidents` and `ic join`, and what `ic event` does with a team: the
//! service's incidents on the team stream beside the local ones, copying a
//! team incident into the timeline directory, and publishing what `ic event`
//! wrote. Without `team:` configured these read the local directory only.

use super::{EXIT_OK, UsageError, timeline_dir};
use crate::cli::{IncidentsArgs, JoinArgs};
use crate::config::Config;
use crate::core::event::{Event, Kind};
use crate::core::incident::{Incident, short_id};
use crate::journal::{self, Journal};
use crate::team::Team;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a command waits for the team server.
const WAIT: Duration = Duration::from_secs(5);

/// The team connection of the configured service, when `team:` is set;
/// `Err` says why it could not be had.
pub(super) async fn connect(config: &Config) -> Option<Result<Team, crate::team::TeamError>> {
    let team = config.team.as_ref()?;
    let responder = crate::responder::name(config.responder_name());
    Some(Team::connect(team, config.service.expose(), &responder, WAIT).await)
}

/// One incident as listed.
struct Listed {
    id: String,
    incident: Incident,
    last: chrono::DateTime<chrono::Utc>,
    local: Option<PathBuf>,
    on_team: bool,
}

/// Whether `name` names the incident `id`: its whole id or its short id.
fn names(id: &str, name: &str) -> bool {
    let name = name.trim();
    !name.is_empty() && (id == name || short_id(id).as_deref() == Some(&name.to_ascii_lowercase()))
}

/// The service's incidents: on the team stream and in `dir`, by id.
async fn gather(
    config: Option<&Config>,
    dir: &Path,
    team: Option<&Team>,
) -> anyhow::Result<BTreeMap<String, Listed>> {
    let service = config
        .map(|c| c.service.expose().to_string())
        .unwrap_or_default();
    let mut all: BTreeMap<String, Listed> = BTreeMap::new();
    for (path, folded) in journal::incidents(dir) {
        let Ok(incident) = folded else { continue };
        let Some(id) = incident.id.as_ref().map(|i| i.to_string()) else {
            continue;
        };
        if !service.is_empty() && !incident.service.is_empty() && incident.service != service {
            continue;
        }
        let last = journal::read(&path)
            .ok()
            .and_then(|r| r.events.iter().map(|e| e.ts).max())
            .unwrap_or_default();
        all.insert(
            id.clone(),
            Listed {
                id,
                incident,
                last,
                local: Some(path),
                on_team: false,
            },
        );
    }
    if let Some(team) = team {
        for (id, events) in team.incidents().await? {
            let incident = Incident::fold(&events);
            let last = events.iter().map(|e| e.ts).max().unwrap_or_default();
            let entry = all.entry(id.clone()).or_insert(Listed {
                id,
                incident: incident.clone(),
                last,
                local: None,
                on_team: true,
            });
            entry.on_team = true;
            // The team's copy has everyone's events; a local file may lag.
            if last >= entry.last {
                entry.incident = incident;
                entry.last = last;
            }
        }
    }
    Ok(all)
}

/// `ic incidents`: the open incidents of the service, on the team and here.
pub(super) async fn incidents(args: &IncidentsArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let loaded = Config::discover(config).ok();
    let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
    let team = match loaded.as_ref() {
        Some(c) => match connect(c).await {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                eprintln!("warning: {e}; listing this machine's incidents only");
                None
            }
            None => None,
        },
        None => None,
    };
    let all = gather(loaded.as_ref(), &dir, team.as_ref()).await?;
    let now = crate::clock::now();
    let mut open: Vec<&Listed> = all
        .values()
        .filter(|l| args.all || l.incident.is_open())
        .collect();
    open.sort_by_key(|l| std::cmp::Reverse(l.incident.opened));
    let present = match &team {
        Some(t) => crate::team::presence::snapshot(t).await.unwrap_or_default(),
        None => Vec::new(),
    };
    if args.json {
        let rows: Vec<serde_json::Value> = open
            .iter()
            .map(|l| {
                let who: Vec<&str> = present
                    .iter()
                    .filter(|p| p.live(now) && p.incident.as_deref() == Some(l.id.as_str()))
                    .map(|p| p.responder.as_str())
                    .collect();
                serde_json::json!({
                    "id": l.id,
                    "short_id": short_id(&l.id),
                    "title": l.incident.title,
                    "open": l.incident.is_open(),
                    "severity": l.incident.current_severity().map(|s| s.as_str()),
                    "lead": l.incident.roles.get("incident-lead"),
                    "opened": l.incident.opened,
                    "last_event": l.last,
                    "in": who,
                    "local": l.local,
                    "on_team": l.on_team,
                })
            })
            .collect();
        super::print_lines(&serde_json::to_string_pretty(&rows)?);
        return Ok(EXIT_OK);
    }
    if open.is_empty() {
        out!(
            "no {}incidents{}",
            if args.all { "" } else { "open " },
            if team.is_some() {
                " on the team or here"
            } else {
                " here"
            }
        );
        return Ok(EXIT_OK);
    }
    for l in open {
        let age = l
            .incident
            .opened
            .map(|o| crate::core::units::format_duration((now - o).to_std().unwrap_or_default()))
            .unwrap_or_else(|| "?".into());
        let who = crate::core::team::who(
            &present,
            Some(&l.id),
            &l.incident
                .roles
                .iter()
                .map(|(r, p)| (r.clone(), p.clone()))
                .collect::<Vec<_>>(),
            now,
        );
        let place = match (&l.local, l.on_team) {
            (Some(_), true) => "team+here",
            (Some(_), false) => "here only",
            (None, _) => "team",
        };
        out!(
            "{}  {}  {}  {}  lead {}  open {}  [{}]{}",
            short_id(&l.id).unwrap_or_default(),
            l.incident
                .current_severity()
                .map_or("SEV-?", |s| s.as_str()),
            l.incident.title,
            if l.incident.is_open() {
                "open"
            } else {
                "closed"
            },
            l.incident
                .roles
                .get("incident-lead")
                .map_or("-", String::as_str),
            age,
            place,
            if who.is_empty() {
                String::new()
            } else {
                format!("  in: {who}")
            }
        );
    }
    Ok(EXIT_OK)
}

/// Copies a team incident (all its events) into `dir`; returns its file.
fn copy_in(dir: &Path, events: Vec<Event>) -> anyhow::Result<PathBuf> {
    let Some(opened) = events
        .iter()
        .find(|e| e.kind == Kind::IncidentOpened)
        .cloned()
    else {
        anyhow::bail!(
            "the team's copy of the incident has no `incident_opened` event: it cannot be joined"
        );
    };
    let mut journal = journal::team_timeline(dir, &opened)?;
    journal.merge(events, crate::clock::now())?;
    Ok(journal.path().to_path_buf())
}

/// The team incident `name` (id or short id), or the newest open one,
/// copied into `dir`.
pub(super) async fn fetch(
    team: &Team,
    dir: &Path,
    name: Option<&str>,
    service: &str,
) -> anyhow::Result<Option<PathBuf>> {
    let mut incidents = team.incidents().await?;
    let chosen = match name {
        Some(n) => {
            let matching: Vec<&String> = incidents.keys().filter(|id| names(id, n)).collect();
            if matching.len() > 1 {
                return Err(UsageError(format!(
                    "`{n}` names {} team incidents ({}): give the whole id",
                    matching.len(),
                    matching
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into());
            }
            matching.first().map(|s| s.to_string())
        }
        None => incidents
            .iter()
            .map(|(id, ev)| (id, Incident::fold(ev)))
            .filter(|(_, i)| i.is_open() && (i.service.is_empty() || i.service == service))
            .max_by_key(|(_, i)| i.opened)
            .map(|(id, _)| id.clone()),
    };
    let Some(id) = chosen else { return Ok(None) };
    let events = incidents.remove(&id).unwrap_or_default();
    Ok(Some(copy_in(dir, events)?))
}

/// `ic join [ID]`: copies a team incident here (the newest open one without
/// an id) and opens the view on it.
pub(super) async fn join(args: &JoinArgs, config_path: Option<&Path>) -> anyhow::Result<u8> {
    let config = Config::discover(config_path)?;
    let dir = timeline_dir(args.timeline_dir.as_deref(), config_path)?;
    let team = match connect(&config).await {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(e.into()),
        None => {
            return Err(UsageError(
                "ic join needs a team: add `team: {nats: nats://HOST:4222}` to ic.yaml (see README, Working as a team)".into(),
            )
            .into());
        }
    };
    let path = fetch(&team, &dir, args.id.as_deref(), config.service.expose()).await?;
    let Some(path) = path else {
        return Err(UsageError(match &args.id {
            Some(id) => format!(
                "no team incident `{id}` of {}: `ic incidents --all` lists them",
                config.service
            ),
            None => format!(
                "no open team incident of {}: `ic incidents` lists them",
                config.service
            ),
        })
        .into());
    };
    out!("joined: {}", path.display());
    if args.no_view || !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Ok(EXIT_OK);
    }
    let sources = super::check::load_sources(config_path)?;
    let theme = crate::tui::theme::Theme::from_env(sources.config.theme);
    // The view resumes the newest open incident here: the one just copied in.
    let setup = super::setup::Setup::new(sources, Vec::new(), dir, Vec::new())?;
    super::view::run(setup, super::view::ViewOptions { theme, demo: false }).await
}

/// After `ic event` wrote `written` (file, event) with a team configured:
/// each is published; one that cannot be is said so (it stays in the local
/// file, and a running `ic` with `team:` sends it).
pub(super) async fn publish_written(config: &Config, written: &[(PathBuf, Event)]) {
    if written.is_empty() {
        return;
    }
    let team = match connect(config).await {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            eprintln!(
                "warning: {e}; the event is in the local timeline, and a running ic with team: sends it"
            );
            return;
        }
        None => return,
    };
    for (path, event) in written {
        let Some(incident) = journal::incident_id(path) else {
            continue;
        };
        if let Err(e) = team.publish(&incident, event).await {
            eprintln!(
                "warning: {e}; event #{} is in {}, and a running ic with team: sends it",
                event.seq,
                path.display()
            );
        }
    }
}

/// Before `ic event` without `-t` and a team configured: when no incident is
/// open here, the team's newest open one (or `--incident ID`) is copied in,
/// so the event joins it; returns its file.
pub(super) async fn incident_for_event(
    config: &Config,
    dir: &Path,
    name: Option<&str>,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(n) = name {
        // Here already?
        let here: Vec<PathBuf> = journal::timelines(dir)
            .into_iter()
            .filter(|p| journal::incident_id(p).is_some_and(|id| names(id.as_str(), n)))
            .collect();
        if here.len() > 1 {
            return Err(UsageError(format!(
                "`{n}` names {} incidents here: give the whole id, or --timeline FILE",
                here.len()
            ))
            .into());
        }
        if let Some(p) = here.into_iter().next() {
            return Ok(Some(p));
        }
    } else if let Some(open) = journal::newest_open_for(dir, config.service.expose()) {
        return Ok(Some(open));
    }
    match connect(config).await {
        Some(Ok(team)) => fetch(&team, dir, name, config.service.expose()).await,
        Some(Err(e)) => {
            eprintln!("warning: {e}; looking in this machine's incidents only");
            Ok(None)
        }
        None => Ok(None),
    }
}

/// A written event, kept for publishing.
pub(super) fn keep(written: &mut Vec<(PathBuf, Event)>, journal: &Journal, event: &Event) {
    written.push((journal.path().to_path_buf(), event.clone()));
}
