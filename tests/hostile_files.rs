//! Hostile files through the real binary: an alias bomb ("billion laughs"),
//! absurd nesting, a file over the size cap, invalid UTF-8 and binary garbage,
//! as a config (`ic check`, `ic lint`), a playbook (`ic lint`) and a scenario
//! (`ic simulate`, `ic lint`). Each is refused quickly, in bounded memory, with
//! exit 2 and one message naming the file; none panics. A damaged timeline
//! still renders its postmortem with every problem reported, and takes new
//! events after it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Nine levels of nine aliases each: 9⁹ strings if expanded.
fn alias_bomb(key: &str) -> String {
    let mut items =
        vec![r#"&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#.to_string()];
    for i in 1..10 {
        let refs: Vec<String> = (0..9).map(|_| format!("*a{}", i - 1)).collect();
        items.push(format!("&a{i} [{}]", refs.join(",")));
    }
    format!("{key}: [{}]\n", items.join(", "))
}

/// The hostile bodies, each after a valid first line that tells the kind.
fn hostile(head: &str, key: &str) -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!(
        "{head}{key}: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let big = format!("{head}{}", format!("#{}\n", "x".repeat(999)).repeat(5_300));
    let mut utf8 = format!("{head}{key}: \"").into_bytes();
    utf8.extend_from_slice(b"\xff\xfe\xc3\x28\"\n");
    let mut binary = head.as_bytes().to_vec();
    binary.extend((0..=255u8).cycle().take(64 * 1024));
    vec![
        (
            "alias bomb",
            format!("{head}{}", alias_bomb(key)).into_bytes(),
        ),
        ("deep nesting", deep.into_bytes()),
        ("over the size cap", big.into_bytes()),
        ("invalid UTF-8", utf8),
        ("binary", binary),
    ]
}

/// Runs `ic` with `args`; checks it ended in time and in bounded memory, then
/// returns (exit code, stdout + stderr).
fn ic(args: &[&str]) -> (Option<i32>, String) {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "ic-peak-kb=%M"])
        .arg(env!("CARGO_BIN_EXE_ic"))
        .args(args)
        .env("IC_LOG", "off")
        .env_remove("IC_CONFIG")
        .output()
        .or_else(|_| {
            Command::new(env!("CARGO_BIN_EXE_ic"))
                .args(args)
                .env("IC_LOG", "off")
                .env_remove("IC_CONFIG")
                .output()
        })
        .unwrap();
    let took = started.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(10),
        "{args:?} took {took:?}:\n{text}"
    );
    if let Some(kb) = text
        .lines()
        .find_map(|l| l.strip_prefix("ic-peak-kb="))
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        assert!(kb < 200 * 1024, "{args:?} peaked at {kb} KB");
    }
    assert!(!text.contains("panicked"), "{args:?} panicked:\n{text}");
    (out.status.code(), text)
}

/// Checks a refusal: exit 2, the file named, the message said once.
fn refused(what: &str, args: &[&str], file: &Path) {
    let (code, text) = ic(args);
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("ic-peak-kb=") && !l.starts_with("Command exited"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(code, Some(2), "{what}: {args:?}:\n{text}");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(text.contains(&name), "{what}: the file is named:\n{text}");
    let first = text
        .lines()
        .find(|l| l.contains(&name))
        .unwrap_or_default()
        .to_string();
    let msg = first
        .split_once(": ")
        .map_or(first.as_str(), |(_, m)| m)
        .to_string();
    assert_eq!(
        text.matches(msg.as_str()).count(),
        1,
        "{what}: said once:\n{text}"
    );
}

fn write(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    path
}

/// Every refusal run of this file: (what, arguments, the file named).
fn refusal_runs(dir: &Path) -> Vec<(String, Vec<String>, PathBuf)> {
    let mut runs = Vec::new();
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    for (what, body) in hostile("service: shop\n", "endpoints") {
        let cfg = write(dir, &format!("{}.yaml", what.replace(' ', "-")), &body);
        runs.push((
            format!("config: {what}"),
            vec!["-c".into(), arg(&cfg), "check".into()],
            cfg.clone(),
        ));
        runs.push((
            format!("config: {what}"),
            vec!["lint".into(), arg(&cfg)],
            cfg,
        ));
    }
    for (what, body) in hostile("id: x\ntitle: t\n", "roles") {
        let pb = write(
            dir,
            &format!("playbooks/{}.yaml", what.replace(' ', "-")),
            &body,
        );
        runs.push((
            format!("playbook: {what}"),
            vec!["lint".into(), arg(&pb)],
            pb,
        ));
    }
    for (what, body) in hostile("name: x\n", "faults") {
        let sc = write(
            dir,
            &format!("scenarios/{}.yaml", what.replace(' ', "-")),
            &body,
        );
        runs.push((
            format!("scenario: {what}"),
            vec!["simulate".into(), arg(&sc)],
            sc.clone(),
        ));
        runs.push((
            format!("scenario: {what}"),
            vec!["lint".into(), arg(&sc)],
            sc,
        ));
    }
    runs
}

/// Names and labels longer than a format width may be (65,535): each once
/// made `ic` exit 101 with a panic. (what, arguments.)
fn long_text_runs(dir: &Path) -> Vec<(String, Vec<String>)> {
    let long = "x".repeat(70_000);
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    let prom = write(
        dir,
        "long-route.prom",
        format!(
            "http_requests_total{{route=\"/{long}\",status=\"200\"}} 5\nhttp_requests_total{{route=\"/b\",status=\"500\"}} 1\n"
        )
        .as_bytes(),
    );
    let scenario = write(
        dir,
        "scenarios/long-fault-name.yaml",
        format!(
            "name: long\nduration: 2m\ntraffic: [{{route: /a, rps: 5/s}}]\nfaults:\n  - {{name: {long}, route: /a, start: 30s, end: 1m, error_rate: 50%}}\n"
        )
        .as_bytes(),
    );
    vec![
        (
            "a 70,000-character route label".into(),
            vec!["scrape".into(), arg(&prom)],
        ),
        (
            "a 70,000-character fault name".into(),
            vec!["simulate".into(), arg(&scenario)],
        ),
        (
            "a 70,000-character fault name".into(),
            vec!["lint".into(), arg(&scenario)],
        ),
    ]
}

#[test]
fn hostile_configs_playbooks_and_scenarios_are_refused_quickly_and_once() {
    let dir = tempfile::tempdir().unwrap();
    for (what, args, file) in refusal_runs(dir.path()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&what, &args, &file);
    }
}

