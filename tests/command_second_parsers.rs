//! Adversary tests for `core::command` (issue #13, attack round): a route
//! label from `/metrics` is the attacker's text. For every template below a
//! playbook author might plausibly write, the value must either be refused by
//! [`Command::check`] (the second-parser rule) or, when the command is allowed
//! to run, create no file and reach the command as one unchanged word — under
//! dash (`/bin/sh` here) and under bash (`/bin/sh` on macOS and some distros).
//!
//! Each test is one root cause; every row in it fails on the code this was
//! written against. A test passes once the lexer sees the construct (and
//! flags or refuses the value) or renders the placeholder so the shell never
//! parses its value.

use incident_commander::core::command::{Command, Values};
use std::path::Path;
use std::process::Command as Process;

/// A value that writes `pwned` into the working directory wherever a shell parses it.
const RUN: &str = "$(touch pwned)";
/// The same for bash's arithmetic, which expands array subscripts.
const SUBSCRIPT: &str = "a[$(touch pwned)]";

/// Values for a route `shop <label>` (what `ic` sets when that route is the primary target).
fn values(label: &str) -> Values {
    let mut v = Values::default();
    v.set_target(&format!("shop {label}"), true);
    v.set("service", "shop").set("severity", "unset");
    v
}

fn has_shell(sh: &str) -> bool {
    Process::new(sh)
        .args(["-c", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the rendered text with `sh` in a fresh directory, with the placeholders'
/// environment (and `SHELL=/bin/bash`, as on most responders' machines);
/// returns (stdout, whether a `pwned` file appeared).
fn run_with(sh: &str, command: &Command, values: &Values) -> (String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let out = Process::new(sh)
        .arg("-c")
        .arg(&command.text)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SHELL", "/bin/bash")
        .env("HOME", dir.path())
        .envs(values.env())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        pwned(dir.path()),
    )
}

fn pwned(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("pwned"))
}

/// What went wrong with `template` and `label`, if anything: allowed to run
/// (not refused) and then a shell ran code, or `whole` is not in the output.
fn verdict(template: &str, label: &str, shells: &[&str], whole: Option<&str>) -> Option<String> {
    let command = Command::parse(template).unwrap_or_else(|e| panic!("{template:?}: {e}"));
    let v = values(label);
    if command.check(&v).is_err() {
        return None;
    }
    let mut bad = Vec::new();
    for sh in shells {
        if !has_shell(sh) {
            continue;
        }
        let (out, ran) = run_with(sh, &command, &v);
        if ran {
            bad.push(format!("{sh} RAN the value"));
        }
        if let Some(w) = whole
            && !out.contains(w)
        {
            bad.push(format!("{sh} printed {out:?}, not the value {w:?} whole"));
        }
    }
    (!bad.is_empty()).then(|| {
        format!(
            "{template:?} with the label {label:?}: not refused, rendered {:?}: {}",
            command.text,
            bad.join("; ")
        )
    })
}

/// Fails with every row that went wrong.
fn assert_all(rows: &[(&str, &str, &[&str], Option<&str>)]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(t, l, shells, whole)| verdict(t, l, shells, *whole))
        .collect();
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

/// Rows where the second parser cannot be run here (ssh, kubectl): the
/// placeholder must at least be flagged and the hostile value refused.
fn assert_refused(rows: &[(&str, &str)]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(t, label)| {
            let c = Command::parse(t).unwrap();
            let flagged = c.uses.iter().any(|u| u.reparsed_by.is_some());
            let refused = c.check(&values(label)).is_err();
            (!flagged || !refused).then(|| {
                format!(
                    "{t:?}: flagged {flagged}, {label:?} refused {refused}; rendered {:?}",
                    c.text
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

const BOTH: &[&str] = &["sh", "bash"];
const BASH: &[&str] = &["bash"];

/// A here-document is a second shell's script when it is fed to `sh`, `bash -s`,
/// `ssh host` or `kubectl exec -i … -- sh`; a pipe or a here-string into a
/// shell (or `xargs -I{} sh -c`) likewise. The lexer clears the command's words
/// at the newline before it reads the body, and a pipe ends the command, so
/// none of these is flagged.
#[test]
fn a_script_fed_to_a_second_shell_on_its_stdin_is_refused() {
    assert_all(&[
        ("sh <<EOF\necho restarting {target}\nEOF", RUN, BOTH, None),
        (
            "bash -s <<EOF\necho restarting {target}\nEOF",
            RUN,
            BOTH,
            None,
        ),
        (
            "sh <<-EOF\n\techo restarting {route}\n\tEOF",
            RUN,
            BOTH,
            None,
        ),
        ("echo \"echo restarting {target}\" | sh", RUN, BOTH, None),
        (
            "printf '%s\\n' \"systemctl restart {target}\" | bash",
            RUN,
            BOTH,
            None,
        ),
        ("bash <<< \"echo restarting {target}\"", RUN, BASH, None),
        (
            "echo {target} | xargs -I{{}} sh -c 'echo restarting {{}}'",
            "x;touch pwned",
            BOTH,
            None,
        ),
    ]);
    assert_refused(&[
        ("ssh host <<EOF\nsudo systemctl restart {target}\nEOF", RUN),
        (
            "kubectl exec -i deploy/api -- sh <<EOF\nkill -HUP {target}\nEOF",
            RUN,
        ),
        ("echo \"restart {target}\" | ssh host", RUN),
    ]);
}

/// Inside an unquoted here-document the shell still runs `$( … )`, `` `…` ``
/// and `$(( ))` — ordinary shell text, where the lexer (which copies the body
/// verbatim) leaves the reference unquoted (`${IC_TARGET}`) and never looks
/// for `eval`, `sh -c` or arithmetic.
#[test]
fn command_substitutions_inside_a_here_document_are_shell_text() {
    assert_all(&[
        // The value is split and globbed: three words where one was written.
        (
            "cat <<EOF\nPods: $(printf '[%s]' {target})\nEOF",
            "/a  *",
            BOTH,
            Some("[a  *]"),
        ),
        (
            "cat <<EOF\nPods: `printf '[%s]' {target}`\nEOF",
            "/a  *",
            BOTH,
            Some("[a  *]"),
        ),
        // And a second parser inside the body is never flagged.
        ("cat <<EOF\n$(eval echo {target})\nEOF", RUN, BOTH, None),
        (
            "cat <<EOF\n$(sh -c \"echo {target}\")\nEOF",
            RUN,
            BOTH,
            None,
        ),
        (
            "cat <<EOF\nnext: $(( {target} + 1 ))\nEOF",
            SUBSCRIPT,
            BASH,
            None,
        ),
    ]);
}

/// A `case` pattern's `)` inside `"$( … )"` is taken for the end of the
/// substitution: the lexer falls back into the double quotes while the shell
/// is still in plain command text, so the reference is rendered unquoted and
/// `eval` is not seen.
#[test]
fn a_case_pattern_does_not_end_a_command_substitution() {
    assert_all(&[
        (
            "echo \"$(case {severity} in SEV-1) echo page;; *) eval echo {target};; esac)\"",
            RUN,
            BOTH,
            None,
        ),
        (
            "printf '%s' \"$(case {severity} in unset) printf '[%s]' {target};; esac)\"",
            "/a  *",
            BOTH,
            Some("[a  *]"),
        ),
    ]);
}

/// The `&` of `2>&1` / `>&2` and the `|` of `>|` are redirections, not command
/// separators: the lexer forgets the command's first words there.
#[test]
fn a_redirection_does_not_end_the_command() {
    assert_all(&[
        ("eval 2>&1 \"echo {target}\"", RUN, BOTH, None),
        ("sh -c >&2 \"echo {target}\"", RUN, BOTH, None),
        ("sh -c >|/dev/null \"echo {target}\"", RUN, BOTH, None),
    ]);
    assert_refused(&[("ssh host 2>&1 \"sudo systemctl restart {target}\"", RUN)]);
}

/// Second parsers the word lists miss: a shell or ssh named by its path or by
/// `$SHELL`, shells outside the list, and commands whose argument is a script
/// (`flock -c`, `trap`, `alias`, `env -S`).
#[test]
fn second_parsers_by_path_variable_or_another_name_are_found() {
    assert_all(&[
        ("$SHELL -c \"echo {target}\"", RUN, BOTH, None),
        ("\"${{SHELL}}\" -c \"echo {target}\"", RUN, BOTH, None),
        (
            "flock /tmp/ic-attack.lock -c \"echo {target}\"",
            RUN,
            BOTH,
            None,
        ),
        ("trap \"echo cleaning up {target}\" EXIT", RUN, BOTH, None),
        ("alias x=\"echo {target}\"\nx", RUN, &["sh"], None),
        (
            "env -S 'sh -c \"echo {target}\"'",
            "x;touch pwned",
            BOTH,
            None,
        ),
    ]);
    assert_refused(&[
        ("/usr/bin/ssh host \"sudo systemctl restart {target}\"", RUN),
        ("fish -c \"echo {target}\"", RUN),
        ("tcsh -c \"echo {target}\"", RUN),
        ("/usr/bin/watch -n1 \"kubectl get pod {target}\"", RUN),
    ]);
}

/// Interpreters parse a value placed inside their program text: awk, sed (GNU
/// `e`), perl, python. These are second parsers as much as `sh -c` is.
#[test]
fn interpreters_never_parse_a_hostile_value_in_their_program() {
    assert_all(&[
        (
            "echo a | sed \"s/a/{route}/\"",
            "/;e touch pwned #",
            BOTH,
            None,
        ),
        (
            "awk \"BEGIN {{ print \\\"{target}\\\" }}\"",
            "\"; system(\"touch pwned\"); print \"",
            BOTH,
            None,
        ),
        (
            "perl -e 'print \"{target}\\n\"'",
            "\".system(\"touch pwned\").\"",
            BOTH,
            None,
        ),
        (
            "python3 -c \"print('{target}')\"",
            "'); import os; os.system('touch pwned'); print('",
            BOTH,
            None,
        ),
    ]);
}

/// bash evaluates array subscripts (and runs `$( )` in them) wherever it does
/// arithmetic. The lexer flags `$(( ))` only when the placeholder stands
/// directly in it, and `((` only until the first `;`, `|`, `&` or `(`.
#[test]
fn bash_arithmetic_never_sees_a_hostile_value() {
    assert_all(&[
        ("echo $(( \"{target}\" + 1 ))", SUBSCRIPT, BASH, None),
        ("echo $(( ${{N:-{target}}} + 1 ))", SUBSCRIPT, BASH, None),
        (
            "for ((i = 0; i < {target}; i++)); do :; done",
            SUBSCRIPT,
            BASH,
            None,
        ),
        ("(( 0 || {target} )) && echo yes", SUBSCRIPT, BASH, None),
        ("declare -i n={target}; echo $n", SUBSCRIPT, BASH, None),
        ("echo ${{IC_SERVICE:{target}}}", SUBSCRIPT, BASH, None),
        // `<<` in bash's `(( ))` is a shift, not a here-document: the lexer
        // takes the next line for a here-document body and never sees `eval`.
        ("(( mask = 1 << 4 ))\neval echo {target}", RUN, BASH, None),
    ]);
}

/// A "plain word" may hold `=` and `,`: in `$(( ))` that is an assignment, in
/// dash as in bash, and it changes what the rest of the command runs.
#[test]
fn a_value_in_arithmetic_cannot_assign_a_shell_variable() {
    let command =
        Command::parse("echo $(( {target} + 1 )); ls / >/dev/null && echo listed").unwrap();
    for label in ["PATH=0", "IFS=1,PATH=2"] {
        let v = values(label);
        if command.check(&v).is_err() {
            continue;
        }
        for sh in BOTH {
            let (out, _) = run_with(sh, &command, &v);
            assert!(
                out.contains("listed"),
                "{sh}: the value {label:?} in $(( )) assigned a variable and broke `ls`: {out:?}"
            );
        }
    }
}

/// A value that starts with `-` and stands as a whole word is an option to the
/// command: a route labelled `--all` turns `kubectl delete pod {target}` into
/// "delete every pod", and `--output=pwned` makes `sort` write a file.
#[test]
fn a_value_that_looks_like_an_option_is_refused_where_it_stands_alone() {
    assert_all(&[("sort {target}", "--output=pwned", BOTH, None)]);
    for (template, label) in [
        ("kubectl -n {service} delete pod {target}", "--all"),
        ("systemctl restart {target}", "--force"),
        ("docker restart {target}", "--help"),
    ] {
        let c = Command::parse(template).unwrap();
        assert!(
            c.check(&values(label)).is_err(),
            "{template:?} accepts the route {label:?} as {{target}} = {:?}: an option, not a name",
            values(label).get("target")
        );
    }
    // With a prefix the value is never an option: still accepted.
    let c = Command::parse("kubectl -n {service} rollout undo deploy/{target}").unwrap();
    assert!(c.check(&values("--all")).is_ok());
}

/// The harness itself: safe templates pass (so the failures above are the lexer's).
#[test]
fn control_safe_templates_pass() {
    assert_all(&[
        ("echo {target}", RUN, BOTH, Some(RUN)),
        (
            "printf '[%s]' \"$(printf '%s' {target})\"",
            "/a  *",
            BOTH,
            Some("[a  *]"),
        ),
        ("cat <<EOF\n{route}\nEOF", "/a  *", BOTH, Some("/a  *")),
        ("echo $(( {target} + 1 ))", SUBSCRIPT, BOTH, None),
        ("sh -c \"echo {target}\"", RUN, BOTH, None),
        (
            "kubectl -n {service} rollout undo deploy/{target}",
            "--all",
            &[],
            None,
        ),
    ]);
}
