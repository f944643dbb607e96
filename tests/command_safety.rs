//! Playbook commands against an attacker (issue #13, part 1): a route label
//! from `/metrics` that is shell code must never run, whatever quoting the
//! playbook wraps its placeholder in; `ic playbook show --json` gives exactly
//! what the runner hands to `sh -c`; `ic lint` warns about quoted
//! placeholders with their position. The full-screen dialog, the audit
//! records and quitting while a command runs are driven in tmux in
//! `tests/command_dialog.rs`.

use incident_commander::core::command::{Command, Values};
use incident_commander::runner::{self, Confirmed, RunOptions};
use std::path::Path;
use std::process::Command as Process;
use tokio::sync::watch;

/// The label the attacker published, and one that writes into the working directory.
const PWNED: &str = "$(touch${IFS}${PWD%%[a-z]*}tmp${PWD%%[a-z]*}pwned)";
const HERE: &str = "$(touch pwned-here)`touch pwned-tick`;touch pwned-semi\n touch pwned-line '\"";

/// One step per way a playbook might quote a placeholder, and whether the value
/// arrives as one whole word there (backticks and a quoted here-document do not).
const TEMPLATES: [(&str, bool); 10] = [
    ("echo {target}", true),
    ("echo '{target}'", true),
    ("echo \"{target}\"", true),
    ("echo x{target}x '{route}' \"{route}\"", true),
    ("echo \"$(printf '%s' {target})\"", true),
    ("cat <<EOF\n{route}\nEOF", true),
    ("cat <<-'EOF'\n\t{route}\n\tEOF", false),
    ("echo ${{IC_NOPE:-{target}}}", true),
    ("echo `printf %s {target}`", false),
    ("printf '%s\\n' {route} # {target}", true),
];

async fn run_in(dir: &Path, command: &Command, values: &Values) -> String {
    let opts = RunOptions {
        cwd: Some(dir.to_path_buf()),
        env: values.env(),
        ..RunOptions::default()
    };
    let (_tx, rx) = watch::channel(false);
    let o = runner::run(&command.text, Confirmed::by("test"), &opts, rx)
        .await
        .unwrap();
    assert_eq!(o.exit_code, Some(0), "{}: {o:?}", command.text);
    o.output
}

fn pwned_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("pwned"))
        .collect()
}

#[tokio::test]
async fn a_hostile_route_label_never_runs_whatever_the_quoting() {
    let tmp_pwned = Path::new("/tmp/pwned");
    let existed = tmp_pwned.exists();
    for label in [PWNED, HERE] {
        let dir = tempfile::tempdir().unwrap();
        let mut values = Values::default();
        values.set_target(&format!("evil /{label}"), true);
        for (template, whole) in TEMPLATES {
            let command = Command::parse(template).unwrap();
            let out = run_in(dir.path(), &command, &values).await;
            assert!(pwned_files(dir.path()).is_empty(), "{template} ran code");
            // The value arrives as data, whole, where the shell expands it.
            if whole {
                assert!(out.contains(label), "{template}: {out:?}");
            }
        }
    }
    assert!(
        existed || !tmp_pwned.exists(),
        "the attacker's label wrote /tmp/pwned"
    );
}

