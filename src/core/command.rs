//! Playbook commands (`run:`): the template language, rendered for `/bin/sh`
//! so that no placeholder value can ever become shell syntax.
//!
//! A placeholder (`{target}`, `{service}`, …) is never replaced by its value.
//! It becomes a reference to an environment variable that the runner sets
//! (`{target}` → `"${IC_TARGET}"`); the shell expands a reference once and
//! never parses the result again, whatever the value holds. The reference is
//! quoted to suit where the placeholder stands: `"${IC_TARGET}"` in plain
//! text, `${IC_TARGET}` inside "…", `'"${IC_TARGET}"'` inside '…' (the
//! single quotes are closed around it and reopened). `{{` and `}}` are
//! literal braces; every other brace belongs to a placeholder. The rendered
//! text does not depend on the values, so the confirmation dialog,
//! `ic playbook show` and the shell all see the same text.
//!
//! What no quoting can protect is a command that hands its arguments to a
//! second parser — `eval`, `sh -c`, `ssh`, `su -c`, `watch`, or arithmetic
//! (`$(( ))`, `let`, `[[ ]]`), which bash evaluates — because there the value
//! is parsed again. Such uses are found here: `ic lint` warns about them, and
//! at run time their values must be plain words or the command is refused.
//! Pure.

use std::collections::BTreeMap;
use std::fmt;

/// A placeholder a `run` command may use, and the variable that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    /// As written in a playbook: `target` for `{target}`.
    pub name: &'static str,
    /// The environment variable the command reads it from.
    pub env: &'static str,
    /// What it holds.
    pub about: &'static str,
}

/// Every placeholder, in the order they are listed to people.
pub const PLACEHOLDERS: [Placeholder; 6] = [
    Placeholder {
        name: "target",
        env: "IC_TARGET",
        about: "the incident's primary target as a name: `payments` for the endpoint payments, `api-payments` for the route `shop /api/payments`",
    },
    Placeholder {
        name: "route",
        env: "IC_ROUTE",
        about: "the primary target's route as scraped (`/api/payments`); empty for a probed endpoint",
    },
    Placeholder {
        name: "service",
        env: "IC_SERVICE",
        about: "the service, from the config's `service:`",
    },
    Placeholder {
        name: "severity",
        env: "IC_SEVERITY",
        about: "the incident's severity (`SEV-2`), or `unset`",
    },
    Placeholder {
        name: "incident",
        env: "IC_INCIDENT",
        about: "the incident's timeline file",
    },
    Placeholder {
        name: "playbook",
        env: "IC_PLAYBOOK",
        about: "the playbook's id",
    },
];

/// The placeholder called `name`.
pub fn placeholder(name: &str) -> Option<&'static Placeholder> {
    PLACEHOLDERS.iter().find(|p| p.name == name)
}

/// Where in the shell's grammar a placeholder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Outside any quotes (also inside `$( )`).
    Plain,
    /// Inside "…".
    DoubleQuotes,
    /// Inside '…'.
    SingleQuotes,
    /// Inside `…` (old-style command substitution).
    Backticks,
    /// Inside `$(( ))`.
    Arithmetic,
    /// Inside the shell's own `${…}`.
    Parameter,
    /// In a here-document whose delimiter is unquoted (expanded).
    Heredoc,
    /// In a here-document whose delimiter is quoted (never expanded).
    QuotedHeredoc,
    /// In a `#` comment.
    Comment,
}

/// One placeholder in a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// Which one.
    pub placeholder: &'static Placeholder,
    /// Byte offset of its `{` in the template.
    pub at: usize,
    /// Where it stands.
    pub context: Context,
    /// The command that parses its value again (`ssh`, `sh -c`, `eval`, …), if any.
    pub reparsed_by: Option<String>,
}

/// A parsed `run` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The exact text handed to `sh -c`.
    pub text: String,
    /// The placeholders it uses, in order.
    pub uses: Vec<Use>,
}

