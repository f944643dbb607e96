//! The runtime's timeline port: where incidents' timelines live, how one is
//! found open, created or joined, appended to and followed. The real one
//! ([`FileTimelines`]) is the JSON Lines files of the timeline directory
//! (`crate::journal`: locked appends, fsync, a directory lock so two processes
//! never open two incidents); [`MemoryTimelines`] keeps them in memory, for
//! tests that run the real loop and need to see, inject or refuse writes.

use crate::core::event::{Draft, Event, EventId};
use crate::journal::{self, Follower, Journal, JournalError, Opening};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// One incident's timeline, open for appending and following.
pub trait Timeline: Send {
    /// Where it is (shown to the responder; the identity of the timeline).
    fn path(&self) -> &Path;
    /// Appends `draft` (its time `draft.at`, else `now`), numbered after the
    /// last event; the returned event is stored.
    fn append(&mut self, draft: Draft, now: DateTime<Utc>) -> Result<Event, JournalError>;
    /// The events anyone appended since the last call (the first call: all of them).
    fn poll(&mut self) -> Result<Vec<Event>, JournalError>;
    /// How many times the timeline was found moved or deleted, and recreated.
    fn moved(&self) -> usize;
}

/// How [`Timelines::open_or_join`] found the incident.
pub enum Opened {
    /// Another process had one open for the service: this is its timeline.
    Joined(Box<dyn Timeline>),
    /// A new timeline, with its `incident_opened` event stored.
    Created(Box<dyn Timeline>, Event),
}

/// Where the timelines live.
pub trait Timelines: Send {
    /// The newest open incident of `service` with the time of its last event
    /// (`now` is the reader's clock: events dated far past it are not news).
    fn newest_open(&self, service: &str, now: DateTime<Utc>) -> Option<(PathBuf, DateTime<Utc>)>;
    /// Opens the timeline at `path` (following it from its start).
    fn open(&self, path: &Path) -> Result<Box<dyn Timeline>, JournalError>;
    /// The newest open incident of `service` with an event since
    /// `stale_before`, or a new timeline titled `title` starting at `started`
    /// with `opened` stored first — atomically with respect to other openers.
    fn open_or_join(
        &self,
        service: &str,
        started: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        title: &str,
        opened: Draft,
    ) -> Result<Opened, JournalError>;
    /// Renders the postmortem of the timeline at `path` and stores it beside
    /// it; returns where.
    fn write_postmortem(&self, path: &Path) -> Result<PathBuf, String>;
    /// The directory's silence log ([`journal::SILENCE_LOG`]), followed from
    /// its start; `None` while it does not exist, unless `create`.
    fn silence_log(&self, create: bool) -> Result<Option<Box<dyn Timeline>>, JournalError>;
}

/// The timeline files of a directory.
pub struct FileTimelines {
    dir: PathBuf,
}

impl FileTimelines {
    /// The timelines in `dir`.
    pub fn new(dir: PathBuf) -> FileTimelines {
        FileTimelines { dir }
    }
}

/// A timeline file: appended through a [`Journal`], followed by a [`Follower`].
struct FileTimeline {
    journal: Journal,
    follower: Follower,
}

impl FileTimeline {
    fn of(journal: Journal) -> Box<dyn Timeline> {
        let follower = Follower::new(journal.path(), true);
        Box::new(FileTimeline { journal, follower })
    }
}

impl Timeline for FileTimeline {
    fn path(&self) -> &Path {
        self.journal.path()
    }

    fn append(&mut self, draft: Draft, now: DateTime<Utc>) -> Result<Event, JournalError> {
        self.journal.append(draft, now)
    }

    fn poll(&mut self) -> Result<Vec<Event>, JournalError> {
        let replay = self.follower.poll()?;
        for p in &replay.problems {
            tracing::warn!(timeline = %self.journal.path().display(), line = p.line, "{}", p.message);
        }
        Ok(replay.events)
    }

    fn moved(&self) -> usize {
        self.journal.moved()
    }
}

