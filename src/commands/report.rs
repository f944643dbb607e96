//! `ic report`: every incident in the timeline dir together (see
//! `core::report`), as Markdown or JSON, on stdout or into a file (0600,
//! atomically). Timelines are read on every core at once
//! (`journal::incidents`); one that cannot be read is named on stderr and
//! left out.

use super::{EXIT_OK, UsageError, timeline_dir};
use crate::cli::ReportArgs;
use chrono::{DateTime, Utc};
use std::path::Path;

pub(super) fn run(args: &ReportArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
    let now = crate::clock::now();
    let since = match &args.since {
        Some(s) => Some(since(s, now).map_err(UsageError)?),
        None => None,
    };
    let incidents = super::actions::read_all(&dir);
    let report = crate::core::report::build(
        &incidents,
        since,
        crate::clock::local_date(now),
        args.drills,
    );
    let text = match args.format.as_str() {
        "json" => format!("{}\n", serde_json::to_string_pretty(&report)?),
        "html" => crate::core::report::html(&report),
        _ => crate::core::report::markdown(&report),
    };
    match &args.output {
        Some(path) => {
            crate::paths::write_private(path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => super::print_lines(&text),
    }
    Ok(EXIT_OK)
}

/// `--since`: a span back from now (`90d`, `2w`, `12h`) or a date (`2026-09-01`, UTC).
fn since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Some(d) = crate::core::grammar::due_date(text) {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("--since {text}: not a day"));
    }
    let span = crate::core::units::parse_duration(text).map_err(|e| {
        format!("--since `{text}`: {e}; write a span back from now (90d, 2w, 12h) or a date (2026-09-01)")
    })?;
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|s| now.checked_sub_signed(s))
        .ok_or_else(|| format!("--since `{text}` reaches before any date"))
}
