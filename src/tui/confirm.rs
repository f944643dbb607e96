//! The command confirmation: what the dialog shows before a playbook command
//! runs, how it scrolls, and when `y` is accepted. It shows the whole command
//! exactly as `sh -c` receives it — every line numbered and wrapped, never
//! cut, with control characters, non-ASCII and bidi overrides written as
//! visible escapes — the target it is for and why, and the value of each
//! placeholder it uses. `y` is refused until every row has been on screen:
//! the view calls [`Dialog::drawn`] for the rows a frame really showed, so
//! keys handled before a frame (`Enter y` in one burst) run nothing. Below
//! [`MIN_SIZE`] the command cannot be shown whole, and `y` is refused.
//! Plain data: the view draws [`Dialog::rows`] in the box [`geometry`] gives.

use crate::app::run::RunPlan;

/// The kind of text in a dialog row, for styling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Ordinary text.
    Text,
    /// Labels, line numbers, hints.
    Dim,
    /// An escape standing for a character that is not shown as itself.
    Escape,
    /// A warning.
    Warn,
}

/// One row of the dialog's scrolling body: pieces of text with their tone.
pub type Row = Vec<(String, Tone)>;

/// A command waiting for `y`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialog {
    /// What would run, as the engine planned it.
    pub plan: RunPlan,
    /// Why it may not run at all (a value a second parser would read as code).
    pub refused: Option<String>,
    /// What the last key did not do, shown in the dialog (`y` before the end was read).
    pub notice: Option<String>,
    /// The first body row on screen.
    pub scroll: usize,
    /// Which body rows have been on screen (for the width they were laid out at).
    seen: Vec<bool>,
    /// The width `seen` was counted at.
    seen_width: u16,
}

/// The smallest screen (columns, rows) on which a command is shown for `y`.
pub const MIN_SIZE: (u16, u16) = (30, 8);

/// Where the dialog goes on a `size` screen for a body of `rows` rows:
/// (x, y, width, height) of its box, and how many body rows fit (0 on a
/// screen under [`MIN_SIZE`]).
pub fn geometry(size: (u16, u16), rows: usize) -> ((u16, u16, u16, u16), usize) {
    let (w, h) = if size.0 == 0 || size.1 == 0 {
        (80, 24)
    } else {
        size
    };
    let bw = w.saturating_sub(4).clamp(20.min(w), 120);
    // Borders (2), the summary line and the key line around the body.
    // The last two screen rows (the message line and the footer) stay visible.
    let want = u16::try_from(rows.saturating_add(4)).unwrap_or(u16::MAX);
    let bh = want.min(h.saturating_sub(3)).max(6.min(h));
    let x = (w - bw) / 2;
    let y = (h.saturating_sub(2).saturating_sub(bh) / 2).min(h - bh);
    let body = if w < MIN_SIZE.0 || h < MIN_SIZE.1 {
        0
    } else {
        usize::from(bh.saturating_sub(4))
    };
    ((x, y, bw, bh), body)
}

/// The text width inside the box.
fn inner_width(size: (u16, u16)) -> usize {
    usize::from(geometry(size, 0).0.2.saturating_sub(2)).max(8)
}

/// Splits text into pieces, writing every character that is not printable
/// ASCII as an escape piece (`\t`, `\x1b`, `\u{202e}`, `\u{e9}`).
fn visible(text: &str, tone: Tone) -> Row {
    pieces(text, tone, false)
}

/// A value for between single quotes: [`visible`], and `'` and `\` escaped too.
fn visible_quoted(text: &str, tone: Tone) -> Row {
    pieces(text, tone, true)
}

fn pieces(text: &str, tone: Tone, quoted: bool) -> Row {
    let mut row: Row = Vec::new();
    let mut plain = String::new();
    for c in text.chars() {
        match crate::core::command::visible_escape(c, quoted) {
            Some(e) => {
                if !plain.is_empty() {
                    row.push((std::mem::take(&mut plain), tone));
                }
                row.push((e, Tone::Escape));
            }
            None => plain.push(c),
        }
    }
    if !plain.is_empty() {
        row.push((plain, tone));
    }
    row
}