impl Timelines for FileTimelines {
    fn newest_open(&self, service: &str, now: DateTime<Utc>) -> Option<(PathBuf, DateTime<Utc>)> {
        journal::newest_open_at(&self.dir, service, now)
    }

    fn open(&self, path: &Path) -> Result<Box<dyn Timeline>, JournalError> {
        Journal::open(path).map(FileTimeline::of)
    }

    fn open_or_join(
        &self,
        service: &str,
        started: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        title: &str,
        opened: Draft,
    ) -> Result<Opened, JournalError> {
        Ok(
            match journal::open_or_join(&self.dir, service, started, stale_before, title, opened)? {
                Opening::Joined(j) => Opened::Joined(FileTimeline::of(j)),
                Opening::Created(j, e) => Opened::Created(FileTimeline::of(j), e),
            },
        )
    }

    fn write_postmortem(&self, path: &Path) -> Result<PathBuf, String> {
        let out = path.with_extension("postmortem.md");
        let replay = journal::read(path).map_err(|e| e.to_string())?;
        let text = crate::core::postmortem::markdown(&replay.events);
        crate::paths::write_private(&out, text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn silence_log(&self, create: bool) -> Result<Option<Box<dyn Timeline>>, JournalError> {
        let path = self.dir.join(journal::SILENCE_LOG);
        if !create && std::fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        Journal::open(&path).map(|j| Some(FileTimeline::of(j)))
    }
}

/// Timelines in memory, shared by every clone: a test hands one to the
/// runtime and keeps another to look at what was stored, to append as
/// another responder would, or to make the "disk" refuse writes.
#[derive(Clone, Default)]
pub struct MemoryTimelines(Arc<Mutex<Store>>);

#[derive(Default)]
struct Store {
    dir: PathBuf,
    files: BTreeMap<PathBuf, Vec<Event>>,
    postmortems: BTreeMap<PathBuf, String>,
    /// Set: every write fails as a full disk does.
    full: bool,
}

impl MemoryTimelines {
    /// An empty store whose timelines are named as if in `dir`.
    pub fn new(dir: &Path) -> MemoryTimelines {
        let store = Store {
            dir: dir.to_path_buf(),
            ..Store::default()
        };
        MemoryTimelines(Arc::new(Mutex::new(store)))
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A test that panicked while holding the lock left whole values behind.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The timelines stored, oldest first.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.store().files.keys().cloned().collect()
    }

    /// The events of the timeline at `path`, in order (empty when there is none).
    pub fn events(&self, path: &Path) -> Vec<Event> {
        self.store().files.get(path).cloned().unwrap_or_default()
    }

    /// Stores `event` exactly as given at the end of `path` (created if
    /// missing): a line another process wrote, a copy, a forgery.
    pub fn push_raw(&self, path: &Path, event: Event) {
        self.store()
            .files
            .entry(path.to_path_buf())
            .or_default()
            .push(event);
    }

    /// Appends `draft` to `path` as another writer would (numbered, timed, given an id).
    pub fn append(
        &self,
        path: &Path,
        draft: Draft,
        now: DateTime<Utc>,
    ) -> Result<Event, JournalError> {
        self.store().append(path, draft, now)
    }

    /// Removes the timeline at `path` (deleted behind the writer's back).
    pub fn remove(&self, path: &Path) {
        self.store().files.remove(path);
    }

    /// Makes every write fail as on a full disk (`true`), or succeed again.
    pub fn set_full(&self, full: bool) {
        self.store().full = full;
    }

    /// The postmortem written beside `path`, if any.
    pub fn postmortem(&self, path: &Path) -> Option<String> {
        self.store()
            .postmortems
            .get(&path.with_extension("postmortem.md"))
            .cloned()
    }
}

impl Store {
    fn refuse(&self, path: &Path) -> Result<(), JournalError> {
        if self.full {
            return Err(JournalError::Io {
                path: path.to_path_buf(),
                action: "append to the timeline",
                error: std::io::Error::from_raw_os_error(libc::ENOSPC),
            });
        }
        Ok(())
    }

    fn append(
        &mut self,
        path: &Path,
        mut draft: Draft,
        now: DateTime<Utc>,
    ) -> Result<Event, JournalError> {
        self.refuse(path)?;
        journal::check_size(&draft)?;
        let file = self.files.entry(path.to_path_buf()).or_default();
        let last = file.iter().map(|e| e.seq).max().unwrap_or(0);
        let Some(seq) = last.checked_add(1) else {
            return Err(JournalError::SeqExhausted {
                path: path.to_path_buf(),
                line: file.len(),
                seq: last,
            });
        };
        let ts = journal::event_time(file.iter().map(|e| e.ts).max(), draft.at.unwrap_or(now));
        draft
            .id
            .get_or_insert_with(|| EventId::v7(ts, rand::random()));
        let event = draft.into_event(seq, ts);
        file.push(event.clone());
        Ok(event)
    }
}

/// One in-memory timeline: its path and how far it was followed.
struct MemoryTimeline {
    store: MemoryTimelines,
    path: PathBuf,
    read: usize,
    moved: usize,
}

impl MemoryTimeline {
    fn of(store: &MemoryTimelines, path: PathBuf) -> Box<dyn Timeline> {
        Box::new(MemoryTimeline {
            store: store.clone(),
            path,
            read: 0,
            moved: 0,
        })
    }
}

impl Timeline for MemoryTimeline {
    fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, draft: Draft, now: DateTime<Utc>) -> Result<Event, JournalError> {
        let mut store = self.store.store();
        if !store.full && !store.files.contains_key(&self.path) {
            // As a file deleted under the writer: continued in a new one at the same path.
            self.moved += 1;
            self.read = 0;
        }
        store.append(&self.path, draft, now)
    }

    fn poll(&mut self) -> Result<Vec<Event>, JournalError> {
        let store = self.store.store();
        let events = store.files.get(&self.path).map_or(&[][..], Vec::as_slice);
        // A timeline that shrank (replaced) is read again from its start, as a file is.
        if events.len() < self.read {
            self.read = 0;
        }
        let fresh = events[self.read..].to_vec();
        self.read = events.len();
        Ok(fresh)
    }

    fn moved(&self) -> usize {
        self.moved
    }
}

impl Timelines for MemoryTimelines {
    fn newest_open(&self, service: &str, now: DateTime<Utc>) -> Option<(PathBuf, DateTime<Utc>)> {
        let store = self.store();
        store.files.iter().rev().find_map(|(p, events)| {
            journal::open_since(events, service, now).map(|t| (p.clone(), t))
        })
    }

