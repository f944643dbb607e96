//! Prometheus text exposition (0.0.4) and OpenMetrics 1.0 text parser: our
//! own, zero-copy and fast. Names and label values borrow from the input;
//! escaped label values are unescaped only when asked for. A malformed line is
//! reported with its line and column and skipped; the rest is kept. Never
//! panics, whatever the input, and hostile input stays cheap: linear time
//! (families are found by name through an index), at most [`MAX_ERRORS`]
//! errors listed (the rest counted), and with [`parse_limited`] at most so many
//! samples kept (the rest counted).

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// Which text format to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4 (timestamps in integer milliseconds).
    Text,
    /// OpenMetrics 1.0 text (timestamps in seconds, exemplars, `# EOF`).
    OpenMetrics,
}

impl Format {
    /// Picks the format from a `Content-Type` header.
    pub fn from_content_type(ct: Option<&str>) -> Format {
        match ct {
            Some(c) if c.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

/// The type a `# TYPE` line declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// counter
    Counter,
    /// gauge
    Gauge,
    /// histogram
    Histogram,
    /// gaugehistogram (OpenMetrics)
    GaugeHistogram,
    /// summary
    Summary,
    /// info (OpenMetrics)
    Info,
    /// stateset (OpenMetrics)
    StateSet,
    /// untyped / unknown
    Unknown,
}

impl MetricType {
    fn parse(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "untyped" | "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }
}

/// A metric family declared by `# TYPE` / `# HELP` / `# UNIT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    /// Family name.
    pub name: &'a str,
    /// Declared type (`Unknown` when only HELP was given).
    pub kind: MetricType,
    /// HELP text as written (escapes not resolved).
    pub help: Option<&'a str>,
    /// UNIT (OpenMetrics).
    pub unit: Option<&'a str>,
}

/// One label: name and value, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label<'a> {
    /// Label name.
    pub name: &'a str,
    raw: &'a str,
    escaped: bool,
}

impl<'a> Label<'a> {
    /// The value as written, escapes included (escapes are canonical, so this identifies the value).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The label value with `\\`, `\"` and `\n` resolved.
    pub fn value(&self) -> Cow<'a, str> {
        if !self.escaped {
            return Cow::Borrowed(self.raw);
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        Cow::Owned(out)
    }
}

/// An OpenMetrics exemplar attached to a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    labels: Range<u32>,
    /// Exemplar value.
    pub value: f64,
    /// Exemplar timestamp, seconds.
    pub timestamp: Option<f64>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Sample name (`http_requests_total`, `x_bucket`, …).
    pub name: &'a str,
    labels: Range<u32>,
    /// Value (`NaN` and infinities included).
    pub value: f64,
    /// Timestamp as written: milliseconds in text 0.0.4, seconds in OpenMetrics.
    pub timestamp: Option<f64>,
    /// 1-based line number.
    pub line: u32,
    /// Exemplar (OpenMetrics).
    pub exemplar: Option<Exemplar>,
}

/// A malformed line: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based byte column.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// A parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition<'a> {
    /// Declared families, in order of first mention.
    pub families: Vec<Family<'a>>,
    /// Every sample, in input order.
    pub samples: Vec<Sample<'a>>,
    labels: Vec<Label<'a>>,
    /// The first [`MAX_ERRORS`] malformed lines, which were skipped.
    pub errors: Vec<ParseError>,
    /// Malformed lines in all (listed in `errors` or not).
    pub malformed_lines: usize,
    /// Well-formed samples past the limit of [`parse_limited`]: counted, not kept.
    pub dropped_samples: usize,
    /// Whether an OpenMetrics `# EOF` was seen.
    pub saw_eof: bool,
    /// Position of each family in `families`, by name.
    family_index: FxHashMap<&'a str, usize>,
}

/// Most malformed lines listed in [`Exposition::errors`]; the rest are only counted.
pub const MAX_ERRORS: usize = 1000;

impl<'a> Exposition<'a> {
    /// The labels of a sample.
    pub fn labels(&self, s: &Sample<'a>) -> &[Label<'a>] {
        self.labels
            .get(s.labels.start as usize..s.labels.end as usize)
            .unwrap_or(&[])
    }

    /// The labels of an exemplar.
    pub fn exemplar_labels(&self, e: &Exemplar) -> &[Label<'a>] {
        self.labels
            .get(e.labels.start as usize..e.labels.end as usize)
            .unwrap_or(&[])
    }