/// Cuts a row into rows of at most `width` characters (text pieces are
/// split, an escape never is), continuation rows starting with `indent`.
fn wrap(row: Row, width: usize, indent: &str) -> Vec<Row> {
    let indent_len = indent.chars().count();
    // Room for the longest escape (`\u{10ffff}`) after the indent.
    let width = width.max(indent_len + 12);
    let mut out = Vec::new();
    let mut cur: Row = Vec::new();
    let mut used = 0;
    let mut next_row = |cur: &mut Row, used: &mut usize| {
        out.push(std::mem::take(cur));
        cur.push((indent.to_string(), Tone::Dim));
        *used = indent_len;
    };
    for (text, tone) in row {
        if tone == Tone::Escape {
            let len = text.chars().count();
            if used + len > width {
                next_row(&mut cur, &mut used);
            }
            cur.push((text, tone));
            used += len;
            continue;
        }
        let mut rest: &str = &text;
        while !rest.is_empty() {
            let room = width.saturating_sub(used);
            if room == 0 {
                next_row(&mut cur, &mut used);
                continue;
            }
            let len = rest.chars().count();
            if len <= room {
                cur.push((rest.to_string(), tone));
                used += len;
                break;
            }
            let cut = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
            cur.push((rest[..cut].to_string(), tone));
            used += room;
            rest = &rest[cut..];
        }
    }
    out.push(cur);
    out
}

impl Dialog {
    /// A dialog for `command` with `values`; `size` is the screen's. Nothing of
    /// it counts as seen until a frame has drawn it.
    pub fn new(plan: RunPlan, size: (u16, u16)) -> Dialog {
        let refused = plan.command.check(&plan.values).err();
        let mut d = Dialog {
            plan,
            refused,
            notice: None,
            scroll: 0,
            seen: Vec::new(),
            seen_width: 0,
        };
        d.lay_out(size);
        d
    }

    /// The command's line count.
    pub fn line_count(&self) -> usize {
        self.plan.command.text.split('\n').count()
    }

    /// The one-line summary above the body.
    pub fn summary(&self) -> String {
        let n = self.line_count();
        format!(
            "Run this command? “{}” ({}) · {n} line{} · timeout {}",
            crate::core::text::ellipsis(&crate::core::text::escape(&self.plan.title), 24),
            self.plan.phase,
            if n == 1 { "" } else { "s" },
            crate::core::units::format_duration(self.plan.timeout)
        )
    }

    /// The scrolling body, laid out for a `size` screen.
    pub fn rows(&self, size: (u16, u16)) -> Vec<Row> {
        let width = inner_width(size);
        let mut rows: Vec<Row> = Vec::new();
        let mut push = |row: Row, indent: &str| rows.extend(wrap(row, width, indent));
        if let Some((name, why)) = &self.plan.target {
            let mut r = vec![("target  ".to_string(), Tone::Dim)];
            r.extend(visible(name, Tone::Text));
            r.push((format!("  ({why})"), Tone::Dim));
            push(r, "        ");
        }
        push(vec![("what sh -c receives:".to_string(), Tone::Dim)], "");
        let lines: Vec<&str> = self.plan.command.text.split('\n').collect();
        let digits = lines.len().to_string().len();
        let indent = " ".repeat(digits + 3);
        for (i, line) in lines.iter().enumerate() {
            let mut r = vec![(format!("{:>digits$} │ ", i + 1), Tone::Dim)];
            r.extend(visible(line, Tone::Text));
            push(r, &indent);
        }
        let mut used: Vec<&str> = Vec::new();
        for u in &self.plan.command.uses {
            if !used.contains(&u.placeholder.name) {
                used.push(u.placeholder.name);
            }
        }
        if used.is_empty() {
            push(vec![("no placeholders".to_string(), Tone::Dim)], "");
        } else {
            push(
                vec![(
                    "placeholders (set as environment variables, never parsed):".to_string(),
                    Tone::Dim,
                )],
                "",
            );
            for name in used {
                let Some(p) = crate::core::command::placeholder(name) else {
                    continue;
                };
                let mut r = vec![(format!("  {} = ", p.env), Tone::Dim)];
                let value = self.plan.values.get(name);
                if value.is_empty() {
                    r.push(("(empty)".to_string(), Tone::Dim));
                } else {
                    r.push(("'".to_string(), Tone::Dim));
                    r.extend(visible_quoted(value, Tone::Text));
                    r.push(("'".to_string(), Tone::Dim));
                }
                push(r, "      ");
            }
        }
        for u in self
            .plan
            .command
            .uses
            .iter()
            .filter(|u| u.reparsed_by.is_some())
        {
            push(
                vec![(
                    format!(
                        "⚠ {{{}}} is parsed again by `{}`",
                        u.placeholder.name,
                        u.reparsed_by.as_deref().unwrap_or_default()
                    ),
                    Tone::Warn,
                )],
                "  ",
            );
        }
        if let Some(why) = &self.refused {
            push(vec![(format!("✘ {why}"), Tone::Warn)], "  ");
        }
        rows
    }