    fn open(&self, path: &Path) -> Result<Box<dyn Timeline>, JournalError> {
        let mut store = self.store();
        if !store.files.contains_key(path) {
            store.refuse(path)?;
            store.files.insert(path.to_path_buf(), Vec::new());
        }
        Ok(MemoryTimeline::of(self, path.to_path_buf()))
    }

    fn open_or_join(
        &self,
        service: &str,
        started: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        title: &str,
        opened: Draft,
    ) -> Result<Opened, JournalError> {
        if let Some((path, _)) = self
            .newest_open(service, started)
            .filter(|(_, last)| *last >= stale_before)
        {
            return Ok(Opened::Joined(MemoryTimeline::of(self, path)));
        }
        let mut store = self.store();
        let dir = store.dir.clone();
        let mut n = 1;
        let path = loop {
            let name = if n == 1 {
                journal::file_name(started, title)
            } else {
                journal::file_name(started, &format!("{title} {n}"))
            };
            let path = dir.join(name);
            if !store.files.contains_key(&path) {
                break path;
            }
            n += 1;
        };
        // Nothing is left behind when the first event cannot be stored.
        let event = store.append(&path, opened, started)?;
        Ok(Opened::Created(MemoryTimeline::of(self, path), event))
    }

    fn write_postmortem(&self, path: &Path) -> Result<PathBuf, String> {
        let mut store = self.store();
        let Some(events) = store.files.get(path) else {
            return Err(format!("{}: no such timeline", path.display()));
        };
        let text = crate::core::postmortem::markdown(events);
        let out = path.with_extension("postmortem.md");
        store.postmortems.insert(out.clone(), text);
        Ok(out)
    }

