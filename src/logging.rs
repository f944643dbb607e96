//! Logs go to a file (never to the screen): `--log-file`, else the platform data dir.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Starts logging to `file` (or the default log file) at the level in `$IC_LOG`
/// (`off`, `error`, `warn`, `info` — the default —, `debug` or `trace`).
/// Returns the path in use, or `None` when no log file could be opened (then nothing is logged).
pub fn init(file: Option<&Path>) -> Option<PathBuf> {
    let level = std::env::var("IC_LOG")
        .ok()
        .and_then(|v| {
            v.trim()
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .ok()
        })
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    if level == tracing_subscriber::filter::LevelFilter::OFF {
        return None;
    }
    let path = match file {
        Some(p) => p.to_path_buf(),
        None => crate::paths::log_dir()?.join("ic.log"),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).ok()?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(Mutex::new(out))
        .try_init()
        .ok()?;
    Some(path)
}
