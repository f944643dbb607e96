//! The timeline file: append-only JSON Lines, crash-safe and shared.
//!
//! Appending takes an exclusive advisory lock on the file (`flock`), which also
//! serialises `seq`: under the lock the writer reads the file's tail for the
//! last `seq`, writes its line with one `write` on an `O_APPEND` descriptor,
//! `fsync`s, and only then returns the event — so an event the caller has seen
//! is on disk. Several processes (the TUI, `ic watch`, `ic event` from a
//! pipeline) may append at once. A torn last line left by a crash is moved to
//! `<file>.torn`, reported, and the next line starts fresh. Files are created
//! 0600 in a 0700 directory. Readers (`read`, `Follower`) skip and report
//! lines that are not events instead of failing.

use crate::core::event::{Draft, Event, Kind};
use chrono::{DateTime, Utc};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How much of the file's end is read to find the last `seq`.
const TAIL: u64 = 64 * 1024;
/// Longest line accepted when reading (a longer one is reported and skipped).
pub const MAX_LINE: usize = 1024 * 1024;

/// What went wrong with a timeline file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O error, with the file and what we were doing.
    #[error("{path}: cannot {action}: {error}{}", hint(error))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What we tried.
        action: &'static str,
        /// The error (in the message, not chained, so it is said once).
        error: io::Error,
    },
}

fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => {
            " (the disk is full: free space; events are kept until they can be written)"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            " (check the permissions of the timeline directory, or set timeline_dir in ic.yaml)"
        }
        Some(libc::EROFS) => {
            " (the file system is read-only: set timeline_dir to a writable place)"
        }
        Some(libc::EFBIG) => {
            " (the file has reached a size limit: raise `ulimit -f`, or free space)"
        }
        _ => "",
    }
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> JournalError + 'a {
    move |error| JournalError::Io {
        path: path.to_path_buf(),
        action,
        error,
    }
}

/// A torn last line found (and set aside) when appending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Where its bytes were kept.
    pub kept_in: PathBuf,
    /// How many bytes.
    pub bytes: usize,
}

/// An open timeline file, ready to append.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    torn: Vec<TornTail>,
    moved: usize,
}

/// Creates `dir` (and parents) with mode 0700 where missing.
pub fn ensure_dir(dir: &Path) -> Result<(), JournalError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir, "create the timeline directory"))
}

/// `<UTC start>-<slug>.jsonl`, e.g. `20261122T030405Z-payments-5xx.jsonl`.
pub fn file_name(started: DateTime<Utc>, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "incident" } else { slug };
    format!("{}-{slug}.jsonl", started.format("%Y%m%dT%H%M%SZ"))
}

