//! `ic postmortem`: renders an incident timeline as a Markdown, JSON or
//! self-contained HTML postmortem, to stdout or a private (0600) file written
//! atomically (a failed write leaves no partial file); Markdown written to
//! `pm.md` gets its SVG charts in `pm.assets/`.

use super::{EXIT_OK, UsageError, timeline_dir};
use crate::cli::PostmortemArgs;
use crate::core::{postmortem, text};
use crate::journal;
use std::path::Path;

pub(super) fn run(args: &PostmortemArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let path = match &args.timeline {
        Some(p) => p.clone(),
        None => {
            let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
            journal::timelines(&dir).into_iter().next().ok_or_else(|| {
                UsageError(format!(
                    "no timelines in {}: give the timeline file, e.g. `ic postmortem incidents/20261122T030405Z-payments.jsonl`",
                    dir.display()
                ))
            })?
        }
    };
    if !path.is_file() {
        return Err(UsageError(format!("{}: no such timeline file", path.display())).into());
    }
    let replay = journal::read(&path)?;
    for p in &replay.problems {
        eprintln!(
            "warning: {}:{}: {}",
            path.display(),
            p.line,
            text::escape(&p.message)
        );
    }
    // Markdown written to a file references its charts in `<name>.assets/`.
    let assets = match (&args.output, args.format.as_str()) {
        (Some(out), "md") => Some(assets_dir(out)?),
        _ => None,
    };
    let text = match args.format.as_str() {
        "json" => {
            let mut v = postmortem::json(&replay.events);
            v["source"] = serde_json::json!(path.display().to_string());
            format!("{v}\n")
        }
        "html" => postmortem::html(&replay.events),
        _ => match &assets {
            Some((_, name)) => {
                postmortem::markdown_with(&replay.events, postmortem::ChartRefs::Files(name))
            }
            None => postmortem::markdown(&replay.events),
        },
    };
    // The renderer escapes what it takes from the timeline; this pass makes
    // sure no control character or bidi override reaches the file either (a
    // JSON document stays valid: the escapes are JSON's own).
    let text: String = text
        .lines()
        .map(|l| format!("{}\n", text::escape(l)))
        .collect();
    match &args.output {
        None => super::print_lines(text.trim_end()),
        Some(out) => {
            // The document first: where it cannot be written, nothing is left behind.
            crate::paths::write_private(out, text.as_bytes()).map_err(|e| {
                anyhow::anyhow!("{}: cannot write the postmortem: {e}", out.display())
            })?;
            eprintln!("postmortem written to {}", out.display());
            if let Some((dir, _)) = &assets {
                write_charts(dir, &postmortem::charts(&replay.events))?;
            }
        }
    }
    Ok(EXIT_OK)
}

/// The charts' directory beside `out` (`pm.md` → `pm.assets`) and its name as
/// the document refers to it.
fn assets_dir(out: &Path) -> anyhow::Result<(std::path::PathBuf, String)> {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            UsageError(format!(
                "-o {}: give a file name, e.g. pm.md",
                out.display()
            ))
        })?;
    let name = format!("{stem}.assets");
    Ok((out.with_file_name(&name), name))
}

/// Writes each chart as `<dir>/<name>.svg` (0600, atomically), replacing what
/// an earlier run wrote there; `dir` (0700) is made beside the document, never
/// its parents.
fn write_charts(dir: &Path, charts: &[postmortem::PostmortemChart]) -> anyhow::Result<()> {
    if charts.is_empty() {
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // An existing directory of its own is used; a symlink there is not followed.
        Err(e)
            if e.kind() == std::io::ErrorKind::AlreadyExists
                && std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) => {}
        Err(e) => {
            return Err(anyhow::anyhow!(
                "{}: cannot make the charts' directory: {e} (the document was written; its charts were not)",
                dir.display()
            ));
        }
    }
    for c in charts {
        let file = dir.join(format!("{}.svg", c.name));
        crate::paths::write_private(&file, c.chart.svg().as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: cannot write the chart: {e}", file.display()))?;
    }
    Ok(())
}
