//! Logs go to a file (never to the screen): `--log-file`, else the platform data dir.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Starts logging to `file` (or the default log file) at the level in `$IC_LOG` (default `info`).
/// Returns the path in use, or `None` when no log file could be opened (then nothing is logged).
pub fn init(file: Option<&Path>) -> Option<PathBuf> {
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
    let filter = tracing_subscriber::EnvFilter::try_from_env("IC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(out))
        .try_init()
        .ok()?;
    Some(path)
}