impl Journal {
    /// Opens (creating if missing, mode 0600, parent 0700) the timeline at `path`.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_dir(dir)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .read(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err(path, "open the timeline for appending"))?;
        // A file created by someone else with a wider mode is narrowed: timelines hold secrets' neighbours.
        if let Ok(meta) = file.metadata()
            && meta.permissions().mode() & 0o077 != 0
        {
            let _ = file.set_permissions(fs::Permissions::from_mode(0o600));
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            torn: Vec::new(),
            moved: 0,
        })
    }

    /// Creates a new timeline in `dir` for an incident titled `title` starting at `started`.
    pub fn create(
        dir: &Path,
        started: DateTime<Utc>,
        title: &str,
    ) -> Result<Journal, JournalError> {
        ensure_dir(dir)?;
        let mut path = dir.join(file_name(started, title));
        let mut n = 2;
        while path.exists() {
            path = dir.join(file_name(started, &format!("{title} {n}")));
            n += 1;
        }
        Journal::open(&path)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// If the file at our path is no longer the one we hold open (deleted, moved or
    /// replaced while we ran), reopens the path so appends land where readers look,
    /// and notes it in `moved`.
    fn follow_the_path(&mut self) -> Result<(), JournalError> {
        use std::os::unix::fs::MetadataExt;
        let held = self
            .file
            .metadata()
            .map_err(io_err(&self.path, "read the timeline's metadata"))?;
        let same =
            fs::metadata(&self.path).is_ok_and(|m| m.dev() == held.dev() && m.ino() == held.ino());
        if !same {
            tracing::warn!(
                "{}: the timeline file was moved or deleted while open; continuing in a new file at the same path",
                self.path.display()
            );
            let fresh = Journal::open(&self.path)?;
            self.file = fresh.file;
            self.moved += 1;
        }
        Ok(())
    }

    /// How many times the file was found moved or deleted (and recreated) so far.
    pub fn moved(&self) -> usize {
        self.moved
    }

    /// Torn tails set aside by this journal's appends so far (for the caller to report).
    pub fn take_torn(&mut self) -> Vec<TornTail> {
        std::mem::take(&mut self.torn)
    }

    /// Appends `draft` at `now`: locks, assigns the next `seq`, writes one line, fsyncs.
    /// The returned event is on disk.
    pub fn append(&mut self, draft: Draft, now: DateTime<Utc>) -> Result<Event, JournalError> {
        let path = self.path.clone();
        self.follow_the_path()?;
        self.file
            .lock()
            .map_err(io_err(&path, "lock the timeline"))?;
        let result = self.append_locked(draft, now);
        let unlocked = self
            .file
            .unlock()
            .map_err(io_err(&path, "unlock the timeline"));
        let event = result?;
        unlocked?;
        Ok(event)
    }

    fn append_locked(&mut self, draft: Draft, now: DateTime<Utc>) -> Result<Event, JournalError> {
        let path = self.path.clone();
        let len = self
            .file
            .metadata()
            .map_err(io_err(&path, "read the timeline's size"))?
            .len();
        let (last, torn_at) = self.scan_tail(len)?;
        if let Some(at) = torn_at {
            self.set_aside(at, len)?;
        }
        // Time never goes backwards within a file: a writer that took `now` before another
        // process's append (or a wall clock stepped back) gets the last event's time.
        let (last_seq, last_ts) = last.unwrap_or((0, now));
        let event = draft.into_event(last_seq + 1, now.max(last_ts));
        let mut line = event.to_line().into_bytes();
        line.push(b'\n');
        let written = self
            .file
            .write(&line)
            .map_err(io_err(&path, "append to the timeline"))?;
        if written < line.len() {
            self.file
                .write_all(&line[written..])
                .map_err(io_err(&path, "append to the timeline"))?;
        }
        self.file
            .sync_data()
            .map_err(io_err(&path, "flush the timeline to disk"))?;
        Ok(event)
    }

    /// The highest valid `seq` with the latest `ts` and, when the file does not end in a
    /// newline, where the torn line starts. Reads the last 64 KiB, or the whole file when
    /// that holds no valid line.
    #[allow(clippy::type_complexity)]
    fn scan_tail(
        &self,
        len: u64,
    ) -> Result<(Option<(u64, DateTime<Utc>)>, Option<u64>), JournalError> {
        if len == 0 {
            return Ok((None, None));
        }
        let mut from = len.saturating_sub(TAIL);
        loop {
            let mut buf = vec![0; (len - from) as usize];
            self.file
                .read_exact_at(&mut buf, from)
                .map_err(io_err(&self.path, "read the timeline's tail"))?;
            let torn_at = match buf.iter().rposition(|b| *b == b'\n') {
                _ if buf.last() == Some(&b'\n') => None,
                Some(i) => Some(from + i as u64 + 1),
                None if from == 0 => Some(0),
                None => None,
            };
            let complete = match torn_at {
                Some(t) => &buf[..(t - from) as usize],
                None => &buf[..],
            };
            // Skip the first (possibly partial) line of a window that does not start the file.
            let complete = if from > 0 {
                match complete.iter().position(|b| *b == b'\n') {
                    Some(i) => &complete[i + 1..],
                    None => &[][..],
                }
            } else {
                complete
            };
            let best = complete
                .split(|b| *b == b'\n')
                .filter_map(|l| std::str::from_utf8(l).ok())
                .filter_map(|l| Event::parse_line(l).ok())
                .fold(None, |acc: Option<(u64, DateTime<Utc>)>, e| {
                    Some(acc.map_or((e.seq, e.ts), |(s, t)| (s.max(e.seq), t.max(e.ts))))
                });
            match best {
                Some(b) => return Ok((Some(b), torn_at)),
                None if from == 0 => return Ok((None, torn_at)),
                None => from = 0,
            }
        }
    }

    /// Copies bytes `at..len` to `<file>.torn`, then cuts them off the timeline.
    fn set_aside(&mut self, at: u64, len: u64) -> Result<(), JournalError> {
        let mut torn = vec![0; (len - at) as usize];
        self.file
            .read_exact_at(&mut torn, at)
            .map_err(io_err(&self.path, "read a torn line"))?;
        let kept_in = torn_path(&self.path);
        let mut side = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&kept_in)
            .map_err(io_err(&kept_in, "keep a torn line aside"))?;
        torn.push(b'\n');
        side.write_all(&torn)
            .and_then(|()| side.sync_data())
            .map_err(io_err(&kept_in, "keep a torn line aside"))?;
        self.file
            .set_len(at)
            .map_err(io_err(&self.path, "cut a torn line off the timeline"))?;
        tracing::warn!(
            "{}: a torn last line ({} bytes, from a crash during a write) was moved to {}",
            self.path.display(),
            torn.len() - 1,
            kept_in.display()
        );
        self.torn.push(TornTail {
            kept_in,
            bytes: torn.len() - 1,
        });
        Ok(())
    }
}