    /// The value of label `name` on a sample, if present.
    pub fn label(&self, s: &Sample<'a>, name: &str) -> Option<Cow<'a, str>> {
        self.labels(s)
            .iter()
            .find(|l| l.name == name)
            .map(Label::value)
    }

    /// The declared family a sample belongs to (by name, then by suffix).
    pub fn family_of(&self, s: &Sample<'a>) -> Option<&Family<'a>> {
        const SUFFIXES: [&str; 8] = [
            "_total", "_bucket", "_count", "_sum", "_created", "_info", "_gcount", "_gsum",
        ];
        self.family(s.name).or_else(|| {
            SUFFIXES
                .iter()
                .filter_map(|suf| s.name.strip_suffix(suf))
                .find_map(|base| self.family(base))
        })
    }

    /// The family declared with exactly this name.
    pub fn family(&self, name: &str) -> Option<&Family<'a>> {
        self.family_index
            .get(name)
            .and_then(|&i| self.families.get(i))
    }

    /// The family `name`, added if new and fewer than `limit` are known.
    fn family_mut(&mut self, name: &'a str, limit: usize) -> Option<&mut Family<'a>> {
        let pos = match self.family_index.get(name) {
            Some(&pos) => pos,
            None if self.families.len() >= limit => return None,
            None => {
                self.families.push(Family {
                    name,
                    kind: MetricType::Unknown,
                    help: None,
                    unit: None,
                });
                self.family_index.insert(name, self.families.len() - 1);
                self.families.len() - 1
            }
        };
        self.families.get_mut(pos)
    }

    fn malformed(&mut self, line: u32, column: u32, message: String) {
        self.malformed_lines += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ParseError {
                line,
                column,
                message,
            });
        }
    }
}

/// Parses an exposition. Malformed lines land in `errors`; everything else is kept.
pub fn parse(input: &str, format: Format) -> Exposition<'_> {
    parse_limited(input, format, usize::MAX)
}

/// Parses an exposition, keeping at most `max_samples` samples: the ones past
/// the limit are still checked (a malformed one is an error) and counted in
/// `dropped_samples`, but take no memory. At most as many families are kept.
pub fn parse_limited(input: &str, format: Format, max_samples: usize) -> Exposition<'_> {
    let mut out = Exposition {
        samples: Vec::with_capacity((input.len() / 64).min(max_samples)),
        labels: Vec::with_capacity(input.len() / 32),
        ..Exposition::default()
    };
    let bytes = input.as_bytes();
    let mut start = 0usize;
    let mut line_no = 0u32;
    while start < bytes.len() {
        line_no = line_no.saturating_add(1);
        let end = memchr_newline(bytes, start);
        let mut line_end = end;
        if line_end > start && bytes[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        // Safe slicing: line boundaries are ASCII bytes, so they are char boundaries.
        let line = &input[start..line_end];
        if out.saw_eof {
            if !line.trim().is_empty() {
                out.malformed(line_no, 1, "content after # EOF".into());
            }
        } else if let Err((col, message)) = parse_line(line, line_no, format, max_samples, &mut out)
        {
            out.malformed(line_no, col as u32 + 1, message);
        }
        start = end + 1;
    }
    out
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

type LineResult = Result<(), (usize, String)>;

fn parse_line<'a>(
    line: &'a str,
    line_no: u32,
    format: Format,
    max_samples: usize,
    out: &mut Exposition<'a>,
) -> LineResult {
    let b = line.as_bytes();
    let first = skip_ws(b, 0);
    if first == b.len() {
        return Ok(());
    }
    if b[first] == b'#' {
        return parse_comment(line, first, format, max_samples, out);
    }
    parse_sample(line, first, line_no, format, max_samples, out)
}

fn parse_comment<'a>(
    line: &'a str,
    at: usize,
    format: Format,
    max_families: usize,
    out: &mut Exposition<'a>,
) -> LineResult {
    let b = line.as_bytes();
    let mut i = skip_ws(b, at + 1);
    let word_start = i;
    while i < b.len() && !is_ws(b[i]) {
        i += 1;
    }
    let keyword = &line[word_start..i];
    if keyword == "EOF" && format == Format::OpenMetrics && skip_ws(b, i) == b.len() {
        out.saw_eof = true;
        return Ok(());
    }
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return Ok(()); // an ordinary comment
    }
    let name_start = skip_ws(b, i);
    let name_end = scan_metric_name(b, name_start);
    if name_end == name_start {
        return Err((name_start, format!("# {keyword} needs a metric name")));
    }
    let name = &line[name_start..name_end];
    if name_end < b.len() && !is_ws(b[name_end]) {
        return Err((
            name_end,
            format!(
                "invalid character {:?} in metric name",
                char_at(line, name_end)
            ),
        ));
    }
    let rest_start = skip_ws(b, name_end);
    let rest = line[rest_start..].trim_end_matches([' ', '\t']);
    let kind = match keyword {
        "TYPE" => Some(
            MetricType::parse(rest)
                .ok_or_else(|| (rest_start, format!("unknown metric type `{rest}`")))?,
        ),
        _ => None,
    };
    if let Some(family) = out.family_mut(name, max_families) {
        match (keyword, kind) {
            ("HELP", _) => family.help = Some(rest),
            ("UNIT", _) => family.unit = Some(rest),
            (_, Some(kind)) => family.kind = kind,
            _ => {}
        }
    }
    Ok(())
}