    /// Rows not yet on screen.
    pub fn unseen(&self) -> usize {
        self.seen.iter().filter(|s| !**s).count()
    }

    /// Whether `y` may run it now: every row has been drawn on this screen's
    /// layout, the screen can show it, and nothing refuses it.
    pub fn may_run(&self) -> bool {
        self.refused.is_none() && !self.seen.is_empty() && self.unseen() == 0
    }

    /// Why `y` does nothing now, if it does nothing.
    pub fn why_not(&self, size: (u16, u16)) -> Option<String> {
        if let Some(why) = &self.refused {
            return Some(why.clone());
        }
        if self.page(size) == 0 {
            return Some(format!(
                "y refused: the terminal is too small to show the command; enlarge it to at least {}×{}",
                MIN_SIZE.0, MIN_SIZE.1
            ));
        }
        (!self.may_run()).then(|| {
            let (above, below) = self.unseen_around(size);
            if above > 0 && below == 0 {
                format!("y refused: read the whole command first — {above} row(s) above not shown yet (↑ PgUp)")
            } else {
                format!(
                    "y refused: read the whole command first — {} more row(s) below (↓ PgDn Space)",
                    below.max(self.unseen() - above)
                )
            }
        })
    }

    /// Lays the rows out for `size`: a new width or row count means nothing
    /// counts as seen any more; the scroll stays in range.
    fn lay_out(&mut self, size: (u16, u16)) {
        let total = self.rows(size).len();
        let width = geometry(size, total).0.2;
        if self.seen.len() != total || self.seen_width != width {
            self.seen = vec![false; total];
            self.seen_width = width;
        }
        let page = geometry(size, total).1;
        self.scroll = self.scroll.min(total.saturating_sub(page.max(1)));
    }

    /// A frame on a `size` screen has just drawn the page at `scroll`: those
    /// rows count as seen (called by the view, after it drew them).
    pub fn drawn(&mut self, size: (u16, u16)) {
        self.lay_out(size);
        let page = self.page(size);
        for s in self.seen.iter_mut().skip(self.scroll).take(page) {
            *s = true;
        }
    }

    /// The screen is `size` now.
    pub fn resized(&mut self, size: (u16, u16)) {
        self.lay_out(size);
    }

    /// Scrolls by `delta` rows (clamped); what comes into view counts once drawn.
    /// Scrolling down never passes the first row no frame has shown yet, so
    /// keys pressed faster than frames never skip a row.
    pub fn scroll_by(&mut self, delta: i64, size: (u16, u16)) {
        let total = self.rows(size).len();
        let page = geometry(size, total).1;
        let max = total.saturating_sub(page.max(1)) as i64;
        let mut to = (self.scroll as i64 + delta).clamp(0, max);
        if delta > 0
            && let Some(first) = self.seen.iter().position(|s| !s)
            && first >= self.scroll
        {
            to = to.min(first as i64);
        }
        self.scroll = to.max(0) as usize;
        self.lay_out(size);
    }

    /// Rows not yet shown above and below the page at the current scroll.
    pub fn unseen_around(&self, size: (u16, u16)) -> (usize, usize) {
        let page = self.page(size);
        let above = self.seen.iter().take(self.scroll).filter(|s| !**s).count();
        let below = self
            .seen
            .iter()
            .skip(self.scroll + page)
            .filter(|s| !**s)
            .count();
        (above, below)
    }

    /// How many body rows are on screen at once on a `size` screen.
    pub fn page(&self, size: (u16, u16)) -> usize {
        geometry(size, self.rows(size).len()).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::{Command, Values};
    use crate::core::event::Phase;
    use std::time::Duration;

    fn dialog(template: &str, target: &str, size: (u16, u16)) -> Dialog {
        let mut v = Values::default();
        v.set("target", target).set("service", "shop");
        Dialog::new(
            RunPlan {
                step: "rollback".into(),
                title: "Roll back the last deploy".into(),
                phase: Phase::Mitigate,
                command: Command::parse(template).unwrap(),
                values: v,
                target: Some((
                    "shop /api/payments".into(),
                    "the signal that opened the incident".into(),
                )),
                timeout: Duration::from_secs(60),
            },
            size,
        )
    }

    fn text(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(|(t, _)| t.as_str()).collect())
            .collect()
    }

