//! The `verify:` expression language of playbook steps: a condition over live
//! data that a step checks by itself, e.g.
//!
//! ```text
//! error_rate({target}) > 1% over 1m
//! p95(/api/search) < 300ms over 5m for 10m
//! class_share({target}, timeout) >= 50%
//! rate(payments) > 5/s
//! ```
//!
//! `FUNC(TARGET[, CLASS]) OP VALUE [over WINDOW] [for HOLD]`: functions
//! `error_rate`, `ratio_4xx`, `class_share` (percentages), `rate` (per second),
//! `p50` / `p95` / `p99` (durations); `over` is the window measured (default
//! 1m); `for` asks that the condition hold continuously that long. Parsing
//! reports the column of a mistake; evaluation is pure, with the data behind a
//! trait and the clock passed in.

use crate::core::units::parse_duration;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The functions an expression may call.
pub const FUNCTIONS: [&str; 7] = [
    "error_rate",
    "ratio_4xx",
    "class_share",
    "rate",
    "p50",
    "p95",
    "p99",
];

/// Variables an expression's target may use.
pub const VARIABLES: [&str; 1] = ["target"];

/// A measured quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// 5xx (or failed probe) share.
    ErrorRate,
    /// 4xx share.
    Ratio4xx,
    /// Share of one failure class (`timeout`, `connect`, …).
    ClassShare(String),
    /// Requests per second.
    Rate,
    /// A latency quantile (0.5, 0.95, 0.99), in thousandths.
    Quantile(u16),
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    /// What is measured.
    pub measure: Measure,
    /// The endpoint or route, possibly with `{target}`.
    pub target: String,
    /// The comparison.
    pub op: Op,
    /// The threshold, in base units: a fraction, requests per second, or seconds.
    pub value: f64,
    /// The window measured.
    pub over: Duration,
    /// How long the condition must hold, if asked.
    pub hold: Option<Duration>,
    /// The source text.
    pub text: String,
}

/// A mistake in an expression, at a 0-based character column of the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// 0-based column in the expression text.
    pub column: usize,
    /// What is wrong and how to write it.
    pub message: String,
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        column,
        message: message.into(),
    })
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let mut p = Cursor { s: text, i: 0 };
    p.skip_ws();
    let fstart = p.i;
    let func = p.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
    if func.is_empty() {
        return err(
            fstart,
            format!(
                "expected a function: {}, e.g. error_rate({{target}}) > 1%",
                FUNCTIONS.join(", ")
            ),
        );
    }
    if !FUNCTIONS.contains(&func) {
        let hint = crate::core::yaml::nearest(func, &FUNCTIONS)
            .map(|n| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        return err(
            fstart,
            format!(
                "unknown function `{func}`: {hint}use one of {}",
                FUNCTIONS.join(", ")
            ),
        );
    }
    p.skip_ws();
    if !p.eat('(') {
        return err(
            p.i,
            format!("expected `(` after `{func}`, e.g. {func}({{target}})"),
        );
    }
    let tstart = p.i;
    let args = p.take_while(|c| c != ')');
    if !p.eat(')') {
        return err(tstart, "missing `)`");
    }
    let mut parts = args.split(',');
    let target = parts.next().unwrap_or_default().trim().to_string();
    let class = parts.next().map(|c| c.trim().to_string());
    if parts.next().is_some() {
        return err(
            tstart,
            "too many arguments: give a target, and for class_share a class",
        );
    }
    if target.is_empty() {
        return err(
            tstart,
            "missing target: an endpoint name, a route, or {target}",
        );
    }
    check_variables(&target, tstart)?;
    let measure = match (func, class) {
        ("class_share", Some(c)) if !c.is_empty() => Measure::ClassShare(c),
        ("class_share", _) => {
            return err(
                tstart,
                "class_share needs a class: class_share({target}, timeout)",
            );
        }
        (f, Some(_)) => return err(tstart, format!("`{f}` takes one argument, the target")),
        ("error_rate", None) => Measure::ErrorRate,
        ("ratio_4xx", None) => Measure::Ratio4xx,
        ("rate", None) => Measure::Rate,
        ("p50", None) => Measure::Quantile(500),
        ("p95", None) => Measure::Quantile(950),
        (_, None) => Measure::Quantile(990),
    };
    p.skip_ws();
    let ostart = p.i;
    let op = if p.eat_str("<=") {
        Op::Le
    } else if p.eat_str(">=") {
        Op::Ge
    } else if p.eat('<') {
        Op::Lt
    } else if p.eat('>') {
        Op::Gt
    } else {
        return err(ostart, "expected a comparison: <, <=, > or >=");
    };
    p.skip_ws();
    let vstart = p.i;
    let raw = p.take_while(|c| !c.is_whitespace());
    let value = parse_value(&measure, raw).map_err(|m| ExprError {
        column: vstart,
        message: m,
    })?;
    let mut over = Duration::from_secs(60);
    let mut hold = None;
    loop {
        p.skip_ws();
        if p.done() {
            break;
        }
        let wstart = p.i;
        let word = p.take_while(|c| !c.is_whitespace());
        p.skip_ws();
        let dstart = p.i;
        let dur = p.take_while(|c| !c.is_whitespace());
        let d = match word {
            "over" | "for" => parse_duration(dur).map_err(|m| ExprError {
                column: dstart,
                message: m,
            })?,
            other => {
                return err(
                    wstart,
                    format!(
                        "unexpected `{other}`: after the value only `over DURATION` and `for DURATION` may follow"
                    ),
                );
            }
        };
        if d.is_zero() {
            return err(
                dstart,
                format!("`{word} {dur}`: the duration must be above 0"),
            );
        }
        if word == "over" {
            over = d;
        } else {
            hold = Some(d);
        }
    }
    Ok(Expr {
        measure,
        target,
        op,
        value,
        over,
        hold,
        text: text.trim().to_string(),
    })
}