fn parse_sample<'a>(
    line: &'a str,
    at: usize,
    line_no: u32,
    format: Format,
    max_samples: usize,
    out: &mut Exposition<'a>,
) -> LineResult {
    let b = line.as_bytes();
    let name_end = scan_metric_name(b, at);
    if name_end == at {
        return Err((
            at,
            format!("expected a metric name, found {:?}", char_at(line, at)),
        ));
    }
    let name = &line[at..name_end];
    let labels_start = out.labels.len();
    let mut i = skip_ws(b, name_end);
    if i < b.len() && b[i] == b'{' {
        i = parse_labels(line, i, out).inspect_err(|_| out.labels.truncate(labels_start))?;
        i = skip_ws(b, i);
    } else if i == name_end && i < b.len() {
        return Err((
            i,
            format!("invalid character {:?} in metric name", char_at(line, i)),
        ));
    }
    let labels = labels_start as u32..out.labels.len() as u32;
    let fail = |out: &mut Exposition<'a>, e: (usize, String)| {
        out.labels.truncate(labels_start);
        Err(e)
    };
    let (value, next) = match parse_number(line, i) {
        Ok(v) => v,
        Err(e) => return fail(out, e),
    };
    i = skip_ws(b, next);
    let mut timestamp = None;
    if i < b.len() && b[i] != b'#' {
        match parse_number(line, i) {
            Ok((ts, after)) if ts.is_finite() => {
                timestamp = Some(ts);
                i = skip_ws(b, after);
            }
            Ok(_) => return fail(out, (i, "timestamp must be a finite number".into())),
            Err(e) => return fail(out, e),
        }
    }
    let mut exemplar = None;
    if i < b.len() && b[i] == b'#' && format == Format::OpenMetrics {
        match parse_exemplar(line, i, out) {
            Ok((ex, after)) => {
                exemplar = Some(ex);
                i = after;
            }
            Err(e) => return fail(out, e),
        }
    }
    if i < b.len() {
        return fail(
            out,
            (
                i,
                format!("unexpected {:?} after the sample value", char_at(line, i)),
            ),
        );
    }
    if out.samples.len() >= max_samples {
        out.labels.truncate(labels_start);
        out.dropped_samples += 1;
        return Ok(());
    }
    if out.samples.len() == out.samples.capacity() {
        // Doubling, but never past the limit.
        let more = out
            .samples
            .len()
            .max(64)
            .min(max_samples - out.samples.len());
        out.samples.reserve_exact(more);
    }
    out.samples.push(Sample {
        name,
        labels,
        value,
        timestamp,
        line: line_no,
        exemplar,
    });
    Ok(())
}

fn parse_exemplar<'a>(
    line: &'a str,
    at: usize,
    out: &mut Exposition<'a>,
) -> Result<(Exemplar, usize), (usize, String)> {
    let b = line.as_bytes();
    let mut i = skip_ws(b, at + 1);
    if i >= b.len() || b[i] != b'{' {
        return Err((i, "an exemplar starts with `# {`".into()));
    }
    let start = out.labels.len() as u32;
    i = skip_ws(b, parse_labels(line, i, out)?);
    let labels = start..out.labels.len() as u32;
    let (value, next) = parse_number(line, i)?;
    i = skip_ws(b, next);
    let mut timestamp = None;
    if i < b.len() {
        let (ts, next) = parse_number(line, i)?;
        timestamp = Some(ts);
        i = skip_ws(b, next);
    }
    Ok((
        Exemplar {
            labels,
            value,
            timestamp,
        },
        i,
    ))
}

