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
    /// Whether its value comes from outside `ic`'s config (a route label, an
    /// alert name): such a value reaches a command only when it is a plain name.
    pub outside: bool,
}

/// Every placeholder, in the order they are listed to people.
pub const PLACEHOLDERS: [Placeholder; 6] = [
    Placeholder {
        name: "target",
        env: "IC_TARGET",
        about: "the incident's primary target as a name: `payments` for the endpoint payments, `api-payments` for the route `shop /api/payments`",
        outside: true,
    },
    Placeholder {
        name: "route",
        env: "IC_ROUTE",
        about: "the primary target's route as scraped (`/api/payments`); empty for a probed endpoint",
        outside: true,
    },
    Placeholder {
        name: "service",
        env: "IC_SERVICE",
        about: "the service, from the config's `service:`",
        outside: false,
    },
    Placeholder {
        name: "severity",
        env: "IC_SEVERITY",
        about: "the incident's severity (`SEV-2`), or `unset`",
        outside: false,
    },
    Placeholder {
        name: "incident",
        env: "IC_INCIDENT",
        about: "the incident's timeline file",
        outside: false,
    },
    Placeholder {
        name: "playbook",
        env: "IC_PLAYBOOK",
        about: "the playbook's id",
        outside: false,
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
    /// The command that parses its value again (`ssh`, `sh -c`, `eval`, `sed`, …), if any.
    pub reparsed_by: Option<String>,
    /// Whether the shell evaluates the value as arithmetic there (`$(( ))`, `let`, …).
    pub arithmetic: bool,
    /// Whether the value starts a word (where a leading `-` makes an option).
    pub starts_word: bool,
    /// Whether the value is the whole word (quoted or not), not part of a longer one.
    pub whole_word: bool,
    /// Whether a `--` before it ended the command's options.
    pub after_dashdash: bool,
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

/// How a command's text or a value shows `c` where it is not printable
/// ASCII: `\n`, `\r`, `\t`, `\x1b` for controls, `\u{202e}` / `\u{e9}` for the
/// rest (bidi overrides, look-alikes, everything non-ASCII); inside quotes also
/// `\'` and `\\`. `None`: shown as itself.
pub fn visible_escape(c: char, in_quotes: bool) -> Option<String> {
    Some(match c {
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        '\'' if in_quotes => "\\'".to_string(),
        '\\' if in_quotes => "\\\\".to_string(),
        c if c.is_ascii_control() => format!("\\x{:02x}", c as u32),
        c if !c.is_ascii() => format!("\\u{{{:x}}}", c as u32),
        _ => return None,
    })
}

/// `value` in single quotes, every character [`visible_escape`] names escaped.
pub fn quoted_visible(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match visible_escape(c, true) {
            Some(e) => out.push_str(&e),
            None => out.push(c),
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

/// Characters a value from outside (a route label, an alert name) may hold to
/// reach a command at all: what names and URL paths use, nothing any shell,
/// `sed`, `awk` or script treats as syntax.
fn is_outside_word(value: &str) -> bool {
    value.len() <= MAX_OUTSIDE
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,{}?".contains(c))
}

/// Longest value from outside handed to a command.
const MAX_OUTSIDE: usize = 512;

/// What arithmetic accepts: an integer, never a name it would read or assign.
fn is_integer(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    !digits.is_empty() && digits.len() <= 18 && digits.chars().all(|c| c.is_ascii_digit())
}

/// Commands that parse their later arguments as code (matched by base name).
const REPARSERS: [&str; 9] = [
    "eval", "ssh", "watch", "let", "[[", "parallel", "trap", "alias", "xargs",
];
/// Shells: with `-c`, their argument is a script; with only options, their stdin is.
const SHELLS: [&str; 16] = [
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "csh", "tcsh", "yash",
    "posh", "rc", "es", "pwsh",
];
/// Commands whose `-c` argument is run by a shell.
const DASH_C_RUNNERS: [&str; 4] = ["su", "runuser", "script", "flock"];
/// Commands that read a script from their standard input (a pipe, a here-document).
const STDIN_PARSERS: [&str; 2] = ["ssh", "xargs"];
/// Interpreters whose program text (an argument) is code.
const INTERPRETERS: [&str; 17] = [
    "sed",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "perl",
    "python",
    "python2",
    "python3",
    "ruby",
    "node",
    "php",
    "lua",
    "expect",
    "tclsh",
    "osascript",
    "jq",
];
/// Builtins that evaluate their argument as arithmetic when given `-i`.
const DECLARERS: [&str; 4] = ["declare", "typeset", "local", "export"];

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn is_dash_c(w: &str) -> bool {
    w.len() >= 2
        && w.starts_with('-')
        && !w.starts_with("--")
        && w[1..].chars().all(|c| c.is_ascii_alphabetic())
        && w.contains('c')
}

/// The second parser a simple command made of `words` hands its later
/// arguments to, if any.
fn reparser(words: &[String]) -> Option<String> {
    for (i, w) in words.iter().enumerate() {
        let b = base(w);
        let rest = &words[i + 1..];
        if REPARSERS.contains(&b) {
            return Some(b.to_string());
        }
        let shell_like = SHELLS.contains(&b)
            || DASH_C_RUNNERS.contains(&b)
            // `$SHELL -c`, `"${SHELL}" -c`: a shell named by a variable.
            || (i == 0 && w.starts_with('$'));
        if shell_like && rest.iter().any(|w| is_dash_c(w)) {
            return Some(format!("{b} -c"));
        }
        if b == "sudo" && rest.iter().any(|w| w == "-s" || w == "-i") {
            return Some("sudo -s".into());
        }
        if b == "env"
            && rest
                .iter()
                .any(|w| w == "-S" || w.starts_with("--split-string"))
        {
            return Some("env -S".into());
        }
        if DECLARERS.contains(&b)
            && rest
                .iter()
                .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('i'))
        {
            return Some(format!("{b} -i"));
        }
    }
    None
}

/// Whether a simple command made of `words` reads a script from its standard
/// input: a shell given only options (`sh`, `bash -s`, `kubectl exec -i … -- sh`),
/// `ssh`, `xargs`.
fn reads_script_on_stdin(words: &[String]) -> Option<String> {
    for (i, w) in words.iter().enumerate() {
        let b = base(w);
        if STDIN_PARSERS.contains(&b) {
            return Some(b.to_string());
        }
        if SHELLS.contains(&b) && words[i + 1..].iter().all(|w| w.starts_with('-')) {
            return Some(format!("{b} (reading its standard input)"));
        }
    }
    None
}

/// The interpreter among `words`, if any.
fn interpreter(words: &[String]) -> Option<String> {
    words
        .iter()
        .map(|w| base(w))
        .find(|b| INTERPRETERS.contains(b))
        .map(str::to_string)
}

/// A quoting level of the shell's grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    /// `$(` … `)`, with the depth of plain parentheses inside.
    Sub(u32),
    /// `$((` … `))` or the `((` … `))` command, with the depth of parentheses inside.
    Arith(u32),
    /// `"` … `"`.
    Double,
    /// `'` … `'`.
    Single,
    /// `` ` `` … `` ` ``.
    Backtick,
    /// `${` … `}`: the depth of braces inside, and where its text starts in the output.
    Param(u32, usize),
    /// A here-document's body, until its delimiter line.
    Heredoc(Heredoc),
}

/// A here-document: its delimiter, whether `<<-` strips tabs, whether the
/// delimiter was quoted (no expansion), and the second parser its command
/// feeds the body to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heredoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
    fed_to: Option<String>,
}

/// One command level (the top, or a substitution): the simple command being read.
#[derive(Debug, Default)]
struct Words {
    /// The finished words of the current simple command.
    done: Vec<String>,
    /// The word being read.
    current: String,
    /// Whether the current word holds more than placeholders (text, or nothing yet).
    current_literal: bool,
    /// Uses in the current word.
    current_uses: Vec<usize>,
    /// Whether `--` ended the options of the current command.
    dashdash: bool,
    /// The first use of the current simple command.
    command_start: usize,
    /// The first use of the current pipeline.
    pipeline_start: usize,
    /// The first use of a here-string word of the current command, if any, and
    /// the index that word has among `done`.
    herestring_from: Option<(usize, usize)>,
    /// Open `case … esac`s (a `)` there ends a pattern, not a substitution).
    cases: u32,
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
    /// Here-documents whose bodies start after the next unquoted newline.
    heredocs: Vec<Heredoc>,
    in_comment: bool,
    /// The last shell character emitted (for `$`, `\` and word starts).
    prev: Option<char>,
    /// Whether the previous character was an unescaped backslash.
    escaped: bool,
    /// Whether the next character starts a line of a here-document's body.
    line_start: bool,
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
            line_start: false,
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
                        format!(
                            "unknown placeholder {{{}}}",
                            quoted_visible(name).trim_matches('\'')
                        ),
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
        loop {
            if self.line_start {
                self.line_start = false;
                if self.heredoc_terminator() {
                    continue;
                }
            }
            let Some(tok) = self.token(self.i)? else {
                break;
            };
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
        self.end_command();
        Ok(Command {
            text: self.out,
            uses: self.uses,
        })
    }

    /// At the start of a body line: when the line is the innermost here-document's
    /// delimiter, copies it, ends that here-document and starts the next one.
    fn heredoc_terminator(&mut self) -> bool {
        let Some(Frame::Heredoc(h)) = self.frames.last().cloned() else {
            return false;
        };
        let rest = &self.src[self.i..];
        let line = rest.split('\n').next().unwrap_or_default();
        let bare = if h.strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        if bare != h.delimiter {
            return false;
        }
        self.out.push_str(line);
        self.i += line.len();
        self.frames.pop();
        if self.i < self.src.len() {
            // The newline after the delimiter.
            self.out.push('\n');
            self.i += 1;
            self.prev = Some('\n');
            self.start_heredoc();
        }
        true
    }

    /// Starts the body of the next pending here-document, if any.
    fn start_heredoc(&mut self) {
        if !self.heredocs.is_empty() {
            let h = self.heredocs.remove(0);
            self.frames.push(Frame::Heredoc(h));
            self.line_start = true;
        }
    }

    /// The innermost context a placeholder at the current position stands in.
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
            Some(Frame::Param(..)) => Context::Parameter,
            Some(Frame::Heredoc(h)) if h.quoted => Context::QuotedHeredoc,
            Some(Frame::Heredoc(_)) => Context::Heredoc,
        }
    }

    /// Whether the value is evaluated as arithmetic here: inside `$(( ))` or
    /// `(( ))` (through quotes and `${…}` too), or as a `${NAME:offset}`.
    fn arithmetic(&self) -> bool {
        for f in self.frames.iter().rev() {
            match f {
                Frame::Arith(_) => return true,
                Frame::Param(_, start) => {
                    // `${NAME:` + not one of `-=?+`: an offset, evaluated as arithmetic.
                    let text = &self.out[*start..];
                    if let Some((name, more)) = text.split_once(':')
                        && !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !more.starts_with(['-', '=', '?', '+'])
                    {
                        return true;
                    }
                }
                // A substitution's output is not what arithmetic parses directly…
                Frame::Sub(_) | Frame::Backtick => {}
                Frame::Double | Frame::Single | Frame::Heredoc(_) => {}
            }
        }
        false
    }

    /// The second parser a placeholder here is handed to, if any.
    fn reparsed_by(&self) -> Option<String> {
        if self.arithmetic() {
            return Some("$(( ))".to_string());
        }
        for f in self.frames.iter().rev() {
            if let Frame::Heredoc(h) = f
                && let Some(by) = &h.fed_to
            {
                return Some(by.clone());
            }
        }
        self.words.iter().rev().find_map(|w| reparser(&w.done))
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
        let reparsed_by = self.reparsed_by();
        // `let`, `[[ -eq ]]` and `declare -i` evaluate their arguments as arithmetic too.
        let arithmetic = self.arithmetic()
            || reparsed_by
                .as_deref()
                .is_some_and(|b| b == "let" || b == "[[" || b.ends_with(" -i"));
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
        let index = self.uses.len();
        let (starts_word, after_dashdash) = match self.words.last_mut() {
            Some(w) => {
                let start = w.current.chars().all(|c| c == '\u{0}');
                w.current.push_str(&format!("${{{var}}}"));
                w.current_uses.push(index);
                (start, w.dashdash)
            }
            None => (true, false),
        };
        self.prev = Some('}');
        self.uses.push(Use {
            placeholder: p,
            at,
            context,
            reparsed_by,
            arithmetic,
            starts_word: starts_word
                && !matches!(context, Context::Heredoc | Context::QuotedHeredoc),
            whole_word: false,
            after_dashdash,
        });
        Ok(())
    }

    fn word_char(&mut self, c: char) {
        if let Some(w) = self.words.last_mut() {
            w.current.push(c);
            w.current_literal = true;
        }
    }

    /// A quote opens or closes: part of the word, but not text of it.
    fn word_quote(&mut self) {
        if let Some(w) = self.words.last_mut()
            && w.current.is_empty()
        {
            // An empty word "" still starts here; mark it begun without text.
            w.current.push('\u{0}');
        }
    }

    fn end_word(&mut self) {
        let Some(w) = self.words.last_mut() else {
            return;
        };
        if w.current.is_empty() {
            return;
        }
        let word = std::mem::take(&mut w.current).replace('\u{0}', "");
        let uses = std::mem::take(&mut w.current_uses);
        let literal = std::mem::take(&mut w.current_literal);
        if word == "--" {
            w.dashdash = true;
        }
        // A word that is only placeholders (quoted or not) is a whole argument.
        let whole = !literal && uses.len() == 1;
        // `case` and `esac` at a command's start open and close a case.
        if w.done.is_empty() {
            match word.as_str() {
                "case" => w.cases += 1,
                "esac" => w.cases = w.cases.saturating_sub(1),
                _ => {}
            }
        }
        let interp = interpreter(&w.done);
        w.done.push(word);
        for i in uses {
            if let Some(u) = self.uses.get_mut(i) {
                u.whole_word = whole;
                // Inside an interpreter's program text (part of a word, or quoted), it is code.
                if u.reparsed_by.is_none()
                    && let Some(by) = &interp
                    && (!whole
                        || matches!(u.context, Context::SingleQuotes | Context::DoubleQuotes))
                {
                    u.reparsed_by = Some(by.clone());
                }
            }
        }
    }

    /// Ends the simple command; `pipe`: a `|` follows, so the pipeline goes on.
    fn end_command_with(&mut self, pipe: bool) {
        self.end_word();
        let next = self.uses.len();
        let Some(w) = self.words.last_mut() else {
            return;
        };
        // A here-string fed to a shell, and what earlier commands of the pipeline print
        // into a command that reads its stdin as a script, are parsed again.
        let words: Vec<String> = match w.herestring_from {
            // The here-string is the command's input, not one of its arguments.
            Some((_, word)) => w
                .done
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != word)
                .map(|(_, w)| w.clone())
                .collect(),
            None => w.done.clone(),
        };
        let stdin = reads_script_on_stdin(&words);
        let mut marks = Vec::new();
        if let Some(by) = &stdin {
            if let Some((from, _)) = w.herestring_from {
                marks.push((from, next, by.clone()));
            }
            if w.pipeline_start < w.command_start {
                marks.push((w.pipeline_start, w.command_start, by.clone()));
            }
        }
        w.done.clear();
        w.current.clear();
        w.current_uses.clear();
        w.current_literal = false;
        w.dashdash = false;
        w.herestring_from = None;
        w.command_start = next;
        if !pipe {
            w.pipeline_start = next;
        }
        for (from, to, by) in marks {
            for u in &mut self.uses[from..to] {
                u.reparsed_by.get_or_insert(by.clone());
            }
        }
    }

    fn end_command(&mut self) {
        self.end_command_with(false);
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
                self.newline();
            }
            return Ok(());
        }
        match self.frames.last().cloned() {
            Some(Frame::Single) => {
                if c == '\'' {
                    self.frames.pop();
                    self.word_quote();
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
                            self.word_quote();
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
                } else if c == '`' {
                    self.end_command();
                    self.frames.pop();
                    self.words.pop();
                    self.word_char('$');
                } else {
                    self.plain_char(c, prev, at)?;
                }
            }
            Some(Frame::Param(depth, start)) => {
                self.word_char(c);
                if was_escaped {
                    return Ok(());
                }
                match c {
                    '\\' => self.escaped = true,
                    '{' => self.set_top(Frame::Param(depth + 1, start)),
                    '}' if depth == 0 => {
                        self.frames.pop();
                    }
                    '}' => self.set_top(Frame::Param(depth - 1, start)),
                    '"' => self.frames.push(Frame::Double),
                    '\'' => self.frames.push(Frame::Single),
                    '$' => self.dollar(),
                    _ => {}
                }
            }
            Some(Frame::Arith(depth)) => {
                self.word_char(c);
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
            Some(Frame::Heredoc(h)) => {
                if c == '\n' {
                    self.line_start = true;
                    return Ok(());
                }
                if h.quoted || was_escaped {
                    return Ok(());
                }
                match c {
                    '\\' => self.escaped = true,
                    '$' => self.dollar(),
                    '`' => self.open_backtick(),
                    _ => {}
                }
            }
            None | Some(Frame::Sub(_)) => {
                if was_escaped {
                    if c != '\n' {
                        self.word_char(c);
                    }
                    // A line continuation: the word goes on.
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
                let start = self.uses.len();
                self.words.push(Words {
                    command_start: start,
                    pipeline_start: start,
                    ..Words::default()
                });
            }
            self.prev = Some('(');
        } else if self.peek_is('{') {
            self.take();
            self.word_char('$');
            self.word_char('{');
            self.frames.push(Frame::Param(0, self.out.len()));
            self.prev = Some('{');
        } else {
            self.word_char('$');
        }
    }

    /// A character outside quotes (at the top, in `$( )` or in backticks).
    fn plain_char(&mut self, c: char, prev: Option<char>, _at: usize) -> Result<(), TemplateError> {
        let word_start = prev.is_none_or(|p| p.is_whitespace() || ";&|()<>".contains(p));
        match c {
            '\\' => self.escaped = true,
            '\'' => {
                self.word_quote();
                self.frames.push(Frame::Single);
            }
            '"' => {
                self.word_quote();
                self.frames.push(Frame::Double);
            }
            '`' => self.open_backtick(),
            '$' => self.dollar(),
            '#' if word_start && self.words.last().is_some_and(|w| w.current.is_empty()) => {
                self.end_word();
                self.in_comment = true;
            }
            '\n' => {
                self.end_command();
                self.newline();
            }
            ' ' | '\t' => self.end_word(),
            // `>&`, `<&` (`2>&1`), `>|` and bash's `&>` are redirections, not
            // separators: the command and its words go on.
            '&' if matches!(prev, Some('>' | '<')) || self.peek_is('>') => self.end_word(),
            '|' if prev == Some('>') => self.end_word(),
            '|' => {
                if self.peek_is('|') {
                    self.take();
                    self.prev = Some('|');
                    self.end_command();
                } else {
                    self.end_command_with(true);
                }
            }
            ';' | '&' => self.end_command(),
            '(' => {
                if self.peek_is('(') {
                    // `((` … `))`: bash arithmetic (also `for ((…))`).
                    self.take();
                    self.prev = Some('(');
                    self.end_word();
                    self.frames.push(Frame::Arith(0));
                } else {
                    if let Some(Frame::Sub(d)) = self.frames.last().cloned() {
                        self.set_top(Frame::Sub(d + 1));
                    }
                    self.end_command();
                }
            }
            ')' => {
                self.end_word();
                let in_case = self.words.last().is_some_and(|w| w.cases > 0);
                match self.frames.last().cloned() {
                    // A case pattern's `)`.
                    _ if in_case => self.end_command(),
                    Some(Frame::Sub(0)) => {
                        self.end_command();
                        self.frames.pop();
                        self.words.pop();
                        self.word_char('$');
                    }
                    Some(Frame::Sub(d)) => {
                        self.set_top(Frame::Sub(d - 1));
                        self.end_command();
                    }
                    _ => self.end_command(),
                }
            }
            '<' if self.peek_is('<') => {
                self.take();
                self.prev = Some('<');
                self.end_word();
                if self.peek_is('<') {
                    // A here-string (`<<<`): its word is the command's standard input.
                    self.take();
                    let next = self.uses.len();
                    if let Some(w) = self.words.last_mut() {
                        let word = w.done.len();
                        w.herestring_from.get_or_insert((next, word));
                    }
                } else {
                    self.heredoc_operator();
                }
            }
            '<' | '>' => self.end_word(),
            c => self.word_char(c),
        }
        Ok(())
    }

    /// After `<<`: reads `-` and the delimiter word; notes who reads the body.
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
        let fed_to = self.words.last().and_then(|w| {
            let mut all = w.done.clone();
            if !w.current.is_empty() {
                all.push(w.current.clone());
            }
            reads_script_on_stdin(&all).or_else(|| reparser(&all))
        });
        self.heredocs.push(Heredoc {
            delimiter,
            strip_tabs,
            quoted,
            fed_to,
        });
    }

    /// After an unquoted newline: the bodies of pending here-documents follow.
    fn newline(&mut self) {
        self.prev = Some('\n');
        self.start_heredoc();
    }
}

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

    /// Refuses what would let a value change the command: a value from outside
    /// (`{target}`, `{route}`) that is not a plain name, or that starts a word
    /// with `-` (an option) before any `--`; anything but an integer where the
    /// shell does arithmetic; and anything but a plain word where a second
    /// parser reads it (see [`Use::reparsed_by`]).
    pub fn check(&self, values: &Values) -> Result<(), String> {
        for u in &self.uses {
            let name = u.placeholder.name;
            let value = values.get(name);
            let shown = quoted_visible(value);
            if u.placeholder.outside && !is_outside_word(value) {
                return Err(format!(
                    "not run: {{{name}}} comes from outside ic (a route label, an alert name) and its value {shown} holds characters ic never hands to a command (only letters, digits and -_./:=@%+,{{}}? up to {MAX_OUTSIDE} bytes); check the target and run the command by hand, or make another row the primary target (t)"
                ));
            }
            if u.placeholder.outside && u.starts_word && !u.after_dashdash && value.starts_with('-')
            {
                return Err(format!(
                    "not run: {{{name}}} = {shown} starts with `-`, so the command would take it for an option; put `--` before it in the playbook, or check the target"
                ));
            }
            if u.arithmetic && !is_integer(value) {
                return Err(format!(
                    "not run: the shell evaluates {{{name}}} as arithmetic there, and its value {shown} is not an integer"
                ));
            }
            if let Some(by) = &u.reparsed_by
                && !is_plain_word(value)
            {
                return Err(format!(
                    "not run: the command hands {{{name}}} to `{by}`, which parses it as code, and its value {shown} holds characters other than letters, digits and -_./:=@%+,"
                ));
            }
        }
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
        let c = Command::parse("ssh h \"restart {service}\"").unwrap();
        let mut v = Values::default();
        v.set("service", "payments-api");
        assert!(c.check(&v).is_ok());
        v.set("service", "x; rm -rf ~");
        assert!(c.check(&v).unwrap_err().contains("ssh"));
        // Fed on standard input: here-documents, pipes, here-strings.
        assert_eq!(
            by("ssh host <<EOF\nrestart {target}\nEOF").as_deref(),
            Some("ssh")
        );
        assert!(by("kubectl exec -i d -- sh <<EOF\nkill {target}\nEOF").is_some());
        assert_eq!(
            by("echo \"restart {target}\" | ssh host").as_deref(),
            Some("ssh")
        );
        assert!(by("bash <<< \"echo {target}\"").is_some());
        assert_eq!(by("echo {target} | grep x"), None);
        // By path, by variable, and interpreters' program text.
        assert_eq!(by("/usr/bin/ssh h \"x {target}\"").as_deref(), Some("ssh"));
        assert_eq!(
            by("$SHELL -c \"echo {target}\"").as_deref(),
            Some("$SHELL -c")
        );
        assert_eq!(by("echo a | sed \"s/a/{target}/\"").as_deref(), Some("sed"));
        assert_eq!(
            by("python3 tool.py {target}"),
            None,
            "an argument, not program text"
        );
        // A case pattern's `)` does not end the substitution.
        let c = Command::parse("echo \"$(case x in a) eval echo {target};; esac)\"").unwrap();
        assert_eq!(c.uses[0].reparsed_by.as_deref(), Some("eval"));
        assert_eq!(c.uses[0].context, Context::Plain);
    }

    #[test]
    fn values_from_outside_must_be_plain_names_and_never_options() {
        let mut v = Values::default();
        let echo = Command::parse("echo {target}").unwrap();
        for ok in [
            "api-payments",
            "v1-users-{id}",
            "search?q=",
            "KubePodCrashLooping",
        ] {
            v.set("target", ok);
            assert!(echo.check(&v).is_ok(), "{ok}");
        }
        for bad in ["$(touch x)", "a b", "x;y", "caf\u{e9}", "a\nb", "*"] {
            v.set("target", bad);
            assert!(
                echo.check(&v).unwrap_err().contains("comes from outside"),
                "{bad}"
            );
        }
        v.set("target", "--all");
        assert!(echo.check(&v).unwrap_err().contains("option"));
        assert!(
            Command::parse("echo deploy/{target}")
                .unwrap()
                .check(&v)
                .is_ok()
        );
        assert!(
            Command::parse("echo -- {target}")
                .unwrap()
                .check(&v)
                .is_ok()
        );
        // The config's own values are trusted in plain positions.
        v.set("service", "checkout api");
        assert!(Command::parse("echo {service}").unwrap().check(&v).is_ok());
        // Arithmetic takes integers only, never a name it would read or assign.
        let arith = Command::parse("echo $(( {severity} + 1 ))").unwrap();
        v.set("severity", "PATH=0");
        assert!(arith.check(&v).unwrap_err().contains("arithmetic"));
        v.set("severity", "-3");
        assert!(arith.check(&v).is_ok());
        for t in [
            "let n={severity}",
            "declare -i n={severity}",
            "echo ${{X:{severity}}}",
            "for ((i=0; i<{severity}; i++)); do :; done",
        ] {
            let c = Command::parse(t).unwrap();
            assert!(c.uses[0].arithmetic, "{t}");
        }
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