/// A template that cannot be rendered: where (byte offset) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Byte offset in the template.
    pub at: usize,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

/// Something valid but probably not what the author meant, for `ic lint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Byte offset in the template.
    pub at: usize,
    /// What is odd.
    pub message: String,
    /// The safe form.
    pub hint: String,
}

/// The values of the placeholders for one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    /// By placeholder name; a missing one is the empty string.
    values: BTreeMap<&'static str, String>,
}

impl Values {
    /// Sets the value of placeholder `name` (unknown names are ignored).
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Values {
        if let Some(p) = placeholder(name) {
            self.values.insert(p.name, value.into());
        }
        self
    }

    /// The value of placeholder `name` (empty when unset).
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// Sets `{target}` and `{route}` from a target's name as `ic` shows it:
    /// for a route (`shop /api/payments`, `is_route`), `{route}` is the route and
    /// `{target}` the route as a name (`api-payments`); for a probed endpoint
    /// (`payments`), `{target}` is its name and `{route}` is empty.
    pub fn set_target(&mut self, name: &str, is_route: bool) -> &mut Values {
        let route = if is_route {
            name.split_once(' ').map_or(name, |(_, r)| r)
        } else {
            ""
        };
        let short = if is_route { route } else { name };
        self.set("target", short.trim_start_matches('/').replace('/', "-"));
        self.set("route", route);
        self
    }

    /// Every placeholder's variable and value — all of them, so a variable of
    /// the same name in `ic`'s own environment never leaks into a command.
    pub fn env(&self) -> Vec<(String, String)> {
        PLACEHOLDERS
            .iter()
            .map(|p| (p.env.to_string(), self.get(p.name).to_string()))
            .collect()
    }
}

/// `value` in single quotes with control characters, newlines, non-ASCII and
/// bidi overrides written as visible escapes (`\n`, `\x1b`, `\u{202e}`).
pub fn quoted_visible(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if !c.is_ascii() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Characters a value may hold where a second parser reads it.
fn is_plain_word(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
}

/// Words after which a command's arguments are parsed again by something.
const REPARSERS: [&str; 7] = ["eval", "ssh", "watch", "let", "[[", "((", "parallel"];
/// Shells, whose `-c` argument is a script.
const SHELLS: [&str; 8] = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"];
/// Commands whose `-c` argument is run by a shell.
const DASH_C_RUNNERS: [&str; 3] = ["su", "runuser", "script"];

impl Command {
    /// Renders `template` for `sh -c`.
    pub fn parse(template: &str) -> Result<Command, TemplateError> {
        Lexer::new(template).run()
    }

    /// What `ic lint` should warn about.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for u in &self.uses {
            let name = u.placeholder.name;
            let var = u.placeholder.env;
            if let Some(by) = &u.reparsed_by {
                out.push(Finding {
                    at: u.at,
                    message: format!(
                        "{{{name}}} is handed to `{by}`, which parses its value again as code: ic runs it only while the value is a plain word"
                    ),
                    hint: format!(
                        "keep {{{name}}} out of what `{by}` parses, e.g. pass it as an argument to a script the second shell runs; ic refuses the command when ${var} holds anything but letters, digits and -_./:=@%+,"
                    ),
                });
            }
            let (message, hint) = match u.context {
                Context::SingleQuotes => (
                    format!("{{{name}}} inside '…': ic closes the quotes around it (…'\"${{{var}}}\"'…), so it is still one safe word"),
                    format!("write {{{name}}} outside the quotes: it is always passed as one word, never parsed"),
                ),
                Context::DoubleQuotes => (
                    format!("{{{name}}} inside \"…\" becomes ${{{var}}}: safe, but the quotes are not needed"),
                    format!("write {{{name}}} outside the quotes: it is always passed as one word, never parsed"),
                ),
                Context::Backticks => (
                    format!("{{{name}}} inside `…` backticks, whose quoting rules differ between shells"),
                    format!("use $( … ) instead of backticks around {{{name}}}"),
                ),
                Context::QuotedHeredoc => (
                    format!("{{{name}}} in a here-document with a quoted delimiter is never expanded: the text ${{{var}}} is what the command reads"),
                    "unquote the delimiter (<<EOF rather than <<'EOF') or move the placeholder out of the here-document".to_string(),
                ),
                Context::Comment => (
                    format!("{{{name}}} inside a # comment does nothing"),
                    "remove it, or end the comment before it".to_string(),
                ),
                Context::Plain | Context::Arithmetic | Context::Parameter | Context::Heredoc => {
                    continue;
                }
            };
            out.push(Finding {
                at: u.at,
                message,
                hint,
            });
        }
        out
    }

    /// Refuses values that a second parser would read as code (see [`Use::reparsed_by`]).
    pub fn check(&self, values: &Values) -> Result<(), String> {
        for u in &self.uses {
            let Some(by) = &u.reparsed_by else { continue };
            let value = values.get(u.placeholder.name);
            if !is_plain_word(value) {
                return Err(format!(
                    "not run: the command hands {{{}}} to `{by}`, which parses it as shell code, and its value {} holds characters other than letters, digits and -_./:=@%+,",
                    u.placeholder.name,
                    quoted_visible(value)
                ));
            }
        }
        Ok(())
    }
}