/// Checks that every `{name}` in `text` is a known variable.
fn check_variables(text: &str, offset: usize) -> Result<(), ExprError> {
    let mut rest = text;
    let mut at = offset;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else {
            return err(at + i, "`{` without a closing `}`");
        };
        let name = &rest[i + 1..i + j];
        if !VARIABLES.contains(&name) {
            return err(
                at + i,
                format!("unknown variable `{{{name}}}`: a verify target may use {{target}}"),
            );
        }
        at += i + j + 1;
        rest = &rest[i + j + 1..];
    }
    Ok(())
}

fn parse_value(measure: &Measure, raw: &str) -> Result<f64, String> {
    if raw.is_empty() {
        return Err("expected a value after the comparison".into());
    }
    match measure {
        Measure::ErrorRate | Measure::Ratio4xx | Measure::ClassShare(_) => {
            crate::core::units::parse_percent(raw)
        }
        Measure::Rate => crate::core::units::parse_rate(raw),
        Measure::Quantile(_) => parse_duration(raw)
            .map(|d| d.as_secs_f64())
            .map_err(|m| format!("{m} (a latency, e.g. 300ms)")),
    }
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn skip_ws(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.i += n;
    }
    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn eat_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.i += s.len();
            true
        } else {
            false
        }
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let n = rest.find(|c| !f(c)).unwrap_or(rest.len());
        self.i += n;
        &rest[..n]
    }
}

/// Where live numbers come from (the app's windows; a fake in tests).
pub trait LiveData {
    /// The measure for `target` over the last `window`, or `None` without data.
    fn measure(&self, target: &str, measure: &Measure, window: Duration) -> Option<f64>;
}

/// The outcome of checking an expression now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Passed, failed, or unknown (no data).
    pub passed: Option<bool>,
    /// The measured value, in base units.
    pub value: Option<f64>,
    /// What was measured and how it compares, in words.
    pub text: String,
}

/// An expression being checked over time (remembers since when it holds, for `for`).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The expression.
    pub expr: Expr,
    holding_since: Option<DateTime<Utc>>,
}

impl Check {
    /// A check of `expr`.
    pub fn new(expr: Expr) -> Check {
        Check {
            expr,
            holding_since: None,
        }
    }

    /// Evaluates against `data` at `now`, with `{target}` standing for `target`.
    pub fn evaluate(&mut self, data: &dyn LiveData, target: &str, now: DateTime<Utc>) -> Verdict {
        let e = &self.expr;
        let name = e.target.replace("{target}", target);
        let value = data.measure(&name, &e.measure, e.over);
        let shown = |v: f64| show(&e.measure, v);
        let Some(v) = value.filter(|v| v.is_finite()) else {
            self.holding_since = None;
            return Verdict {
                passed: None,
                value: None,
                text: match e.measure {
                    // A probe's own rate is how often we probe, never the traffic.
                    Measure::Rate => format!(
                        "{}: no traffic count for {name} (a probe's rate is not traffic)",
                        self.expr.text
                    ),
                    _ => format!("{}: no data for {name} yet", self.expr.text),
                },
            };
        };
        let holds = e.op.holds(v, e.value);
        let mut text = format!(
            "{} of {name} over {} is {} ({} {})",
            label(&e.measure),
            crate::core::units::format_duration(e.over),
            shown(v),
            e.op.as_str(),
            shown(e.value)
        );
        let passed = match (holds, e.hold) {
            (false, _) => {
                self.holding_since = None;
                false
            }
            (true, None) => true,
            (true, Some(hold)) => {
                let since = *self.holding_since.get_or_insert(now);
                let held = (now - since).to_std().unwrap_or_default();
                if held >= hold {
                    text.push_str(&format!(
                        ", held for {}",
                        crate::core::units::format_duration(hold)
                    ));
                    true
                } else {
                    text.push_str(&format!(
                        ", holding for {} of {}",
                        crate::core::units::format_duration(held),
                        crate::core::units::format_duration(hold)
                    ));
                    false
                }
            }
        };
        Verdict {
            passed: Some(passed),
            value: Some(v),
            text,
        }
    }
}