    fn silence_log(&self, create: bool) -> Result<Option<Box<dyn Timeline>>, JournalError> {
        let path = self.store().dir.join(journal::SILENCE_LOG);
        if !create && !self.store().files.contains_key(&path) {
            return Ok(None);
        }
        self.open(&path).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Kind;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    /// The same story told to both ports: what each stores and answers.
    fn story(store: &dyn Timelines) -> Vec<String> {
        let mut said = Vec::new();
        let opened = |service: &str| Draft::opened("ic", "pool", service);
        let first = store
            .open_or_join("shop", t(0), t(-3600), "pool", opened("shop"))
            .unwrap();
        let Opened::Created(mut a, e) = first else {
            panic!("the first open creates")
        };
        said.push(format!("created seq {} {:?}", e.seq, a.path().file_name()));
        // A second opener joins instead of opening another incident.
        let Opened::Joined(mut b) = store
            .open_or_join("shop", t(1), t(-3600), "pool", opened("shop"))
            .unwrap()
        else {
            panic!("the second open joins")
        };
        assert_eq!(a.path(), b.path());
        // Another service's incident is apart.
        let Opened::Created(other, _) = store
            .open_or_join("search", t(2), t(-3600), "pool", opened("search"))
            .unwrap()
        else {
            panic!("another service opens its own")
        };
        assert_ne!(other.path(), a.path());
        // Appends are numbered in order; a writer whose clock is a second behind does
        // not make time go backwards; ids are given.
        let n1 = a.append(Draft::note("ann", "one", &[]), t(5)).unwrap();
        let n2 = b.append(Draft::note("bob", "two", &[]), t(4)).unwrap();
        said.push(format!("seqs {} {} ts {} {}", n1.seq, n2.seq, n1.ts, n2.ts));
        assert!(n1.id.is_some() && n2.id.is_some() && n1.id != n2.id);
        // Each follower sees everything once, from the start.
        let seen: Vec<u64> = b.poll().unwrap().iter().map(|e| e.seq).collect();
        said.push(format!("b saw {seen:?}"));
        let again = b.poll().unwrap();
        said.push(format!("b saw {} more", again.len()));
        let newest = store.newest_open("shop", t(10));
        said.push(format!(
            "newest open last {:?}",
            newest.as_ref().map(|n| n.1)
        ));
        assert_eq!(newest.map(|n| n.0).as_deref(), Some(a.path()));
        // Closed: no longer open, and a stale one is not joined.
        a.append(
            Draft::new(
                Kind::IncidentClosed,
                "ann",
                "closed".to_string(),
                serde_json::json!({}),
            ),
            t(20),
        )
        .unwrap();
        said.push(format!(
            "open after close: {}",
            store.newest_open("shop", t(30)).is_some()
        ));
        let Opened::Created(c, _) = store
            .open_or_join("search", t(7200), t(3600), "pool", opened("search"))
            .unwrap()
        else {
            panic!("a stale incident is not joined")
        };
        assert_ne!(c.path(), other.path());
        said.push(format!(
            "pm {:?}",
            store
                .write_postmortem(a.path())
                .map(|p| p.file_name().map(|n| n.to_owned()))
        ));
        said
    }

    #[test]
    fn the_memory_port_answers_as_the_files_do() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileTimelines::new(dir.path().join("incidents"));
        let memory = MemoryTimelines::new(&dir.path().join("incidents"));
        assert_eq!(story(&files), story(&memory));
    }

    #[test]
    fn a_full_memory_disk_refuses_with_the_file_error_and_keeps_nothing() {
        let memory = MemoryTimelines::new(Path::new("/x"));
        memory.set_full(true);
        let err = match memory.open_or_join(
            "shop",
            t(0),
            t(-1),
            "pool",
            Draft::opened("ic", "pool", "shop"),
        ) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a full disk refuses"),
        };
        assert!(err.contains("disk is full"), "{err}");
        assert!(
            memory.paths().is_empty(),
            "no empty timeline stands for an incident"
        );
    }
}
