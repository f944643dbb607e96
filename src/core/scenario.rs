//! Fault scenarios: the YAML model (`assets/scenarios/*.yaml`) and what a
//! scenario does to a route at a given time since its start. Pure: time is an
//! argument, nothing here sleeps or does I/O.

use crate::core::units::{Factor, HumanDuration, Percent, Ramp};
use crate::core::yaml::{self, YamlError};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// A named, timed set of faults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Scenario name; defaults to the file name without extension.
    #[serde(default)]
    pub name: String,
    /// What story the scenario tells.
    #[serde(default)]
    pub description: String,
    /// The faults, each timed from the scenario's start.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// One fault: which route, when, and what it does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Unique name within the scenario.
    pub name: String,
    /// Route template (`/api/payments`) or `*` for every route.
    #[serde(default)]
    pub route: RouteSelector,
    /// When the fault begins, from the scenario start.
    #[serde(default)]
    pub start: HumanDuration,
    /// How long the fault takes to reach full strength (linear).
    #[serde(default)]
    pub ramp: HumanDuration,
    /// When the fault ends, from the scenario start; default: never.
    #[serde(default)]
    pub end: Option<HumanDuration>,
    /// Share of requests answered with one of `status`.
    #[serde(default)]
    pub error_rate: Option<Ramp<Percent>>,
    /// Statuses injected errors use; default 500.
    #[serde(default = "default_statuses")]
    pub status: Vec<u16>,
    /// `Retry-After` sent with injected 429s.
    #[serde(default)]
    pub retry_after: Option<HumanDuration>,
    /// Latency multiplier.
    #[serde(default)]
    pub latency_factor: Option<Ramp<Factor>>,
    /// Share of requests that never get an answer.
    #[serde(default)]
    pub hang: Option<Ramp<Percent>>,
    /// Response-schema drift: a top-level JSON field renamed.
    #[serde(default)]
    pub rename_field: Option<Rename>,
    /// Traffic multiplier for the traffic generator.
    #[serde(default)]
    pub traffic_factor: Option<Ramp<Factor>>,
    /// Total outage: every request answered 503.
    #[serde(default)]
    pub outage: bool,
}

fn default_statuses() -> Vec<u16> {
    vec![500]
}

/// A JSON field renamed in responses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The field's usual name.
    pub from: String,
    /// The name it gets during the fault.
    pub to: String,
}

/// Which routes a fault applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RouteSelector {
    /// Every route.
    #[default]
    All,
    /// One route template.
    Route(String),
}

impl RouteSelector {
    /// Whether the selector covers `route`.
    pub fn matches(&self, route: &str) -> bool {
        match self {
            RouteSelector::All => true,
            RouteSelector::Route(r) => r == route,
        }
    }
}

