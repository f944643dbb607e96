//! Fuzzy matching for the command palette: the query's characters must
//! appear in the text in order (any case); runs of adjacent characters and
//! matches at the start of a word score higher, so `sev` finds "severity"
//! before "resolve the incident". Thirty actions, a few keys typed: a
//! subsequence scan is all it takes, no matcher crate.

/// The score of `query` in `text`, higher is better; `None` when it does not
/// match. An empty query matches everything with 0.
pub fn score(query: &str, text: &str) -> Option<i64> {
    let query: Vec<char> = query
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if query.is_empty() {
        return Some(0);
    }
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let mut score = 0i64;
    let mut next = 0usize;
    let mut last: Option<usize> = None;
    for (i, c) in text.iter().enumerate() {
        if next == query.len() {
            break;
        }
        if *c != query[next] {
            continue;
        }
        let word_start = i == 0 || !text[i - 1].is_alphanumeric();
        score += 1;
        if word_start {
            score += 8;
        }
        if last.is_some_and(|l| l + 1 == i) {
            score += 5;
        }
        if i == 0 {
            score += 4;
        }
        last = Some(i);
        next += 1;
    }
    if next < query.len() {
        return None;
    }
    // Shorter texts with the same match are the better fit.
    Some(score * 100 - text.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_in_order_match_and_word_starts_win() {
        assert!(score("sev", "severity").is_some());
        assert!(score("svt", "severity").is_some());
        assert!(score("ytireves", "severity").is_none());
        assert!(score("SEV", "severity").is_some(), "any case");
        assert!(score("sev", "severity") > score("sev", "resolve the incident stays over"));
        assert!(score("pm", "postmortem") > score("pm", "compose an update"));
        assert!(score("ack", "acknowledge") > score("ack", "go back"));
        assert_eq!(score("", "anything"), Some(0));
        assert_eq!(score("  ", "anything"), Some(0));
        assert!(score("x", "").is_none());
    }
}
