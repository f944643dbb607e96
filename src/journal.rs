//! The timeline file: append-only JSON Lines, crash-safe and shared.
//!
//! Appending takes an exclusive advisory lock on the file (`flock`), which also
//! serialises `seq`: under the lock the writer reads the file's tail for the
//! last `seq`, writes its line with one `write` on an `O_APPEND` descriptor,
//! `fsync`s, and only then returns the event — so an event the caller has seen
//! is on disk. Several processes (the TUI, `ic watch`, `ic event` from a
//! pipeline) may append at once. A torn last line left by a crash is moved to
//! `<file>.torn`, reported, and the next line starts fresh. Files are created
//! 0600 in a 0700 directory.
//!
//! What a hostile or hand-edited file cannot do: a timeline is opened with
//! `O_NOFOLLOW | O_NONBLOCK` and must be a regular file (a symlink, a FIFO or
//! a device is refused, never followed, read or hung on); a directory anyone
//! may write to is refused; a `seq` that cannot increase is an error, never
//! a wrapped number readers skip; a line over [`MAX_LINE`] is refused at
//! write time, the same limit readers apply; a time far in the future is
//! reported by readers and never propagates to later events;
//! files over [`MAX_FILE`] are not read. Readers (`read`, `Follower`) skip
//! and report lines that are not events instead of failing.

use crate::core::event::{Draft, Event, EventId, Kind};
use crate::core::payload::Payload;
use chrono::{DateTime, Utc};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How much of the file's end is read to find the last `seq`.
const TAIL: u64 = 64 * 1024;
/// Longest line: refused when writing, reported and skipped when reading.
pub use crate::core::event::MAX_LINE;
/// Largest timeline read (a bigger file is refused rather than read into memory).
pub const MAX_FILE: u64 = 512 * 1024 * 1024;
/// How far past the clock an event's time may be before readers set it aside.
pub const FUTURE_SLACK: chrono::Duration = chrono::Duration::hours(1);
/// Within this much, a writer keeps time from going backwards (writers' clocks differ).
const ORDER_SLACK: chrono::Duration = chrono::Duration::seconds(2);

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
    /// The path is not a regular file (a symlink, FIFO, device, directory …).
    #[error(
        "{}: is {what}, not a regular file: a timeline must be a plain file (ic neither follows, reads nor writes anything else); remove it or choose another timeline_dir",
        path.display()
    )]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// The timeline directory is not a directory, or anyone may write to it.
    #[error("{}: {why}", path.display())]
    BadDirectory {
        /// The directory.
        path: PathBuf,
        /// What is wrong and what to do.
        why: String,
    },
    /// The file's `seq` is at its maximum: no event could be numbered after it.
    #[error(
        "{}:{line}: seq {seq} cannot increase, so no event can be appended after it (the file was edited by hand?): fix or remove that line, or start a new timeline",
        path.display()
    )]
    SeqExhausted {
        /// The file.
        path: PathBuf,
        /// The 1-based line holding it.
        line: usize,
        /// The seq.
        seq: u64,
    },
    /// An event too long for one timeline line.
    #[error(
        "the event is {bytes} bytes as a timeline line, over the {MAX_LINE}-byte limit readers accept: not written; shorten it"
    )]
    TooLong {
        /// Its length.
        bytes: usize,
    },
    /// A timeline too big to read.
    #[error(
        "{}: {bytes} bytes is over the {MAX_FILE}-byte limit of a timeline: not read; split or archive it",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
}

impl JournalError {
    /// Whether the file or the event is at fault (exit 2), not the system (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, JournalError::Io { .. })
    }
}

fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => " (the disk is full: free space, then try again)",
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

/// What keeps an existing `dir` from holding timelines: not a directory, or a
/// directory any user may write to. `None` when it is fine or does not exist.
pub fn dir_problem(dir: &Path) -> Option<String> {
    let meta = fs::metadata(dir).ok()?;
    if !meta.is_dir() {
        return Some("is not a directory: set timeline_dir to a directory".into());
    }
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 {
        return Some(format!(
            "the timeline directory is writable by every user (mode {:o}): anyone could add, replace or link incident records; run `chmod o-w {}` or set timeline_dir to a private directory",
            mode & 0o7777,
            dir.display()
        ));
    }
    let me = euid();
    (meta.uid() != me).then(|| {
        format!(
            "the timeline directory belongs to another user (uid {}, you are {me}): they could read every record or plant one; set timeline_dir to a directory of your own",
            meta.uid()
        )
    })
}

/// This process's effective user id.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates `dir` (and parents) with mode 0700 where missing; refuses a path
/// that is not a directory, and a directory any user may write to.
pub fn ensure_dir(dir: &Path) -> Result<(), JournalError> {
    if let Some(why) = dir_problem(dir) {
        return Err(JournalError::BadDirectory {
            path: dir.to_path_buf(),
            why,
        });
    }
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir, "create the timeline directory"))
}