#[test]
fn names_and_labels_past_any_format_width_are_printed_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    for (what, args) in long_text_runs(dir.path()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, text) = ic(&args);
        assert!(
            matches!(code, Some(0 | 1)),
            "{what}: {args:?}: {code:?}\n{}",
            &text[..text.len().min(2000)]
        );
        if args[0] != "lint" {
            assert!(
                text.contains(&"x".repeat(70_000)),
                "{what}: the whole name is shown"
            );
        }
    }
}

/// A playbook of about `bytes` bytes (just under the 4 MiB cap: tens of
/// thousands of steps, every tenth with a `verify`, every tenth a `run`).
fn huge_playbook(bytes: usize) -> (String, usize) {
    let mut text = String::from("id: huge\ntitle: t\nphases:\n  detect:\n");
    let mut steps = 0;
    loop {
        let line = match steps % 10 {
            0 => format!(
                "    - {{id: step-{steps}, text: \"Check {steps}\", verify: \"error_rate({{target}}) < 1% over 5m\"}}\n"
            ),
            5 => format!(
                "    - {{id: step-{steps}, text: \"Restart {steps}\", run: \"kubectl rollout restart deploy/{{target}}\"}}\n"
            ),
            _ => format!("    - {{id: step-{steps}, text: \"Step {steps} of the procedure\"}}\n"),
        };
        if text.len() + line.len() > bytes {
            return (text, steps);
        }
        text.push_str(&line);
        steps += 1;
    }
}

/// Large playbooks: (what, arguments).
fn huge_playbook_runs(dir: &Path) -> Vec<(String, Vec<String>)> {
    let (text, _) = huge_playbook(4 * 1024 * 1024 - 1024);
    let ok = write(dir, "playbooks/huge.yaml", text.as_bytes());
    let last = text.lines().last().unwrap().to_string();
    // The last step takes the id of the eighth: the error names the last line.
    let id = last
        .split("id: ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let twice = text.replacen(&format!("{{id: {id},"), "{id: step-7,", 1);
    let bad = write(dir, "playbooks/huge-dup.yaml", twice.as_bytes());
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    vec![
        ("a 4 MiB playbook".into(), vec!["lint".into(), arg(&ok)]),
        (
            "a 4 MiB playbook with a repeated id".into(),
            vec!["lint".into(), arg(&bad)],
        ),
    ]
}

/// Validation is linear in the playbook's size: a 4 MiB playbook of 60,000
/// steps lints within the no-hang bound of `ic` (10 s; it took 74 s when each
/// step's position was found by rescanning the text), and a repeated id at its
/// end is reported at its line.
#[test]
fn a_four_mib_playbook_lints_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (text, steps) = huge_playbook(4 * 1024 * 1024 - 1024);
    assert!(steps > 50_000, "{steps} steps");
    let lines = text.lines().count();
    let runs = huge_playbook_runs(dir.path());
    let args: Vec<&str> = runs[0].1.iter().map(String::as_str).collect();
    let (code, out) = ic(&args);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("{steps} steps")), "{out}");
    let args: Vec<&str> = runs[1].1.iter().map(String::as_str).collect();
    let (code, out) = ic(&args);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "huge-dup.yaml:{lines}:12: phases.detect[id: step-7]: step id `step-7` is used twice"
        )),
        "{out}"
    );
}

