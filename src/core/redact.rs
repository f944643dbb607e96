//! Hiding secrets in text a responder will see or store (command echoes,
//! command output, event data): `${ENV}` values (as they are, and percent- or
//! form-encoded, see `sample::redact`), secret headers,
//! `Bearer`/`Basic` credentials, `key=value` pairs whose key names a secret,
//! passwords in URLs, and well-known token shapes (GitHub, GitLab, AWS, Slack,
//! `sk-`/`sk_live_` keys, JWTs, private key blocks). Hand-written scanning,
//! pure, and idempotent: redacting redacted text changes nothing.

use crate::core::sample::{MIN_SECRET_BYTES, is_secret_header, redact};

/// What replaces a hidden value.
pub const REDACTED: &str = "[redacted]";

/// Words that make a `key=value` key secret (matched case-insensitively).
const KEY_WORDS: [&str; 9] = [
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "session",
];

/// Header names that are secret as a whole.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Letters that may follow a secret word and still name a secret
/// (`sessionid`, `secretkey`, `tokenValue`); any other lowercase letter makes
/// it a different word (`tokenizer`, `sessions`, `secretary`).
const WORD_SUFFIXES: [&str; 5] = ["id", "key", "token", "value", "hash"];

/// Rescans at most this many times; a pass only changes text when a
/// replacement exposed a new word boundary.
const MAX_PASSES: usize = 4;

/// Hides every secret in `text`, replacing the secret part with `[redacted]`.
///
/// `secrets` are values from `${ENV}` interpolation, hidden also when
/// percent- or form-encoded; entries shorter than [`MIN_SECRET_BYTES`] are ignored. Header names and keys are kept so the reader
/// still sees what was hidden.
pub fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut exact: Vec<String> = secrets
        .iter()
        .filter(|s| s.len() >= MIN_SECRET_BYTES && !REDACTED.contains(s.as_str()))
        .cloned()
        .collect();
    // Longest first, so a secret containing another is hidden whole.
    exact.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = redact(text, &exact);
    for _ in 0..MAX_PASSES {
        let next = scan(&out);
        if next == out {
            break;
        }
        out = redact(&next, &exact);
    }
    out
}

/// Applies [`redact_text`] to every string (and object key) in `value`, and
/// hides every scalar under an object key that names a secret.
pub fn redact_json(value: &mut serde_json::Value, secrets: &[String]) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let r = redact_text(s, secrets);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, secrets)),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (key, mut v) in old {
                if key_is_secret(&key) {
                    hide_all(&mut v);
                } else {
                    redact_json(&mut v, secrets);
                }
                map.insert(redact_text(&key, secrets), v);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Replaces every non-empty string and every number under `value` with `[redacted]`.
fn hide_all(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.is_empty() => {}
        Value::String(_) | Value::Number(_) => *value = Value::String(REDACTED.to_string()),
        Value::Array(items) => items.iter_mut().for_each(hide_all),
        Value::Object(map) => map.values_mut().for_each(hide_all),
        Value::Null | Value::Bool(_) => {}
    }
}

/// Whether `lower` (already lowercase) contains `word` as a secret word: not
/// continued by another lowercase letter unless by one of `suffixes`.
fn has_word(lower: &str, word: &str, suffixes: &[&str]) -> bool {
    lower.match_indices(word).any(|(at, _)| {
        let after = &lower[at + word.len()..];
        match after.as_bytes().first() {
            Some(c) if c.is_ascii_lowercase() => suffixes.iter().any(|s| after.starts_with(s)),
            _ => true,
        }
    })
}

/// Whether a header name hides its whole value: [`is_secret_header`], without
/// its false positives on ordinary words (`author`, `tokenizer`, `sessions`).
fn header_is_secret(name: &str) -> bool {
    if !is_secret_header(name) {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&lower.as_str())
        || [
            "token", "secret", "api-key", "apikey", "password", "session",
        ]
        .iter()
        .any(|w| has_word(&lower, w, &WORD_SUFFIXES))
        || has_word(
            &lower,
            "auth",
            &[
                "orization",
                "orisation",
                "id",
                "key",
                "token",
                "value",
                "hash",
            ],
        )
}

/// Whether a `key=value`, `key: value` or JSON key names a secret.
fn key_is_secret(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    KEY_WORDS
        .iter()
        .any(|w| has_word(&lower, w, &WORD_SUFFIXES))
        || header_is_secret(key)
}