/// What a non-regular file is, in words.
fn file_kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

/// Opens `path` without following a symlink or blocking on a FIFO, and only
/// when it is a regular file.
fn open_regular(
    path: &Path,
    opts: &mut OpenOptions,
    action: &'static str,
) -> Result<File, JournalError> {
    let file = opts
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            Some(libc::ELOOP) => JournalError::NotRegular {
                path: path.to_path_buf(),
                what: "a symbolic link",
            },
            _ => JournalError::Io {
                path: path.to_path_buf(),
                action,
                error,
            },
        })?;
    let meta = file.metadata().map_err(io_err(path, action))?;
    if !meta.file_type().is_file() {
        return Err(JournalError::NotRegular {
            path: path.to_path_buf(),
            what: file_kind(meta.file_type()),
        });
    }
    if meta.uid() != euid() {
        return Err(JournalError::NotRegular {
            path: path.to_path_buf(),
            what: "a file of another user",
        });
    }
    // A hard link makes another name (anywhere on the file system) read and grow with it.
    if meta.nlink() > 1 {
        return Err(JournalError::NotRegular {
            path: path.to_path_buf(),
            what: "a file with another name (a hard link)",
        });
    }
    // Regular files never block; clear the flag so later writes behave as usual.
    // SAFETY: fcntl on a descriptor we own, with an integer argument.
    unsafe {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Reads a whole regular file (see [`open_regular`]), at most [`MAX_FILE`] bytes.
fn read_regular(path: &Path) -> Result<Vec<u8>, JournalError> {
    let mut file = open_regular(path, OpenOptions::new().read(true), "open the timeline")?;
    let len = file
        .metadata()
        .map_err(io_err(path, "read the timeline's size"))?
        .len();
    if len > MAX_FILE {
        return Err(JournalError::TooLarge {
            path: path.to_path_buf(),
            bytes: len,
        });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    (&mut file)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path, "read the timeline"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(JournalError::TooLarge {
            path: path.to_path_buf(),
            bytes: bytes.len() as u64,
        });
    }
    Ok(bytes)
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
        Journal::open_with(path, false)
    }

    fn open_with(path: &Path, create_new: bool) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_dir(dir)?;
        }
        let file = open_regular(
            path,
            OpenOptions::new()
                .append(true)
                .read(true)
                .create(!create_new)
                .create_new(create_new)
                .mode(0o600),
            "open the timeline for appending",
        )?;
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

    /// Creates a new timeline in `dir` for an incident titled `title` starting at
    /// `started`; the name never collides with another file, even one another
    /// process creates at the same moment (`O_EXCL`).
    pub fn create(
        dir: &Path,
        started: DateTime<Utc>,
        title: &str,
    ) -> Result<Journal, JournalError> {
        ensure_dir(dir)?;
        let mut n = 1;
        loop {
            let name = if n == 1 {
                file_name(started, title)
            } else {
                file_name(started, &format!("{title} {n}"))
            };
            match Journal::open_with(&dir.join(name), true) {
                Err(JournalError::Io { error, .. })
                    if error.kind() == io::ErrorKind::AlreadyExists && n < 10_000 =>
                {
                    n += 1;
                }
                other => return other,
            }
        }
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
        self.locked(|j| j.append_locked(draft, now))
    }

    /// Runs `write` holding the file's lock (on the file at our path, reopened
    /// if it moved), and unlocks whatever it returned.
    fn locked<T>(
        &mut self,
        write: impl FnOnce(&mut Journal) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let path = self.path.clone();
        self.follow_the_path()?;
        self.file
            .lock()
            .map_err(io_err(&path, "lock the timeline"))?;
        let result = write(self);
        let unlocked = self
            .file
            .unlock()
            .map_err(io_err(&path, "unlock the timeline"));
        let done = result?;
        unlocked?;
        Ok(done)
    }

    fn append_locked(
        &mut self,
        mut draft: Draft,
        now: DateTime<Utc>,
    ) -> Result<Event, JournalError> {
        let path = self.path.clone();
        let len = self
            .file
            .metadata()
            .map_err(io_err(&path, "read the timeline's size"))?
            .len();
        // The tail scan may read the whole file (and a torn tail is copied in one
        // buffer): a file readers refuse is refused here too, never read into memory.
        if len > MAX_FILE {
            return Err(JournalError::TooLarge { path, bytes: len });
        }
        let (last, torn_at) = self.scan_tail(len, now)?;
        let (last_seq, last_ts) = last.map_or((0, None), |(s, t)| (s, t));
        let Some(seq) = last_seq.checked_add(1) else {
            return Err(JournalError::SeqExhausted {
                line: line_of_seq(&path, last_seq),
                path,
                seq: last_seq,
            });
        };
        if let Some(at) = torn_at {
            self.set_aside(at, len)?;
        }
        // The event's own time (when it happened, also when it is written late).
        let ts = event_time(last_ts, draft.at.unwrap_or(now));
        if draft.id.is_none() {
            draft.id = Some(EventId::v7(ts, rand::random()));
        }
        let event = draft.into_event(seq, ts);
        let mut line = event.to_line().into_bytes();
        if line.len() > MAX_LINE {
            return Err(JournalError::TooLong { bytes: line.len() });
        }
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

    /// Copies events another responder wrote (read from the team stream) into
    /// this file: under the lock, an event whose `id` the file already holds,
    /// or that has none, is skipped; the others are appended in `(ts, id)`
    /// order with their own time and id and the next `seq`s, then the file is
    /// fsynced once. An event too long for a line is skipped and logged.
    /// Returns the events written (on disk when this returns).
    pub fn merge(
        &mut self,
        events: Vec<Event>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, JournalError> {
        // The first copy of an id (in the order given: the stream's) is the one kept.
        let mut once = rustc_hash::FxHashSet::default();
        let mut events: Vec<Event> = events
            .into_iter()
            .filter(|e| e.id.as_ref().is_some_and(|id| once.insert(id.clone())))
            .collect();
        if events.is_empty() {
            return Ok(Vec::new());
        }
        events.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));
        self.locked(|j| j.merge_locked(events, now))
    }

    fn merge_locked(
        &mut self,
        events: Vec<Event>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, JournalError> {
        let path = self.path.clone();
        let len = self
            .file
            .metadata()
            .map_err(io_err(&path, "read the timeline's size"))?
            .len();
        if len > MAX_FILE {
            return Err(JournalError::TooLarge { path, bytes: len });
        }
        let (last, torn_at) = self.scan_tail(len, now)?;
        let mut bytes = vec![0; torn_at.unwrap_or(len) as usize];
        self.file
            .read_exact_at(&mut bytes, 0)
            .map_err(io_err(&path, "read the timeline"))?;
        let mut held: rustc_hash::FxHashSet<EventId> = parse(&bytes, now)
            .events
            .into_iter()
            .filter_map(|e| e.id)
            .collect();
        drop(bytes);
        if let Some(at) = torn_at {
            self.set_aside(at, len)?;
        }
        let mut seq = last.map_or(0, |(s, _)| s);
        let mut out = Vec::new();
        let mut lines = Vec::new();
        for mut event in events {
            match &event.id {
                Some(id) if !held.contains(id) => {
                    held.insert(id.clone());
                }
                _ => continue,
            }
            let Some(next) = seq.checked_add(1) else {
                return Err(JournalError::SeqExhausted {
                    line: line_of_seq(&path, seq),
                    path,
                    seq,
                });
            };
            event.seq = next;
            let line = event.to_line();
            if line.len() > MAX_LINE {
                tracing::warn!(
                    timeline = %path.display(),
                    "a merged event of {} bytes is over the {MAX_LINE}-byte line limit: not copied",
                    line.len()
                );
                continue;
            }
            seq = next;
            lines.extend_from_slice(line.as_bytes());
            lines.push(b'\n');
            out.push(event);
        }
        if lines.is_empty() {
            return Ok(out);
        }
        self.file
            .write_all(&lines)
            .map_err(io_err(&path, "append to the timeline"))?;
        self.file
            .sync_data()
            .map_err(io_err(&path, "flush the timeline to disk"))?;
        Ok(out)
    }

    /// The highest valid `seq` with the latest `ts` not in the future (see
    /// [`FUTURE_SLACK`]) and, when the file does not end in a newline, where the
    /// torn line starts. Reads the last 64 KiB, and twice as much each time that
    /// holds no valid line.
    #[allow(clippy::type_complexity)]
    fn scan_tail(
        &self,
        len: u64,
        now: DateTime<Utc>,
    ) -> Result<(Option<(u64, Option<DateTime<Utc>>)>, Option<u64>), JournalError> {
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
                .fold(None, |acc: Option<(u64, Option<DateTime<Utc>>)>, e| {
                    let ts = (e.ts <= now + FUTURE_SLACK).then_some(e.ts);
                    Some(acc.map_or((e.seq, ts), |(s, t)| (s.max(e.seq), t.max(ts))))
                });
            match best {
                Some(b) => return Ok((Some(b), torn_at)),
                None if from == 0 => return Ok((None, torn_at)),
                // No whole event in the window (a long last line): twice as far back,
                // so a file is never read whole for one append.
                None => from = from.saturating_sub((len - from).max(TAIL)),
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
        let mut side = open_regular(
            &kept_in,
            OpenOptions::new().append(true).create(true).mode(0o600),
            "keep a torn line aside",
        )?;
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

/// The 1-based line of `path` whose event has `seq` (0 when it cannot be found).
fn line_of_seq(path: &Path, seq: u64) -> usize {
    let Ok(bytes) = read_regular(path) else {
        return 0;
    };
    bytes
        .split(|b| *b == b'\n')
        .position(|l| {
            std::str::from_utf8(l)
                .ok()
                .and_then(|l| Event::parse_line(l).ok())
                .is_some_and(|e| e.seq == seq)
        })
        .map_or(0, |i| i + 1)
}

/// Refuses a draft that could not be one timeline line (see [`MAX_LINE`]), before it is queued.
pub fn check_size(draft: &Draft) -> Result<(), JournalError> {
    draft
        .fits_a_line()
        .map_err(|bytes| JournalError::TooLong { bytes })
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
    /// Lines skipped and oddities (duplicate `seq`, a second copy of an event's
    /// `id`, time going backwards, a torn tail).
    pub problems: Vec<Problem>,
}

/// Reads a whole timeline (without locking: appends are whole lines): a
/// regular file only, at most [`MAX_FILE`] bytes.
pub fn read(path: &Path) -> Result<Replay, JournalError> {
    Ok(parse(&read_regular(path)?, crate::clock::now()))
}

/// Parses timeline bytes read at `now`: complete lines become events;
/// everything else is a `Problem`. An event dated more than [`FUTURE_SLACK`]
/// after `now` is kept and reported (a clock that was wrong when it was written
/// must not lose it; writers never copy its time).
pub fn parse(bytes: &[u8], now: DateTime<Utc>) -> Replay {
    let mut replay = Replay::default();
    let ends_clean = bytes.is_empty() || bytes.last() == Some(&b'\n');
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let count = lines.len();
    let mut last: Option<(u64, DateTime<Utc>)> = None;
    let mut seen = rustc_hash::FxHashSet::default();
    let mut ids = rustc_hash::FxHashMap::default();
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
                if let Some(id) = &e.id {
                    // (line, index in `events`) of the first copy; fingerprints
                    // are taken only when a second copy turns up.
                    if let Some((first, i)) = ids.get(id).copied() {
                        let same =
                            replay.events.get(i).map(Event::fingerprint) == Some(e.fingerprint());
                        let message = if same {
                            // The same event written twice (a retried write that had
                            // landed, a copy merged twice): it happened once.
                            format!(
                                "event {id} (seq {}) appears again: the copy is skipped",
                                e.seq
                            )
                        } else {
                            format!(
                                "event {id} (seq {}) claims the id of line {first} but says something else: one of the two was edited or forged; line {first} is kept, this one skipped — compare them",
                                e.seq
                            )
                        };
                        replay.problems.push(Problem { line: n, message });
                        continue;
                    }
                    ids.insert(id.clone(), (n, replay.events.len()));
                }
                if e.ts > now + FUTURE_SLACK {
                    replay.problems.push(Problem {
                        line: n,
                        message: format!(
                            "its time {} is in the future (this machine's clock says {}): kept, in file order; figures using it are off — correct the line, or the clock",
                            crate::core::event::format_ts(e.ts),
                            crate::core::event::format_ts(now)
                        ),
                    });
                }
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
        let mut file = open_regular(
            &self.path,
            OpenOptions::new().read(true),
            "open the timeline",
        )?;
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
        file.take((len - self.offset).min(MAX_FILE))
            .read_to_end(&mut fresh)
            .map_err(io_err(&self.path, "read the timeline"))?;
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);
        let mut problems = Vec::new();
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            if self.partial.len() > MAX_LINE {
                // A line that never ends: dropped, so following stays bounded.
                problems.push(Problem {
                    line: self.line + 1,
                    message: format!("a line of over {MAX_LINE} bytes without an end: skipped"),
                });
                self.partial.clear();
            }
            return Ok(Replay {
                events: Vec::new(),
                problems,
            });
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        let mut replay = parse(&complete, crate::clock::now());
        for p in &mut replay.problems {
            p.line += self.line;
        }
        self.line += complete.iter().filter(|b| **b == b'\n').count();
        Ok(replay)
    }
}

/// The timeline directory's silence log: `silence_added` / `silence_expired`
/// events (`ic silence`) and the signals silences held (`signal_silenced`).
/// Not an incident: [`timelines`] leaves it out.
pub const SILENCE_LOG: &str = "silences.jsonl";

/// The `*.jsonl` timelines in `dir`, newest first (by file name, which starts
/// with the UTC start); the silence log is not one.
pub fn timelines(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter(|p| p.file_name().is_none_or(|n| n != SILENCE_LOG))
        .collect();
    files.sort();
    files.reverse();
    files
}

/// Every timeline in `dir` (as [`timelines`] lists them) with its incident, or
/// why it could not be read; read and folded by one thread per core (at most 16).
pub fn incidents(
    dir: &Path,
) -> Vec<(
    PathBuf,
    Result<crate::core::incident::Incident, JournalError>,
)> {
    let paths = timelines(dir);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16);
    let chunk = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let readers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|path| {
                            let folded = read(path)
                                .map(|r| crate::core::incident::Incident::fold(&r.events));
                            (path.clone(), folded)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A reader that panicked loses its part, named, rather than the whole list.
        readers
            .into_iter()
            .zip(paths.chunks(chunk))
            .flat_map(|(r, part)| {
                r.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|p| {
                            (
                                p.clone(),
                                Err(JournalError::Io {
                                    path: p.clone(),
                                    action: "read it",
                                    error: io::Error::other("its reader thread failed"),
                                }),
                            )
                        })
                        .collect()
                })
            })
            .collect()
    })
}

