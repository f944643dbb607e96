//! Logs go to a file (never to the screen): `--log-file`, else the platform
//! data dir. Logs sit next to secrets (URLs, endpoint errors), so the file is
//! private like a timeline: mode 0600 in a 0700 directory (the default
//! directory, and any the log creates; a wider one of ours is narrowed), never
//! opened through a symlink, and never someone else's file. Each event is one
//! line: newlines, control characters and bidi overrides inside it (a route
//! label, an endpoint's error) are written as visible escapes, so nothing from
//! outside can forge a log line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Starts logging to `file` (or the default log file) at the level in `$IC_LOG`
/// (`off`, `error`, `warn`, `info` — the default —, `debug` or `trace`).
/// Returns the path in use, or `None` when no log file could be opened (then
/// nothing is logged; a log refused for safety says why on stderr).
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
    let (path, ours) = match file {
        Some(p) => (p.to_path_buf(), false),
        None => (crate::paths::log_dir()?.join("ic.log"), true),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::paths::ensure_private_dir(dir, ours).ok()?;
    }
    let out = match open_private(&path) {
        Ok(f) => f,
        Err(Refused(Some(why))) => {
            eprintln!("warning: not logging to {}: {why}", path.display());
            return None;
        }
        Err(Refused(None)) => return None,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(Mutex::new(OneLine(out)))
        .try_init()
        .ok()?;
    Some(path)
}

/// Writes each formatted event as one line: what it holds is escaped
/// (`core::text::escape`), its final newline kept.
struct OneLine<W: Write>(W);

impl<W: Write> Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (&*text, ""),
        };
        let line = format!("{}{end}", crate::core::text::escape(body));
        self.0.write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Why a log file was not opened: a reason worth telling, or `None` (an
/// ordinary failure, such as no home directory, stays quiet as before).
struct Refused(Option<String>);

/// Opens `path` for appending, creating it 0600: not through a symlink, not a
/// file of another user's, and narrowed to 0600 if it was wider.
fn open_private(path: &Path) -> Result<File, Refused> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            Refused(
                (e.raw_os_error() == Some(libc::ELOOP))
                    .then(|| "it is a symlink; give the real path with --log-file".to_string()),
            )
        })?;
    let meta = file.metadata().map_err(|_| Refused(None))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Refused(Some(format!(
            "the file belongs to another user (uid {}), who could read what ic logs; remove it or choose another --log-file",
            meta.uid()
        ))));
    }
    if !meta.is_file() {
        return Err(Refused(Some("not a regular file".into())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|_| Refused(None))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_label_cannot_forge_a_line() {
        let mut w = OneLine(Vec::new());
        w.write_all(b"WARN route /a\nRESOLVED all clear \x1b]0;x\x07 \xe2\x80\xae\n")
            .unwrap();
        let out = String::from_utf8(w.0).unwrap();
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(
            out.contains("/a\\nRESOLVED") && out.contains("\\u001b") && out.contains("\\u202e"),
            "{out}"
        );
    }
}
