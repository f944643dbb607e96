//! Silences and maintenance windows: which targets must not page, from when
//! until when, and why. A silence is added (`ic silence add`) or expired
//! (`ic silence expire`) as an event of the timeline directory's silence log;
//! the log's fold says which silences exist. A maintenance window from the
//! config is a silence that recurs (weekly) or has fixed bounds. A silenced
//! signal is shown and recorded but never opens an incident or pages. Pure.

use crate::core::event::{Event, Kind};
use crate::core::payload::{self, Payload};
use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use serde::Deserialize;

/// The longest a silence may last: a forgotten silence hides the next outage.
pub const MAX_SILENCE: Duration = Duration::days(7);

/// How long before its end a silence warns that it is ending.
pub const WARN_BEFORE: Duration = Duration::minutes(5);

/// Most characters of a target pattern or a reason.
pub const MAX_TEXT: usize = 200;

/// Most silences in force or to come at once: past these, `silence_added`
/// lines are reported and ignored (a log grown by a script gone wrong must not
/// slow every signal). Silences that ended do not count.
pub const MAX_SILENCES: usize = 10_000;

/// Which targets a silence covers: every target of the service, or those
/// whose name matches a pattern where `*` stands for any run of characters
/// (`payments`, `demo /api/*`, `* /checkout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// Every target (`--all`).
    All,
    /// Targets whose name matches.
    Pattern(String),
}

impl Matcher {
    /// Reads a pattern as written (`*` alone is every target); refuses empty
    /// text, control characters and overlong patterns.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err(
                "the target is empty: name one (as the endpoints table shows it), or use --all"
                    .into(),
            );
        }
        check_text("the target", t)?;
        Ok(if t.chars().all(|c| c == '*') {
            Matcher::All
        } else {
            Matcher::Pattern(t.to_string())
        })
    }

    /// Whether `target` (a target's name as shown) is covered.
    pub fn matches(&self, target: &str) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Pattern(p) => glob(p, target),
        }
    }

    /// As written in events and shown: `*` for every target.
    pub fn text(&self) -> &str {
        match self {
            Matcher::All => "*",
            Matcher::Pattern(p) => p,
        }
    }
}

/// `*`-only glob, linear in the input (greedy with one backtrack point).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn check_text(what: &str, t: &str) -> Result<(), String> {
    if t.chars().count() > MAX_TEXT {
        return Err(format!("{what} is longer than {MAX_TEXT} characters"));
    }
    if t.chars().any(char::is_control) {
        return Err(format!(
            "{what} holds a control character (a line break, an escape): write it on one plain line"
        ));
    }
    Ok(())
}

/// Checks a silence's reason: required, one short line.
pub fn check_reason(reason: &str) -> Result<(), String> {
    if reason.trim().is_empty() {
        return Err("a silence needs a reason (--reason \"deploy 4.2\"): at 3 a.m. someone will ask why the pager was quiet".into());
    }
    check_text("the reason", reason.trim())
}

/// Where a silence comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `ic silence add`, by this person.
    Added(String),
    /// A `maintenance:` window of the config.
    Maintenance,
}

/// One silence in force (or to come).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// `s<seq>` for an added silence (the `seq` of its `silence_added` in the
    /// log), `m<n>` for the config's n-th maintenance window.
    pub id: String,
    /// What it covers.
    pub matcher: Matcher,
    /// When it starts.
    pub starts: DateTime<Utc>,
    /// When it ends.
    pub ends: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Who or what made it.
    pub origin: Origin,
    /// The service it silences (`None`: every service of the timeline
    /// directory — a line written without one, a maintenance window of the
    /// service's own config).
    pub service: Option<String>,
}

impl Silence {
    /// Whether it is for `service`.
    pub fn for_service(&self, service: &str) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
    }

    /// Whether it is in force at `now` for `target`.
    pub fn covers(&self, target: &str, now: DateTime<Utc>) -> bool {
        self.active(now) && self.matcher.matches(target)
    }

    /// Whether it is in force at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.starts <= now && now < self.ends
    }

    /// One line: `s3 payments until 14:30 UTC — deploy 4.2 (ann)`.
    pub fn describe(&self) -> String {
        let by = match &self.origin {
            Origin::Added(who) => who.clone(),
            Origin::Maintenance => "maintenance window".into(),
        };
        format!(
            "{} {} until {} — {} ({by})",
            self.id,
            self.matcher.text(),
            self.ends.format("%Y-%m-%d %H:%M UTC"),
            self.reason
        )
    }
}