#[tokio::test]
async fn the_old_escaping_would_have_run_it() {
    // What `shell_escape` produced for `echo '{target}'`: the template's quotes undo the escape.
    let dir = tempfile::tempdir().unwrap();
    let old = format!("echo '{}'", format_args!("'{}'", "$(touch pwned-old)"));
    let opts = RunOptions {
        cwd: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let (_tx, rx) = watch::channel(false);
    runner::run(&old, Confirmed::by("test"), &opts, rx)
        .await
        .unwrap();
    assert_eq!(pwned_files(dir.path()), ["pwned-old"], "the test's premise");
}

#[tokio::test]
async fn a_second_shell_never_sees_a_hostile_value() {
    let dir = tempfile::tempdir().unwrap();
    let command = Command::parse("sh -c \"echo {target}\"").unwrap();
    let mut values = Values::default();
    values.set_target(&format!("evil /{HERE}"), true);
    let why = command.check(&values).unwrap_err();
    assert!(
        why.contains("not run") && why.contains("comes from outside"),
        "{why}"
    );
    // A value from the config is trusted in plain positions, not where a second shell parses it.
    let config = Command::parse("sh -c \"echo {service}\"").unwrap();
    values.set("service", "shop; touch pwned");
    let why = config.check(&values).unwrap_err();
    assert!(why.contains("sh -c") && why.contains("not run"), "{why}");
    // A plain value passes, and means what it says.
    values.set_target("shop /api/payments", true);
    command.check(&values).unwrap();
    assert_eq!(
        run_in(dir.path(), &command, &values).await,
        "api-payments\n"
    );
}

fn ic(args: &[&str], dir: &Path) -> std::process::Output {
    Process::new(env!("CARGO_BIN_EXE_ic"))
        .args(args)
        .current_dir(dir)
        .env("IC_LOG", "off")
        .env_remove("IC_CONFIG")
        .output()
        .unwrap()
}

const PLAYBOOK: &str = r#"id: quoting
title: Every way to quote a placeholder
applies_when: {signals: [error_rate]}
phases:
  mitigate:
    - {id: plain, text: plain, run: "echo {target}"}
    - {id: single, text: single, run: "echo '{target}'"}
    - id: multi
      text: several lines
      run: |
        echo one
        echo "two {route}"
        cat <<'EOF'
        {service}
        EOF
    - {id: remote, text: remote, run: "ssh host \"restart {target}\""}
"#;

#[test]
fn playbook_show_json_is_what_the_runner_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quoting.yaml");
    std::fs::write(&file, PLAYBOOK).unwrap();
    let out = ic(
        &[
            "playbook",
            "show",
            file.to_str().unwrap(),
            "--target",
            &format!("evil /{HERE}"),
            "--service",
            "shop",
            "--severity",
            "sev2",
            "--json",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["playbook"], "quoting");
    let p = incident_commander::files::load_playbook(&file).unwrap();
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    for (json, (_, step)) in steps.iter().zip(p.phases.all()) {
        let rendered = step.command().unwrap().unwrap();
        assert_eq!(json["command"], rendered.text.as_str(), "{}", step.id);
        assert_eq!(json["env"]["IC_SERVICE"], "shop");
        assert_eq!(json["env"]["IC_SEVERITY"], "SEV-2");
        assert_eq!(json["env"]["IC_PLAYBOOK"], "quoting");
        assert_eq!(json["env"]["IC_ROUTE"], format!("/{HERE}").as_str());
        assert_eq!(json["phase"], "mitigate");
    }
    // `env … sh -c "$command"` reproduces the runner: the value is printed, never run.
    let plain = &steps[0];
    let mut sh = Process::new("sh");
    sh.arg("-c")
        .arg(plain["command"].as_str().unwrap())
        .current_dir(dir.path());
    for (k, val) in plain["env"].as_object().unwrap() {
        sh.env(k, val.as_str().unwrap());
    }
    let got = sh.output().unwrap();
    assert!(pwned_files(dir.path()).is_empty());
    assert!(String::from_utf8_lossy(&got.stdout).contains("pwned-here"));
    // Every step using the hostile value is refused, and says so.
    for step in [&steps[0], &steps[1], &steps[3]] {
        assert!(
            step["refused"]
                .as_str()
                .is_some_and(|r| r.starts_with("not run") && r.contains("comes from outside")),
            "{step}"
        );
    }
    // The text form shows every line of the multi-line command, and the refusal.
    let out = ic(
        &[
            "playbook",
            "show",
            file.to_str().unwrap(),
            "--target",
            &format!("evil /{HERE}"),
        ],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "      $ echo one",
        "      > echo \"two ${IC_ROUTE}\"",
        "      > ${IC_SERVICE}",
        "refused: not run",
        r#"IC_ROUTE='/$(touch pwned-here)`touch pwned-tick`;touch pwned-semi\n touch pwned-line \'"'"#,
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
}

#[test]
fn lint_warns_about_quoted_placeholders_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("playbooks");
    std::fs::create_dir(&pb).unwrap();
    std::fs::write(pb.join("quoting.yaml"), PLAYBOOK).unwrap();
    let out = ic(&["lint", "playbooks/quoting.yaml"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "warnings keep exit 0: {err}");
    assert!(
        err.contains("playbooks/quoting.yaml:7:46: warning: phases.mitigate[id: single].run: {target} inside '…'"),
        "{err}"
    );
    assert!(
        err.contains("hint: write {target} outside the quotes"),
        "{err}"
    );
    assert!(err.contains("quoted delimiter is never expanded"), "{err}");
    assert!(err.contains("parses its value again as code"), "{err}");
    let json = ic(&["lint", "--json", "playbooks/quoting.yaml"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["warnings"][0]["line"], 7);
    // A literal brace needs doubling; a lone one is an error at its position.
    std::fs::write(
        pb.join("braces.yaml"),
        "id: b\ntitle: b\nphases:\n  detect:\n    - {id: a, text: a, run: \"awk '{print $1}' x\"}\n",
    )
    .unwrap();
    let out = ic(&["lint", "playbooks/braces.yaml"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("braces.yaml:5:"), "{err}");
    assert!(err.contains("unknown placeholder {print $1}"), "{err}");
    assert!(err.contains("{{"), "{err}");
}