/// The newest timeline in `dir` whose incident is still open.
pub fn newest_open(dir: &Path) -> Option<PathBuf> {
    newest_open_for(dir, "")
}

/// The newest timeline in `dir` whose incident of `service` is still open (an
/// incident or a `service` left empty matches any).
pub fn newest_open_for(dir: &Path, service: &str) -> Option<PathBuf> {
    newest_open_with_last(dir, service).map(|(p, _)| p)
}

/// Like [`newest_open_for`], with the time of its last event (how long it has
/// been quiet: an incident quiet for `incidents.stale_after` is not resumed
/// silently, and no new signal joins it).
pub fn newest_open_with_last(dir: &Path, service: &str) -> Option<(PathBuf, DateTime<Utc>)> {
    newest_open_at(dir, service, crate::clock::now())
}

/// Like [`newest_open_with_last`], read at `now`.
pub fn newest_open_at(
    dir: &Path,
    service: &str,
    now: DateTime<Utc>,
) -> Option<(PathBuf, DateTime<Utc>)> {
    timelines(dir).into_iter().find_map(|p| {
        let r = read(&p).ok()?;
        open_since(&r.events, service, now).map(|last| (p, last))
    })
}

/// When the incident in `events` last had news, if it is an open incident of
/// `service` (an incident or a `service` left empty matches any); `now` is the
/// reader's clock.
pub fn open_since(events: &[Event], service: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let opened = events.iter().find(|e| e.kind == Kind::IncidentOpened)?;
    let theirs = match opened.payload() {
        Ok(Payload::Opened(p)) => p.service,
        _ => String::new(),
    };
    let ours = service.is_empty() || theirs.is_empty() || theirs == service;
    let closed = events.iter().any(|e| e.kind == Kind::IncidentClosed);
    // An event dated past the reader's clock (a hand edit, a writer's wrong clock) is
    // not news from the incident: it would keep a stale incident fresh for years.
    let horizon = now + FUTURE_SLACK;
    let last = events
        .iter()
        .map(|e| e.ts)
        .filter(|ts| *ts <= horizon)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    (ours && !closed).then_some(last)
}