/// The silences of a silence log (its events in file order): each
/// `silence_added` less those a `silence_expired` ended (from that moment).
/// A silence's id is `s<seq>` of its line. Lines that do not make a silence
/// (an unreadable target, an end before the start, a span past
/// [`MAX_SILENCE`], a second line with one `seq`, past [`MAX_SILENCES`], an
/// expiry of an unknown id) are returned as problems with their line's
/// `seq`, never a panic. Linear in the log's length.
pub fn fold(events: &[Event]) -> (Vec<Silence>, Vec<(u64, String)>) {
    let mut out: Vec<Silence> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    // The ends of the silences not over at the current line's time, soonest first.
    let mut open: std::collections::BinaryHeap<std::cmp::Reverse<DateTime<Utc>>> =
        Default::default();
    let mut problems = Vec::new();
    for e in events {
        match (e.kind, Payload::read(e.kind, &e.data)) {
            (Kind::SilenceAdded, Ok(Payload::SilenceAdded(p))) => match added(e, &p) {
                Ok(s) if index.contains_key(&s.id) => {
                    problems.push((e.seq, format!("a second silence {}: ignored", s.id)));
                }
                Ok(s) => {
                    while open.peek().is_some_and(|r| r.0 <= e.ts) {
                        open.pop();
                    }
                    if open.len() >= MAX_SILENCES {
                        problems.push((
                            e.seq,
                            format!(
                                "more than {MAX_SILENCES} silences in force or to come: ignored"
                            ),
                        ));
                    } else {
                        open.push(std::cmp::Reverse(s.ends));
                        index.insert(s.id.clone(), out.len());
                        out.push(s);
                    }
                }
                Err(why) => problems.push((e.seq, why)),
            },
            (Kind::SilenceExpired, Ok(Payload::SilenceExpired(p))) => {
                match index.get(&p.silence).and_then(|i| out.get_mut(*i)) {
                    Some(s) => s.ends = s.ends.min(e.ts).max(s.starts),
                    None => problems.push((
                        e.seq,
                        format!(
                            "expires silence `{}`, which the log does not hold",
                            p.silence
                        ),
                    )),
                }
            }
            (Kind::SilenceAdded | Kind::SilenceExpired, Err(why)) => problems.push((e.seq, why)),
            _ => {}
        }
    }
    (out, problems)
}

fn added(e: &Event, p: &payload::SilenceAdded) -> Result<Silence, String> {
    let matcher = Matcher::parse(&p.target)?;
    check_reason(&p.reason)?;
    // A start that does not read would make it start now: more than was meant.
    if e.data.get("starts").is_some_and(|v| !v.is_null()) && p.starts.is_none() {
        return Err("`starts` is not an RFC 3339 time: ignored".into());
    }
    let starts = p.starts.unwrap_or(e.ts);
    let Some(ends) = p.ends else {
        return Err("a silence without `ends`: ignored".into());
    };
    if ends <= starts {
        return Err("a silence that ends before it starts: ignored".into());
    }
    if ends - starts > MAX_SILENCE {
        return Err(format!(
            "a silence of more than {} days: ignored",
            MAX_SILENCE.num_days()
        ));
    }
    Ok(Silence {
        id: format!("s{}", e.seq),
        matcher,
        starts,
        ends,
        reason: p.reason.trim().to_string(),
        origin: Origin::Added(e.actor.clone()),
        service: Some(p.service.clone()).filter(|s| !s.is_empty()),
    })
}

/// `maintenance:` — a window in which the covered targets never page: fixed
/// bounds (`from`/`until`, RFC 3339) or weekly (`weekly: {days, from, until}`,
/// UTC times; `until` before `from` runs past midnight).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawWindow")]
pub struct Window {
    /// What it is for (the silence's reason).
    pub name: String,
    /// Target patterns (none: every target).
    pub targets: Vec<Matcher>,
    /// When it holds.
    pub when: When,
}

/// When a maintenance window holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// Once, between two instants.
    Once(DateTime<Utc>, DateTime<Utc>),
    /// Every week on these days, between two UTC times of day.
    Weekly(Vec<Weekday>, NaiveTime, NaiveTime),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    name: String,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    weekly: Option<RawWeekly>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeekly {
    days: Vec<String>,
    from: String,
    until: String,
}

impl TryFrom<RawWindow> for Window {
    type Error = String;

