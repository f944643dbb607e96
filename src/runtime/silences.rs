//! The runtime's side of silences: the timeline directory's silence log is
//! followed once a second (what `ic silence add` / `expire` wrote reaches the
//! engine within a tick) and the signals a silence held are appended to it.
//! A log that cannot be read or written is said once, not every second.

use super::timelines::{Timeline, Timelines};
use crate::core::event::{Draft, Event, Kind};
use crate::core::silence::{self, Silence};
use chrono::{DateTime, Utc};

/// The silence log as this process follows it.
#[derive(Default)]
pub struct SilenceLog {
    log: Option<Box<dyn Timeline>>,
    /// Its `silence_added` / `silence_expired` events so far (the held
    /// signals it also records do not matter to the fold).
    events: Vec<Event>,
    /// The last problem said (said again only when it changes).
    said: Option<String>,
    /// The highest `seq` read: a line at or under it means the file was
    /// replaced or shortened (a hand edit) and is being read again from its start.
    last_seq: u64,
}

/// What following the log found.
pub enum Found {
    /// Nothing new.
    Nothing,
    /// The silences now (all of them).
    Silences(Vec<Silence>),
    /// A problem to tell the responder (said once).
    Problem(String),
}

impl SilenceLog {
    /// Reads what was appended since the last call.
    pub fn poll(&mut self, timelines: &dyn Timelines) -> Found {
        if self.log.is_none() {
            match timelines.silence_log(false) {
                Ok(Some(log)) => self.log = Some(log),
                Ok(None) => return Found::Nothing,
                Err(e) => return self.problem(format!("cannot read the silence log: {e}")),
            }
        }
        let Some(log) = self.log.as_mut() else {
            return Found::Nothing;
        };
        let fresh = match log.poll() {
            Ok(events) => events,
            Err(e) => return self.problem(format!("cannot read the silence log: {e}")),
        };
        let reread = fresh.first().is_some_and(|e| e.seq <= self.last_seq);
        if reread {
            self.events.clear();
        }
        self.last_seq = fresh.iter().map(|e| e.seq).max().unwrap_or(self.last_seq);
        let before = self.events.len();
        self.events.extend(
            fresh
                .into_iter()
                .filter(|e| matches!(e.kind, Kind::SilenceAdded | Kind::SilenceExpired)),
        );
        if self.events.len() == before && !reread {
            return Found::Nothing;
        }
        let (silences, problems) = silence::fold(&self.events);
        for (seq, why) in &problems {
            tracing::warn!(seq, "silence log: {why}");
        }
        self.said = None;
        Found::Silences(silences)
    }

    /// Appends a held signal's record (creating the log when a maintenance
    /// window held it and no silence was ever added).
    pub fn record(
        &mut self,
        timelines: &dyn Timelines,
        draft: Draft,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        if self.log.is_none() {
            self.log = timelines
                .silence_log(true)
                .map_err(|e| format!("cannot open the silence log: {e}"))?;
        }
        let Some(log) = self.log.as_mut() else {
            return Err("the silence log could not be created".into());
        };
        log.append(draft, now)
            .map(drop)
            .map_err(|e| format!("a silenced signal was not recorded in the silence log: {e}"))
    }

    fn problem(&mut self, text: String) -> Found {
        if self.said.as_ref() == Some(&text) {
            return Found::Nothing;
        }
        tracing::warn!("{text}");
        self.said = Some(text.clone());
        Found::Problem(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::payload::{self, to_data};
    use crate::journal::SILENCE_LOG;
    use crate::runtime::timelines::MemoryTimelines;
    use chrono::TimeZone;

    fn added(target: &str) -> Draft {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        Draft::new(
            Kind::SilenceAdded,
            "ann",
            "x",
            to_data(&payload::SilenceAdded {
                target: target.into(),
                starts: Some(now),
                ends: Some(now + chrono::Duration::hours(1)),
                reason: "deploy".into(),
                ..Default::default()
            }),
        )
    }

    fn targets(found: Found) -> Option<Vec<String>> {
        match found {
            Found::Silences(v) => Some(v.iter().map(|s| s.matcher.text().to_string()).collect()),
            _ => None,
        }
    }

    #[test]
    fn appends_are_learnt_and_a_replaced_log_is_read_again_from_its_start() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let store = MemoryTimelines::new(std::path::Path::new("/t"));
        let mut log = SilenceLog::default();
        assert!(matches!(log.poll(&store), Found::Nothing), "no log yet");
        let path = std::path::Path::new("/t").join(SILENCE_LOG);
        store.append(&path, added("payments"), now).unwrap();
        assert_eq!(targets(log.poll(&store)), Some(vec!["payments".into()]));
        assert!(matches!(log.poll(&store), Found::Nothing), "nothing new");
        store.append(&path, added("search"), now).unwrap();
        assert_eq!(
            targets(log.poll(&store)),
            Some(vec!["payments".into(), "search".into()])
        );
        // A hand edit leaves one line: the running engine sees exactly it.
        store.remove(&path);
        store.append(&path, added("orders"), now).unwrap();
        assert_eq!(targets(log.poll(&store)), Some(vec!["orders".into()]));
    }
}
