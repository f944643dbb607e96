//! What each subcommand does, and how failures map to exit codes
//! (0 ok, 1 unhealthy or findings, 2 usage or config error).

/// Prints a line to stdout; when the reader has gone away (`ic scrape … | head`),
/// exits quietly with 141 like other Unix tools instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::print_line(format_args!($($arg)*))
    };
}

mod actions;
mod check;
mod demo;
mod event;
mod init;
mod lint;
mod playbook;
mod postmortem;
mod report;
mod scrape;
mod setup;
mod silence;
mod simulate;
mod team;
mod view;
mod watch;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use crate::core::text;
use crate::core::yaml::YamlError;
use crate::tui::theme::Theme;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// Everything went well.
pub const EXIT_OK: u8 = 0;
/// Something is unhealthy, or there are findings.
pub const EXIT_FINDINGS: u8 = 1;
/// Bad usage or a bad config.
pub const EXIT_USAGE: u8 = 2;

/// A usage mistake that clap cannot catch (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let Some(command) = cli.command else {
        let sources = check::load_sources(cli.config.as_deref())?;
        if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            return Err(UsageError(
                "the full-screen view needs a terminal: run `ic` in one, or use `ic watch` for headless output".into(),
            )
            .into());
        }
        let dir = timeline_dir(None, cli.config.as_deref())?;
        let theme = Theme::from_env(cli.theme.or(sources.config.theme));
        let setup = setup::Setup::new(sources, Vec::new(), dir, Vec::new())?;
        return view::run(setup, view::ViewOptions { theme, demo: false }).await;
    };
    if let Some(t) = cli.theme
        && !matches!(command, Command::Demo(_))
    {
        return Err(UsageError(format!(
            "--theme {t} only applies to the full-screen view: use it with `ic` or `ic demo`"
        ))
        .into());
    }
    match command {
        Command::Demo(args) => demo::run(args, cli.theme, false).await,
        Command::Drill(args) => demo::run(args, cli.theme, true).await,
        Command::Lint(args) => lint::run(args, cli.config.as_deref()),
        Command::Init(args) => init::run(&args),
        Command::Completions(args) => {
            let Some(shell) = args.shell else {
                list_shells();
                return Ok(EXIT_OK);
            };
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "ic", &mut std::io::stdout());
            Ok(EXIT_OK)
        }
        Command::Check(args) => check::run(args, cli.config.as_deref()).await,
        Command::Watch(args) => watch::run(args, cli.config.as_deref()).await,
        Command::Scrape(args) => scrape::run(args).await,
        Command::Simulate(args) => simulate::run(&args),
        Command::Event(args) => event::run_with_team(&args, cli.config.as_deref()).await,
        Command::Incidents(args) => team::incidents(&args, cli.config.as_deref()).await,
        Command::Join(args) => team::join(&args, cli.config.as_deref()).await,
        Command::Postmortem(args) => postmortem::run(&args, cli.config.as_deref()),
        Command::Actions(args) => actions::run(&args, cli.config.as_deref()),
        Command::Report(args) => report::run(&args, cli.config.as_deref()),
        Command::Playbook(args) => playbook::run(&args, cli.config.as_deref()),
        Command::Silence(args) => silence::run(&args, cli.config.as_deref()),
    }
}

/// `ic completions` without a shell: the shells it knows and how to install one.
fn list_shells() {
    use clap::ValueEnum;
    let names: Vec<String> = clap_complete::Shell::value_variants()
        .iter()
        .filter_map(|s| s.to_possible_value().map(|v| v.get_name().to_string()))
        .collect();
    out!(
        "ic completions SHELL prints completions for one of: {}",
        names.join(", ")
    );
    out!("e.g. ic completions bash > ~/.local/share/bash-completion/completions/ic");
    out!("     ic completions zsh > \"${{fpath[1]}}/_ic\"");
    out!("     ic completions fish > ~/.config/fish/completions/ic.fish");
}

/// The exit code for an error: 2 for usage and config errors, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let usage = err.chain().any(|e| {
        e.is::<YamlError>()
            || e.is::<ConfigError>()
            || e.is::<UsageError>()
            || e.downcast_ref::<crate::journal::JournalError>()
                .is_some_and(crate::journal::JournalError::is_usage)
    });
    if usage { EXIT_USAGE } else { EXIT_FINDINGS }
}

/// Writes one line to stdout (see `out!`) with every control character,
/// newline and bidi override escaped (`core::text::escape`): text from the
/// network or a file (a route label, a fault name, an error echoing a body)
/// can neither drive the terminal nor forge a line. JSON lines stay valid JSON.
pub fn print_line(args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    write_stdout(&text::escape(&text));
}

/// Prints a document we composed line by line (a postmortem, pretty JSON):
/// its own newlines end lines, anything else is escaped as by `out!`.
pub fn print_lines(document: &str) {
    for line in document.lines() {
        write_stdout(&text::escape(line));
    }
}

fn write_stdout(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(line.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        tracing::warn!("cannot write to stdout: {e}");
    }
}

/// A YAML error as printed: `FILE:LINE:COL: message` and its hint on the next
/// line, the file's text in both escaped (a fault name may hold a newline).
pub fn yaml_error_text(e: &YamlError) -> String {
    let mut e = e.clone();
    e.message = text::escape(&e.message).into_owned();
    e.hint = e.hint.map(|h| text::escape(&h).into_owned());
    let file = e.file.display().to_string();
    e.file = PathBuf::from(text::escape(&file).into_owned());
    e.to_string()
}

/// An error as printed on stderr: the chain like `{err:#}`, each part escaped
/// (a YAML error keeps its hint on its own line).
pub fn error_text(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for e in err.chain() {
        let yaml = e
            .downcast_ref::<YamlError>()
            .or(match e.downcast_ref::<ConfigError>() {
                Some(ConfigError::Invalid(y)) => Some(y),
                _ => None,
            });
        match yaml {
            Some(y) => parts.push(yaml_error_text(y)),
            None => parts.push(text::escape(&e.to_string()).into_owned()),
        }
    }
    parts.join(": ")
}

/// Where timelines live: `explicit`, else the config's `timeline_dir` (when a config is
/// found), else the platform data dir's `incidents/`.
pub fn timeline_dir(explicit: Option<&Path>, config: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(d) = explicit {
        return Ok(d.to_path_buf());
    }
    let found = match Config::discover(config) {
        Ok(c) => c.timeline_dir(),
        Err(ConfigError::NotFound { .. }) if config.is_none() => None,
        Err(e) => return Err(e.into()),
    };
    found
        .or_else(|| crate::paths::data_dir().map(|d| d.join("incidents")))
        .ok_or_else(|| {
            UsageError(
                "no timeline directory: set timeline_dir in ic.yaml or pass --timeline-dir".into(),
            )
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn theme_is_refused_where_no_view_opens() {
        let cli = Cli::try_parse_from(["ic", "--theme", "mono", "check"]).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt.block_on(run(cli)).unwrap_err();
        assert_eq!(exit_code(&err), EXIT_USAGE);
        assert_eq!(
            err.to_string(),
            "--theme mono only applies to the full-screen view: use it with `ic` or `ic demo`"
        );
    }
}