/// Parses `{name="value",...}` starting at the `{`; returns the index after `}`.
fn parse_labels<'a>(
    line: &'a str,
    open: usize,
    out: &mut Exposition<'a>,
) -> Result<usize, (usize, String)> {
    let b = line.as_bytes();
    let mut i = open + 1;
    loop {
        i = skip_ws(b, i);
        if i >= b.len() {
            return Err((i, "unclosed `{`: expected `}`".into()));
        }
        if b[i] == b'}' {
            return Ok(i + 1);
        }
        let name_end = scan_label_name(b, i);
        if name_end == i {
            return Err((
                i,
                format!("expected a label name, found {:?}", char_at(line, i)),
            ));
        }
        let name = &line[i..name_end];
        i = skip_ws(b, name_end);
        if i >= b.len() || b[i] != b'=' {
            return Err((i, format!("expected `=` after label `{name}`")));
        }
        i = skip_ws(b, i + 1);
        if i >= b.len() || b[i] != b'"' {
            return Err((
                i,
                format!("the value of label `{name}` must be in double quotes"),
            ));
        }
        let value_start = i + 1;
        let mut j = value_start;
        let mut escaped = false;
        loop {
            match b.get(j) {
                None => {
                    return Err((
                        value_start - 1,
                        format!("unterminated value of label `{name}`"),
                    ));
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match b.get(j + 1) {
                        Some(b'\\' | b'"' | b'n') => j += 2,
                        Some(_) => {
                            return Err((
                                j,
                                "invalid escape: only \\\\, \\\" and \\n are allowed".into(),
                            ));
                        }
                        None => return Err((j, format!("unterminated value of label `{name}`"))),
                    }
                }
                Some(_) => j += 1,
            }
        }
        out.labels.push(Label {
            name,
            raw: &line[value_start..j],
            escaped,
        });
        i = skip_ws(b, j + 1);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            _ => return Err((i, "expected `,` or `}` after a label".into())),
        }
    }
}

/// Parses a float (`1`, `-2.5e3`, `NaN`, `+Inf`, `-Inf`) at `at`; returns it and the index after it.
fn parse_number(line: &str, at: usize) -> Result<(f64, usize), (usize, String)> {
    let b = line.as_bytes();
    let mut end = at;
    while end < b.len() && !is_ws(b[end]) {
        end += 1;
    }
    let tok = &line[at..end];
    if tok.is_empty() {
        return Err((at, "expected a value".into()));
    }
    // Fast path: plain non-negative integers.
    if tok.len() <= 15 && tok.bytes().all(|c| c.is_ascii_digit()) {
        let mut v = 0u64;
        for c in tok.bytes() {
            v = v * 10 + u64::from(c - b'0');
        }
        return Ok((v as f64, end));
    }
    let v = match tok {
        "NaN" | "nan" => f64::NAN,
        "+Inf" | "Inf" | "+inf" | "inf" => f64::INFINITY,
        "-Inf" | "-inf" => f64::NEG_INFINITY,
        _ => match tok.parse::<f64>() {
            Ok(v) if !tok.eq_ignore_ascii_case("infinity") => v,
            _ => return Err((at, format!("`{}` is not a number", truncate(tok, 40)))),
        },
    };
    Ok((v, end))
}

fn scan_metric_name(b: &[u8], at: usize) -> usize {
    let mut i = at;
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_' || b[i] == b':') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
            i += 1;
        }
    }
    i
}

fn scan_label_name(b: &[u8], at: usize) -> usize {
    let mut i = at;
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
    }
    i
}

#[inline]
fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