    #[test]
    fn a_long_command_must_be_scrolled_through_before_y() {
        let template: String = (1..=40).map(|i| format!("echo step {i}\n")).collect();
        let mut d = dialog(&template, "api", (80, 24));
        assert!(!d.may_run(), "nothing was drawn yet");
        d.drawn((80, 24));
        assert!(!d.may_run());
        let before = d.unseen();
        assert!(before > 0);
        // Scrolling without a frame is not reading, and never passes a row no
        // frame has shown: pages paged faster than frames are not skipped.
        d.scroll_by(100, (80, 24));
        d.scroll_by(100, (80, 24));
        assert_eq!(d.unseen(), before);
        d.drawn((80, 24));
        assert_eq!(d.unseen_around((80, 24)).0, 0, "nothing above was skipped");
        d.scroll_by(-100, (80, 24));
        // Only rows a frame drew count.
        for _ in 0..100 {
            d.scroll_by(1, (80, 24));
            d.drawn((80, 24));
        }
        assert!(d.may_run(), "{} unseen", d.unseen());
        d.resized((100, 30));
        assert!(!d.may_run(), "a new layout is read again");
        let shown = text(&d.rows((80, 24)));
        assert!(
            shown.iter().any(|l| l.contains("41 │ ")),
            "the trailing empty line counts"
        );
        assert!(d.summary().contains("41 lines"), "{}", d.summary());
    }

    #[test]
    fn a_short_command_fits_and_may_run_at_once() {
        let mut d = dialog(
            "kubectl rollout undo deploy/{target}",
            "api-payments",
            (160, 45),
        );
        d.drawn((160, 45));
        assert!(d.may_run());
        let mut tiny = dialog("echo {target}", "api", (29, 40));
        tiny.drawn((29, 40));
        assert!(!tiny.may_run());
        assert!(
            tiny.why_not((29, 40))
                .unwrap_or_default()
                .contains("too small")
        );
        let shown = text(&d.rows((160, 45))).join("\n");
        assert!(
            shown.contains(r#"1 │ kubectl rollout undo deploy/"${IC_TARGET}""#),
            "{shown}"
        );
        assert!(shown.contains("IC_TARGET = 'api-payments'"), "{shown}");
        assert!(
            shown.contains("shop /api/payments  (the signal that opened the incident)"),
            "{shown}"
        );
        assert!(
            !shown.contains("IC_SERVICE"),
            "only the placeholders used: {shown}"
        );
    }

    #[test]
    fn values_show_every_hidden_character_and_long_lines_wrap() {
        let d = dialog(
            "echo {target}",
            "pay\nments\u{202e}\u{1b}]0;x\u{7}é",
            (40, 24),
        );
        let shown = text(&d.rows((160, 45))).join("\n");
        assert!(
            shown.contains(r"pay\nments\u{202e}\x1b]0;x\x07\u{e9}"),
            "{shown}"
        );
        let rows = d.rows((40, 24));
        assert!(
            rows.iter()
                .flatten()
                .any(|(t, tone)| t == r"\u{202e}" && *tone == Tone::Escape)
        );
        for r in &rows {
            let width: usize = r.iter().map(|(t, _)| t.chars().count()).sum();
            assert!(width <= inner_width((40, 24)), "{r:?}");
        }
        let long = dialog(&format!("echo {}", "x".repeat(300)), "a", (40, 24));
        let joined: String = text(&long.rows((40, 24)))
            .iter()
            .map(|l| {
                l.trim_start_matches(' ')
                    .trim_start_matches("1 │ ")
                    .to_string()
            })
            .collect();
        assert!(
            joined.contains(&"x".repeat(300)),
            "nothing is cut: {joined}"
        );
    }

    #[test]
    fn a_value_a_second_shell_would_parse_is_refused() {
        let mut d = dialog("ssh host \"restart {service}\"", "x", (160, 45));
        d.plan.values.set("service", "x;reboot");
        d.refused = d.plan.command.check(&d.plan.values).err();
        d.drawn((160, 45));
        assert!(!d.may_run());
        assert!(d.refused.as_deref().unwrap_or_default().contains("ssh"));
        let mut ok = dialog("ssh host \"restart {target}\"", "payments", (160, 45));
        ok.drawn((160, 45));
        assert!(ok.may_run());
    }
}