/// The time an event drafted for `at` is written with, after a last event at
/// `last`: within a couple of seconds, time never goes backwards in a file (a
/// writer that took its time just before another process's append gets that
/// event's time); a last time far ahead (a hand-edited line) is not copied.
pub fn event_time(last: Option<DateTime<Utc>>, at: DateTime<Utc>) -> DateTime<Utc> {
    match last {
        Some(t) if t > at && t - at <= ORDER_SLACK => t,
        _ => at,
    }
}

/// How [`open_or_join`] found the incident.
#[derive(Debug)]
pub enum Opening {
    /// Another process had one open for the service: this is its timeline.
    Joined(Journal),
    /// A new timeline, with its `incident_opened` event on disk.
    Created(Journal, Event),
}

/// The incident of `service` in `dir`: the newest open one with an event since
/// `stale_before`, or a new timeline titled `title` with `opened` written first.
/// Done under a lock on the directory, so processes watching the same service
/// never open two; when `opened` cannot be written, no file is left behind.
pub fn open_or_join(
    dir: &Path,
    service: &str,
    started: DateTime<Utc>,
    stale_before: DateTime<Utc>,
    title: &str,
    opened: Draft,
) -> Result<Opening, JournalError> {
    with_dir_lock(dir, || {
        // Read at the opener's time when its clock is ahead of the process's (a test's clock).
        let now = crate::clock::now().max(started);
        let fresh = newest_open_at(dir, service, now).filter(|(_, last)| *last >= stale_before);
        match fresh {
            Some((path, _)) => Journal::open(&path).map(Opening::Joined),
            None => Journal::create(dir, started, title).and_then(|mut j| {
                match j.append(opened, started) {
                    Ok(e) => Ok(Opening::Created(j, e)),
                    Err(e) => {
                        // Nothing acknowledged is in it: no empty file stands for an open
                        // incident another process would not see (and would open again).
                        let _ = fs::remove_file(j.path());
                        Err(e)
                    }
                }
            }),
        }
    })
}

