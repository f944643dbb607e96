//! `ic postmortem`: renders an incident timeline as a Markdown (or JSON)
//! postmortem, to stdout or a private (0600) file written atomically (a
//! failed write leaves no partial file).

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
    let text = if args.format == "json" {
        let mut v = postmortem::json(&replay.events);
        v["source"] = serde_json::json!(path.display().to_string());
        format!("{v}\n")
    } else {
        postmortem::markdown(&replay.events)
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
            crate::paths::write_private(out, text.as_bytes()).map_err(|e| {
                anyhow::anyhow!("{}: cannot write the postmortem: {e}", out.display())
            })?;
            eprintln!("postmortem written to {}", out.display());
        }
    }
    Ok(EXIT_OK)
}
