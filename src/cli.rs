//! Command-line interface: every subcommand and flag (clap derive).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Terminal incident commander for API teams: probes endpoints, scrapes metrics,
/// detects incidents and walks you through them from playbooks.
#[derive(Debug, Parser)]
#[command(name = "ic", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 unhealthy or findings, 2 usage or config error.\n\
Config lookup: --config, $IC_CONFIG, ./ic.yaml, then the platform config dir."
)]
pub struct Cli {
    /// Config file (default: $IC_CONFIG, ./ic.yaml, then the platform config dir).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log file (default: the platform data dir's logs/ic.log; level from $IC_LOG).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// The full-screen view's palette: default (the terminal's colours),
    /// high-contrast, colorblind or mono; overrides the config's `theme:`
    /// (`NO_COLOR` forces mono).
    #[arg(long, value_name = "THEME", value_parser = parse_theme)]
    pub theme: Option<crate::config::ThemeName>,
    /// What to do; without a command, `ic` opens the full-screen incident view.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `ic incidents`.
#[derive(Debug, clap::Args)]
pub struct IncidentsArgs {
    /// Closed incidents too.
    #[arg(long)]
    pub all: bool,
    /// One JSON array.
    #[arg(long)]
    pub json: bool,
    /// The timeline directory (default: the config's).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
}

/// `ic join`.
#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The incident (its id or short id, as `ic incidents` shows); default:
    /// the newest open one.
    pub id: Option<String>,
    /// Copy it here, but do not open the view.
    #[arg(long)]
    pub no_view: bool,
    /// The timeline directory (default: the config's).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded demo shop API with scripted faults (no setup needed).
    Demo(DemoArgs),
    /// A drill: `ic demo` as an exercise — the incident is marked a drill and,
    /// once resolved, scored (time to acknowledge, severity, first update,
    /// mitigation; steps skipped, dead ends, cadence, playbook and cause).
    Drill(DemoArgs),
    /// Probe every endpoint once, in parallel, and report; exit 1 if any is not ok.
    Check(CheckArgs),
    /// Probe continuously without the full-screen view, for servers, CI and scripts.
    Watch(WatchArgs),
    /// Parse a Prometheus /metrics exposition (URL, file or -) and print per-route figures.
    Scrape(ScrapeArgs),
    /// Replay a scenario through our detectors and the usual alert rules in simulated time;
    /// exit 1 when `ic` misses the scenario's `expect:` targets.
    Simulate(SimulateArgs),
    /// Validate config, playbook and scenario files; exit 0 when all are valid, 2 otherwise.
    Lint(LintArgs),
    /// Append an event to an incident timeline, from a shell or a pipeline.
    Event(EventArgs),
    /// Render the postmortem of an incident timeline (Markdown or JSON).
    Postmortem(PostmortemArgs),
    /// The open incidents of the service: on the team (with `team:`) and here,
    /// with lead, severity, age and who is in.
    Incidents(IncidentsArgs),
    /// Join a team incident: copy its whole timeline here and open the view on it.
    Join(JoinArgs),
    /// List the action items of every incident: open, overdue, done, by owner.
    Actions(ActionsArgs),
    /// Report across incidents: counts, MTTD/MTTA/MTTM/MTTR, response signals, action items.
    Report(ReportArgs),
    /// List playbooks, or show one with the exact commands it would run (a dry run).
    #[command(subcommand)]
    Playbook(PlaybookCommand),
    /// Silence targets for a while (a deploy, a known problem): their signals are
    /// recorded and shown but never page or open an incident.
    #[command(subcommand)]
    Silence(SilenceCommand),
    /// Write a commented starter ic.yaml.
    Init(InitArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
}

/// `ic demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Run only the API: print `listening on http://127.0.0.1:PORT` and serve until Ctrl-C or SIGTERM.
    #[arg(long)]
    pub serve: bool,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Bundled scenario name or path to a scenario file.
    #[arg(long, default_value = crate::demo::DEFAULT_SCENARIO, value_name = "NAME|FILE")]
    pub scenario: String,
    /// Generated traffic, requests per second (0 turns the generator off).
    #[arg(long, default_value_t = crate::demo::DEFAULT_RPS, value_parser = parse_rps)]
    pub rps: f64,
    /// No full-screen view: the same engine prints `ic watch`'s lines, after the
    /// banner and the scenario's fault times (the default when stdout is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Headless, as JSON Lines: a `{"type": "demo"}` object first, then `ic watch --json`'s lines.
    #[arg(long, conflicts_with = "serve")]
    pub json: bool,
    /// Headless, stopping after this long (e.g. 90s, 10m) with exit 0.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "serve")]
    pub duration: Option<std::time::Duration>,
    /// Where the demo's incident timelines go (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
    /// The view's palette: default (the terminal's colours), high-contrast,
    /// colorblind or mono (`NO_COLOR` forces mono).
    #[arg(long, value_name = "THEME", value_parser = parse_theme)]
    pub theme: Option<crate::config::ThemeName>,
}