    fn try_from(raw: RawWindow) -> Result<Window, String> {
        let name = raw.name.trim().to_string();
        if name.is_empty() {
            return Err("a maintenance window needs a `name` (it is the reason shown when it holds a signal)".into());
        }
        check_text("the window's name", &name)?;
        let targets = raw
            .targets
            .iter()
            .map(|t| Matcher::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let when = match (raw.weekly, raw.from, raw.until) {
            (Some(w), None, None) => weekly(&name, &w)?,
            (None, Some(from), Some(until)) => {
                let at = |s: &str| {
                    DateTime::parse_from_rfc3339(s.trim())
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| format!("maintenance `{name}`: `{s}` is not an RFC 3339 time like 2026-12-05T22:00:00Z"))
                };
                let (from, until) = (at(&from)?, at(&until)?);
                if until <= from {
                    return Err(format!("maintenance `{name}` ends before it starts"));
                }
                When::Once(from, until)
            }
            _ => {
                return Err(format!(
                    "maintenance `{name}` needs either `from` and `until` (RFC 3339 times) or `weekly: {{days: [sun], from: \"02:00\", until: \"04:00\"}}`"
                ));
            }
        };
        Ok(Window {
            name,
            targets,
            when,
        })
    }
}

fn weekly(name: &str, w: &RawWeekly) -> Result<When, String> {
    let mut days = Vec::new();
    for d in &w.days {
        let day: Weekday = d.trim().parse().map_err(|_| {
            format!("maintenance `{name}`: `{d}` is not a day of the week (mon, tue, … sun)")
        })?;
        if !days.contains(&day) {
            days.push(day);
        }
    }
    if days.is_empty() {
        return Err(format!(
            "maintenance `{name}`: `weekly.days` is empty: name at least one day"
        ));
    }
    let time = |s: &str| {
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map_err(|_| format!("maintenance `{name}`: `{s}` is not a UTC time of day like 02:00"))
    };
    let (from, until) = (time(&w.from)?, time(&w.until)?);
    if from == until {
        return Err(format!(
            "maintenance `{name}`: `weekly.from` and `until` are the same time"
        ));
    }
    Ok(When::Weekly(days, from, until))
}

impl Window {
    /// The occurrence of the window that holds at `now`: (start, end).
    pub fn holding(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match &self.when {
            When::Once(from, until) => (*from <= now && now < *until).then_some((*from, *until)),
            When::Weekly(days, from, until) => {
                // Today's occurrence, or yesterday's running past midnight.
                let today = now.date_naive();
                [today.pred_opt(), Some(today)]
                    .into_iter()
                    .flatten()
                    .filter(|d| days.contains(&d.weekday()))
                    .map(|d| {
                        let start = d.and_time(*from).and_utc();
                        let end_day = if until <= from { d.succ_opt() } else { Some(d) };
                        let end = end_day.map_or(start, |e| e.and_time(*until).and_utc());
                        (start, end)
                    })
                    .find(|(s, e)| *s <= now && now < *e)
            }
        }
    }

    /// The silences this window makes at `now` (one per target pattern), with
    /// ids `m<index>` (its place in the config, from 1).
    pub fn silences(&self, index: usize, now: DateTime<Utc>) -> Vec<Silence> {
        let Some((starts, ends)) = self.holding(now) else {
            return Vec::new();
        };
        let all = [Matcher::All];
        let matchers = if self.targets.is_empty() {
            &all[..]
        } else {
            &self.targets[..]
        };
        matchers
            .iter()
            .map(|m| Silence {
                id: format!("m{index}"),
                matcher: m.clone(),
                starts,
                ends,
                reason: self.name.clone(),
                origin: Origin::Maintenance,
                service: None,
            })
            .collect()
    }
}