/// Runs `f` holding the timeline directory's lock (`.ic-open.lock`), which
/// every process that opens or copies an incident takes.
fn with_dir_lock<T>(
    dir: &Path,
    f: impl FnOnce() -> Result<T, JournalError>,
) -> Result<T, JournalError> {
    ensure_dir(dir)?;
    let lock_path = dir.join(".ic-open.lock");
    let lock = open_regular(
        &lock_path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600),
        "lock the timeline directory",
    )?;
    lock.lock()
        .map_err(io_err(&lock_path, "lock the timeline directory"))?;
    let result = f();
    let _ = lock.unlock();
    result
}

/// The incident a timeline holds: the `id` of its first line when that is an
/// `incident_opened` event (only the first line is read).
pub fn incident_id(path: &Path) -> Option<EventId> {
    let file = open_regular(path, OpenOptions::new().read(true), "open the timeline").ok()?;
    let mut first = Vec::new();
    file.take(MAX_LINE as u64 + 1)
        .read_to_end(&mut first)
        .ok()?;
    let end = first.iter().position(|b| *b == b'\n')?;
    let event = Event::parse_line(std::str::from_utf8(&first[..end]).ok()?).ok()?;
    (event.kind == Kind::IncidentOpened)
        .then_some(event.id)
        .flatten()
}