fn parse_theme(s: &str) -> Result<crate::config::ThemeName, String> {
    crate::config::ThemeName::parse(s)
}

fn parse_rps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=10_000.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a rate from 0 to 10000 requests per second"
        )),
    }
}

/// `ic check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A JSON array with one object per endpoint on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `ic watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// One JSON object per probe on stdout (JSON Lines).
    #[arg(long)]
    pub json: bool,
    /// Stop after this long (e.g. 30s, 10m); default: until Ctrl-C or SIGTERM.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Do not open an incident timeline when a signal fires.
    #[arg(long)]
    pub no_incident: bool,
    /// Where incident timelines go (default: the config's `timeline_dir`).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<std::path::PathBuf>,
    /// Where this watch's probes run (e.g. `eu-west`; overrides
    /// `team.location`): its results are shared with the team, and an
    /// endpoint is down when most locations see it down.
    #[arg(long, value_name = "NAME")]
    pub location: Option<String>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::core::units::parse_duration(s)
}

/// `ic event`.
#[derive(Debug, Clone, clap::Args)]
pub struct EventArgs {
    /// What happened: the note, change, update or item text (for `severity`: e.g. "SEV-2 checkout down");
    /// optional for lifecycle stages and `close`.
    #[arg(value_name = "MESSAGE", num_args = 1..)]
    pub message: Vec<String>,
    /// Append one event per line of standard input (each acknowledged on stdout once on disk).
    #[arg(long, conflicts_with = "message")]
    pub stdin: bool,
    /// The timeline file (created if missing); default: the newest open incident in the timeline dir.
    #[arg(long, short = 't', value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// With a team: the incident to append to (id or short id, as `ic
    /// incidents` shows), copied here from the team when missing.
    #[arg(long, value_name = "ID", conflicts_with = "timeline")]
    pub incident: Option<String>,
    /// Where timelines live (default: the config's `timeline_dir`, else the platform data dir).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
    /// note, deploy, config, flag, comms, action, hypothesis (also +h1 / -h1 evidence — after `--` —, !h1, xh1), role,
    /// severity, root-cause, open, close,
    /// or a lifecycle stage: impact-started, detected, acknowledged, mitigated, impact-ended, resolved.
    #[arg(long, short = 'k', default_value = "note", value_name = "KIND")]
    pub kind: String,
    /// Who (default: the config's `responder:`, else $USER@host).
    #[arg(long, short = 'a', value_name = "NAME")]
    pub actor: Option<String>,
    /// Version for deploy / config / flag changes.
    #[arg(long, value_name = "V")]
    pub change_version: Option<String>,
    /// Owner of an action item.
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,
    /// Due date of an action item: 2026-12-01, today, tomorrow, fri (the next Friday), +3d, +2w.
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,
    /// Priority of an action item: P1 (due within 30 days of the incident), P2, P3.
    #[arg(long, value_name = "P1|P2|P3")]
    pub priority: Option<String>,
    /// With `--kind open`: open a second incident although one is open in the timeline dir.
    #[arg(long)]
    pub new: bool,
    /// Tag a note (went_well, went_poorly, …); repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// For a lifecycle stage: when it happened (RFC 3339; default now) — a later event corrects an earlier one.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Print the written event as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ic postmortem`.
#[derive(Debug, clap::Args)]
pub struct PostmortemArgs {
    /// The timeline file; default: the newest in the timeline dir.
    #[arg(value_name = "TIMELINE")]
    pub timeline: Option<PathBuf>,
    /// Write to this file (mode 0600) instead of stdout; Markdown gets its SVG
    /// charts in FILE's `<name>.assets/` beside it.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// md (default), json, or html (one self-contained page, charts inline).
    #[arg(long, default_value = "md", value_parser = ["md", "json", "html"])]
    pub format: String,
    /// Where timelines live (default: the config's `timeline_dir`, else the platform data dir).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
}

/// `ic report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Only incidents opened since: a span back from now (90d, 2w) or a date (2026-09-01).
    #[arg(long, value_name = "SPAN|DATE")]
    pub since: Option<String>,
    /// md (default), json, or html (one self-contained page with the trend charts).
    #[arg(long, default_value = "md", value_parser = ["md", "json", "html"])]
    pub format: String,
    /// Write to this file (mode 0600) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The drills alone (`ic drill`), each with its scorecard; without it drills are left out.
    #[arg(long)]
    pub drills: bool,
    /// Where timelines live (default: the config's `timeline_dir`, else the platform data dir).
    #[arg(long, visible_alias = "dir", value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
}