/// Runs the binary as it is (no `/usr/bin/time` around it), under a 4 GB
/// address-space limit so a regression cannot exhaust the machine: (exit
/// code, stderr).
fn ic_raw(args: &[String]) -> (Option<i32>, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ic"))
        .args(args)
        .env("IC_LOG", "off")
        .env_remove("IC_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// No hostile file of this suite reaches a panic: every run above, through
/// the binary, never exits 101 nor says `panicked`.
#[test]
fn no_hostile_file_makes_ic_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs: Vec<(String, Vec<String>)> = refusal_runs(dir.path())
        .into_iter()
        .map(|(what, args, _)| (what, args))
        .collect();
    runs.extend(long_text_runs(dir.path()));
    runs.extend(huge_playbook_runs(dir.path()));
    // Scenarios past the simulator's bounds (tests/simulate.rs checks the refusals).
    let routes: String = (0..20_000)
        .map(|i| format!("  - {{route: /r{i}, rps: 1/s}}\n"))
        .collect();
    let many = write(
        dir.path(),
        "scenarios/many-routes.yaml",
        format!("traffic:\n{routes}faults: [{{name: x, route: /r1, outage: true}}]\n").as_bytes(),
    );
    let fast = write(
        dir.path(),
        "scenarios/fast.yaml",
        b"duration: 1m\ntraffic: [{route: /a, rps: 1000000000/s}]\nfaults: [{name: x, route: /a, start: 10s, error_rate: 5%}]\n",
    );
    for (what, file) in [("20,000 routes", &many), ("1e9 requests a second", &fast)] {
        for cmd in ["lint", "simulate"] {
            runs.push((
                what.to_string(),
                vec![cmd.to_string(), file.to_str().unwrap().to_string()],
            ));
        }
    }
    assert!(runs.len() >= 34, "{} runs", runs.len());
    for (what, args) in &runs {
        let (code, stderr) = ic_raw(args);
        assert_ne!(
            code,
            Some(101),
            "{what}: {args:?} exited 101:\n{}",
            &stderr[..stderr.len().min(2000)]
        );
        assert!(code.is_some(), "{what}: {args:?} was killed by a signal");
        assert!(
            !stderr.contains("panicked"),
            "{what}: {args:?} panicked:\n{}",
            &stderr[..stderr.len().min(2000)]
        );
    }
}

#[test]
fn a_damaged_timeline_renders_with_every_problem_reported_and_takes_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("incident.jsonl");
    let t = tl.to_str().unwrap();
    assert_eq!(
        ic(&["event", "-t", t, "-k", "open", "Payments down"]).0,
        Some(0)
    );
    assert_eq!(ic(&["event", "-t", t, "pool at 100%"]).0, Some(0));
    let text = std::fs::read_to_string(&tl).unwrap();
    let mut second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    // Lines as an older version (no `id`) or a hand edit writes them: a copy with
    // the same `id` is one event written twice and skipped (journal's unit tests).
    second.as_object_mut().unwrap().remove("id");
    let mut past = second.clone();
    past["seq"] = serde_json::json!(3);
    past["ts"] = serde_json::json!("2020-01-01T00:00:00Z");
    past["msg"] = serde_json::json!("from the past");
    let mut damage = Vec::new();
    damage.extend(format!("{second}\n").into_bytes()); // the same seq again
    damage.extend(b"{not json\n");
    damage.extend(b"\xff\xfe binary \x00\x01\n");
    damage.extend(format!("{past}\n").into_bytes()); // time going backwards
    damage.extend(format!("{{\"seq\": 9, \"ts\": \"{}\"}}\n", "9".repeat(1 << 20)).into_bytes()); // over the line cap
    damage.extend(b"{\"seq\": 10, \"ts\": \"2026-"); // torn by a crash
    std::fs::OpenOptions::new()
        .append(true)
        .open(&tl)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &damage))
        .unwrap();

    let (code, text) = ic(&["postmortem", t]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("# Postmortem: Payments down"), "{text}");
    assert!(text.contains("pool at 100%"), "{text}");
    for problem in [
        ":3: seq 2 appears again",
        ":4: not a timeline event",
        ":5: not UTF-8",
        ":6: time goes backwards",
        ":7: line of 1048596 bytes is longer than 1048576",
        ":8: torn last line",
    ] {
        assert!(text.contains(problem), "{problem}:\n{text}");
    }
    // The torn piece is set aside and the next event goes after everything else.
    let (code, text) = ic(&["event", "-t", t, "after the damage"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(dir.path().join("incident.jsonl.torn").exists());
    let bytes = std::fs::read(&tl).unwrap();
    let last = String::from_utf8_lossy(&bytes);
    let last: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(last["msg"], "after the damage");
    assert!(last["seq"].as_u64().unwrap() > 3);
}
