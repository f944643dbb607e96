//! Who is at the keyboard: the name every event a person writes carries as its
//! `actor`. The config's `responder:` when set, else `$USER@host`, so two
//! responders on different machines are told apart in a shared timeline.

use crate::core::incident::is_automation;

/// Longest responder name.
const MAX_NAME: usize = 64;

/// The configured name, else `$USER@host` (`responder` when `$USER` is unset,
/// without `@host` when the host name cannot be read).
pub fn name(configured: Option<&str>) -> String {
    if let Some(n) = configured.map(str::trim).filter(|n| check(n).is_ok()) {
        return n.to_string();
    }
    let user = std::env::var("USER")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty() && check(u).is_ok())
        .unwrap_or_else(|| "responder".into());
    match host() {
        Some(h) => format!("{user}@{h}"),
        None => user,
    }
}

/// Why `name` cannot name a person: empty, too long, control characters, or a
/// name the tool or automation uses (`ic`, `ci`, `*[bot]`, …), whose events
/// would never count as a person's.
pub fn check(name: &str) -> Result<(), String> {
    let n = name.trim();
    if n.is_empty() {
        return Err("`responder` is empty".into());
    }
    if n.chars().count() > MAX_NAME {
        return Err(format!("`responder` is longer than {MAX_NAME} characters"));
    }
    if n.chars().any(char::is_control) {
        return Err("`responder` holds a control character".into());
    }
    // Invisible or look-alike spacing (`ic\u{a0}watch`, `ic\u{200b}`) would
    // pass for the tool's own name on screen.
    if n.chars().any(|c| {
        (c.is_whitespace() && c != ' ')
            || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    }) {
        return Err("`responder` holds an invisible or unusual space character".into());
    }
    if is_automation(n) {
        return Err(format!(
            "`responder: {n}` is a name the tool or automation uses; its acknowledgements would not count"
        ));
    }
    Ok(())
}

/// This machine's host name (short form), when the system tells it.
fn host() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length and gethostname writes
    // at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let full = std::str::from_utf8(&buf[..end]).ok()?;
    let short = full.split('.').next().unwrap_or(full).trim();
    (!short.is_empty() && short.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .then(|| short.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_name_wins_and_bad_ones_fall_back() {
        assert_eq!(name(Some(" ann ")), "ann");
        let fallback = name(Some("ic"));
        assert_ne!(fallback, "ic");
        assert!(!is_automation(&fallback), "{fallback}");
        assert_eq!(name(Some("")), fallback);
    }

    #[test]
    fn tool_and_control_names_are_refused() {
        for bad in [
            "ic",
            "ci",
            "deploy[bot]",
            "",
            "a\u{1b}[2Jb",
            &"x".repeat(65),
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert!(check("ann@laptop").is_ok());
    }
}