/// `ic actions`.
#[derive(Debug, clap::Args)]
pub struct ActionsArgs {
    /// Only open items (overdue ones included).
    #[arg(long)]
    pub open: bool,
    /// Only overdue items (open, their due date passed).
    #[arg(long)]
    pub overdue: bool,
    /// Only done items.
    #[arg(long)]
    pub done: bool,
    /// Only this owner's items (`ann` or `@ann`).
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,
    /// One JSON array of the items.
    #[arg(long, conflicts_with = "export")]
    pub json: bool,
    /// JSON lines a tracker imports: title, body (the incident and its timeline),
    /// assignee, due_date, labels, state.
    #[arg(long)]
    pub export: bool,
    /// Where timelines live (default: the config's `timeline_dir`, else the platform data dir).
    #[arg(long, visible_alias = "dir", value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
}

/// `ic playbook`.
#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// The playbooks in use (the config's `playbooks:`, else the bundled set).
    List {
        /// One JSON object per playbook on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Every step of a playbook and the exact command each would hand to `sh -c`,
    /// with the environment it would set — the text the runner uses, nothing runs.
    Show(PlaybookShowArgs),
}

/// `ic playbook show`.
#[derive(Debug, clap::Args)]
pub struct PlaybookShowArgs {
    /// A playbook id (from `ic playbook list`) or a playbook file.
    #[arg(value_name = "ID|FILE")]
    pub playbook: String,
    /// The incident's primary target, as ic names it: an endpoint (`payments`) or a
    /// route (`shop /api/payments`).
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// The service (default: the config's `service:`).
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// The severity, SEV-1 … SEV-4 (steps for other severities are marked as skipped).
    #[arg(long, value_name = "SEV-n")]
    pub severity: Option<String>,
    /// The incident's timeline file (`{incident}`).
    #[arg(long, value_name = "FILE")]
    pub incident: Option<PathBuf>,
    /// `{"playbook": ID, "steps": [{"phase", "id", "text", "command", "env", …}]}` on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `ic simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// A scenario file, or the name of a bundled scenario.
    #[arg(value_name = "SCENARIO.yaml")]
    pub scenario: String,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Random seed (default: the scenario's `seed`, else 1).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// `ic scrape`.
#[derive(Debug, clap::Args)]
pub struct ScrapeArgs {
    /// An http(s) URL, a file, or - for standard input.
    #[arg(value_name = "URL|FILE|-")]
    pub source: String,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Fail (exit 2) on the first malformed line instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Label that names the route (default: first of route, handler, path, uri, endpoint).
    #[arg(long, value_name = "LABEL")]
    pub route_label: Option<String>,
    /// Label that carries the status code (default: first of status, code, status_code).
    #[arg(long, value_name = "LABEL")]
    pub status_label: Option<String>,
    /// Request counter (default: detected, *_requests_total).
    #[arg(long, value_name = "METRIC")]
    pub requests: Option<String>,
    /// Latency histogram (default: detected, *_duration_seconds).
    #[arg(long, value_name = "METRIC")]
    pub duration: Option<String>,
    /// Most series kept (beyond it a warning and the rest dropped).
    #[arg(long, default_value_t = crate::source::scrape::DEFAULT_MAX_SERIES, value_name = "N")]
    pub max_series: usize,
    /// Timeout for a URL.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: std::time::Duration,
}

/// `ic lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Files or directories (recursed for *.yaml / *.yml); default: the config found by lookup.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// One JSON object per file on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `ic init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to write ic.yaml into.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Overwrite an existing ic.yaml.
    #[arg(long)]
    pub force: bool,
}

/// `ic completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// Shell to generate completions for; without one, the shells are listed.
    #[arg(value_enum)]
    pub shell: Option<clap_complete::Shell>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_subcommand_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn theme_is_taken_by_the_view_and_the_demo_and_a_wrong_one_lists_the_choices() {
        use crate::config::ThemeName;
        let cli = Cli::try_parse_from(["ic", "--theme", "high-contrast"]).unwrap();
        assert_eq!(cli.theme, Some(ThemeName::HighContrast));
        let cli = Cli::try_parse_from(["ic", "demo", "--theme", "colorblind"]).unwrap();
        match cli.command {
            Some(Command::Demo(d)) => assert_eq!(d.theme, Some(ThemeName::Colorblind)),
            other => panic!("{other:?}"),
        }
        let e = Cli::try_parse_from(["ic", "--theme", "neon"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "`neon` is not a theme: choose one of default, high-contrast, colorblind, mono"
            ),
            "{e}"
        );
    }
}

