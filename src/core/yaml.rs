//! Loading YAML documents into typed models with errors a human can act on:
//! `FILE:LINE:COL: message` plus a hint (the nearest valid name for a typo).

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest YAML document we accept (config, playbook, scenario).
pub const MAX_YAML_BYTES: usize = 4 * 1024 * 1024;

/// An error in a YAML document, with its position when known (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct YamlError {
    /// The file the document came from (or a name like `<stdin>`).
    pub file: PathBuf,
    /// 1-based line, when the parser knows it.
    pub line: Option<usize>,
    /// 1-based column, when the parser knows it.
    pub column: Option<usize>,
    /// What is wrong, starting with the path of the value (`endpoints[0].interval: ...`).
    pub message: String,
    /// What to do about it, when we can tell.
    pub hint: Option<String>,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl YamlError {
    /// An error about the whole file (no position).
    pub fn whole_file(file: &Path, message: impl Into<String>, hint: Option<String>) -> Self {
        YamlError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            message: message.into(),
            hint,
        }
    }

    /// Translates a `yaml_serde` error into ours, adding a hint where we can.
    pub fn from_yaml(file: &Path, err: &yaml_serde::Error) -> Self {
        let mut message = err.to_string();
        let (mut line, mut column) = (None, None);
        if let Some(loc) = err.location() {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            message = message.replacen(&suffix, "", 1);
            line = Some(loc.line());
            column = Some(loc.column());
        }
        let hint = hint_for(&message);
        if message.contains("repetition limit exceeded") {
            message = "the document expands to too many values (an alias bomb?)".into();
        }
        YamlError {
            file: file.to_path_buf(),
            line,
            column,
            message,
            hint,
        }
    }
}

/// What kept a document from loading, for a caller that reports all of it (`ic lint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// It does not read as the document (a syntax error, an unknown field, a
    /// wrong type): the first such error, where reading stopped.
    Unread(YamlError),
    /// It reads, but these checks failed: every one, in order.
    Checks(Vec<YamlError>),
}

/// Parses `text` (read from `file`) into `T`, refusing oversized documents.
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, YamlError> {
    if text.len() > MAX_YAML_BYTES {
        return Err(YamlError::whole_file(
            file,
            format!(
                "file is {} bytes, more than the {} bytes a YAML document may have",
                text.len(),
                MAX_YAML_BYTES
            ),
            Some("split it, or check that this is the file you meant".into()),
        ));
    }
    if text.trim().is_empty() {
        return Err(YamlError::whole_file(
            file,
            "the file is empty",
            Some("run `ic init` for a commented starter config".into()),
        ));
    }
    if let Some((line, column)) = too_deep(text) {
        return Err(YamlError {
            file: file.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: format!("nested deeper than {MAX_DEPTH} levels"),
            hint: Some(
                "no ic document needs this much nesting: check the brackets and indentation".into(),
            ),
        });
    }
    yaml_serde::from_str(text).map_err(|e| YamlError::from_yaml(file, &e))
}

/// Deepest nesting accepted (flow brackets, or indentation in columns / 2).
pub const MAX_DEPTH: usize = 64;

/// Where nesting first goes past `MAX_DEPTH` (the parser is slow on absurd depths,
/// so this linear scan rejects them first): 1-based (line, column).
fn too_deep(text: &str) -> Option<(usize, usize)> {
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if indent > 2 * MAX_DEPTH {
            return Some((n + 1, indent + 1));
        }
    }
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = ' ';
    for c in text.chars() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            comment = false;
            prev = c;
            continue;
        }
        match quote {
            Some(q) if c == q && prev != '\\' => quote = None,
            Some(_) => {}
            None if comment => {}
            None => match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' | '\'' => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some((line, col));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    None
}

/// Suggests the nearest valid name for an unknown field or variant.
fn hint_for(message: &str) -> Option<String> {
    let (kind, rest) = if let Some(i) = message.find("unknown field `") {
        ("field", &message[i + "unknown field `".len()..])
    } else if let Some(i) = message.find("unknown variant `") {
        ("value", &message[i + "unknown variant `".len()..])
    } else {
        return None;
    };
    let unknown = rest.split('`').next()?;
    let candidates: Vec<&str> = rest
        .split_once("expected")
        .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    nearest(unknown, &candidates)
        .map(|best| format!("did you mean `{best}`?"))
        .or_else(|| {
            (!candidates.is_empty())
                .then(|| format!("valid {kind}s here: {}", candidates.join(", ")))
        })
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        interval: crate::core::units::HumanDuration,
        name: Option<String>,
    }

    #[test]
    fn unknown_field_gets_position_and_nearest_name() {
        let e = parse::<Doc>(Path::new("x.yaml"), "interval: 2s\nnmae: a\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(1)));
        assert_eq!(e.hint.as_deref(), Some("did you mean `name`?"));
        assert!(
            e.to_string()
                .starts_with("x.yaml:2:1: unknown field `nmae`")
        );
    }

    #[test]
    fn syntax_error_has_a_position() {
        let e = parse::<Doc>(Path::new("x.yaml"), "interval: [2s\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
        assert!(!e.message.contains(" at line "), "{e}");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse::<yaml_serde::Value>(Path::new("bomb.yaml"), &doc).unwrap_err();
        assert!(e.message.contains("alias bomb"), "{e}");
    }

    #[test]
    fn nearest_ignores_unrelated_words() {
        assert_eq!(
            nearest("intervl", &["interval", "timeout"]),
            Some("interval")
        );
        assert_eq!(nearest("zzzzzz", &["interval", "timeout"]), None);
    }

    #[test]
    fn absurd_nesting_is_refused_fast_with_a_position() {
        let text = format!("a: {}{}\n", "[".repeat(200_000), "]".repeat(200_000));
        let started = std::time::Instant::now();
        let e = parse::<serde_json::Value>(Path::new("d.yaml"), &text).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!((e.line, e.column), (Some(1), Some(4 + MAX_DEPTH)));
        assert!(e.message.contains("nested deeper"), "{e}");
        let deep_indent = format!("a:\n{}b: 1\n", " ".repeat(300));
        assert!(parse::<serde_json::Value>(Path::new("d.yaml"), &deep_indent).is_err());
        // Brackets in quotes and comments do not count.
        let fine = format!(
            "a: \"{}\" # {}\nb: [[1]]\n",
            "[".repeat(100),
            "{".repeat(100)
        );
        assert!(parse::<serde_json::Value>(Path::new("d.yaml"), &fine).is_ok());
    }
}