/// The timeline of the team incident opened by `opened` (its
/// `incident_opened` event, from another responder) in `dir`: the file that
/// holds it, else a new file with that event copied in. Done under the
/// directory's lock, so two processes copying one incident make one file.
pub fn team_timeline(dir: &Path, opened: &Event) -> Result<Journal, JournalError> {
    with_dir_lock(dir, || {
        let existing = timelines(dir)
            .into_iter()
            .find(|p| opened.id.is_some() && incident_id(p) == opened.id);
        match existing {
            Some(path) => Journal::open(&path),
            None => {
                let title = match opened.payload() {
                    Ok(Payload::Opened(p)) => p.title,
                    _ => "incident".to_string(),
                };
                // Named by when it opened, never later than now (a copy never sorts first by a forged date).
                Journal::create(dir, opened.ts.min(crate::clock::now()), &title).and_then(
                    |mut j| match j.merge(vec![opened.clone()], crate::clock::now()) {
                        Ok(_) => Ok(j),
                        Err(e) => {
                            let _ = fs::remove_file(j.path());
                            Err(e)
                        }
                    },
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn merging_copies_keep_their_time_and_id_and_never_land_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut ours = Journal::create(dir.path(), t(0), "pool").unwrap();
        let opened = ours
            .append(Draft::opened("ann", "pool", "shop"), t(0))
            .unwrap();
        ours.append(Draft::note("ann", "mine", &[]), t(5)).unwrap();
        // Another responder's events, one older than our last, one newer, out of order.
        let theirs_dir = tempfile::tempdir().unwrap();
        let mut theirs = Journal::create(theirs_dir.path(), t(0), "pool").unwrap();
        let late = theirs
            .append(Draft::note("bob", "late", &[]), t(9))
            .unwrap();
        let early = theirs
            .append(Draft::note("bob", "early", &[]), t(3))
            .unwrap();
        // A replay of `late`'s id with another time in the same batch: the first copy wins.
        let mut forged = late.clone();
        forged.ts = t(1);
        forged.msg = "forged".into();
        let written = ours
            .merge(
                vec![late.clone(), early.clone(), late.clone(), forged],
                t(10),
            )
            .unwrap();
        assert_eq!(written.len(), 2);
        // Their own time (no order fixing for copies) and id; our seq.
        assert_eq!((written[0].ts, &written[0].id), (t(3), &early.id));
        assert_eq!((written[1].ts, &written[1].id), (t(9), &late.id));
        assert_eq!((written[0].seq, written[1].seq), (3, 4));
        // Merging again (a replay after reconnect) and our own event: nothing.
        assert!(
            ours.merge(vec![early, late, opened.clone()], t(11))
                .unwrap()
                .is_empty()
        );
        let r = read(ours.path()).unwrap();
        assert_eq!(r.events.len(), 4);
        // An event without an id cannot be recognised later: never merged.
        let mut anonymous = Draft::note("eve", "no id", &[]).into_event(1, t(4));
        anonymous.id = None;
        assert!(ours.merge(vec![anonymous], t(12)).unwrap().is_empty());
        // A torn tail is set aside first, as for an append.
        let mut f = OpenOptions::new().append(true).open(ours.path()).unwrap();
        f.write_all(b"{\"seq\":9,\"ts\"").unwrap();
        let mut extra = Draft::note("bob", "after the tear", &[]).into_event(1, t(13));
        extra.id = Some(EventId::v7(t(13), [9; 10]));
        assert_eq!(ours.merge(vec![extra], t(14)).unwrap()[0].seq, 5);
        let problems = read(ours.path()).unwrap().problems;
        assert!(
            problems.iter().all(|p| p.message.contains("backwards")),
            "only the copies' own (earlier) times: {problems:?}"
        );
        // The incident's file is found by its opening's id, never made twice.
        assert_eq!(incident_id(ours.path()), opened.id);
        let again = team_timeline(dir.path(), &opened).unwrap();
        assert_eq!(again.path(), ours.path());
        let copy = team_timeline(theirs_dir.path(), &opened).unwrap();
        assert_ne!(
            copy.path(),
            theirs.path(),
            "their file holds another incident"
        );
        assert_eq!(incident_id(copy.path()), opened.id);
        assert_eq!(
            team_timeline(theirs_dir.path(), &opened).unwrap().path(),
            copy.path()
        );
    }

    #[test]
    fn appends_number_lines_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let tl = dir.path().join("incidents");
        let mut j = Journal::create(&tl, t(0), "Payments 5xx / pool!").unwrap();
        assert!(
            j.path()
                .ends_with("20231114T221320Z-payments-5xx-pool.jsonl"),
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
    fn every_appended_event_gets_a_global_id_and_old_lines_without_one_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        // A line written by an older version: no `id`.
        fs::write(
            &path,
            "{\"seq\":1,\"ts\":\"2023-11-14T22:13:21.000Z\",\"kind\":\"note\",\"actor\":\"a\",\"msg\":\"old\"}\n",
        )
        .unwrap();
        let mut j = Journal::open(&path).unwrap();
        let mut ids = std::collections::HashSet::new();
        for i in 0..200 {
            let e = j
                .append(Draft::note("a", "new", &[]), t(2 + i / 50))
                .unwrap();
            let id = e.id.clone().expect("a new event has an id");
            assert_eq!(id.as_str().len(), 36, "{id}");
            assert_eq!(&id.as_str()[14..15], "7", "a UUID v7: {id}");
            assert!(ids.insert(id), "ids are unique");
        }
        // An event copied from elsewhere keeps the id it came with.
        let mut copied = Draft::note("b", "from bob's machine", &[]);
        copied.id = Some(EventId::parse("0190a4f0-0000-7000-8000-000000000001").unwrap());
        let e = j.append(copied.clone(), t(9)).unwrap();
        assert_eq!(e.id, copied.id);
        let r = read(&path).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.events.len(), 202);
        assert_eq!(r.events[0].id, None);
        assert_eq!(r.events[0].msg, "old");
        // Time-ordered: ids of later events sort after earlier ones' (ms resolution).
        let first = r.events[1].id.clone().unwrap();
        let last = r.events[200].id.clone().unwrap();
        assert!(first < last, "{first} < {last}");
    }

    #[test]
    fn a_second_copy_of_an_event_is_skipped_and_reported() {
        let mut e = Draft::note("a", "once", &[]).into_event(1, t(1));
        e.id = Some(EventId::v7(t(1), [7; 10]));
        let mut copy = e.clone();
        copy.seq = 2;
        let other = Draft::note("b", "another", &[]).into_event(3, t(2));
        let text = format!("{}\n{}\n{}\n", e.to_line(), copy.to_line(), other.to_line());
        let r = parse(text.as_bytes(), t(10));
        assert_eq!(r.events, vec![e, other]);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert_eq!(r.problems[0].line, 2);
        assert!(
            r.problems[0]
                .message
                .contains("appears again: the copy is skipped")
        );
    }

    #[test]
    fn a_copy_of_an_id_that_says_something_else_is_reported_as_edited_or_forged() {
        let mut e = Draft::note("ann", "rolled back at 03:10", &[]).into_event(1, t(1));
        e.id = Some(EventId::v7(t(1), [7; 10]));
        let mut forged = e.clone();
        forged.seq = 2;
        forged.msg = "nobody rolled back".into();
        let text = format!("{}\n{}\n", e.to_line(), forged.to_line());
        let r = parse(text.as_bytes(), t(10));
        assert_eq!(r.events, vec![e]);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        let said = &r.problems[0].message;
        assert!(
            said.contains("edited or forged") && said.contains("line 1"),
            "{said}"
        );
    }

    #[test]
    fn a_torn_tail_is_set_aside_and_numbering_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.append(Draft::note("a", "one", &[]), t(1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":2,"ts":"2023-11-14T22:13:22.000Z","kind":"no"#)
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
        let r = parse(&bytes, t(100));
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
    fn a_seq_that_cannot_increase_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.append(Draft::note("a", "one", &[]), t(1)).unwrap();
        let forged = Draft::note("x", "forged", &[]).into_event(u64::MAX, t(2));
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        writeln!(f, "{}", forged.to_line()).unwrap();
        let e = j.append(Draft::note("a", "two", &[]), t(3)).unwrap_err();
        assert!(
            matches!(
                e,
                JournalError::SeqExhausted {
                    line: 2,
                    seq: u64::MAX,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.is_usage() && e.to_string().contains("x.jsonl:2:"), "{e}");
        assert_eq!(read(&path).unwrap().events.len(), 2, "nothing was written");
    }

    #[test]
    fn a_time_in_the_future_is_reported_and_never_copied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let now = crate::clock::now();
        let mut j = Journal::open(&path).unwrap();
        j.append(Draft::note("a", "one", &[]), now).unwrap();
        let far = chrono::Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap();
        let forged = Draft::note("x", "from the future", &[]).into_event(2, far);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        writeln!(f, "{}", forged.to_line()).unwrap();
        let e = j.append(Draft::note("a", "two", &[]), now).unwrap();
        assert_eq!((e.seq, e.ts), (3, now), "the clock's time, not 9999");
        let r = read(&path).unwrap();
        assert_eq!(r.events.len(), 3, "the future line is kept");
        assert!(
            r.problems
                .iter()
                .any(|p| p.line == 2 && p.message.contains("in the future")),
            "{:?}",
            r.problems
        );
        // A draft kept while the disk was full keeps its own, earlier time.
        let mut late = Draft::note("a", "kept in memory", &[]);
        late.at = Some(now - chrono::Duration::seconds(30));
        let e = j.append(late, now).unwrap();
        assert_eq!(e.ts, now - chrono::Duration::seconds(30));
    }

    #[test]
    fn one_limit_for_writers_and_readers() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("x.jsonl")).unwrap();
        let big = Draft::note("a", &"x".repeat(MAX_LINE), &[]);
        assert!(matches!(
            check_size(&big),
            Err(JournalError::TooLong { .. })
        ));
        let e = j.append(big, t(1)).unwrap_err();
        assert!(e.to_string().contains("over the 1048576-byte limit"), "{e}");
        let fits = Draft::note("a", &"x".repeat(MAX_LINE - 200), &[]);
        check_size(&fits).unwrap();
        let written = j.append(fits, t(2)).unwrap();
        assert_eq!(
            read(j.path()).unwrap().events,
            vec![written],
            "a reader takes what a writer wrote"
        );
    }

    #[test]
    fn symlinks_fifos_and_open_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious.txt");
        std::fs::write(&target, "keep me\nno newline").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = Journal::open(&link).unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert!(read(&link).is_err());
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "keep me\nno newline"
        );
        let fifo = dir.path().join("fifo.jsonl");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = Journal::open(&fifo).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        assert!(read(&fifo).unwrap_err().to_string().contains("FIFO"));
        assert!(Follower::new(&fifo, true).poll().is_err());
        let zero = dir.path().join("zero.jsonl");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(read(&zero).is_err());
        assert!(
            timelines(dir.path()).is_empty(),
            "only regular files are timelines"
        );
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let e = Journal::create(&open, t(0), "x").unwrap_err();
        assert!(e.to_string().contains("chmod o-w"), "{e}");
    }

    #[test]
    fn names_never_collide_and_one_incident_is_open_per_service() {
        let dir = tempfile::tempdir().unwrap();
        let a = Journal::create(dir.path(), t(0), "same").unwrap();
        let b = Journal::create(dir.path(), t(0), "same").unwrap();
        assert_ne!(a.path(), b.path());
        let first = open_or_join(
            dir.path(),
            "shop",
            t(1),
            t(-3600),
            "down",
            Draft::opened("ic", "down", "shop"),
        )
        .unwrap();
        let Opening::Created(j, e) = first else {
            panic!("{first:?}")
        };
        assert_eq!(e.kind, Kind::IncidentOpened);
        let second = open_or_join(
            dir.path(),
            "shop",
            t(2),
            t(-3600),
            "down",
            Draft::opened("ic", "down", "shop"),
        )
        .unwrap();
        let Opening::Joined(k) = second else {
            panic!("{second:?}")
        };
        assert_eq!(j.path(), k.path());
        let other = open_or_join(
            dir.path(),
            "search",
            t(3),
            t(-3600),
            "x",
            Draft::opened("ic", "x", "search"),
        )
        .unwrap();
        assert!(
            matches!(other, Opening::Created(..)),
            "another service gets its own"
        );
        // Quiet for longer than `stale_after`: a new signal opens a new incident.
        let later = open_or_join(
            dir.path(),
            "shop",
            t(7300),
            t(7300 - 3600),
            "down again",
            Draft::opened("ic", "down again", "shop"),
        )
        .unwrap();
        let Opening::Created(n, _) = later else {
            panic!("{later:?}")
        };
        assert_ne!(n.path(), j.path(), "never into the stale incident");
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