/// `ic silence`.
#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Add a silence; prints its id. A running `ic` or `ic watch` honours it within a second.
    Add(SilenceAddArgs),
    /// The silences in force and to come, and the maintenance windows of the config.
    List(SilenceListArgs),
    /// End a silence now (its id from `ic silence list`, e.g. s3).
    Expire(SilenceExpireArgs),
}

/// `ic silence add`.
#[derive(Debug, clap::Args)]
pub struct SilenceAddArgs {
    /// The target as the endpoints table names it (`payments`, `demo /api/pay`); `*`
    /// matches any run of characters (`demo /api/*`).
    #[arg(
        value_name = "TARGET",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub target: Option<String>,
    /// Every target of the service.
    #[arg(long)]
    pub all: bool,
    /// How long (e.g. 30m, 2h; at most 7 days).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Why (shown wherever the silence holds a signal).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// When it starts (RFC 3339, e.g. 2026-12-05T22:00:00Z; default now).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Who (default: the config's `responder:`, else $USER@host).
    #[arg(long, short = 'a', value_name = "NAME")]
    pub actor: Option<String>,
    /// Where timelines live (default: the config's `timeline_dir`, else the platform data dir).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
    /// Print the written event as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ic silence list`.
#[derive(Debug, clap::Args)]
pub struct SilenceListArgs {
    /// Also the silences that ended.
    #[arg(long)]
    pub all: bool,
    /// Where timelines live (default: the config's `timeline_dir`, else the platform data dir).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
    /// One JSON object per silence.
    #[arg(long)]
    pub json: bool,
}

/// `ic silence expire`.
#[derive(Debug, clap::Args)]
pub struct SilenceExpireArgs {
    /// The silence's id (`ic silence list` shows it).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Who (default: the config's `responder:`, else $USER@host).
    #[arg(long, short = 'a', value_name = "NAME")]
    pub actor: Option<String>,
    /// Where timelines live (default: the config's `timeline_dir`, else the platform data dir).
    #[arg(long, value_name = "DIR")]
    pub timeline_dir: Option<PathBuf>,
}
