//! Human-written quantities in YAML: durations (`500ms`, `2s`, `5m`, `1h`),
//! percentages (`1%`, `99.9%`), UTC times of day (`18:00`) and values that ramp
//! from one level to another.
//!
//! Every type here deserializes through a visitor so that a bad value is
//! reported at its own `line:col`, with a message that says how to write it.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A duration written with a unit: `250ms`, `2s`, `1.5m`, `1h`, `1d` or compound `1m30s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The duration as `std::time::Duration`.
    pub fn get(self) -> Duration {
        self.0
    }
}

/// Parses `500ms`, `2s`, `5m`, `1h`, `1d`, `1.5s`, `1m30s`; returns a message on failure.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let how = "write a number and a unit, like 500ms, 2s, 5m or 1h";
    if s.is_empty() {
        return Err(format!("empty duration: {how}"));
    }
    if s.parse::<f64>().is_ok() {
        return Err(format!("`{s}` has no unit: {how}"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration: {how}"))?;
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let seconds = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "" => return Err(format!("`{s}` is missing a unit: {how}")),
            other => {
                return Err(format!(
                    "`{s}` has an unknown unit `{other}`: use ms, s, m, h or d"
                ));
            }
        };
        total += value * seconds;
        rest = next;
    }
    if !total.is_finite() || total > 366.0 * 86_400.0 {
        return Err(format!("`{s}` is longer than a year"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way a human would write it in the config (`1.5s`, `250ms`, `5m`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".to_string()
    } else if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like 500ms, 2s, 5m or 1h")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HumanDuration, E> {
                parse_duration(s).map(HumanDuration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "`{n}` has no unit: write a number and a unit, like {n}s or {n}ms"
                )))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("`{n}` is not a duration: write e.g. 2s")))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "`{n}` has no unit: write a number and a unit, like {n}s"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A UTC time of day written `HH:MM` (`02:00`, `18:30`), kept as seconds after midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    /// Seconds after midnight, 0..86 400.
    pub fn seconds(self) -> u32 {
        self.0
    }
}