/// Where torn lines of `path` are kept.
pub fn torn_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".torn");
    PathBuf::from(p)
}

/// A line of a timeline that is not a usable event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, and what happens to it.
    pub message: String,
}

/// A timeline read from disk.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// The events, in file order.
    pub events: Vec<Event>,
    /// Lines skipped and oddities (duplicate `seq`, time going backwards, a torn tail).
    pub problems: Vec<Problem>,
}

/// Reads a whole timeline (without locking: appends are whole lines).
pub fn read(path: &Path) -> Result<Replay, JournalError> {
    let mut file = File::open(path).map_err(io_err(path, "open the timeline"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(io_err(path, "read the timeline"))?;
    Ok(parse(&bytes))
}

/// Parses timeline bytes: complete lines become events; everything else is a `Problem`.
pub fn parse(bytes: &[u8]) -> Replay {
    let mut replay = Replay::default();
    let ends_clean = bytes.is_empty() || bytes.last() == Some(&b'\n');
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let count = lines.len();
    let mut last: Option<(u64, DateTime<Utc>)> = None;
    let mut seen = rustc_hash::FxHashSet::default();
    for (i, raw) in lines.into_iter().enumerate() {
        let n = i + 1;
        if i + 1 == count {
            if !ends_clean {
                replay.problems.push(Problem {
                    line: n,
                    message: format!(
                        "torn last line ({} bytes, a write cut short by a crash): ignored; the next append moves it to a .torn file",
                        raw.len()
                    ),
                });
            }
            break;
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if raw.len() > MAX_LINE {
            replay.problems.push(Problem {
                line: n,
                message: format!(
                    "line of {} bytes is longer than {MAX_LINE}: skipped",
                    raw.len()
                ),
            });
            continue;
        }
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                replay.problems.push(Problem {
                    line: n,
                    message: format!("not UTF-8 ({e}): skipped"),
                });
                continue;
            }
        };
        match Event::parse_line(text) {
            Ok(e) => {
                if !seen.insert(e.seq) {
                    replay.problems.push(Problem {
                        line: n,
                        message: format!("seq {} appears again: kept, in file order", e.seq),
                    });
                }
                if let Some((_, ts)) = last
                    && e.ts < ts
                {
                    replay.problems.push(Problem {
                        line: n,
                        message: format!(
                            "time goes backwards ({} after {}): kept, in file order",
                            crate::core::event::format_ts(e.ts),
                            crate::core::event::format_ts(ts)
                        ),
                    });
                }
                last = Some((e.seq, e.ts));
                if e.kind == Kind::Unknown {
                    replay.problems.push(Problem {
                        line: n,
                        message: "an event kind this version does not know: kept, not interpreted"
                            .into(),
                    });
                }
                replay.events.push(e);
            }
            Err(err) => replay.problems.push(Problem {
                line: n,
                message: format!("{err}: skipped"),
            }),
        }
    }
    replay
}

/// Follows a timeline other processes append to: each `poll` returns the complete
/// lines added since the last one.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    line: usize,
}

impl Follower {
    /// Follows `path` from its current end (`from_start`: from the beginning).
    pub fn new(path: &Path, from_start: bool) -> Follower {
        let offset = if from_start {
            0
        } else {
            fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        };
        Follower {
            path: path.to_path_buf(),
            offset,
            partial: Vec::new(),
            line: 0,
        }
    }

    /// New events (and problems) since the last poll. A file that shrank (replaced) is
    /// read again from the start.
    pub fn poll(&mut self) -> Result<Replay, JournalError> {
        let mut file = File::open(&self.path).map_err(io_err(&self.path, "open the timeline"))?;
        let len = file
            .metadata()
            .map_err(io_err(&self.path, "read the timeline's size"))?
            .len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
            self.line = 0;
        }
        file.seek(SeekFrom::Start(self.offset))
            .map_err(io_err(&self.path, "read the timeline"))?;
        let mut fresh = Vec::new();
        file.take(len - self.offset)
            .read_to_end(&mut fresh)
            .map_err(io_err(&self.path, "read the timeline"))?;
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(Replay::default());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        let mut replay = parse(&complete);
        for p in &mut replay.problems {
            p.line += self.line;
        }
        self.line += complete.iter().filter(|b| **b == b'\n').count();
        Ok(replay)
    }
}

/// The `*.jsonl` timelines in `dir`, newest first (by file name, which starts with the UTC start).
pub fn timelines(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files.reverse();
    files
}