impl<'de> Deserialize<'de> for RouteSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RouteSelector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a route like /api/payments, or *")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RouteSelector, E> {
                match s.trim() {
                    "*" => Ok(RouteSelector::All),
                    r if r.starts_with('/') => Ok(RouteSelector::Route(r.to_string())),
                    r => Err(E::custom(format!(
                        "`{r}` is not a route: write a path like /api/payments, or * for every route"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// What the active faults do to one route at one moment ("strongest wins" when several apply).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RouteEffects {
    /// Share of requests answered with an injected error.
    pub error_rate: f64,
    /// Statuses to pick injected errors from.
    pub statuses: Vec<u16>,
    /// Seconds of `Retry-After` on injected 429s.
    pub retry_after_s: Option<u64>,
    /// Latency multiplier.
    pub latency_factor: f64,
    /// Share of requests that hang.
    pub hang: f64,
    /// Field renamed in the JSON body.
    pub rename: Option<Rename>,
    /// Traffic multiplier.
    pub traffic_factor: f64,
    /// Every request answered 503.
    pub outage: bool,
    /// Names of the faults in force.
    pub active: Vec<String>,
}

impl RouteEffects {
    /// No fault: the route behaves as at baseline.
    pub fn calm() -> Self {
        RouteEffects {
            latency_factor: 1.0,
            traffic_factor: 1.0,
            ..RouteEffects::default()
        }
    }

    /// Merges another fault's effects in, keeping the stronger of each.
    pub fn merge(&mut self, name: &str, fault: &Fault, progress: f64) {
        if let Some(r) = &fault.error_rate {
            let rate = r.at(progress, 0.0);
            if rate >= self.error_rate {
                self.error_rate = rate;
                self.statuses = fault.status.clone();
                self.retry_after_s = fault.retry_after.map(|d| d.get().as_secs().max(1));
            }
        }
        if let Some(f) = &fault.latency_factor {
            self.latency_factor = self.latency_factor.max(f.at(progress));
        }
        if let Some(h) = &fault.hang {
            self.hang = self.hang.max(h.at(progress, 0.0));
        }
        if let Some(f) = &fault.traffic_factor {
            let v = f.at(progress);
            // A drop (factor < 1) is as strong as a surge: keep the one farthest from 1.
            if v.ln().abs() > self.traffic_factor.ln().abs() {
                self.traffic_factor = v;
            }
        }
        if self.rename.is_none() {
            self.rename = fault.rename_field.clone();
        }
        self.outage |= fault.outage;
        self.active.push(name.to_string());
    }
}

impl Fault {
    /// How far along the fault is at `elapsed` (0..=1), or `None` when not in force.
    pub fn progress(&self, elapsed: Duration) -> Option<f64> {
        let start = self.start.get();
        if elapsed < start || self.end.is_some_and(|e| elapsed >= e.get()) {
            return None;
        }
        let ramp = self.ramp.get();
        if ramp.is_zero() {
            return Some(1.0);
        }
        Some(((elapsed - start).as_secs_f64() / ramp.as_secs_f64()).min(1.0))
    }

    fn has_effect(&self) -> bool {
        self.error_rate.is_some()
            || self.latency_factor.is_some()
            || self.hang.is_some()
            || self.rename_field.is_some()
            || self.traffic_factor.is_some()
            || self.outage
    }
}

impl Scenario {
    /// Parses a scenario; `file` names it in errors and supplies the default name.
    pub fn parse(file: &Path, text: &str) -> Result<Scenario, YamlError> {
        let mut s: Scenario = yaml::parse(file, text)?;
        if s.name.trim().is_empty() {
            s.name = file
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
        }
        s.check(file)?;
        Ok(s)
    }

    /// Reads and parses a scenario file.
    pub fn load(file: &Path) -> Result<Scenario, YamlError> {
        let text = yaml::read_text(file)?;
        Scenario::parse(file, &text)
    }

    /// What the faults do to `route` at `elapsed` since the start.
    pub fn effects_at(&self, route: &str, elapsed: Duration) -> RouteEffects {
        let mut fx = RouteEffects::calm();
        for f in self.faults.iter().filter(|f| f.route.matches(route)) {
            if let Some(p) = f.progress(elapsed) {
                fx.merge(&f.name, f, p);
            }
        }
        fx
    }

    /// Checks each route a fault names against the routes that exist.
    pub fn check_routes(&self, file: &Path, routes: &[&str]) -> Result<(), YamlError> {
        for f in &self.faults {
            if let RouteSelector::Route(r) = &f.route
                && !routes.contains(&r.as_str())
            {
                let hint = match yaml::nearest(r, routes) {
                    Some(n) => format!("did you mean `{n}`? routes: {}", routes.join(", ")),
                    None => format!("routes: {}, or * for all", routes.join(", ")),
                };
                return Err(YamlError::whole_file(
                    file,
                    format!("fault `{}` targets unknown route `{r}`", f.name),
                    Some(hint),
                ));
            }
        }
        Ok(())
    }

    fn check(&self, file: &Path) -> Result<(), YamlError> {
        let mut names = HashSet::new();
        for f in &self.faults {
            let err = |msg: String, hint: &str| {
                Err(YamlError::whole_file(
                    file,
                    format!("fault `{}`: {msg}", f.name),
                    Some(hint.to_string()),
                ))
            };
            if f.name.trim().is_empty() {
                return Err(YamlError::whole_file(
                    file,
                    "a fault has an empty name",
                    Some("give every fault a short unique name".into()),
                ));
            }
            if !names.insert(f.name.as_str()) {
                return err(
                    "the name is used twice".into(),
                    "fault names must be unique",
                );
            }
            if !f.has_effect() {
                return err(
                    "does nothing".into(),
                    "set at least one of error_rate, latency_factor, hang, rename_field, traffic_factor, outage",
                );
            }
            if let Some(end) = f.end
                && end.get() <= f.start.get() + f.ramp.get()
                && !(f.ramp.get().is_zero() && end.get() > f.start.get())
            {
                return err(
                    format!(
                        "ends at {end}, before it has started and ramped up (start {}, ramp {})",
                        f.start, f.ramp
                    ),
                    "make `end` later than `start` + `ramp`",
                );
            }
            if f.status.is_empty() {
                return err(
                    "`status` is an empty list".into(),
                    "e.g. status: [500, 503]",
                );
            }
            if let Some(bad) = f.status.iter().find(|s| !(400..=599).contains(*s)) {
                return err(
                    format!("status {bad} is not an error status"),
                    "injected errors use 4xx or 5xx codes, e.g. [500, 503] or [429]",
                );
            }
            if f.retry_after.is_some() && !f.status.contains(&429) {
                return err(
                    "`retry_after` is set but `status` has no 429".into(),
                    "add 429 to status, or drop retry_after",
                );
            }
            if let Some(r) = &f.rename_field
                && (r.from.is_empty() || r.to.is_empty() || r.from == r.to)
            {
                return err(
                    "`rename_field` needs two different, non-empty names".into(),
                    "e.g. rename_field: {from: status, to: state}",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, YamlError> {
        Scenario::parse(Path::new("s.yaml"), text)
    }

    #[test]
    fn ramp_climbs_linearly_then_holds_then_ends() {
        let s = parse(
            "faults:\n  - name: pool\n    route: /api/payments\n    start: 10s\n    ramp: 100s\n    end: 10m\n    error_rate: {from: 2%, to: 12%}\n    status: [500, 503]\n",
        )
        .unwrap();
        assert_eq!(s.name, "s");
        let at = |secs| s.effects_at("/api/payments", Duration::from_secs(secs));
        assert_eq!(at(5).error_rate, 0.0);
        assert!((at(10).error_rate - 0.02).abs() < 1e-9);
        assert!((at(60).error_rate - 0.07).abs() < 1e-9);
        assert!((at(300).error_rate - 0.12).abs() < 1e-9);
        assert_eq!(at(600).error_rate, 0.0);
        assert_eq!(at(60).statuses, vec![500, 503]);
        assert_eq!(at(60).active, vec!["pool".to_string()]);
        assert_eq!(
            s.effects_at("/api/search", Duration::from_secs(60))
                .error_rate,
            0.0
        );
    }

    #[test]
    fn strongest_effect_wins_and_star_matches_everything() {
        let s = parse(
            "faults:\n  - {name: a, route: '*', latency_factor: 2}\n  - {name: b, route: /x, latency_factor: 4, traffic_factor: 0.1}\n  - {name: c, route: /x, traffic_factor: 3}\n",
        )
        .unwrap();
        let fx = s.effects_at("/x", Duration::ZERO);
        assert_eq!(fx.latency_factor, 4.0);
        assert_eq!(fx.traffic_factor, 0.1);
        assert_eq!(s.effects_at("/y", Duration::ZERO).latency_factor, 2.0);
    }

    #[test]
    fn mistakes_are_reported_with_positions_and_hints() {
        let e = parse("faults:\n  - name: a\n    error_rate: 5\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(3), Some(17)));
        assert!(e.message.contains("% sign"), "{e}");

        let e = parse("faults:\n  - name: a\n    latency_factr: 2\n").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `latency_factor`?"));

        let e = parse("faults:\n  - name: a\n    route: payments\n    outage: true\n").unwrap_err();
        assert_eq!(e.line, Some(3));

        let e = parse("faults:\n  - {name: a}\n").unwrap_err();
        assert!(e.message.contains("does nothing"), "{e}");

        let e = parse("faults:\n  - {name: a, outage: true}\n  - {name: a, outage: true}\n")
            .unwrap_err();
        assert!(e.message.contains("used twice"), "{e}");

        let e = parse("faults:\n  - {name: a, error_rate: 5%, retry_after: 5s}\n").unwrap_err();
        assert!(e.message.contains("429"), "{e}");

        let e = parse("faults:\n  - {name: a, outage: true, start: 1m, end: 30s}\n").unwrap_err();
        assert!(e.message.contains("ends at 30s"), "{e}");
    }

    #[test]
    fn unknown_routes_get_the_nearest_one() {
        let s = parse("faults:\n  - {name: a, route: /api/paymnts, outage: true}\n").unwrap();
        let e = s
            .check_routes(Path::new("s.yaml"), &["/api/payments", "/healthz"])
            .unwrap_err();
        assert!(e.hint.unwrap().starts_with("did you mean `/api/payments`?"));
    }
}
