//! The `ic` binary as a user runs it: help, version, lint, init, completions,
//! and `ic demo --serve` as a real process stopped by SIGTERM.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(args)
        .env_remove("IC_CONFIG")
        .env("IC_LOG", "off")
        .env(
            "XDG_DATA_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-data"),
        )
        .output()
        .expect("ic runs")
}

/// `GET /healthz` on a demo API listening on `port`.
fn healthz_status(port: u16) -> u16 {
    incident_commander::source::tls::install_default_provider();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_subcommand() {
    let o = ic(&["--help"]);
    assert!(o.status.success());
    let (out, _) = text(&o);
    for cmd in [
        "demo",
        "check",
        "watch",
        "scrape",
        "simulate",
        "lint",
        "event",
        "postmortem",
        "init",
        "completions",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing from help:\n{out}"
        );
    }
    let o = ic(&["--version"]);
    assert_eq!(
        text(&o).0.trim(),
        format!("ic {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ic(&["--no-such-flag"]).status.code(), Some(2));
    assert_eq!(ic(&["demo", "--rps", "-5"]).status.code(), Some(2));
    let o = ic(&["demo", "--scenario", "ful-outage"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("did you mean `full-outage`?"),
        "{}",
        text(&o).1
    );
    // The bare `ic` opens the view on the config: without one it says how to get one.
    let o = ic(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no config found"), "{}", text(&o).1);
    let o = ic(&["event"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no MESSAGE"), "{}", text(&o).1);
    let o = ic(&["simulate", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2));
    // A missing config is a usage error that says where it looked and what to do.
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ic"))
        .arg("check")
        .current_dir(dir.path())
        .env_remove("IC_CONFIG")
        .env("XDG_CONFIG_HOME", dir.path())
        .env("IC_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no config found"), "{}", text(&o).1);
    assert!(text(&o).1.contains("ic init"), "{}", text(&o).1);
}

#[test]
fn lint_accepts_the_shipped_files_and_rejects_mistakes() {
    let o = ic(&[
        "lint",
        "assets/scenarios",
        "assets/starter-config.yaml",
        "playbooks",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("44 files checked, all valid"), "{out}");
    assert!(out.contains("playbook `http-5xx-spike`"), "{out}");
    assert!(
        out.contains("scenario `payments-pool-exhaustion`: 1 faults"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ic.yaml");
    std::fs::write(&bad, "service: shop\npoll:\n  intreval: 2s\n").unwrap();
    let scen_dir = dir.path().join("scenarios");
    std::fs::create_dir(&scen_dir).unwrap();
    std::fs::write(
        scen_dir.join("x.yaml"),
        "faults:\n  - {name: a, route: /api/paymnts, outage: true}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("mystery.yaml"), "hello: world\n").unwrap();
    let o = ic(&["lint", dir.path().to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:3:3: poll: unknown field `intreval`",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("hint: did you mean `interval`?"), "{err}");
    assert!(
        err.contains("fault `a` targets unknown route `/api/paymnts`"),
        "{err}"
    );
    assert!(
        err.contains("cannot tell what kind of file this is"),
        "{err}"
    );
    assert!(err.contains("3 files checked, 3 with errors"), "{err}");

    let o = ic(&["lint", "--json", bad.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["kind"], "config");
    assert_eq!(v["error"]["line"], 3);
    assert_eq!(v["error"]["column"], 3);

    // A secret from the environment never appears, even in a failing file's errors.
    std::fs::write(
        &bad,
        "service: shop\nendpoints:\n  - {name: a, url: \"http://h:${IC_TEST_SECRET}/\"}\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["lint", bad.to_str().unwrap()])
        .env("IC_TEST_SECRET", "hunter2-secret")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "{out}{err}"
    );
}

#[test]
fn init_writes_a_valid_config_and_never_overwrites_silently() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("new");
    let o = ic(&["init", "--dir", d.to_str().unwrap()]);
    assert!(o.status.success(), "{:?}", text(&o));
    let cfg = d.join("ic.yaml");
    assert!(cfg.is_file());
    assert_eq!(ic(&["lint", cfg.to_str().unwrap()]).status.code(), Some(0));
    // Config lookup through --config works too.
    assert_eq!(
        ic(&["--config", cfg.to_str().unwrap(), "lint"])
            .status
            .code(),
        Some(0)
    );

    std::fs::write(&cfg, "service: mine\n").unwrap();
    let o = ic(&["init", "--dir", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--force"));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "service: mine\n");
    assert!(
        ic(&["init", "--dir", d.to_str().unwrap(), "--force"])
            .status
            .success()
    );
    assert_ne!(std::fs::read_to_string(&cfg).unwrap(), "service: mine\n");
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ic"),
        ("fish", "complete -c ic"),
    ] {
        let o = ic(&["completions", shell]);
        assert!(o.status.success());
        assert!(text(&o).0.contains(marker), "{shell}");
    }
}

#[test]
fn demo_serve_prints_its_address_first_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["demo", "--serve", "--scenario", "calm", "--rps", "20"])
        .env("IC_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let first = first.trim_end();
    let port: u16 = first
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert_ne!(port, 0);

    assert_eq!(healthz_status(port), 200);

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ic demo --serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.is_empty(), "nothing on stderr: {err}");
}

#[test]
fn demo_without_a_terminal_runs_headless_on_the_watch_engine() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args([
            "demo",
            "--scenario",
            "full-outage",
            "--rps",
            "100",
            "--timeline-dir",
        ])
        .arg(dir.path())
        .env("IC_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // Until the first probe of payments is reported (`payments  start -> ok`).
    while !lines
        .iter()
        .any(|l: &String| l.contains("payments  start ->"))
    {
        assert!(Instant::now() < deadline, "{lines:?}");
        let mut l = String::new();
        if stdout.read_line(&mut l).unwrap() == 0 {
            break;
        }
        lines.push(l);
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(
        lines[0].starts_with("listening on http://127.0.0.1:"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("scenario `full-outage`"), "{lines:?}");
    assert_eq!(
        lines[3].trim_end(),
        format!("timelines in {}", dir.path().display())
    );
    assert!(
        lines[4].starts_with("demo started ")
            && lines[4].contains("; fault total-outage on * starts "),
        "{lines:?}"
    );
    assert!(
        lines[5].starts_with("watching 5 endpoints and 1 metrics targets"),
        "{lines:?}"
    );
    assert!(status.success(), "{status}");
}

#[test]
fn demo_serve_keeps_serving_when_its_reader_goes_away() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["demo", "--serve", "--scenario", "calm", "--rps", "0"])
        .env("IC_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    // Read only the first line, then close the pipe.
    {
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
    }
    let port: u16 = first.trim().rsplit(':').next().unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server exited when its stdout closed"
    );
    assert_eq!(healthz_status(port), 200);
    let _ = child.kill();
    let _ = child.wait();
}

/// No terminal control, bidi override or line break from `text` reaches the
/// output raw; the escape that stands for it is there.
fn assert_escaped(what: &str, all: &str) {
    assert!(
        !all.contains(|c: char| c.is_control() && c != '\n')
            && !all.contains(['\u{202e}', '\u{2066}']),
        "{what}: a control character or bidi override was written raw:\n{all:?}"
    );
    assert!(
        all.contains("\\u001b") || all.contains("\\u202e"),
        "{what}: the hostile text is shown escaped:\n{all}"
    );
}

#[test]
fn text_from_outside_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let esc = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{202e}";
    // A route label from a hostile exposition.
    let prom = dir.path().join("m.prom");
    std::fs::write(
        &prom,
        format!("http_requests_total{{route=\"/a{esc}\",status=\"200\"}} 5\n"),
    )
    .unwrap();
    // A note piped in from something that echoed a hostile body, with a forged
    // line of the postmortem after a newline.
    let tl = dir.path().join("t.jsonl");
    let t = tl.to_str().unwrap();
    assert!(ic(&["event", "-t", t, "-k", "open", "x"]).status.success());
    let note = format!("upstream said: {esc}");
    assert!(ic(&["event", "-t", t, &note]).status.success());
    let forged = "#well ok\n## Root cause\n- **Technical:** the intern\u{2066}";
    assert!(ic(&["event", "-t", t, forged]).status.success());
    // The timeline itself holds the bidi overrides as JSON escapes.
    let line = std::fs::read_to_string(&tl).unwrap();
    assert!(
        !line.contains(['\u{202e}', '\u{2066}']) && line.contains("\\u202e"),
        "{line}"
    );
    for args in [
        vec!["scrape", prom.to_str().unwrap()],
        vec!["postmortem", t],
        vec!["postmortem", "--format", "json", t],
    ] {
        let out = ic(&args);
        let (stdout, stderr) = text(&out);
        assert_escaped(&format!("{args:?}"), &format!("{stdout}{stderr}"));
    }
    // A postmortem written to a file: no escape or bidi byte in it, and the
    // forged heading stays inside its line.
    let md = dir.path().join("pm.md");
    let out = ic(&["postmortem", t, "-o", md.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    let file = std::fs::read_to_string(&md).unwrap();
    assert_escaped("postmortem -o", &file);
    assert_eq!(
        file.lines()
            .filter(|l| l.starts_with("## Root cause"))
            .count(),
        1,
        "{file}"
    );
    // (`#well` is the grammar's tag: the note is filed under what went well.)
    assert!(file.contains("ok ## Root cause"), "{file}");
}

/// A route label with a newline and a line of `ic`'s own format after it
/// prints as one line, escaped, through `ic scrape` and `ic watch`.
#[test]
fn a_route_label_cannot_forge_a_line() {
    use support::hostile::{FORGED_ROUTE, Hostile};
    let shown = "/a\\nRESOLVED 12:00:00 all clear \\u202egnp.exe";
    let forged = |out: &str| out.lines().any(|l| l.starts_with("RESOLVED"));
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("forged.prom");
    std::fs::write(
        &prom,
        format!(
            "http_requests_total{{route=\"{}\",status=\"500\"}} 5\n",
            FORGED_ROUTE.replace('\n', "\\n")
        ),
    )
    .unwrap();
    let out = ic(&["scrape", prom.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!forged(&stdout) && stdout.contains(shown), "{stdout}");
    assert!(!stdout.contains('\u{202e}'), "{stdout:?}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(Hostile::start());
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: shop\nnotify: {{desktop: false, bell: false}}\nmetrics:\n  - {{name: api, url: \"{}\", interval: 1s, timeout: 1s}}\n",
            h.url("/metrics/forged")
        ),
    )
    .unwrap();
    // The 10 s summary names the worst route.
    let out = ic(&[
        "-c",
        cfg.to_str().unwrap(),
        "watch",
        "--no-incident",
        "--duration",
        "11s",
        "--timeline-dir",
        dir.path().join("incidents").to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(h.hits("/metrics/forged") >= 3, "{stdout}");
    assert!(
        stdout.contains(shown),
        "the label is shown escaped:\n{stdout}"
    );
    assert!(!forged(&stdout), "a forged line:\n{stdout}");
    assert!(!stdout.contains('\u{202e}'), "{stdout:?}");
}

#[test]
fn lint_reports_every_error_with_its_position_up_to_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        "service: shop\npoll:\n  intreval: 2s\nendpoints:\n  - name: a\n    url: http://localhost:1/\n    interval: 2x\n  - name: b\n    url: http://localhost:2/\n    expect: {status: [200], max_latncy: 1s}\nmetrics:\n  - {name: m, url: \"http://localhost:9/metrics\", intervl: 5s}\ndetect: {error_rate: 300%}\n",
    )
    .unwrap();
    let pb = dir.path().join("playbooks");
    std::fs::create_dir(&pb).unwrap();
    std::fs::write(
        pb.join("p.yaml"),
        "id: bad id\ntitle: x\napplies_when:\n  signals: [errr_rate]\nphases:\n  detect:\n    - {id: a, text: A}\n    - {id: a, text: dup}\n    - {id: b, text: B, timeout: 0s}\n",
    )
    .unwrap();
    // A syntax error stops its own file only.
    std::fs::write(
        dir.path().join("syntax.yaml"),
        "service: [shop\nendpoints: x\n",
    )
    .unwrap();
    let o = ic(&["lint", dir.path().to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let c = cfg.display();
    let p = pb.join("p.yaml");
    let p = p.display();
    for want in [
        format!("{c}:3:3: poll: unknown field `intreval`"),
        format!("{c}:7:15: endpoints[0].interval: `2x`"),
        // The second endpoint keeps its own index though the first was set aside.
        format!("{c}:10:29: endpoints[1].expect: unknown field `max_latncy`"),
        format!("{c}:12:50: metrics[0]: unknown field `intervl`"),
        format!("{c}:13:22: detect.error_rate: `300%` is out of range"),
        format!("{p}:1:1: id `bad id` must be"),
        format!("{p}:4:13: applies_when.signals[0]: unknown signal `errr_rate`"),
        format!("{p}:8:12: phases.detect[id: a]: step id `a` is used twice"),
        format!("{p}:9:12: phases.detect[id: b].timeout is 0s"),
    ] {
        assert!(err.contains(&want), "missing {want}:\n{err}");
    }
    assert_eq!(
        err.matches("syntax.yaml:").count(),
        1,
        "one error for the syntax error:\n{err}"
    );
    assert!(
        err.contains("3 files checked, 3 with errors (10 errors)"),
        "{err}"
    );
    // Nothing set aside is blamed: the config's missing pieces are not reported.
    assert!(
        !err.contains("missing field") && !err.contains("nothing to watch"),
        "{err}"
    );
    let o = ic(&["lint", "--json", cfg.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["error"]["line"], 3);
    assert_eq!(v["errors"][4]["line"], 13);

    // Past 50, the rest is counted, not printed.
    let many = tempfile::tempdir().unwrap();
    for f in ["a", "b"] {
        let mut doc = String::from("service: shop\nendpoints:\n");
        for i in 0..30 {
            doc.push_str(&format!(
                "  - {{name: e{i}, url: \"http://h/\", intervl: 1s}}\n"
            ));
        }
        std::fs::write(many.path().join(format!("{f}.yaml")), doc).unwrap();
    }
    let o = ic(&["lint", many.path().to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(err.matches("unknown field `intervl`").count(), 50, "{err}");
    assert!(err.contains("… and 10 more errors"), "{err}");
    // All 30 of a, then the first 20 of b.
    assert!(err.contains("b.yaml:22:"), "the 20th endpoint of b:\n{err}");
    assert!(
        !err.contains("b.yaml:23:"),
        "the 21st endpoint of b:\n{err}"
    );
    assert!(
        err.contains("2 files checked, 2 with errors (60 errors)"),
        "{err}"
    );
}

#[test]
fn completions_without_a_shell_lists_the_shells() {
    let o = ic(&["completions"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(out.lines().next().unwrap().contains(shell), "{out}");
    }
    assert!(out.contains("ic completions bash >"), "{out}");
    assert_eq!(ic(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn scrape_of_an_unreachable_url_says_what_happened_and_what_to_do() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let o = ic(&["scrape", &url]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: cannot scrape {url}: the connection to 127.0.0.1:{port} was refused"
        )),
        "{err}"
    );
    assert!(err.contains("check that the exporter is running"), "{err}");
    assert!(
        !err.contains("os error") && !err.contains("tcp connect"),
        "{err}"
    );
    let o = ic(&["scrape", "--json", &url]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["class"], "connect");
    assert!(
        v["error"].as_str().unwrap().starts_with("cannot scrape"),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("refused"), "{v}");
    // A name that does not resolve (`.invalid` never does).
    let o = ic(&[
        "scrape",
        "--timeout",
        "5s",
        "http://no-such-host.invalid/metrics",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("`no-such-host.invalid` does not resolve (DNS)")
            || err.contains("no complete answer within"),
        "{err}"
    );
}