fn label(m: &Measure) -> String {
    match m {
        Measure::ErrorRate => "error rate".into(),
        Measure::Ratio4xx => "4xx share".into(),
        Measure::ClassShare(c) => format!("{c} share"),
        Measure::Rate => "request rate".into(),
        Measure::Quantile(q) => format!("p{}", q / 10),
    }
}

fn show(m: &Measure, v: f64) -> String {
    match m {
        Measure::ErrorRate | Measure::Ratio4xx | Measure::ClassShare(_) => {
            let p = v * 100.0;
            if p >= 10.0 || p == 0.0 {
                format!("{p:.0}%")
            } else {
                format!("{p:.2}%")
            }
        }
        Measure::Rate => format!("{v:.1}/s"),
        Measure::Quantile(_) => format!("{:.0}ms", v * 1000.0),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    struct Fake(f64);
    impl LiveData for Fake {
        fn measure(&self, target: &str, m: &Measure, w: Duration) -> Option<f64> {
            (target == "payments" && w == Duration::from_secs(60) && *m == Measure::ErrorRate)
                .then_some(self.0)
                .or((target == "/api/search").then_some(0.25))
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn expressions_parse_into_base_units() {
        let e = parse("error_rate({target}) > 1% over 1m").unwrap();
        assert_eq!(
            (e.measure.clone(), e.op, e.value),
            (Measure::ErrorRate, Op::Gt, 0.01)
        );
        assert_eq!(e.over, Duration::from_secs(60));
        let e = parse("p95(/api/search) < 300ms over 5m for 10m").unwrap();
        assert_eq!(e.measure, Measure::Quantile(950));
        assert!((e.value - 0.3).abs() < 1e-12);
        assert_eq!(e.hold, Some(Duration::from_secs(600)));
        let e = parse("class_share({target}, timeout) >= 50%").unwrap();
        assert_eq!(e.measure, Measure::ClassShare("timeout".into()));
        assert_eq!(parse("rate(payments) > 5/s").unwrap().value, 5.0);
    }

    #[test]
    fn mistakes_point_at_their_column() {
        let cases = [
            ("eror_rate(x) > 1%", 0, "did you mean `error_rate`?"),
            ("error_rate(x) = 1%", 14, "expected a comparison"),
            ("error_rate(x) > 1", 16, "% sign"),
            ("p95(x) < 3 parsecs", 9, "a latency"),
            ("error_rate({tgt}) > 1%", 11, "unknown variable `{tgt}`"),
            ("error_rate(x) > 1% over soon", 24, "soon"),
            ("error_rate(x) > 1% during 5m", 19, "unexpected `during`"),
            ("class_share(x) > 5%", 12, "needs a class"),
            ("error_rate(x > 1%", 11, "missing `)`"),
        ];
        for (text, column, needle) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn checks_evaluate_and_hold_for_their_duration() {
        let mut c = Check::new(parse("error_rate({target}) < 1% for 15m").unwrap());
        let v = c.evaluate(&Fake(0.004), "payments", t(0));
        assert_eq!(v.passed, Some(false), "{}", v.text);
        assert!(v.text.contains("holding for 0s of 15m"), "{}", v.text);
        assert_eq!(
            c.evaluate(&Fake(0.004), "payments", t(900)).passed,
            Some(true)
        );
        // A relapse restarts the clock.
        assert_eq!(
            c.evaluate(&Fake(0.05), "payments", t(901)).passed,
            Some(false)
        );
        assert_eq!(
            c.evaluate(&Fake(0.004), "payments", t(902)).passed,
            Some(false)
        );
        let v = c.evaluate(&Fake(0.004), "checkout", t(903));
        assert_eq!((v.passed, v.value), (None, None), "{}", v.text);

        let mut c = Check::new(parse("p95(/api/search) >= 200ms").unwrap());
        let v = c.evaluate(&Fake(0.0), "x", t(0));
        assert_eq!(v.passed, Some(true));
        assert_eq!(v.text, "p95 of /api/search over 1m is 250ms (>= 200ms)");
    }
}
