//! The full-screen view's entry point: bare `ic` (the configured sources) and
//! `ic demo` in a terminal (the embedded demo API), both through `tui::run`,
//! and the lines printed once the terminal is restored: where the timelines
//! are and how to render the postmortem ([`exit_lines`]).

use super::setup::{Engine, Setup};
use crate::tui::theme::Theme;
use std::path::Path;

/// How the view is opened.
pub(super) struct ViewOptions {
    /// The palette.
    pub theme: Theme,
    /// The demo's view: the exit lines say where the demo kept its timelines.
    pub demo: bool,
}

/// Runs the view over `setup` until the responder quits, then prints where
/// the timelines are; exit 1 when events could not be written (the record is
/// incomplete).
pub(super) async fn run(setup: Setup, opts: ViewOptions) -> anyhow::Result<u8> {
    let Engine {
        mut state,
        feeds,
        notify,
        secrets,
        env,
    } = setup.engine();
    state.interactive = true;
    let dir = state.timeline_dir.clone();
    let exit = crate::tui::run(crate::tui::Options {
        feeds,
        state,
        notify,
        secrets,
        command_env: env,
        theme: opts.theme,
    })
    .await?;
    let dir = opts.demo.then_some(dir.as_path());
    for line in exit_lines(dir, exit.timeline.as_deref()) {
        out!("{line}");
    }
    Ok(if exit.unsaved > 0 {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_OK
    })
}

/// The lines printed after the view: the demo's timeline directory (`demo_dir`),
/// the incident's timeline file and how to render its postmortem — each path
/// only when it exists, so every path printed can be opened.
pub(super) fn exit_lines(demo_dir: Option<&Path>, timeline: Option<&Path>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(d) = demo_dir.filter(|d| d.is_dir()) {
        lines.push(format!("demo timelines kept in {}", d.display()));
    }
    match timeline.filter(|t| t.is_file()) {
        Some(t) => {
            lines.push(format!("timeline: {}", t.display()));
            let pm = t.with_extension("postmortem.md");
            if pm.is_file() {
                lines.push(format!("postmortem written to {}", pm.display()));
            }
            lines.push(format!(
                "render the postmortem: ic postmortem {}",
                shell_word(&t.display().to_string())
            ));
        }
        None if timeline.is_some() => lines.push(
            "no timeline on disk: it could not be written (see the lines above and the log)"
                .to_string(),
        ),
        None => lines.push("no incident was opened: no timeline written".to_string()),
    }
    lines
}

/// `s` as one shell word: as it is when it holds only characters no shell
/// treats as syntax, else in single quotes (a `'` written as `'\''`).
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_lines_name_only_paths_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let t = d.join("20261122T030000Z-x.jsonl");
        // No incident: the directory, and no timeline.
        assert_eq!(
            exit_lines(Some(d), None),
            vec![
                format!("demo timelines kept in {}", d.display()),
                "no incident was opened: no timeline written".to_string()
            ]
        );
        // An incident whose timeline never reached the disk: its path is not named.
        let lines = exit_lines(Some(d), Some(&t));
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].starts_with("no timeline on disk"), "{lines:?}");
        std::fs::write(&t, "").unwrap();
        let lines = exit_lines(Some(d), Some(&t));
        assert_eq!(lines[1], format!("timeline: {}", t.display()));
        assert_eq!(
            lines[2],
            format!("render the postmortem: ic postmortem {}", t.display())
        );
        std::fs::write(t.with_extension("postmortem.md"), "").unwrap();
        let lines = exit_lines(None, Some(&t));
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[1],
            format!(
                "postmortem written to {}",
                d.join("20261122T030000Z-x.postmortem.md").display()
            )
        );
        // A directory that is gone is not named.
        assert_eq!(exit_lines(Some(&d.join("gone")), None).len(), 1);
    }

    #[test]
    fn a_path_with_spaces_or_quotes_is_one_shell_word() {
        assert_eq!(shell_word("/tmp/a-b_c.jsonl"), "/tmp/a-b_c.jsonl");
        assert_eq!(shell_word("/tmp/my dir/x"), "'/tmp/my dir/x'");
        assert_eq!(shell_word("/tmp/it's"), r"'/tmp/it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