/// A quoting level of the shell's grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// `$(` … `)`, with the depth of plain parentheses inside.
    Sub(u32),
    /// `$((` … `))`, with the depth of parentheses inside.
    Arith(u32),
    /// `"` … `"`.
    Double,
    /// `'` … `'`.
    Single,
    /// `` ` `` … `` ` ``.
    Backtick,
    /// `${` … `}`, with the depth of braces inside.
    Param(u32),
}

/// One simple command being read (at the top, or inside a substitution).
#[derive(Debug, Default)]
struct Words {
    /// The finished words of the current simple command.
    done: Vec<String>,
    /// The word being read.
    current: String,
}

impl Words {
    fn end_word(&mut self) {
        if !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
        }
    }

    fn end_command(&mut self) {
        self.done.clear();
        self.current.clear();
    }

    /// The reparser this command hands its later arguments to, if any.
    fn reparser(&self) -> Option<String> {
        let words = &self.done;
        if let Some(w) = words.iter().find(|w| REPARSERS.contains(&w.as_str())) {
            return Some(w.clone());
        }
        let is_dash_c = |w: &String| {
            w.len() >= 2
                && w.starts_with('-')
                && !w.starts_with("--")
                && w[1..].chars().all(|c| c.is_ascii_alphabetic())
                && w.contains('c')
        };
        for (i, w) in words.iter().enumerate() {
            let base = w.rsplit('/').next().unwrap_or(w);
            if (SHELLS.contains(&base) || DASH_C_RUNNERS.contains(&base))
                && words[i + 1..].iter().any(is_dash_c)
            {
                return Some(format!("{base} -c"));
            }
            if base == "sudo" && words[i + 1..].iter().any(|w| w == "-s" || w == "-i") {
                return Some(format!(
                    "sudo {}",
                    words[i + 1..]
                        .iter()
                        .find(|w| *w == "-s" || *w == "-i")
                        .map_or("-s", String::as_str)
                ));
            }
        }
        None
    }
}

/// A here-document waiting for the end of its line.
#[derive(Debug)]
struct PendingHeredoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
}