/// The silences in force at `now` from the log's `added` and the config's `windows`.
pub fn in_force(added: &[Silence], windows: &[Window], now: DateTime<Utc>) -> Vec<Silence> {
    let mut out: Vec<Silence> = added.iter().filter(|s| s.active(now)).cloned().collect();
    for (i, w) in windows.iter().enumerate() {
        out.extend(w.silences(i + 1, now));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Draft;
    use crate::core::payload::to_data;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // 2026-12-03 is a Thursday.
        Utc.with_ymd_and_hms(2026, 12, 3, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    fn event(seq: u64, ts: DateTime<Utc>, kind: Kind, data: serde_json::Value) -> Event {
        Draft::new(kind, "ann", "x", data).into_event(seq, ts)
    }

    fn add(target: &str, starts: DateTime<Utc>, ends: DateTime<Utc>) -> serde_json::Value {
        to_data(&payload::SilenceAdded {
            silence: String::new(),
            target: target.into(),
            service: String::new(),
            starts: Some(starts),
            ends: Some(ends),
            reason: "deploy 4.2".into(),
        })
    }

    #[test]
    fn patterns_match_names_as_shown() {
        let m = |p: &str| Matcher::parse(p).unwrap_or(Matcher::All);
        assert!(m("payments").matches("payments"));
        assert!(!m("payments").matches("payments-v2"));
        assert!(m("demo /api/*").matches("demo /api/pay"));
        assert!(!m("demo /api/*").matches("other /api/pay"));
        assert!(m("* /checkout").matches("shop /checkout"));
        assert!(m("a*b*c").matches("aXXbYYc"));
        assert!(!m("a*b*c").matches("aXXbYY"));
        assert_eq!(m("**"), Matcher::All);
        assert!(Matcher::parse("  ").is_err());
        assert!(Matcher::parse("pay\nments").is_err());
        assert!(Matcher::parse(&"x".repeat(201)).is_err());
        // Linear: a hostile pattern against a long name returns at once.
        let long = "a".repeat(10_000);
        assert!(!m(&format!("{}b", "*a".repeat(90))).matches(&long));
    }

    #[test]
    fn the_log_folds_to_silences_and_expiries_end_them() {
        let events = vec![
            event(
                1,
                at(10, 0),
                Kind::SilenceAdded,
                add("payments", at(10, 0), at(10, 30)),
            ),
            event(
                2,
                at(10, 1),
                Kind::SilenceAdded,
                add("*", at(10, 1), at(11, 0)),
            ),
            event(
                3,
                at(10, 10),
                Kind::SilenceExpired,
                to_data(&payload::SilenceExpired {
                    silence: "s2".into(),
                }),
            ),
        ];
        let (s, problems) = fold(&events);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "s1");
        assert!(s[0].covers("payments", at(10, 29)));
        assert!(!s[0].covers("payments", at(10, 30)));
        assert!(!s[0].covers("search", at(10, 5)));
        assert_eq!(s[1].matcher, Matcher::All);
        assert!(s[1].covers("search", at(10, 5)));
        assert!(!s[1].covers("search", at(10, 10)), "expired at 10:10");
        assert_eq!(s[0].origin, Origin::Added("ann".into()));
    }

    #[test]
    fn hostile_lines_are_problems_not_silences() {
        let bad = [
            add("payments", at(11, 0), at(10, 0)),
            add("payments", at(10, 0), at(10, 0) + Duration::days(8)),
            add("", at(10, 0), at(11, 0)),
            serde_json::json!({"target": "x", "reason": "r"}),
            serde_json::json!({"target": 7, "ends": "soon", "reason": ["r"]}),
            serde_json::json!("not an object"),
            to_data(&payload::SilenceAdded {
                silence: String::new(),
                target: "payments".into(),
                service: String::new(),
                starts: None,
                ends: Some(at(11, 0)),
                reason: " ".into(),
            }),
        ];
        let mut events: Vec<Event> = bad
            .iter()
            .enumerate()
            .map(|(i, d)| event(i as u64 + 1, at(10, 0), Kind::SilenceAdded, d.clone()))
            .collect();
        events.push(event(
            99,
            at(10, 0),
            Kind::SilenceExpired,
            serde_json::json!({"silence": "s42"}),
        ));
        let (s, problems) = fold(&events);
        assert!(s.is_empty(), "{s:?}");
        assert_eq!(problems.len(), events.len(), "{problems:?}");
    }

    #[test]
    fn ids_come_from_seq_and_a_line_cannot_take_another_s() {
        // A line claiming `s2` keeps its own id; a second line with seq 1 is ignored.
        let mut data = add("payments", at(10, 0), at(11, 0));
        data["silence"] = "s2".into();
        let events = vec![
            event(
                1,
                at(10, 0),
                Kind::SilenceAdded,
                add("a", at(10, 0), at(11, 0)),
            ),
            event(
                1,
                at(10, 0),
                Kind::SilenceAdded,
                add("b", at(10, 0), at(11, 0)),
            ),
            event(3, at(10, 0), Kind::SilenceAdded, data),
        ];
        let (s, problems) = fold(&events);
        let ids: Vec<(&str, &str)> = s
            .iter()
            .map(|s| (s.id.as_str(), s.matcher.text()))
            .collect();
        assert_eq!(ids, [("s1", "a"), ("s3", "payments")]);
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn a_huge_log_folds_in_linear_time_and_is_capped() {
        let events: Vec<Event> = (1..=MAX_SILENCES as u64 + 500)
            .map(|i| {
                event(
                    i,
                    at(10, 0),
                    Kind::SilenceAdded,
                    add("*", at(10, 0), at(11, 0)),
                )
            })
            .collect();
        let (s, problems) = fold(&events);
        assert_eq!(s.len(), MAX_SILENCES);
        assert_eq!(problems.len(), 500);
        // Those that ended do not count: an hour later there is room again.
        let mut more = events;
        more.push(event(
            20_000,
            at(11, 0),
            Kind::SilenceAdded,
            add("*", at(11, 0), at(12, 0)),
        ));
        let (s, _) = fold(&more);
        assert_eq!(s.last().map(|s| s.id.as_str()), Some("s20000"));
    }

    fn window(yaml: &str) -> Result<Window, String> {
        yaml_serde::from_str::<Window>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn weekly_windows_hold_on_their_days_and_across_midnight() {
        let w = window("{name: vacuum, weekly: {days: [thu], from: \"02:00\", until: \"03:30\"}}")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(w.holding(at(1, 59)).is_none());
        assert_eq!(w.holding(at(2, 0)), Some((at(2, 0), at(3, 30))));
        assert!(w.holding(at(3, 30)).is_none());
        assert!(w.holding(at(2, 0) + Duration::days(1)).is_none(), "friday");
        assert!(
            w.holding(at(2, 0) + Duration::days(7)).is_some(),
            "next thursday"
        );
        let night = window("{name: batch, targets: [\"demo /api/*\"], weekly: {days: [wed], from: \"22:00\", until: \"02:00\"}}")
            .unwrap_or_else(|e| panic!("{e}"));
        // Wednesday 22:00 to Thursday 02:00.
        assert_eq!(
            night.holding(at(1, 0)),
            Some((at(22, 0) - Duration::days(1), at(2, 0)))
        );
        assert!(night.holding(at(2, 0)).is_none());
        let s = night.silences(2, at(1, 0));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].id, "m2");
        assert!(s[0].covers("demo /api/pay", at(1, 0)));
        assert!(!s[0].covers("payments", at(1, 0)));
    }

    #[test]
    fn fixed_windows_and_mistakes() {
        let w =
            window("{name: migration, from: 2026-12-03T10:00:00Z, until: 2026-12-03T11:00:00Z}")
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(w.holding(at(10, 30)).is_some());
        let s = in_force(&[], &[w], at(10, 30));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].matcher, Matcher::All);
        for (bad, says) in [
            ("{name: x}", "needs either"),
            ("{name: x, from: 2026-12-03T10:00:00Z}", "needs either"),
            (
                "{name: x, from: tomorrow, until: 2026-12-03T11:00:00Z}",
                "RFC 3339",
            ),
            (
                "{name: x, from: 2026-12-03T11:00:00Z, until: 2026-12-03T10:00:00Z}",
                "ends before",
            ),
            (
                "{name: x, weekly: {days: [funday], from: \"02:00\", until: \"03:00\"}}",
                "day of the week",
            ),
            (
                "{name: x, weekly: {days: [], from: \"02:00\", until: \"03:00\"}}",
                "empty",
            ),
            (
                "{name: x, weekly: {days: [mon], from: \"2am\", until: \"03:00\"}}",
                "time of day",
            ),
            (
                "{name: x, weekly: {days: [mon], from: \"02:00\", until: \"02:00\"}}",
                "same time",
            ),
            (
                "{name: \" \", from: 2026-12-03T10:00:00Z, until: 2026-12-03T11:00:00Z}",
                "needs a `name`",
            ),
            (
                "{name: x, targets: [\"\"], from: 2026-12-03T10:00:00Z, until: 2026-12-03T11:00:00Z}",
                "empty",
            ),
            ("{name: x, every: day}", "unknown field"),
        ] {
            let e = window(bad).err().unwrap_or_default();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_silence_is_its_service_s_and_an_unreadable_start_is_no_silence() {
        let mut data = add("payments", at(10, 0), at(11, 0));
        data["service"] = "shop".into();
        let mut bad_start = add("payments", at(10, 0), at(11, 0));
        bad_start["starts"] = "2026-12-05 22:00 UTC".into();
        let events = vec![
            event(1, at(10, 0), Kind::SilenceAdded, data),
            event(2, at(10, 0), Kind::SilenceAdded, bad_start),
        ];
        let (s, problems) = fold(&events);
        assert_eq!(s.len(), 1);
        assert!(s[0].for_service("shop") && !s[0].for_service("billing"));
        assert!(problems[0].1.contains("`starts`"), "{problems:?}");
    }
}