/// One hit: `text[start..end]` becomes `with`, scanning resumes at `resume`
/// (`text[end..resume]` is kept as it is).
struct Hit {
    start: usize,
    end: usize,
    resume: usize,
    with: &'static str,
}

impl Hit {
    /// Hides `start..end` and resumes right after it.
    fn span(start: usize, end: usize) -> Option<Hit> {
        (end > start).then_some(Hit {
            start,
            end,
            resume: end,
            with: REDACTED,
        })
    }
}

/// One pass over `text`, applying every structural rule.
fn scan(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        match hit_at(text, i) {
            Some(hit) => {
                out.push_str(&text[copied..hit.start]);
                out.push_str(hit.with);
                copied = hit.end;
                i = hit.resume.max(i + 1);
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Letters, digits and `_`: a token continues through these.
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Bytes of a key name (`X-Api-Key`, `db.password`, `--token`).
fn is_key(c: u8) -> bool {
    is_word(c) || c == b'-' || c == b'.'
}

/// Bytes of a credential after `Bearer`/`Basic` (base64, base64url, token68).
fn is_cred(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/=".contains(&c)
}

/// Length of the run of bytes satisfying `ok` from `from`.
fn run(b: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    b.get(from..)
        .map_or(0, |rest| rest.iter().take_while(|c| ok(**c)).count())
}

/// End of the line containing `from` (index of `\n`/`\r`, or the text's end).
fn line_end(b: &[u8], from: usize) -> usize {
    from + run(b, from, |c| c != b'\n' && c != b'\r')
}

/// The rule that matches at `i`, if any. Every rule starts on an ASCII byte,
/// so `i` is a char boundary whenever a rule matches.
fn hit_at(t: &str, i: usize) -> Option<Hit> {
    let b = t.as_bytes();
    let c = b[i];
    let prev = i.checked_sub(1).map(|p| b[p]);
    match c {
        b'-' => {
            if let Some(hit) = private_key(t, i) {
                return Some(hit);
            }
        }
        b':' => return url_password(b, i),
        b'"' | b'\'' => {
            if let Some(hit) = quoted_pair(t, i) {
                return Some(hit);
            }
        }
        _ => {}
    }
    if c.is_ascii_alphanumeric() && prev.is_none_or(|p| !is_word(p)) {
        if let Some(hit) = token_shape(b, i) {
            return Some(hit);
        }
        if let Some(hit) = auth_scheme(b, i) {
            return Some(hit);
        }
    }
    if is_key(c) && prev.is_none_or(|p| !is_key(p)) {
        return key_value(t, i, prev);
    }
    None
}

/// `-----BEGIN … PRIVATE KEY-----` through `-----END … PRIVATE KEY-----`
/// (to the end of the text when the end line is missing); the marker lines stay.
fn private_key(t: &str, i: usize) -> Option<Hit> {
    let rest = &t[i..];
    let label = rest.strip_prefix("-----BEGIN ")?;
    let close = label.find("-----")?;
    if !label[..close].contains("PRIVATE KEY") || label[..close].contains('\n') {
        return None;
    }
    let body = i + "-----BEGIN ".len() + close + "-----".len();
    let mut from = body;
    while let Some(at) = t[from..].find("-----END ") {
        let end_marker = from + at;
        let after = &t[end_marker + "-----END ".len()..];
        if let Some(close) = after.find("-----")
            && after[..close].contains("PRIVATE KEY")
            && !after[..close].contains('\n')
        {
            return Some(Hit {
                start: body,
                end: end_marker,
                resume: end_marker + "-----END ".len() + close + "-----".len(),
                with: "\n[redacted]\n",
            });
        }
        from = end_marker + 1;
    }
    Some(Hit {
        start: body,
        end: t.len(),
        resume: t.len(),
        with: "\n[redacted]",
    })
}

/// The password in `scheme://user:password@host`.
fn url_password(b: &[u8], i: usize) -> Option<Hit> {
    if !b[i..].starts_with(b"://") {
        return None;
    }
    let from = i + 3;
    let len = run(b, from, |c| {
        !c.is_ascii_whitespace() && !b"/?#'\"<>".contains(&c)
    });
    let authority = &b[from..from + len];
    let at = authority.iter().rposition(|c| *c == b'@')?;
    let colon = authority[..at].iter().position(|c| *c == b':')?;
    Hit::span(from + colon + 1, from + at)
}

/// Well-known token shapes, hidden whole.
fn token_shape(b: &[u8], i: usize) -> Option<Hit> {
    let rest = &b[i..];
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let whole = |prefix: usize, n: usize, min: usize| {
        if n >= min {
            Hit::span(i, i + prefix + n)
        } else {
            None
        }
    };
    if rest.len() > 4 && rest.starts_with(b"gh") && b"pousr".contains(&rest[2]) && rest[3] == b'_' {
        return whole(4, run(b, i + 4, alnum), 20);
    }
    if rest.starts_with(b"github_pat_") {
        return whole(11, run(b, i + 11, is_word), 22);
    }
    if rest.starts_with(b"glpat-") {
        return whole(6, run(b, i + 6, |c| is_word(c) || c == b'-'), 20);
    }
    if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") {
        let n = run(b, i + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let next_ok = b.get(i + 4 + n).is_none_or(|c| !is_word(*c));
        return if n == 16 && next_ok {
            Hit::span(i, i + 20)
        } else {
            None
        };
    }
    if rest.len() > 5 && rest.starts_with(b"xox") && b"abpsr".contains(&rest[3]) && rest[4] == b'-'
    {
        return whole(5, run(b, i + 5, |c| alnum(c) || c == b'-'), 10);
    }
    for prefix in ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk-"] {
        if rest.starts_with(prefix.as_bytes()) {
            let from = i + prefix.len();
            let n = run(b, from, |c| is_word(c) || c == b'-');
            let longest = b[from..from + n]
                .split(|c| !c.is_ascii_alphanumeric())
                .map(<[u8]>::len)
                .max()
                .unwrap_or(0);
            return if longest >= 20 {
                Hit::span(i, from + n)
            } else {
                None
            };
        }
    }
    if rest.starts_with(b"eyJ") {
        let seg = |from: usize| run(b, from, |c| is_word(c) || c == b'-');
        let a = seg(i);
        let b2 = seg(i + a + 1);
        let c = seg(i + a + 1 + b2 + 1);
        let dots = b.get(i + a) == Some(&b'.') && b.get(i + a + 1 + b2) == Some(&b'.');
        if dots && a >= 10 && b2 >= 10 && c >= 10 {
            return Hit::span(i, i + a + 1 + b2 + 1 + c);
        }
    }
    None
}

/// Whether what follows `Bearer`/`Basic` looks like a credential rather than
/// a word of prose: a digit or symbol, or mixed case beyond a capital letter.
fn looks_like_credential(tok: &[u8]) -> bool {
    let upper = tok.iter().filter(|c| c.is_ascii_uppercase()).count();
    let lower = tok.iter().filter(|c| c.is_ascii_lowercase()).count();
    let other = tok.iter().any(|c| !c.is_ascii_alphabetic());
    tok.len() >= 6 && (other || (upper >= 2 && lower >= 1))
}

/// `Bearer <token>` and `Basic <base64>`; the scheme word stays.
fn auth_scheme(b: &[u8], i: usize) -> Option<Hit> {
    let word = run(b, i, |c| c.is_ascii_alphabetic());
    let name = &b[i..i + word];
    if !name.eq_ignore_ascii_case(b"bearer") && !name.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let gap = run(b, i + word, |c| c == b' ' || c == b'\t');
    if gap == 0 {
        return None;
    }
    let from = i + word + gap;
    let mut n = run(b, from, is_cred);
    while n > 0 && b[from + n - 1] == b'.' {
        n -= 1;
    }
    if looks_like_credential(&b[from..from + n]) {
        Hit::span(from, from + n)
    } else {
        None
    }
}

/// Where a quoted string that opens at `open` closes (skipping `\`-escapes),
/// within the line.
fn closing_quote(b: &[u8], open: usize) -> Option<usize> {
    let q = b[open];
    let end = line_end(b, open);
    let mut j = open + 1;
    while j < end {
        match b[j] {
            b'\\' => j += 2,
            c if c == q => return Some(j),
            _ => j += 1,
        }
    }
    None
}

/// JSON or dict style `"key": "value"` / `'key': 'value'` / `"key": 123`
/// where the key names a secret; the quotes stay.
fn quoted_pair(t: &str, i: usize) -> Option<Hit> {
    let b = t.as_bytes();
    let q = b[i];
    let key_len = run(b, i + 1, is_key);
    if key_len == 0 || b.get(i + 1 + key_len) != Some(&q) {
        return None;
    }
    let key = &t[i + 1..i + 1 + key_len];
    let blank = |c: u8| c == b' ' || c == b'\t';
    let mut j = i + 1 + key_len + 1;
    j += run(b, j, blank);
    if b.get(j) != Some(&b':') {
        return None;
    }
    j += 1;
    j += run(b, j, blank);
    if !key_is_secret(key) {
        return None;
    }
    match b.get(j)? {
        b'"' | b'\'' => {
            let close = closing_quote(b, j)?;
            Hit::span(j + 1, close)
        }
        c if c.is_ascii_digit() || *c == b'-' => Hit::span(
            j,
            j + run(b, j, |c| c.is_ascii_alphanumeric() || b"-+.".contains(&c)),
        ),
        _ => None,
    }
}

/// The value of an unquoted `key=value` / `key: value`: a quoted string, or
/// up to whitespace, `&`, a quote, `,` or `;` (with `Bearer`/`Basic` taking
/// the credential after them too).
fn value_span(b: &[u8], v: usize) -> Option<Hit> {
    match b.get(v)? {
        b'"' | b'\'' => {
            if let Some(close) = closing_quote(b, v) {
                return Hit::span(v + 1, close);
            }
        }
        _ => {}
    }
    let stop = |c: u8| c.is_ascii_whitespace() || b"&'\",;".contains(&c);
    let n = run(b, v, |c| !stop(c));
    let word = &b[v..v + n];
    if word.eq_ignore_ascii_case(b"bearer") || word.eq_ignore_ascii_case(b"basic") {
        let gap = run(b, v + n, |c| c == b' ' || c == b'\t');
        let cred = run(b, v + n + gap, is_cred);
        if gap > 0 && cred > 0 {
            return Hit::span(v, v + n + gap + cred);
        }
    }
    Hit::span(v, v + n)
}

/// `Name: value` for secret headers (the value to the end of the line, or to
/// the closing quote when the header sits inside quotes as in
/// `curl -H 'Authorization: …'`), and `key=value` / `key: value` for secret keys.
fn key_value(t: &str, i: usize, prev: Option<u8>) -> Option<Hit> {
    let b = t.as_bytes();
    let key_len = run(b, i, is_key);
    let key = &t[i..i + key_len];
    let blank = |c: u8| c == b' ' || c == b'\t';
    let j = i + key_len;
    match b.get(j)? {
        b':' => {
            if matches!(b.get(j + 1), Some(b':' | b'/')) {
                return None;
            }
            let v = j + 1 + run(b, j + 1, blank);
            if header_is_secret(key) {
                let eol = line_end(b, v);
                let mut end = eol;
                if let Some(q @ (b'\'' | b'"')) = prev
                    && let Some(at) = b[v..eol].iter().position(|c| *c == q)
                {
                    end = v + at;
                    if end > v && b[end - 1] == b'\\' {
                        end -= 1;
                    }
                }
                while end > v && b[end - 1].is_ascii_whitespace() {
                    end -= 1;
                }
                Hit::span(v, end)
            } else if key_is_secret(key) {
                value_span(b, v)
            } else {
                None
            }
        }
        _ => {
            let eq = j + run(b, j, blank);
            if b.get(eq) != Some(&b'=') || b.get(eq + 1) == Some(&b'=') || !key_is_secret(key) {
                return None;
            }
            value_span(b, eq + 1 + run(b, eq + 1, blank))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> String {
        redact_text(text, &[])
    }

    #[test]
    fn exact_secrets_are_hidden_and_short_ones_ignored() {
        let secrets = vec!["hunter2-xyz".to_string(), "abc".to_string()];
        assert_eq!(
            redact_text("pw hunter2-xyz abc", &secrets),
            "pw [redacted] abc"
        );
        let nested = vec!["abcd".to_string(), "abcdefgh".to_string()];
        assert_eq!(redact_text("x abcdefgh y", &nested), "x [redacted] y");
        // A secret that is part of the marker cannot make redaction unstable.
        assert_eq!(redact_text("dact", &["dact".into()]), "dact");
        // Encoded as a URL or a form would, it is hidden just the same (and stays hidden).
        let odd = vec!["hunter/2 and+more".to_string()];
        let once = redact_text("next=hunter%2f2+and%2Bmore&x=1 hunter%2F2%20and+more", &odd);
        assert_eq!(once, "next=[redacted]&x=1 [redacted]");
        assert_eq!(redact_text(&once, &odd), once);
    }

    #[test]
    fn secret_headers_keep_the_name_and_hide_the_value() {
        assert_eq!(
            r("Authorization: Bearer abc.def\nAccept: */*"),
            "Authorization: [redacted]\nAccept: */*"
        );
        assert_eq!(r("< Set-Cookie: sid=1; Path=/"), "< Set-Cookie: [redacted]");
        assert_eq!(r("cookie:a=b"), "cookie:[redacted]");
        assert_eq!(r("X-Auth-Token: t0k3n\r\n"), "X-Auth-Token: [redacted]\r\n");
        assert_eq!(
            r("curl -H 'Authorization: Bearer x' https://api.example.com/v1"),
            "curl -H 'Authorization: [redacted]' https://api.example.com/v1"
        );
        assert_eq!(
            r(r#"curl -H "X-Api-Key: k e y" -s https://h"#),
            r#"curl -H "X-Api-Key: [redacted]" -s https://h"#
        );
    }

    #[test]
    fn bearer_and_basic_credentials_are_hidden() {
        assert_eq!(
            r("sent Bearer eyJhbGciOi.xyz123 to upstream"),
            "sent Bearer [redacted] to upstream"
        );
        assert_eq!(r("basic dXNlcjpwYXNz"), "basic [redacted]");
        assert_eq!(
            r("use Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==."),
            "use Basic [redacted]."
        );
        // Prose is not a credential.
        for text in [
            "Basic checks pass",
            "Bearer tokens expire hourly",
            "use a Bearer token",
        ] {
            assert_eq!(r(text), text);
        }
    }

    #[test]
    fn secret_keys_hide_their_values() {
        assert_eq!(
            r("GET /x?api_key=abc123&page=2"),
            "GET /x?api_key=[redacted]&page=2"
        );
        assert_eq!(
            r("GITHUB_TOKEN=foo DB_PASSWD = 'p w' x"),
            "GITHUB_TOKEN=[redacted] DB_PASSWD = '[redacted]' x"
        );
        assert_eq!(
            r("mysql --password=s3cret, --user=root"),
            "mysql --password=[redacted], --user=root"
        );
        assert_eq!(
            r("access_key: AbC, region: eu"),
            "access_key: [redacted], region: eu"
        );
        assert_eq!(r("sessionId=42;"), "sessionId=[redacted];");
        assert_eq!(
            r("Authorization=Bearer abc more"),
            "Authorization=[redacted] more"
        );
    }

    #[test]
    fn json_pairs_hide_their_values() {
        assert_eq!(
            r(r#"{"user": "ann", "password": "p\"w", "session_ttl": 3600}"#),
            r#"{"user": "ann", "password": "[redacted]", "session_ttl": [redacted]}"#
        );
        assert_eq!(
            r("{'clientSecret': 'abc', 'name': 'x'}"),
            "{'clientSecret': '[redacted]', 'name': 'x'}"
        );
        assert_eq!(r(r#"{"token": null}"#), r#"{"token": null}"#);
    }

    #[test]
    fn url_passwords_are_hidden() {
        assert_eq!(
            r("postgres://app:pa55@db:5432/x"),
            "postgres://app:[redacted]@db:5432/x"
        );
        assert_eq!(r("redis://:pw@cache"), "redis://:[redacted]@cache");
    }

    #[test]
    fn token_shapes_are_hidden_whole() {
        let cases = [
            "ghp_0123456789abcdefghijABCDEFGHIJ",
            "gho_abcdefghijklmnopqrstu",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "glpat-abcdefghij0123456789",
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAABCDEFGHIJKLMNOP",
            "xoxb-1234567890-abcdefghij",
            "sk-abcdefghijklmnopqrstuvwxyz012345",
            "sk-proj-abcdefghijklmnopqrstuvwxyz",
            "sk_live_abcdefghijklmnopqrstuvwx",
            "sk_test_abcdefghijklmnopqrstuvwx",
            "rk_live_abcdefghijklmnopqrstuvwx",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ];
        for token in cases {
            assert_eq!(
                r(&format!("got {token} here")),
                "got [redacted] here",
                "{token}"
            );
            assert_eq!(r(&format!("({token})")), "([redacted])", "{token}");
        }
        // Too short, wrong case or glued to a word: left alone.
        for text in [
            "ghp_short",
            "xghp_0123456789abcdefghijABCDEFGHIJ",
            "AKIAIOSFODNN7EXAMPLEX",
            "akiaiosfodnn7example",
            "xoxb-123",
            "sk-learn-is-a-library",
            "eyJhbGciOiJIUzI1NiJ9.short.x",
        ] {
            assert_eq!(r(text), text);
        }
    }

    #[test]
    fn private_key_blocks_are_hidden() {
        let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nafter";
        assert_eq!(
            r(text),
            "before\n-----BEGIN RSA PRIVATE KEY-----\n[redacted]\n-----END RSA PRIVATE KEY-----\nafter"
        );
        assert_eq!(
            r("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\n[redacted]"
        );
        let public = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(r(public), public);
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "tokenizer",
            "tokenizer: bert",
            "author: Ann",
            "Author: Ann <ann@example.com>",
            "skip",
            "sessions: 3",
            "secretary=ann",
            "https://example.com/path?page=2&sort=asc",
            "ssh://git@github.com/org/repo.git",
            "Auth::login()",
            "token: ",
            "a == b, token == c",
            "password",
            "Basically fine. résumé ✓ 日本語",
            "",
        ] {
            assert_eq!(r(text), text);
        }
    }

    #[test]
    fn redaction_is_idempotent() {
        let samples = [
            "Authorization: Bearer abc\ncurl -H 'Cookie: a=b' x",
            "token=abc&secret=\"x y\" password: p",
            "ghp_0123456789abcdefghijABCDEFGHIJ_ghp_0123456789abcdefghijABCDEFGHIJ",
            "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----\nx",
            r#"{"apiKey": "k", "n": 1}"#,
            "Bearer Bearer abc123XYZ",
            "postgres://u:p@h/ redis://:x@y",
            "api_key=[redacted]x [redacted]token=1",
            // A hidden token exposes a word boundary: only a rescan finds `_…token=`.
            "ghp_0123456789abcdefghijABCDEFGHIJghp_0123456789abcdefghijABCDEFGHIJtoken=://",
        ];
        let secrets = vec!["abc123XYZ".to_string()];
        for text in samples {
            let once = redact_text(text, &secrets);
            assert_eq!(redact_text(&once, &secrets), once, "{text}");
        }
    }

    /// Pieces that put rules next to each other in random orders.
    const PIECES: [&str; 32] = [
        "token",
        "=",
        ":",
        " ",
        "\n",
        "'",
        "\"",
        "Bearer ",
        "Basic ",
        "abc123XYZ",
        "ghp_0123456789abcdefghijABCDEFGHIJ",
        "_",
        "-",
        ".",
        "&",
        ",",
        "://",
        "@",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "[redacted]",
        "Authorization",
        "author",
        "password",
        "eyJhbGciOiJIUzI1NiJ9",
        "sk-",
        "AKIA",
        "IOSFODNN7EXAMPLE",
        "é",
        "\\",
        "s3cr3t",
        "{",
    ];

    proptest::proptest! {
        #[test]
        fn redaction_is_idempotent_on_mixed_pieces(
            picks in proptest::collection::vec(proptest::sample::select(&PIECES[..]), 0..24)
        ) {
            let text: String = picks.concat();
            let secrets = vec!["s3cr3t".to_string()];
            let once = redact_text(&text, &secrets);
            proptest::prop_assert_eq!(redact_text(&once, &secrets), once.clone());
            proptest::prop_assert!(!once.contains("s3cr3t"));
        }

        #[test]
        fn any_text_redacts_without_panicking(
            chars in proptest::collection::vec(proptest::prelude::any::<char>(), 0..64)
        ) {
            let text: String = chars.into_iter().collect();
            let once = redact_text(&text, &[]);
            proptest::prop_assert_eq!(redact_text(&once, &[]), once);
        }
    }

    #[test]
    fn json_values_are_redacted_by_key_and_by_content() {
        let mut v = serde_json::json!({
            "command": "curl -H 'Authorization: Bearer abc'",
            "env": {"API_TOKEN": "t", "HOME": "/root", "password": {"old": "a", "n": 3}},
            "list": ["s3cr3t!", "ghp_0123456789abcdefghijABCDEFGHIJ"],
            "session": null,
            "count": 2,
        });
        redact_json(&mut v, &["s3cr3t!".into()]);
        assert_eq!(
            v,
            serde_json::json!({
                "command": "curl -H 'Authorization: [redacted]'",
                "env": {"API_TOKEN": "[redacted]", "HOME": "/root", "password": {"old": "[redacted]", "n": "[redacted]"}},
                "list": ["[redacted]", "[redacted]"],
                "session": null,
                "count": 2,
            })
        );
    }
}