/// What the template holds at a position.
enum Token {
    /// A character of shell text (a `{{`/`}}` escape counts as one `{`/`}`), and its length.
    Char(char, usize),
    /// A placeholder and its length in the template.
    Placeholder(&'static Placeholder, usize),
}

struct Lexer<'a> {
    src: &'a str,
    i: usize,
    out: String,
    uses: Vec<Use>,
    frames: Vec<Frame>,
    /// One per command level: the top, then one per `$(` / backtick open.
    words: Vec<Words>,
    heredocs: Vec<PendingHeredoc>,
    in_comment: bool,
    /// The last shell character emitted (for `$`, `\` and word starts).
    prev: Option<char>,
    /// Whether the previous character was an unescaped backslash.
    escaped: bool,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            i: 0,
            out: String::with_capacity(src.len() + 32),
            uses: Vec::new(),
            frames: Vec::new(),
            words: vec![Words::default()],
            heredocs: Vec::new(),
            in_comment: false,
            prev: None,
            escaped: false,
        }
    }

    fn error(&self, at: usize, message: String, hint: &str) -> TemplateError {
        TemplateError {
            at,
            message,
            hint: hint.to_string(),
        }
    }

    /// The token at byte `i`.
    fn token(&self, i: usize) -> Result<Option<Token>, TemplateError> {
        let rest = &self.src[i..];
        let Some(c) = rest.chars().next() else {
            return Ok(None);
        };
        match c {
            '{' if rest.starts_with("{{") => Ok(Some(Token::Char('{', 2))),
            '}' if rest.starts_with("}}") => Ok(Some(Token::Char('}', 2))),
            '{' => {
                let Some(end) = rest.find('}') else {
                    return Err(self.error(
                        i,
                        "`{` without a closing `}`".into(),
                        "write {{ for a literal brace",
                    ));
                };
                let name = &rest[1..end];
                match placeholder(name) {
                    Some(p) => Ok(Some(Token::Placeholder(p, end + 1))),
                    None => Err(self.error(
                        i,
                        format!("unknown placeholder {{{}}}", quoted_visible(name).trim_matches('\'')),
                        &format!(
                            "run may use {}; write {{{{ and }}}} for literal braces (e.g. ${{{{HOME}}}} or awk '{{{{print $1}}}}')",
                            PLACEHOLDERS
                                .iter()
                                .map(|p| format!("{{{}}}", p.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )),
                }
            }
            '}' => Err(self.error(i, "a lone `}`".into(), "write }} for a literal brace")),
            c => Ok(Some(Token::Char(c, c.len_utf8()))),
        }
    }

    fn run(mut self) -> Result<Command, TemplateError> {
        while let Some(tok) = self.token(self.i)? {
            let at = self.i;
            match tok {
                Token::Placeholder(p, len) => {
                    self.placeholder(p, at)?;
                    self.i += len;
                }
                Token::Char(c, len) => {
                    self.i += len;
                    self.shell_char(c, at)?;
                }
            }
        }
        Ok(Command {
            text: self.out,
            uses: self.uses,
        })
    }

    /// The context a placeholder at the current position stands in.
    fn context(&self) -> Context {
        if self.in_comment {
            return Context::Comment;
        }
        match self.frames.last() {
            None | Some(Frame::Sub(_)) => Context::Plain,
            Some(Frame::Arith(_)) => Context::Arithmetic,
            Some(Frame::Double) => Context::DoubleQuotes,
            Some(Frame::Single) => Context::SingleQuotes,
            Some(Frame::Backtick) => Context::Backticks,
            Some(Frame::Param(_)) => Context::Parameter,
        }
    }

    fn placeholder(&mut self, p: &'static Placeholder, at: usize) -> Result<(), TemplateError> {
        let context = self.context();
        if self.escaped {
            return Err(self.error(
                at,
                format!(
                    "a backslash right before {{{}}} would undo ic's quoting of it",
                    p.name
                ),
                &format!(
                    "remove the backslash: {{{}}} is always passed as one word",
                    p.name
                ),
            ));
        }
        if self.prev == Some('$') && context != Context::SingleQuotes {
            return Err(self.error(
                at,
                format!("`${{{}}}`: a `$` right before a placeholder", p.name),
                &format!(
                    "write {{{}}} alone (ic passes it as ${}); for the shell's own ${{…}} write ${{{{NAME}}}}",
                    p.name, p.env
                ),
            ));
        }
        let reparsed_by = if context == Context::Arithmetic {
            Some("$(( ))".to_string())
        } else {
            self.words.iter().rev().find_map(Words::reparser)
        };
        let var = p.env;
        let text = match context {
            // Quotes inside `${…:-…}` keep the value one field, in or out of "…".
            Context::Plain | Context::Backticks | Context::Comment | Context::Parameter => {
                format!("\"${{{var}}}\"")
            }
            Context::DoubleQuotes
            | Context::Arithmetic
            | Context::Heredoc
            | Context::QuotedHeredoc => format!("${{{var}}}"),
            Context::SingleQuotes => format!("'\"${{{var}}}\"'"),
        };
        self.out.push_str(&text);
        if let Some(w) = self.words.last_mut() {
            w.current.push_str(&format!("${{{var}}}"));
        }
        self.prev = Some('}');
        self.uses.push(Use {
            placeholder: p,
            at,
            context,
            reparsed_by,
        });
        Ok(())
    }

    fn word_char(&mut self, c: char) {
        if let Some(w) = self.words.last_mut() {
            w.current.push(c);
        }
    }

    fn end_word(&mut self) {
        if let Some(w) = self.words.last_mut() {
            w.end_word();
        }
    }

    fn end_command(&mut self) {
        if let Some(w) = self.words.last_mut() {
            w.end_command();
        }
    }

    /// The next shell character in the template (after `{{`/`}}` escapes), if it is `c`.
    fn peek_is(&self, c: char) -> bool {
        matches!(self.token(self.i), Ok(Some(Token::Char(d, _))) if d == c)
    }

    /// Consumes the next shell character.
    fn take(&mut self) -> Option<char> {
        match self.token(self.i) {
            Ok(Some(Token::Char(c, len))) => {
                self.i += len;
                self.out.push(c);
                Some(c)
            }
            _ => None,
        }
    }

    fn shell_char(&mut self, c: char, at: usize) -> Result<(), TemplateError> {
        self.out.push(c);
        let was_escaped = std::mem::take(&mut self.escaped);
        let prev = self.prev.replace(c);
        if self.in_comment {
            if c == '\n' {
                self.in_comment = false;
                self.newline(at)?;
            }
            return Ok(());
        }
        let frame = self.frames.last().copied();
        match frame {
            Some(Frame::Single) => {
                if c == '\'' {
                    self.frames.pop();
                } else {
                    self.word_char(c);
                }
            }
            Some(Frame::Double) => {
                if was_escaped {
                    self.word_char(c);
                } else {
                    match c {
                        '\\' => self.escaped = true,
                        '"' => {
                            self.frames.pop();
                        }
                        '`' => self.open_backtick(),
                        '$' => self.dollar(),
                        c => self.word_char(c),
                    }
                }
            }
            Some(Frame::Backtick) => {
                if was_escaped {
                    self.word_char(c);
                } else {
                    match c {
                        '\\' => self.escaped = true,
                        '`' => {
                            self.frames.pop();
                            self.words.pop();
                        }
                        c => self.plain_char(c, prev, at)?,
                    }
                }
            }
            Some(Frame::Param(depth)) => {
                if was_escaped {
                    return Ok(());
                }
                match c {
                    '\\' => self.escaped = true,
                    '{' => self.set_top(Frame::Param(depth + 1)),
                    '}' if depth == 0 => {
                        self.frames.pop();
                    }
                    '}' => self.set_top(Frame::Param(depth - 1)),
                    '"' => self.frames.push(Frame::Double),
                    '\'' => self.frames.push(Frame::Single),
                    '$' => self.dollar(),
                    _ => {}
                }
            }
            Some(Frame::Arith(depth)) => {
                if was_escaped {
                    return Ok(());
                }
                match c {
                    '\\' => self.escaped = true,
                    '(' => self.set_top(Frame::Arith(depth + 1)),
                    ')' if depth == 0 => {
                        if self.peek_is(')') {
                            self.take();
                            self.prev = Some(')');
                        }
                        self.frames.pop();
                    }
                    ')' => self.set_top(Frame::Arith(depth - 1)),
                    '$' => self.dollar(),
                    '"' => self.frames.push(Frame::Double),
                    '\'' => self.frames.push(Frame::Single),
                    '`' => self.open_backtick(),
                    _ => {}
                }
            }
            None | Some(Frame::Sub(_)) => {
                if was_escaped {
                    if c == '\n' {
                        // A line continuation: the word goes on.
                    } else {
                        self.word_char(c);
                    }
                    return Ok(());
                }
                self.plain_char(c, prev, at)?;
            }
        }
        Ok(())
    }

    fn set_top(&mut self, f: Frame) {
        if let Some(top) = self.frames.last_mut() {
            *top = f;
        }
    }

    fn open_backtick(&mut self) {
        self.frames.push(Frame::Backtick);
        self.words.push(Words::default());
    }

    /// After a `$`: `$((`, `$(` and `${` open their frames.
    fn dollar(&mut self) {
        if self.peek_is('(') {
            self.take();
            if self.peek_is('(') {
                self.take();
                self.frames.push(Frame::Arith(0));
            } else {
                self.frames.push(Frame::Sub(0));
                self.words.push(Words::default());
            }
            self.prev = Some('(');
        } else if self.peek_is('{') {
            self.take();
            self.frames.push(Frame::Param(0));
            self.prev = Some('{');
        } else {
            self.word_char('$');
        }
    }

    /// A character outside quotes (at the top, in `$( )` or in backticks).
    fn plain_char(&mut self, c: char, prev: Option<char>, at: usize) -> Result<(), TemplateError> {
        let word_start = prev.is_none_or(|p| p.is_whitespace() || ";&|()<>".contains(p));
        match c {
            '\\' => self.escaped = true,
            '\'' => self.frames.push(Frame::Single),
            '"' => self.frames.push(Frame::Double),
            '`' => self.open_backtick(),
            '$' => self.dollar(),
            '#' if word_start && self.words.last().is_some_and(|w| w.current.is_empty()) => {
                self.end_word();
                self.in_comment = true;
            }
            '\n' => {
                self.end_command();
                self.newline(at)?;
            }
            ' ' | '\t' => self.end_word(),
            // `>&`, `<&` (`2>&1`), `>|` and bash's `&>` are redirections, not
            // separators: the command and its words go on.
            '&' if matches!(prev, Some('>' | '<')) || self.peek_is('>') => self.end_word(),
            '|' if prev == Some('>') => self.end_word(),
            ';' | '&' | '|' => self.end_command(),
            '(' => {
                if prev == Some('(')
                    && self
                        .words
                        .last()
                        .is_some_and(|w| w.current.is_empty() && w.done.is_empty())
                {
                    // `((` at a command's start: bash arithmetic.
                    if let Some(w) = self.words.last_mut() {
                        w.done.push("((".into());
                    }
                }
                if let Some(Frame::Sub(d)) = self.frames.last().copied() {
                    self.set_top(Frame::Sub(d + 1));
                }
                if prev != Some('(') {
                    self.end_command();
                }
            }
            ')' => match self.frames.last().copied() {
                Some(Frame::Sub(0)) => {
                    self.frames.pop();
                    self.words.pop();
                    self.word_char('$');
                }
                Some(Frame::Sub(d)) => {
                    self.set_top(Frame::Sub(d - 1));
                    self.end_command();
                }
                _ => self.end_command(),
            },
            '<' if self.peek_is('<') => {
                self.take();
                self.prev = Some('<');
                self.end_word();
                if self.peek_is('<') {
                    // A here-string (`<<<`): an ordinary word follows.
                    self.take();
                } else {
                    self.heredoc_operator();
                }
            }
            '<' | '>' => self.end_word(),
            c => self.word_char(c),
        }
        Ok(())
    }

    /// After `<<`: reads `-` and the delimiter word.
    fn heredoc_operator(&mut self) {
        let strip_tabs = if self.peek_is('-') {
            self.take();
            true
        } else {
            false
        };
        while self.peek_is(' ') || self.peek_is('\t') {
            self.take();
        }
        let mut raw = String::new();
        while let Ok(Some(Token::Char(c, _))) = self.token(self.i) {
            if c.is_whitespace() || ";&|<>()".contains(c) {
                break;
            }
            self.take();
            raw.push(c);
        }
        self.prev = raw.chars().last().or(self.prev);
        if raw.is_empty() {
            return;
        }
        let quoted = raw.contains(['\'', '"', '\\']);
        let delimiter: String = raw.chars().filter(|c| !"'\"\\".contains(*c)).collect();
        self.heredocs.push(PendingHeredoc {
            delimiter,
            strip_tabs,
            quoted,
        });
    }

    /// At an unquoted newline: the bodies of pending here-documents follow.
    fn newline(&mut self, _at: usize) -> Result<(), TemplateError> {
        let pending = std::mem::take(&mut self.heredocs);
        for h in pending {
            loop {
                let line_start = self.i;
                if line_start >= self.src.len() {
                    return Ok(());
                }
                let line_end = self.src[line_start..]
                    .find('\n')
                    .map_or(self.src.len(), |n| line_start + n);
                let line = &self.src[line_start..line_end];
                let bare = if h.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                let terminator = bare == h.delimiter;
                // The line's text, placeholders rendered for a here-document.
                while self.i < line_end {
                    let at = self.i;
                    match self.token(at)? {
                        Some(Token::Placeholder(p, len)) => {
                            let context = if h.quoted {
                                Context::QuotedHeredoc
                            } else {
                                Context::Heredoc
                            };
                            self.out.push_str(&format!("${{{}}}", p.env));
                            self.uses.push(Use {
                                placeholder: p,
                                at,
                                context,
                                reparsed_by: None,
                            });
                            self.i += len;
                        }
                        Some(Token::Char(c, len)) => {
                            self.out.push(c);
                            self.i += len;
                        }
                        None => break,
                    }
                }
                if self.i < self.src.len() {
                    self.out.push('\n');
                    self.i += 1;
                }
                if terminator {
                    break;
                }
            }
        }
        self.prev = Some('\n');
        Ok(())
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Context::Plain => "plain text",
            Context::DoubleQuotes => "double quotes",
            Context::SingleQuotes => "single quotes",
            Context::Backticks => "backticks",
            Context::Arithmetic => "$(( ))",
            Context::Parameter => "${…}",
            Context::Heredoc => "a here-document",
            Context::QuotedHeredoc => "a quoted here-document",
            Context::Comment => "a comment",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> String {
        Command::parse(t).unwrap().text
    }

    #[test]
    fn placeholders_become_references_quoted_for_their_context() {
        assert_eq!(
            text("kubectl -n {service} rollout undo deploy/{target}"),
            r#"kubectl -n "${IC_SERVICE}" rollout undo deploy/"${IC_TARGET}""#
        );
        assert_eq!(
            text(r#"echo "at {target} now""#),
            r#"echo "at ${IC_TARGET} now""#
        );
        assert_eq!(
            text("echo 'at {target} now'"),
            r#"echo 'at '"${IC_TARGET}"' now'"#
        );
        assert_eq!(
            text("n=$(( $(get {target}) * 3 ))"),
            r#"n=$(( $(get "${IC_TARGET}") * 3 ))"#
        );
        assert_eq!(
            text("echo \"$(id {target})\""),
            r#"echo "$(id "${IC_TARGET}")""#
        );
        assert_eq!(
            text("echo ${{X:-{target}}}"),
            r#"echo ${X:-"${IC_TARGET}"}"#
        );
        assert_eq!(text("awk '{{print $1}}'"), "awk '{print $1}'");
        assert_eq!(text("echo }}{{"), "echo }{");
    }

    #[test]
    fn here_documents_are_followed() {
        let c = Command::parse("cat <<EOF\n{target}\nEOF\necho {target}").unwrap();
        assert_eq!(
            c.text,
            "cat <<EOF\n${IC_TARGET}\nEOF\necho \"${IC_TARGET}\""
        );
        assert_eq!(c.uses[0].context, Context::Heredoc);
        assert_eq!(c.uses[1].context, Context::Plain);
        let c = Command::parse("cat <<-'EOF'\n\t{target}\n\tEOF\n").unwrap();
        assert_eq!(c.uses[0].context, Context::QuotedHeredoc);
        assert_eq!(c.findings().len(), 1);
        // A here-string is a plain word.
        assert_eq!(text("cat <<< {target}"), r#"cat <<< "${IC_TARGET}""#);
    }

    #[test]
    fn mistakes_are_errors_with_their_offset() {
        let e = Command::parse("echo {tagret}").unwrap_err();
        assert_eq!(e.at, 5);
        assert!(
            e.message.contains("{tagret}") && e.hint.contains("{{"),
            "{e:?}"
        );
        assert_eq!(Command::parse("echo {target").unwrap_err().at, 5);
        assert_eq!(Command::parse("echo a}b").unwrap_err().at, 6);
        assert!(
            Command::parse("echo \\{target}")
                .unwrap_err()
                .message
                .contains("backslash")
        );
        assert!(
            Command::parse("echo ${target}")
                .unwrap_err()
                .message
                .contains("`$`")
        );
        // Inside single quotes a backslash and a dollar are plain text.
        assert_eq!(text(r"echo 'a\{target}'"), r#"echo 'a\'"${IC_TARGET}"''"#);
    }

    #[test]
    fn second_parsers_are_found() {
        let by = |t: &str| Command::parse(t).unwrap().uses[0].reparsed_by.clone();
        assert_eq!(
            by("ssh host \"kubectl get {target}\"").as_deref(),
            Some("ssh")
        );
        assert_eq!(by("bash -ec \"echo {target}\"").as_deref(), Some("bash -c"));
        assert_eq!(
            by("kubectl exec x -- /bin/sh -c 'echo {target}'").as_deref(),
            Some("sh -c")
        );
        assert_eq!(by("eval echo {target}").as_deref(), Some("eval"));
        assert_eq!(by("echo $(( {target} + 1 ))").as_deref(), Some("$(( ))"));
        assert_eq!(by("ssh h \"$(echo {target})\"").as_deref(), Some("ssh"));
        assert_eq!(by("ssh h uptime; echo {target}"), None);
        assert_eq!(by("ssh h uptime | grep {target}"), None);
        assert_eq!(by("kubectl rollout undo deploy/{target}"), None);
        let c = Command::parse("ssh h \"restart {target}\"").unwrap();
        let mut v = Values::default();
        v.set("target", "payments-api");
        assert!(c.check(&v).is_ok());
        v.set("target", "x; rm -rf ~");
        assert!(c.check(&v).unwrap_err().contains("ssh"));
    }

    #[test]
    fn every_variable_is_set_even_when_empty() {
        let mut v = Values::default();
        v.set("target", "a").set("nope", "b");
        let env = v.env();
        assert_eq!(env.len(), PLACEHOLDERS.len());
        assert!(env.contains(&("IC_TARGET".into(), "a".into())));
        assert!(env.contains(&("IC_ROUTE".into(), String::new())));
    }

    #[test]
    fn findings_explain_the_safe_form() {
        let f = Command::parse("echo '{target}' \"{service}\" `id {route}` # {playbook}")
            .unwrap()
            .findings();
        let msgs: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(f.len(), 4, "{msgs:?}");
        assert!(msgs[0].contains("inside '…'"), "{msgs:?}");
        assert!(msgs[1].contains("inside \"…\""), "{msgs:?}");
        assert!(msgs[2].contains("backticks"), "{msgs:?}");
        assert!(msgs[3].contains("comment"), "{msgs:?}");
        assert_eq!(f[0].at, 6);
    }
}