fn char_at(line: &str, i: usize) -> char {
    line.get(i..).and_then(|s| s.chars().next()).unwrap_or(' ')
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_samples_and_labels() {
        let text = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
                    http_requests_total{route=\"/a\",status=\"200\"} 10 1700000000000\n\
                    http_requests_total{status=\"500\", route=\"/a\",} 2\n\
                    up 1\n";
        let e = parse(text, Format::Text);
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert_eq!(e.samples.len(), 3);
        assert_eq!(e.families.len(), 1);
        assert_eq!(e.families[0].kind, MetricType::Counter);
        assert_eq!(e.families[0].help, Some("Requests."));
        let s = &e.samples[0];
        assert_eq!(
            (s.name, s.value, s.timestamp, s.line),
            ("http_requests_total", 10.0, Some(1.7e12), 3)
        );
        assert_eq!(e.label(s, "route").as_deref(), Some("/a"));
        assert_eq!(e.label(&e.samples[1], "status").as_deref(), Some("500"));
        assert_eq!(e.labels(&e.samples[2]).len(), 0);
        assert_eq!(e.family_of(s).map(|f| f.name), Some("http_requests_total"));
    }

    #[test]
    fn escapes_spaces_tabs_and_special_values() {
        let text = "m{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\"}\t+Inf\nn \t NaN\no{} -Inf\np  -1.5e-3\n";
        let e = parse(text, Format::Text);
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        let m = &e.samples[0];
        assert_eq!(e.label(m, "path").as_deref(), Some("C:\\dir"));
        assert_eq!(e.label(m, "q").as_deref(), Some("say \"hi\""));
        assert_eq!(e.label(m, "nl").as_deref(), Some("a\nb"));
        assert_eq!(m.value, f64::INFINITY);
        assert!(e.samples[1].value.is_nan());
        assert_eq!(e.samples[2].value, f64::NEG_INFINITY);
        assert_eq!(e.samples[3].value, -0.0015);
    }

    #[test]
    fn openmetrics_units_exemplars_created_and_eof() {
        let text = "# TYPE req counter\n# UNIT req_seconds seconds\n\
                    req_total{a=\"b\"} 5 1700000000.5 # {trace_id=\"abc\"} 0.25 1700000000.1\n\
                    req_created{a=\"b\"} 1700000000\n# EOF\n";
        let e = parse(text, Format::OpenMetrics);
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert!(e.saw_eof);
        let s = &e.samples[0];
        assert_eq!(s.timestamp, Some(1_700_000_000.5));
        let ex = s.exemplar.as_ref().unwrap();
        assert_eq!(ex.value, 0.25);
        assert_eq!(e.exemplar_labels(ex)[0].value(), "abc");
        assert_eq!(e.family_of(&e.samples[1]).map(|f| f.name), Some("req"));
        assert_eq!(e.families[1].unit, Some("seconds"));
    }

    #[test]
    fn malformed_lines_are_reported_and_skipped() {
        let text = "good 1\nbad{a=\"x} 2\nalso_good 3\n9bad 1\nx{a=\"1\" 2\nx{a=1} 2\ny 1 2 3\nz abc\nw{a=\"\\q\"} 1\n# TYPE t wat\n";
        let e = parse(text, Format::Text);
        let names: Vec<&str> = e.samples.iter().map(|s| s.name).collect();
        assert_eq!(names, ["good", "also_good"]);
        let lines: Vec<u32> = e.errors.iter().map(|er| er.line).collect();
        assert_eq!(lines, [2, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(
            e.errors[0].to_string(),
            "2:7: unterminated value of label `a`"
        );
        assert_eq!(
            (e.errors[1].column, e.errors[1].message.as_str()),
            (1, "expected a metric name, found '9'")
        );
        assert_eq!(e.errors[4].message, "unexpected '3' after the sample value");
        assert_eq!(e.errors[5].message, "`abc` is not a number");
        assert!(e.labels.is_empty(), "failed lines leave no labels behind");
    }

    #[test]
    fn hostile_input_stays_linear_and_bounded() {
        // Many malformed lines: the first MAX_ERRORS are listed, all are counted.
        let garbage = "!\n".repeat(MAX_ERRORS * 3);
        let e = parse(&garbage, Format::Text);
        assert_eq!(
            (e.errors.len(), e.malformed_lines),
            (MAX_ERRORS, MAX_ERRORS * 3)
        );
        assert_eq!(e.errors[MAX_ERRORS - 1].line, MAX_ERRORS as u32);
        // Past the limit, samples are checked and counted but not kept.
        let text = "a{x=\"1\"} 1\nb{x=\"2\"} 2\nc{x=\"3\"} 3\nd{x=\"4\"} oops\n";
        let e = parse_limited(text, Format::Text, 2);
        let names: Vec<&str> = e.samples.iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!((e.dropped_samples, e.malformed_lines), (1, 1));
        assert_eq!(e.labels.len(), 2, "dropped samples leave no labels behind");
        // A family per sample is found by name, not by a scan.
        let many: String = (0..20_000)
            .map(|i| format!("# TYPE f{i} gauge\n# HELP f{i} h\nf{i} 1\n"))
            .collect();
        let e = parse(&many, Format::Text);
        assert_eq!(e.families.len(), 20_000);
        let last = &e.samples[19_999];
        assert_eq!(
            e.family_of(last).map(|f| (f.name, f.kind, f.help)),
            Some(("f19999", MetricType::Gauge, Some("h")))
        );
        // And, with a limit, no more families than samples are kept.
        let e = parse_limited(&many, Format::Text, 100);
        assert_eq!((e.samples.len(), e.families.len()), (100, 100));
        assert_eq!(
            e.family_of(&e.samples[99]).map(|f| f.kind),
            Some(MetricType::Gauge)
        );
    }

    #[test]
    fn content_after_eof_and_crlf() {
        let e = parse("a 1\r\n# EOF\r\nb 2\n", Format::OpenMetrics);
        assert_eq!(e.samples.len(), 1);
        assert_eq!(e.errors[0].message, "content after # EOF");
    }
}