/// The newest timeline in `dir` whose incident is still open.
pub fn newest_open(dir: &Path) -> Option<PathBuf> {
    timelines(dir).into_iter().find(|p| {
        read(p).is_ok_and(|r| {
            r.events.iter().any(|e| e.kind == Kind::IncidentOpened)
                && !r.events.iter().any(|e| e.kind == Kind::IncidentClosed)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn appends_number_lines_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let tl = dir.path().join("incidents");
        let mut j = Journal::create(&tl, t(0), "Payments 5xx / pool!").unwrap();
        assert!(
            j.path()
                .ends_with("20270115T080000Z-payments-5xx-pool.jsonl"),
            "{}",
            j.path().display()
        );
        let a = j.append(Draft::note("ann", "one", &[]), t(1)).unwrap();
        // A writer whose clock is behind (or took `now` before another's append) does not
        // make time go backwards in the file.
        let b = j.append(Draft::note("bob", "two", &[]), t(0)).unwrap();
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(b.ts, t(1));
        let r = read(j.path()).unwrap();
        assert_eq!(r.events, vec![a, b]);
        assert!(r.problems.is_empty());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(j.path()), 0o600);
        assert_eq!(mode(&tl), 0o700);
    }

    #[test]
    fn a_torn_tail_is_set_aside_and_numbering_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.append(Draft::note("a", "one", &[]), t(1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":2,"ts":"2027-01-15T08:00:02.000Z","kind":"no"#)
            .unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.events.len(), 1);
        assert!(
            r.problems[0].message.contains("torn last line"),
            "{:?}",
            r.problems
        );

        let e = j.append(Draft::note("a", "two", &[]), t(3)).unwrap();
        assert_eq!(e.seq, 2);
        let torn = j.take_torn();
        assert_eq!(torn.len(), 1);
        assert!(
            fs::read_to_string(torn_path(&path))
                .unwrap()
                .contains(r#""kind":"no"#)
        );
        let r = read(&path).unwrap();
        assert_eq!(r.events.len(), 2);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn bad_lines_duplicates_and_backwards_time_are_reported_not_fatal() {
        let e1 = Draft::note("a", "one", &[]).into_event(1, t(10));
        let e2 = Draft::note("a", "two", &[]).into_event(1, t(5));
        let text = format!(
            "{}\nnot json\n\n{}\n{}\n",
            e1.to_line(),
            e2.to_line(),
            "\u{0}"
        );
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let r = parse(&bytes);
        assert_eq!(r.events.len(), 2);
        let msgs: Vec<String> = r
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.line, p.message))
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("2: not a timeline event")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("seq 1 appears again")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("time goes backwards")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with("6: not UTF-8")),
            "{msgs:?}"
        );
    }

    #[test]
    fn a_deleted_or_moved_file_is_recreated_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.append(Draft::note("a", "one", &[]), t(1)).unwrap();
        fs::rename(&path, dir.path().join("moved.jsonl")).unwrap();
        let e = j.append(Draft::note("a", "two", &[]), t(2)).unwrap();
        assert_eq!(j.moved(), 1);
        assert_eq!(read(&path).unwrap().events, vec![e]);
        fs::remove_file(&path).unwrap();
        j.append(Draft::note("a", "three", &[]), t(3)).unwrap();
        assert_eq!(j.moved(), 2);
        assert_eq!(read(&path).unwrap().events.len(), 1);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_follower_sees_only_complete_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.append(Draft::note("a", "before", &[]), t(1)).unwrap();
        let mut f = Follower::new(&path, false);
        assert!(f.poll().unwrap().events.is_empty());
        j.append(Draft::note("a", "after", &[]), t(2)).unwrap();
        let line = Draft::note("b", "half", &[]).into_event(3, t(3)).to_line();
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&line.as_bytes()[..10]).unwrap();
        let got = f.poll().unwrap();
        assert_eq!(got.events.len(), 1);
        assert_eq!(got.events[0].msg, "after");
        raw.write_all(&line.as_bytes()[10..]).unwrap();
        raw.write_all(b"\n").unwrap();
        assert_eq!(f.poll().unwrap().events[0].msg, "half");
    }

    #[test]
    fn the_newest_open_incident_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Journal::create(dir.path(), t(0), "old").unwrap();
        old.append(Draft::opened("ic", "old", "shop"), t(0))
            .unwrap();
        let mut new = Journal::create(dir.path(), t(100), "new").unwrap();
        new.append(Draft::opened("ic", "new", "shop"), t(100))
            .unwrap();
        assert_eq!(newest_open(dir.path()).as_deref(), Some(new.path()));
        new.append(
            Draft::new(
                Kind::IncidentClosed,
                "ann",
                "closed",
                serde_json::Value::Null,
            ),
            t(200),
        )
        .unwrap();
        assert_eq!(newest_open(dir.path()).as_deref(), Some(old.path()));
    }
}