/// Parses `HH:MM` (00:00 to 23:59); returns a message on failure.
pub fn parse_time_of_day(text: &str) -> Result<TimeOfDay, String> {
    let bad = || format!("`{text}` is not a UTC time of day: write HH:MM, like 02:00 or 18:30");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || text.trim().len() != 5 {
        return Err(bad());
    }
    Ok(TimeOfDay(h * 3600 + m * 60))
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeOfDay;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a UTC time of day like 02:00")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TimeOfDay, E> {
                parse_time_of_day(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A percentage written with a `%` sign (`1%`, `99.9%`), stored as a fraction in 0..=1.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Percent(f64);

impl Percent {
    /// A percentage from a fraction in 0..=1 (clamped).
    pub fn from_fraction(f: f64) -> Self {
        Percent(if f.is_finite() {
            f.clamp(0.0, 1.0)
        } else {
            0.0
        })
    }
    /// The value as a fraction: `1%` is `0.01`.
    pub fn fraction(self) -> f64 {
        self.0
    }
}

/// Parses `1%` or `99.9 %` into a fraction; returns a message on failure.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let Some(number) = s.strip_suffix('%') else {
        return Err(format!(
            "`{s}` is not a percentage: write it with a % sign, like 1% or 99.9%"
        ));
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage: write e.g. 1% or 99.9%"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!("`{s}` is out of range: a percentage is 0% to 100%"));
    }
    Ok(value / 100.0)
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0 * 100.0;
        if (p - p.round()).abs() < 1e-9 {
            write!(f, "{}%", p.round())
        } else {
            write!(f, "{}%", (p * 1000.0).round() / 1000.0)
        }
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage like 1% or 99.9%")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Percent, E> {
                parse_percent(s).map(Percent).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Percent, E> {
                Err(E::custom(format!(
                    "`{n}` is ambiguous: write a percentage with a % sign, like {n}%"
                )))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Percent, E> {
                Err(E::custom(format!(
                    "`{n}` is not a percentage: write e.g. 1%"
                )))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Percent, E> {
                Err(E::custom(format!(
                    "`{n}` is ambiguous: write a percentage with a % sign, like {n}%"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A positive multiplier such as a latency or traffic factor (`4`, `0.5`, `10x`).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Factor(f64);

impl Factor {
    /// The neutral factor, 1.
    pub const ONE: Factor = Factor(1.0);
    /// The multiplier.
    pub fn get(self) -> f64 {
        self.0
    }
    /// A factor from a number; `None` unless finite and in 0..=10 000.
    pub fn new(v: f64) -> Option<Factor> {
        (v.is_finite() && (0.0..=10_000.0).contains(&v)).then_some(Factor(v))
    }
}

impl Default for Factor {
    fn default() -> Self {
        Factor::ONE
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "×{}", (self.0 * 100.0).round() / 100.0)
    }
}

impl<'de> Deserialize<'de> for Factor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const RANGE: &str = "a factor is a number from 0 to 10000, like 2 or 0.5";
        impl Visitor<'_> for V {
            type Value = Factor;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a factor like 2 or 0.5")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Factor, E> {
                Factor::new(v).ok_or_else(|| E::custom(format!("`{v}` is out of range: {RANGE}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Factor, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Factor, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Factor, E> {
                let t = s.trim();
                let t = t.strip_suffix(['x', '×']).unwrap_or(t);
                match t.trim().parse::<f64>() {
                    Ok(v) => self.visit_f64(v),
                    Err(_) => Err(E::custom(format!("`{s}` is not a factor: {RANGE}"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A value that a fault brings in: a single target (`15%`), reached from the
/// neutral level, or an explicit `{from: 2%, to: 15%}` ramp.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ramp<T> {
    /// Level at the start of the ramp; `None` means the neutral level.
    pub from: Option<T>,
    /// Level at the end of the ramp.
    pub to: T,
}

impl<T: Copy> Ramp<T> {
    /// A ramp that starts at `to` (a step).
    pub fn step(to: T) -> Self {
        Ramp { from: None, to }
    }
}

impl Ramp<Percent> {
    /// The level at `progress` (0..=1) along the ramp, starting from `neutral` when no `from`.
    pub fn at(&self, progress: f64, neutral: f64) -> f64 {
        let from = self.from.map(Percent::fraction).unwrap_or(neutral);
        lerp(from, self.to.fraction(), progress)
    }
}

impl Ramp<Factor> {
    /// The level at `progress` (0..=1) along the ramp, starting from ×1 when no `from`.
    pub fn at(&self, progress: f64) -> f64 {
        let from = self.from.map(Factor::get).unwrap_or(1.0);
        lerp(from, self.to.get(), progress)
    }
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if !t.is_finite() || t >= 1.0 {
        return b;
    }
    a + (b - a) * t.max(0.0)
}

impl<'de, T: Deserialize<'de> + Copy> Deserialize<'de> for Ramp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Copy> Visitor<'de> for V<T> {
            type Value = Ramp<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or a ramp {from: ..., to: ...}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Ramp<T>, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(s)).map(Ramp::step)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Ramp<T>, E> {
                T::deserialize(de::value::U64Deserializer::<E>::new(n)).map(Ramp::step)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Ramp<T>, E> {
                T::deserialize(de::value::I64Deserializer::<E>::new(n)).map(Ramp::step)
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Ramp<T>, E> {
                T::deserialize(de::value::F64Deserializer::<E>::new(n)).map(Ramp::step)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ramp<T>, A::Error> {
                let mut from = None;
                let mut to = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "from" => from = Some(map.next_value::<T>()?),
                        "to" => to = Some(map.next_value::<T>()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["from", "to"]));
                        }
                    }
                }
                let to = to.ok_or_else(|| de::Error::missing_field("to"))?;
                Ok(Ramp { from, to })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A rate of events written `20/s`, `600/min`, `10/h` (a bare number is per second),
/// stored per second.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Rate(f64);

impl Rate {
    /// A rate from events per second.
    pub fn per_second(v: f64) -> Self {
        Rate(if v.is_finite() { v.max(0.0) } else { 0.0 })
    }
    /// Events per second.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Parses `20/s`, `600/min`, `10/h` or `20` into events per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let (number, per) = match s.split_once('/') {
        Some((n, unit)) => {
            let per = match unit.trim() {
                "s" | "sec" => 1.0,
                "m" | "min" => 60.0,
                "h" | "hour" => 3600.0,
                "d" | "day" => 86_400.0,
                u => {
                    return Err(format!(
                        "`{s}`: unknown unit `/{u}`; write a rate like 20/s, 600/min or 10/h"
                    ));
                }
            };
            (n.trim(), per)
        }
        None => (s, 1.0),
    };
    let v: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a rate: write e.g. 20/s, 600/min or 10/h"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{s}` is not a rate: it must be 0 or more"));
    }
    Ok(v / per)
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1.0 || self.0 == 0.0 {
            write!(f, "{}/s", (self.0 * 100.0).round() / 100.0)
        } else {
            write!(f, "{}/h", (self.0 * 3600.0 * 100.0).round() / 100.0)
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate like 20/s, 600/min or 10/h")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Rate, E> {
                parse_rate(s).map(Rate).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Rate, E> {
                Ok(Rate(n as f64))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Rate, E> {
                Err(E::custom(format!(
                    "`{n}` is not a rate: it must be 0 or more"
                )))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Rate, E> {
                parse_rate(&n.to_string()).map(Rate).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_parse_as_hh_mm_and_nothing_else() {
        assert_eq!(parse_time_of_day("02:00").map(TimeOfDay::seconds), Ok(7200));
        assert_eq!(
            parse_time_of_day(" 23:59 ").map(TimeOfDay::seconds),
            Ok(86_340)
        );
        for bad in [
            "24:00", "2:00", "02:60", "0200", "", "-1:00", "02:00:00", "ab:cd",
        ] {
            let e = parse_time_of_day(bad).unwrap_err();
            assert!(e.contains("HH:MM"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_how_to_write_them() {
        assert!(parse_duration("5").unwrap_err().contains("has no unit"));
        assert!(
            parse_duration("5xs")
                .unwrap_err()
                .contains("unknown unit `xs`")
        );
        assert!(parse_duration("fast").unwrap_err().contains("like 500ms"));
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(
            parse_duration("400d")
                .unwrap_err()
                .contains("longer than a year")
        );
    }

    #[test]
    fn durations_format_like_a_human_writes_them() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn percentages_need_a_sign_and_a_range() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert!((parse_percent("99.9%").unwrap() - 0.999).abs() < 1e-12);
        assert!(parse_percent("1").unwrap_err().contains("% sign"));
        assert!(parse_percent("150%").unwrap_err().contains("out of range"));
        assert!(
            parse_percent("x%")
                .unwrap_err()
                .contains("not a percentage")
        );
        assert_eq!(Percent::from_fraction(0.999).to_string(), "99.9%");
    }

    #[test]
    fn ramps_interpolate_linearly() {
        let r: Ramp<Percent> = yaml_serde::from_str("{from: 2%, to: 12%}").unwrap();
        assert!((r.at(0.5, 0.0) - 0.07).abs() < 1e-12);
        let step: Ramp<Percent> = yaml_serde::from_str("15%").unwrap();
        assert!((step.at(1.0, 0.0) - 0.15).abs() < 1e-12);
        assert!((step.at(0.0, 0.0)).abs() < 1e-12);
        let f: Ramp<Factor> = yaml_serde::from_str("4").unwrap();
        assert!((f.at(0.5) - 2.5).abs() < 1e-12);
        let x: Ramp<Factor> = yaml_serde::from_str("10x").unwrap();
        assert_eq!(x.to.get(), 10.0);
    }

    #[test]
    fn rates_take_a_unit_or_default_to_per_second() {
        assert_eq!(parse_rate("20").unwrap(), 20.0);
        assert_eq!(parse_rate("600/min").unwrap(), 10.0);
        assert!((parse_rate("10/h").unwrap() - 10.0 / 3600.0).abs() < 1e-12);
        assert!(parse_rate("5/week").unwrap_err().contains("unknown unit"));
        assert!(parse_rate("-1/s").is_err());
        assert_eq!(Rate::per_second(10.0 / 3600.0).to_string(), "10/h");
    }
}
