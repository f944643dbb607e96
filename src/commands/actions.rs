//! `ic actions`: the action items of every incident in the timeline dir —
//! open, overdue, done, by owner — as a table, JSON, or JSON lines for a
//! tracker's import (`--export`). A timeline that cannot be read is named
//! on stderr and the rest are listed.

use super::{EXIT_OK, timeline_dir};
use crate::cli::ActionsArgs;
use crate::core::actions::{self, Filter};
use crate::core::incident::Incident;
use crate::journal;
use std::path::{Path, PathBuf};

pub(super) fn run(args: &ActionsArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
    let incidents = read_all(&dir);
    let today = crate::clock::local_date(crate::clock::now());
    let filter = Filter {
        open: args.open,
        overdue: args.overdue,
        done: args.done,
        owner: args.owner.clone(),
    };
    let rows = actions::rows(&incidents, today, &filter);
    if args.export {
        for r in &rows {
            out!("{}", actions::to_tracker(r));
        }
    } else if args.json {
        let list: Vec<_> = rows.iter().map(actions::to_json).collect();
        out!("{}", serde_json::Value::Array(list));
    } else if rows.is_empty() {
        out!(
            "no action items{} in {} (record one with `ic event -k action \"add a pool alarm @ann due:fri\"`)",
            if filter.open || filter.overdue || filter.done || filter.owner.is_some() {
                " match"
            } else {
                ""
            },
            dir.display()
        );
    } else {
        super::print_lines(&actions::table(&rows));
        let overdue = actions::overdue(&rows);
        out!(
            "{} item(s), {overdue} overdue; close one with `ic event -k action-done ID \"what was done\"`",
            rows.len()
        );
    }
    Ok(EXIT_OK)
}

/// Every timeline in `dir` with its incident; one that cannot be read is
/// named on stderr and left out.
pub(super) fn read_all(dir: &Path) -> Vec<(PathBuf, Incident)> {
    journal::incidents(dir)
        .into_iter()
        .filter_map(|(path, folded)| match folded {
            Ok(inc) => Some((path, inc)),
            Err(e) => {
                eprintln!("warning: {}: {e} (left out)", path.display());
                None
            }
        })
        .collect()
}
